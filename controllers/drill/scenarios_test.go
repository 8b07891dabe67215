/*
Copyright The Firescope Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package drill_test

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"firescope.dev/firescope/internal/testenv"
)

// The scheduled form of each scenario builds with kustomize, declares no Incident of its own,
// and its Drill is accepted by the API server.
func TestTheScenariosScheduledFormsAreValidDrills(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	for _, sc := range []string{"aws-ec2-api-errors", "heartbleed", "router-latency"} {
		t.Run(sc, func(t *testing.T) {
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(),
				filepath.Join(testenv.RepoRoot(), "config", "drills", "scheduled", sc))
			must(t, err)
			kinds := map[string]int{}
			for _, r := range res.Resources() {
				kinds[r.GetKind()]++
				if r.GetKind() != "Drill" {
					continue
				}
				m, err := r.Map()
				must(t, err)
				u := &unstructured.Unstructured{Object: m}
				must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.GetNamespace()}}))
				must(t, e.Client.Create(ctx, u, client.DryRunAll))
			}
			if kinds["Drill"] != 1 || kinds["Incident"] != 0 || kinds["ResponsePolicy"] != 1 {
				t.Fatalf("resources by kind: %v; want one Drill, its policy, and no Incident", kinds)
			}
		})
	}
}
