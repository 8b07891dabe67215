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
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"firescope.dev/firescope/internal/mock/pagerduty"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/testenv"
)

// drillScenario is the drill the tests run: the talk's AWS EC2 incident.
const (
	drillScenario = "aws-ec2-api-errors"
	drillIncident = "ec2-api-errors"
	drillRoutingK = "R0UT1NGKEYDR1LL00000000000000001" // 32 characters, as PagerDuty issues them
)

// recordingProxy forwards to a server and keeps the method and path of every request, so
// that a test can tell what reached a server it does not control (the Firescope status page
// binary).
type recordingProxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	forward := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// drillRun is one run of the scenario in a namespace of its own, wired to fakes.
type drillRun struct {
	ns string
	// dir is the overlay applied with kubectl apply -k; kubectl delete -k ends the drill.
	dir   string
	slack *slack.Server
	pager *pagerduty.Server
	// Exactly one of these is the scenario's StatusPage; both are checked.
	statuspage *statuspage.Server
	firescope  *recordingProxy
}

// applyScenario applies config/drills/<scenario> through a kustomize overlay that changes
// only the wiring: its own namespace, the Slack component with a fake Slack, the routing key
// and the status page pointed at fakes, two-second sitrep cadences (so that reminders come
// during the test), and, for the control run, drill: false.
func applyScenario(t *testing.T, ns string, drill bool, page string) *drillRun {
	t.Helper()
	r := &drillRun{ns: ns, slack: slack.New(), pager: pagerduty.New(), statuspage: statuspage.New(),
		firescope: newRecordingProxy(t, "http://"+statusPageAddr)}
	t.Cleanup(r.slack.Close)
	t.Cleanup(r.pager.Close)
	t.Cleanup(r.statuspage.Close)

	dir := t.TempDir()
	r.dir = dir
	rel := func(p string) string {
		s, err := filepath.Rel(dir, filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var pageSpec, pageSecret string
	switch page {
	case "statuspage":
		pageSpec = fmt.Sprintf(`{provider: statuspage, url: %q, pageID: %q, credentialsSecretRef: {name: statuspage, key: token}, allowDrills: false}`,
			r.statuspage.URL, statuspage.PageID)
		pageSecret = statuspage.APIKey
	case "firescope":
		pageSpec = fmt.Sprintf(`{provider: firescope, url: %q, credentialsSecretRef: {name: statuspage, key: token}, allowDrills: false}`, r.firescope.URL)
		// The e2e cluster's status page takes the write token make run registers.
		tok, err := base64.StdEncoding.DecodeString(k(t, "get", "secret", "statuspage-local", "-n", "default", "-o", "jsonpath={.data.token}"))
		if err != nil {
			t.Fatal(err)
		}
		pageSecret = string(tok)
	default:
		t.Fatalf("unknown page %q", page)
	}
	files := map[string]string{
		"kustomization.yaml": fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %[1]s
resources:
- %[2]s
- secrets.yaml
components:
- %[3]s
patches:
- target: {kind: Namespace}
  patch: |-
    - {op: replace, path: /metadata/name, value: %[1]s}
- target: {kind: StatusPage, name: public}
  patch: |-
    - {op: replace, path: /spec, value: %[4]s}
- target: {kind: ResponsePolicy, name: drill}
  patch: |-
    - {op: replace, path: /spec/sitrepCadence, value: {investigating: 2s, confirmed: 2s, major: 2s}}
    - {op: replace, path: /spec/paging/pagerDuty/url, value: %[5]q}
- target: {kind: Incident}
  patch: |-
    - {op: replace, path: /spec/drill, value: %[6]t}
`, ns, rel("config/drills/"+drillScenario), rel("config/drills/components/slack"), pageSpec, r.pager.EventsURL(), drill),
		"secrets.yaml": fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: drill-comms
  labels: {firescope.dev/credential: "true"}
  annotations: {firescope.dev/provider: slack, firescope.dev/hosts: 127.0.0.1}
stringData: {webhook-url: %q}
---
apiVersion: v1
kind: Secret
metadata:
  name: pagerduty
  labels: {firescope.dev/credential: "true"}
  annotations: {firescope.dev/provider: pagerduty, firescope.dev/hosts: 127.0.0.1}
stringData: {routing-key: %q}
---
apiVersion: v1
kind: Secret
metadata:
  name: statuspage
  labels: {firescope.dev/credential: "true"}
  annotations: {firescope.dev/provider: %s, firescope.dev/hosts: 127.0.0.1}
stringData: {token: %q}
`, r.slack.WebhookURL(), drillRoutingK, page, pageSecret),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k(t, "apply", "-k", dir)
	return r
}

// kn runs kubectl in the run's namespace.
func (r *drillRun) kn(t *testing.T, args ...string) string {
	t.Helper()
	return k(t, append([]string{"-n", r.ns}, args...)...)
}

// waitIncident waits until the incident's status field (a jsonpath) reads want.
func (r *drillRun) waitIncident(t *testing.T, jsonpath, want string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, func() error {
		got, err := kubectl("-n", r.ns, "get", "incident", drillIncident, "-o", "jsonpath="+jsonpath)
		if err != nil || got != want {
			return fmt.Errorf("%s = %q, want %q (%v)", jsonpath, got, want, err)
		}
		return nil
	})
}

// statusUpdate applies a StatusUpdate and waits until the controller has decided about it,
// returning the reason of its Published condition.
func (r *drillRun) statusUpdate(t *testing.T, name, status, message string) string {
	t.Helper()
	manifest := fmt.Sprintf("apiVersion: firescope.dev/v1alpha1\nkind: StatusUpdate\nmetadata: {name: %s, namespace: %s}\nspec:\n  incidentRef: {name: %s}\n  status: %s\n  message: %q\n",
		name, r.ns, drillIncident, status, message)
	if _, err := kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	var reason string
	testenv.Eventually(t, 20*time.Second, func() error {
		reason, _ = kubectl("-n", r.ns, "get", "statusupdate", name, "-o", `jsonpath={.status.conditions[?(@.type=="Published")].reason}`)
		if reason != "Published" && reason != "Drill" {
			return fmt.Errorf("StatusUpdate %s: Published reason %q", name, reason)
		}
		return nil
	})
	return reason
}

// respond runs the drill the way its README expects: Operations group, Confirmed with
// Communications assigned, a sitrep, a status update, escalation to Major, a reminder for the
// sitrep that then falls due, a hand-off, a last sitrep, a resolved update, and Resolved.
// It returns the Published reasons of the two status updates.
func (r *drillRun) respond(t *testing.T) []string {
	t.Helper()
	r.waitIncident(t, "{.status.recorded.state}", "Investigating")
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p",
		`{"spec":{"roles":{"operations":[{"name":"provisioning","supervisor":"noah","members":["harold","rodrigo"]}]}}}`)
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p", `{"spec":{"state":"Confirmed","roles":{"communications":"keiko"}}}`)
	r.kn(t, "patch", "incident", drillIncident, "--type=json", "-p",
		`[{"op":"add","path":"/spec/sitreps","value":[{"summary":"AWS EC2 API errors in us-east-1: single-tenant Postgres cannot be provisioned","actions":"Ops/provisioning (noah) is watching the queue"}]}]`)
	r.waitIncident(t, "{.status.recorded.sitreps}", "1")
	reasons := []string{r.statusUpdate(t, "ec2-api-errors-1", "identified",
		"Creating single-tenant Postgres databases and scaling PX dynos is failing. We are restoring provisioning. Running apps are not affected. If you use PX dynos, switch to a non-PX dyno type meanwhile. Next update in 30 minutes.")}
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p", `{"spec":{"state":"Major"}}`)
	// Major's two-second cadence runs out: the IC is reminded, in the comms channel too.
	testenv.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(r.slackTexts(), func(s string) bool { return strings.Contains(s, "@ricardo: Sitrep overdue") }) {
			return fmt.Errorf("no overdue reminder in Slack: %q", r.slackTexts())
		}
		return nil
	})
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p", `{"spec":{"roles":{"commander":"greg-burek"}}}`)
	r.kn(t, "patch", "incident", drillIncident, "--type=json", "-p",
		`[{"op":"add","path":"/spec/sitreps/-","value":{"summary":"EC2 API recovered; the provisioning queue is draining","actions":"Ops/provisioning is watching the queue drain"}}]`)
	r.waitIncident(t, "{.status.recorded.sitreps}", "2")
	reasons = append(reasons, r.statusUpdate(t, "ec2-api-errors-2", "resolved",
		"Postgres provisioning and PX dyno scaling are working normally again. Databases requested meanwhile have been created. No action is needed."))
	r.kn(t, "patch", "incident", drillIncident, "--type=merge", "-p", `{"spec":{"state":"Resolved"}}`)
	r.waitIncident(t, "{.status.recorded.state}", "Resolved")
	// Announcements are delivered after the status write that records them.
	testenv.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(r.slackTexts(), func(s string) bool { return strings.Contains(s, "@all: Incident Resolved") }) {
			return fmt.Errorf("the resolution is not in Slack yet: %q", r.slackTexts())
		}
		return nil
	})
	return reasons
}

func (r *drillRun) slackTexts() []string { return r.slack.Texts() }

// customerRequests lists what reached either status page.
func (r *drillRun) customerRequests() []string {
	var out []string
	for _, q := range r.statuspage.Requests() {
		out = append(out, "statuspage: "+q.Method+" "+q.Path)
	}
	for _, q := range r.firescope.Requests() {
		out = append(out, "firescope page: "+q)
	}
	return out
}

func TestDrillRunsToResolutionWithoutReachingCustomersOrPagers(t *testing.T) {
	for _, page := range []string{"statuspage", "firescope"} {
		t.Run(page, func(t *testing.T) {
			t.Parallel()
			r := applyScenario(t, "drill-e2e-"+page, true, page)
			reasons := r.respond(t)

			if !slices.Equal(reasons, []string{"Drill", "Drill"}) {
				t.Errorf("the drill's StatusUpdates were %q, want both held as Drill", reasons)
			}
			if got := r.customerRequests(); len(got) != 0 {
				t.Errorf("a drill reached customers: %q", got)
			}
			if got := r.pager.Requests(); len(got) != 0 {
				t.Errorf("a drill paged: %d requests to PagerDuty, first %s %s", len(got), got[0].Method, got[0].Path)
			}
			texts := r.slackTexts()
			for _, want := range []string{"@all: Incident Confirmed", "@all: Incident escalated to Major", "@all: IC -> greg-burek",
				"@all: Comms -> keiko", "@all: Ops/provisioning -> noah", "@all: Sitrep 1:", "@all: Sitrep 2:", "@ricardo: Sitrep overdue", "@all: Incident Resolved"} {
				if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, "[DRILL] "+want) }) {
					t.Errorf("Slack has no %q marked [DRILL]", want)
				}
			}
			for _, s := range texts {
				if !strings.HasPrefix(s, "[DRILL] ") {
					t.Errorf("an announcement of a drill is not marked [DRILL]: %q", s)
				}
			}
		})
	}
}

// The same scenario as a real incident must page and reach the status page; otherwise the
// drill test above would pass for a broken wiring.
func TestDrillScenarioAsARealIncidentPagesAndReachesTheStatusPage(t *testing.T) {
	for _, page := range []string{"statuspage", "firescope"} {
		t.Run(page, func(t *testing.T) {
			t.Parallel()
			r := applyScenario(t, "drill-control-"+page, false, page)
			reasons := r.respond(t)

			if !slices.Equal(reasons, []string{"Published", "Published"}) {
				t.Errorf("the StatusUpdates were %q, want both Published", reasons)
			}
			if got := r.customerRequests(); len(got) == 0 {
				t.Errorf("no request reached the status page")
			}
			testenv.Eventually(t, 20*time.Second, func() error {
				var actions []string
				for _, e := range r.pager.Events() {
					actions = append(actions, e.Action)
				}
				// Declared Investigating (not a paging state), then Confirmed pages; resolving
				// resolves the page.
				if len(actions) < 2 || actions[0] != "trigger" || actions[len(actions)-1] != "resolve" {
					return fmt.Errorf("PagerDuty events %q, want a trigger first and a resolve last", actions)
				}
				return nil
			})
			for _, s := range r.slackTexts() {
				if strings.Contains(s, "[DRILL]") {
					t.Errorf("a real incident's announcement is marked [DRILL]: %q", s)
				}
			}
		})
	}
}
