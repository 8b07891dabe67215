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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/testenv"
)

// A resolved incident's post-mortem, from kubectl to the public page: created with the
// timeline, reminders while nobody owns it, and once Published, on the local status page.
func TestE2EResolvingOpensAPostmortemThatEndsUpOnTheStatusPage(t *testing.T) {
	const name = "pm-db-failover"
	if _, err := kubectlIn(`apiVersion: firescope.dev/v1alpha1
kind: Incident
metadata: {name: `+name+`}
spec:
  title: Database failover in eu-west-1
  state: Confirmed
  roles: {commander: ricardo, communications: keiko}
---
apiVersion: firescope.dev/v1alpha1
kind: StatusUpdate
metadata: {name: `+name+`-1}
spec:
  incidentRef: {name: `+name+`}
  status: resolved
  message: Writes to databases in eu-west-1 failed for 20 minutes. They work again. No data was lost.
`, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if ref, err := kubectl("get", "incident", name, "-o", "jsonpath={.status.statusUpdates.providerRef}"); err != nil || ref == "" {
			return fmt.Errorf("the update is not on the page yet: %q %v", ref, err)
		}
		return nil
	})
	k(t, "patch", "incident", name, "--type", "merge", "-p", `{"spec":{"state":"Resolved"}}`)
	testenv.Eventually(t, 20*time.Second, func() error {
		out, err := kubectl("get", "postmortems")
		if err != nil || !strings.Contains(out, name) {
			return fmt.Errorf("kubectl get postmortems: %q %v", out, err)
		}
		if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "INCIDENT") || !strings.Contains(out, "OWNER") || !strings.Contains(out, "DUE") {
			return fmt.Errorf("columns: %q", out)
		}
		return nil
	})
	if tl := k(t, "get", "postmortem", name, "-o", "jsonpath={.status.incident.timeline[*].message}"); !strings.Contains(tl, "IC -> ricardo") || !strings.Contains(tl, "Incident Resolved") {
		t.Errorf("the post-mortem's timeline: %q", tl)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := strings.Join(events(t, name), "\n"); !strings.Contains(got, "PostmortemOwnerMissing: Post-mortem "+name+" has no owner") {
			return fmt.Errorf("events: %s", got)
		}
		return nil
	})

	// Review needs an owner; then the text goes on the page as a draft, and once Published,
	// in public.
	if _, err := kubectl("patch", "postmortem", name, "--type", "merge", "-p", `{"spec":{"state":"InReview"}}`); err == nil || !strings.Contains(err.Error(), "needs an owner before review") {
		t.Fatalf("review without an owner: %v", err)
	}
	k(t, "patch", "postmortem", name, "--type", "merge", "-p", `{"spec":{"owner":"ricardo","state":"InReview","publishToStatusPage":true,`+
		`"apology":"We are sorry. For 20 minutes you could not write to your databases in eu-west-1.",`+
		`"understanding":"A network partition isolated the primary. Failover waited for a timeout that was too long.",`+
		`"remediation":[{"title":"Shorten the failover timeout","owner":"noah","tracker":"https://tracker.example.com/DB-12"}]}}`)
	k(t, "patch", "postmortem", name, "--type", "merge", "-p", `{"spec":{"state":"Published"}}`)
	testenv.Eventually(t, 20*time.Second, func() error {
		if got := k(t, "get", "postmortem", name, "-o", `jsonpath={.status.conditions[?(@.type=="Published")].reason}`); got != "Published" {
			return fmt.Errorf("Published reason %q", got)
		}
		return nil
	})
	ref := k(t, "get", "incident", name, "-o", "jsonpath={.status.statusUpdates.providerRef}")
	url := "http://" + statusPageAddr + "/incidents/" + ref
	dom := testenv.Chromium(t, "--dump-dom", url)
	for _, want := range []string{"Post-mortem", "We are sorry.", "Shorten the failover timeout"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the incident page does not show %q", want)
		}
	}
	if strings.Contains(dom, "noah") || strings.Contains(dom, "tracker.example.com") {
		t.Errorf("the public page shows internal owners or trackers")
	}
	shot := filepath.Join(root, "artifacts", "e2e", "statuspage-postmortem.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Chromium(t, "--window-size=1100,1300", "--screenshot="+shot, url)
	t.Logf("screenshot: %s", shot)
}
