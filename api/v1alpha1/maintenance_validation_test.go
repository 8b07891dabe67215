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

package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	. "firescope.dev/firescope/api/v1alpha1"
)

func maintenanceSpec(start, end time.Time, components ...string) MaintenanceSpec {
	return MaintenanceSpec{StatusPageRef: LocalReference{Name: "public"}, Title: "Database upgrade",
		Message: "We are upgrading the primary database. Writes may be slow for a few minutes.", Components: components,
		Window: MaintenanceWindow{Start: metav1.NewTime(start), End: metav1.NewTime(end)}}
}

func TestAPIServerRefusesAMaintenanceWithABadWindowOrNoComponents(t *testing.T) {
	at := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		spec MaintenanceSpec
		want string
	}{
		"end before start":   {maintenanceSpec(at, at.Add(-time.Hour), "API"), "window.end must be after window.start"},
		"end equal to start": {maintenanceSpec(at, at, "API"), "window.end must be after window.start"},
		"longer than a week": {maintenanceSpec(at, at.Add(8*24*time.Hour), "API"), "a maintenance window is at most 7 days long"},
		"no components":      {maintenanceSpec(at, at.Add(time.Hour)), "spec.components: Required value"},
		"an empty component": {maintenanceSpec(at, at.Add(time.Hour), ""), "spec.components[0]: Invalid value"},
		"a repeated component": {maintenanceSpec(at, at.Add(time.Hour), "API", "API"),
			`spec.components[1]: Duplicate value: "API"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := &Maintenance{ObjectMeta: metav1.ObjectMeta{GenerateName: "mw-", Namespace: "default"}, Spec: tc.spec}
			err := k8s.Create(context.Background(), m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	ok := &Maintenance{ObjectMeta: metav1.ObjectMeta{Name: "db-upgrade", Namespace: "default"}, Spec: maintenanceSpec(at, at.Add(time.Hour), "API")}
	if err := k8s.Create(context.Background(), ok); err != nil {
		t.Fatalf("valid Maintenance refused: %v", err)
	}
	ok.Spec.StatusPageRef.Name = "other"
	if err := k8s.Update(context.Background(), ok); err == nil || !strings.Contains(err.Error(), "statusPageRef cannot change") {
		t.Fatalf("got %v", err)
	}
}

func TestAPIServerAcceptsTheMaintenanceSampleOnceItsWindowIsSet(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "maintenances", "postgres-upgrade.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(5 * time.Minute).Truncate(time.Second)
	doc := strings.NewReplacer("START", start.Format(time.RFC3339), "END", start.Add(5*time.Minute).Format(time.RFC3339)).Replace(string(raw))
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace("default")
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("the sample is refused: %v", err)
	}
}
