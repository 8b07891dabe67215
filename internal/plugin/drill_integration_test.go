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

package plugin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

func TestDrillStartRunsADrillAndReportShowsItsGrade(t *testing.T) {
	c, env := setup(t, "ricardo")
	ctx := context.Background()
	c.fails(`drill "ec2" not found in namespace`, "drill", "start", "ec2")
	if err := env.Client.Create(ctx, &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "ec2", Namespace: c.ns}, Spec: v1alpha1.DrillSpec{
		Scenario: v1alpha1.DrillScenario{Inline: &v1alpha1.DrillScenarioSpec{Title: "EC2 API errors", Injects: []v1alpha1.Inject{
			{At: metav1.Duration{}, Type: v1alpha1.InjectNote, Message: "AWS confirms elevated error rates"}}}},
		Commander: "ricardo", TimeLimit: metav1.Duration{Duration: 10 * time.Minute},
	}}); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("drill", "report", "ec2"); !strings.Contains(out, "on request only") || !strings.Contains(out, "No graded run yet.") {
		t.Fatalf("report before any run:\n%s", out)
	}
	if out := c.ok("drill", "start", "ec2"); !strings.Contains(out, "Drill ec2: start requested") {
		t.Fatalf("start said:\n%s", out)
	}
	var run string
	testenv.Eventually(t, 30*time.Second, func() error {
		d := &v1alpha1.Drill{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: "ec2"}, d); err != nil {
			return err
		}
		if d.Status.Active == nil || len(d.Status.Active.Injects) != 1 {
			return fmt.Errorf("active %+v", d.Status.Active)
		}
		run = d.Status.Active.Incident
		return nil
	})
	if out := c.ok("drill", "report", "ec2"); !strings.Contains(out, "Under way: "+run) || !strings.Contains(out, "+0s  Note  AWS confirms elevated error rates") {
		t.Fatalf("report during the run:\n%s", out)
	}
	c.ok("resolve", run)
	testenv.Eventually(t, 30*time.Second, func() error {
		out := c.ok("drill", "report", "ec2")
		for _, want := range []string{"Latest run: " + run, "ended Resolved", "PASS  ResolvedInTime", "FAIL  Confirmed", "To practise next: Confirmed"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		return nil
	})
}
