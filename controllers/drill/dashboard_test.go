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

package drill

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
)

// TestTheDashboardsDrillRowReadsWhatDrillsExport checks that every drill metric the Grafana
// dashboard queries is one this package exports once a Drill has run and been graded.
func TestTheDashboardsDrillRowReadsWhatDrillsExport(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	res := v1alpha1.DrillRunResult{Incident: "ec2-1", EndReason: v1alpha1.DrillEndResolved, Grade: "1/2", Criteria: []v1alpha1.Criterion{
		{Name: CriterionConfirmed, Result: v1alpha1.CriterionPass}, {Name: CriterionCommsStaffed, Result: v1alpha1.CriterionFail}}}
	d := &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "ec2", Namespace: "dashboard"}, Status: v1alpha1.DrillStatus{Runs: []v1alpha1.DrillRunResult{res}}}
	elected := make(chan struct{})
	close(elected)
	t.Cleanup(drillCollector.Use(fake.NewClientBuilder().WithScheme(scheme).WithObjects(d).Build(), clock.RealClock{}, elected))
	observeEnded(d, res)

	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "grafana", "firescope-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`firescope_drill_[a-z_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used[n] = true
				if !exported[n] {
					t.Errorf("panel %q queries %s, which the drill controller does not export", p.Title, n)
				}
			}
		}
	}
	for _, n := range []string{"firescope_drill_last_grade_ratio", "firescope_drill_criteria_total", "firescope_drill_runs_total"} {
		if !used[n] {
			t.Errorf("the dashboard's drill row does not show %s", n)
		}
	}
	if t.Failed() {
		t.Logf("exported: %s", strings.Join(keys(exported), ", "))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
