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

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

// Deleting works as on a cluster: the local control plane runs kube-controller-manager's
// namespace and garbage collector controllers.

// namespaceGone fails the test unless the namespace no longer exists, nor anything in it.
func namespaceGone(t *testing.T, ns string) {
	t.Helper()
	if out, err := kubectl("get", "namespace", ns); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("namespace %s is still there: %s %v", ns, out, err)
	}
	if out := k(t, "-n", ns, "get", "incidents,statusupdates,postmortems,responsepolicies,statuspages,secrets,configmaps", "-o", "name"); out != "" {
		t.Fatalf("left behind in %s:\n%s", ns, out)
	}
}

func TestE2EDeleteKEndsADrillAndLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	r := applyScenario(t, "drill-e2e-delete", true, "firescope")
	r.waitIncident(t, "{.status.recorded.state}", "Investigating")
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p", `{"spec":{"state":"Confirmed","roles":{"communications":"keiko"}}}`)
	r.statusUpdate(t, "ec2-api-errors-1", "identified",
		"Creating single-tenant Postgres databases and scaling PX dynos is failing. We are restoring provisioning. Running apps are not affected. If you use PX dynos, switch to a non-PX dyno type meanwhile. Next update in 30 minutes.")
	// The drill is under way: its two-second cadence reminds the IC.
	testenv.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(r.slackTexts(), func(s string) bool { return strings.Contains(s, "@ricardo: Sitrep overdue") }) {
			return fmt.Errorf("no overdue reminder in Slack: %q", r.slackTexts())
		}
		return nil
	})

	// A drill never pages, so no finalizer holds its deletion.
	if f := r.kn(t, "get", "incident", drillIncident, "-o", "jsonpath={.metadata.finalizers}"); f != "" {
		t.Fatalf("the drill's incident has finalizers %s", f)
	}

	// What docs/drills.md tells the facilitator to type; kubectl waits until each object is gone.
	k(t, "delete", "-k", r.dir, "--timeout=2m")
	namespaceGone(t, r.ns)
	// The incident is gone, so nothing is due any more: three cadences pass without a word.
	before := r.slackTexts()
	time.Sleep(3 * 2 * time.Second)
	if after := r.slackTexts(); len(after) != len(before) {
		t.Fatalf("announced after the drill was deleted: %q", after[len(before):])
	}
}

// A paged incident holds its deletion until the page is resolved, for two minutes at most;
// deleting its namespace must still complete.
func TestE2EDeleteNamespaceWithAPagedIncidentCompletes(t *testing.T) {
	t.Parallel()
	r := applyScenario(t, "delete-paged", false, "statuspage")
	r.waitIncident(t, "{.status.recorded.state}", "Investigating")
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p", `{"spec":{"state":"Confirmed"}}`)
	testenv.Eventually(t, 20*time.Second, func() error {
		if len(r.pager.Events()) == 0 {
			return fmt.Errorf("not paged yet")
		}
		if f := r.kn(t, "get", "incident", drillIncident, "-o", "jsonpath={.metadata.finalizers}"); !strings.Contains(f, v1alpha1.FinalizerResolvePage) {
			return fmt.Errorf("finalizers %s, want %s", f, v1alpha1.FinalizerResolvePage)
		}
		return nil
	})

	k(t, "delete", "namespace", r.ns, "--timeout=4m")
	namespaceGone(t, r.ns)
}

func TestE2EOwnerReferencesCascade(t *testing.T) {
	t.Parallel()
	for _, cascade := range []string{"background", "foreground"} {
		t.Run(cascade, func(t *testing.T) {
			ns := "cascade-" + cascade
			k(t, "create", "namespace", ns)
			declare(t, "owner", "Investigating", "-n", ns)
			uid := k(t, "-n", ns, "get", "incident", "owner", "-o", "jsonpath={.metadata.uid}")
			dependent := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
  namespace: %s
  ownerReferences: [{apiVersion: firescope.dev/v1alpha1, kind: Incident, name: owner, uid: %s, blockOwnerDeletion: true}]
data: {notes: "the bridge is on the usual call"}
`, ns, uid)
			if _, err := kubectlIn(dependent, "apply", "-f", "-"); err != nil {
				t.Fatal(err)
			}

			// Foreground waits for the dependent before the incident goes; background after.
			k(t, "-n", ns, "delete", "incident", "owner", "--cascade="+cascade, "--timeout=1m")
			testenv.Eventually(t, time.Minute, func() error {
				out, err := kubectl("-n", ns, "get", "configmap", "notes", "-o", "name")
				if err == nil || !strings.Contains(err.Error(), "NotFound") {
					return fmt.Errorf("the dependent is still there: %s %v", out, err)
				}
				return nil
			})
			k(t, "delete", "namespace", ns, "--timeout=1m")
		})
	}
}
