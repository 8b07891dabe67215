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

// Package e2e drives the built binaries the way a person does: `bin/localcluster` machinery
// starts the control plane and the real manager binary, and kubectl does the rest.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/testenv"
)

const user = "ricardo"

// statusPageAddr is where the status page listens in these tests.
const statusPageAddr = "127.0.0.1:18089"

var (
	cluster *localcluster.Cluster
	root    = testenv.RepoRoot()
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The tests' own API clients log nothing worth reading.
	ctrllog.SetLogger(logr.Discard())
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	mgr := filepath.Join(root, "bin", "manager")
	if _, err := os.Stat(mgr); err != nil || assets == "" {
		fmt.Fprintln(os.Stderr, "the end-to-end tests need bin/manager and KUBEBUILDER_ASSETS: run them with `make test`")
		return 1
	}
	dir, err := os.MkdirTemp("", "firescope-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster, err = localcluster.Start(context.Background(), localcluster.Options{
		Dir:      dir,
		Assets:   assets,
		CRDs:     filepath.Join(root, "config", "crd", "bases"),
		Webhooks: filepath.Join(root, "config", "webhook"),
		Manager:  mgr,
		User:     user,
		// The status page, as make run serves it, on a port of its own.
		StatusPage:     filepath.Join(root, "bin", "statuspage"),
		StatusPageAddr: statusPageAddr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}

// kubectl runs kubectl against the local cluster and returns stdout, or stderr as the error.
func kubectl(args ...string) (string, error) {
	return kubectlIn("", args...)
}

func kubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", cluster.Kubeconfig}, args...)...)
	cmd.Dir = root
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// k runs kubectl and fails the test if it fails.
func k(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type event struct {
	Reason, Note string
	Regarding    struct{ Name string }
	Series       *struct{ Count int }
}

// events returns "Reason: note" of every Event about the named object, oldest first.
func events(t *testing.T, name string) []string {
	t.Helper()
	out := k(t, "get", "events.events.k8s.io", "-o", "json", "--sort-by=.eventTime")
	var list struct{ Items []event }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			n := 1
			if e.Series != nil {
				n = e.Series.Count
			}
			for range n {
				got = append(got, e.Reason+": "+e.Note)
			}
		}
	}
	return got
}

type timelineEntry struct{ Type, Message, By string }

func timeline(t *testing.T, name string) []timelineEntry {
	t.Helper()
	out := k(t, "get", "incident", name, "-o", "jsonpath={.status.timeline}")
	var tl []timelineEntry
	if out != "" {
		if err := json.Unmarshal([]byte(out), &tl); err != nil {
			t.Fatalf("timeline %q: %v", out, err)
		}
	}
	return tl
}

func TestE2ESampleShowsInKubectlGet(t *testing.T) {
	k(t, "apply", "-f", "config/samples/")
	testenv.Eventually(t, 10*time.Second, func() error {
		out, err := kubectl("get", "incidents")
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		header := strings.Fields(lines[0])
		want := []string{"NAME", "STATE", "IC", "COMMS", "SITREP", "LAST", "SITREP", "AGE"}
		if !slices.Equal(header, want) {
			return fmt.Errorf("header %q, want %q", header, want)
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if f[0] == "ec2-api-errors" {
				if !slices.Equal(f[:5], []string{"ec2-api-errors", "Major", "ricardo", "keiko", "Current"}) {
					return fmt.Errorf("row %q", l)
				}
				return nil
			}
		}
		return fmt.Errorf("no ec2-api-errors in\n%s", out)
	})
	wide := k(t, "get", "inc", "-o", "wide")
	if !strings.Contains(wide, "DRILL") {
		t.Fatalf("wide output has no DRILL column:\n%s", wide)
	}
}

func TestE2EHandoffThroughApply(t *testing.T) {
	k(t, "apply", "-f", "config/samples/")
	testenv.Eventually(t, 10*time.Second, func() error {
		if !slices.Contains(events(t, "ec2-api-errors"), "Handoff: IC -> ricardo") {
			return fmt.Errorf("sample not recorded yet")
		}
		return nil
	})
	k(t, "apply", "-f", "config/samples/handoff/")
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := events(t, "ec2-api-errors"); !slices.Contains(got, "Handoff: IC -> greg-burek") {
			return fmt.Errorf("no hand-off Event in %q", got)
		}
		return nil
	})
	if tl := timeline(t, "ec2-api-errors"); !slices.Contains(tl, timelineEntry{"Handoff", "IC -> greg-burek", user}) {
		t.Fatalf("no timeline entry for the hand-off by %s: %+v", user, tl)
	}
}

func declare(t *testing.T, name, state string, extra ...string) {
	t.Helper()
	manifest := fmt.Sprintf("apiVersion: firescope.dev/v1alpha1\nkind: Incident\nmetadata:\n  name: %s\nspec:\n  title: %s\n  state: %s\n  impact: {description: PX dynos cannot scale}\n", name, name, state)
	if _, err := kubectlIn(manifest, append([]string{"apply", "-f", "-"}, extra...)...); err != nil {
		t.Fatal(err)
	}
}

func TestE2EKubectlPatchFollowsTheTransitionTable(t *testing.T) {
	allowed := map[string][]string{
		"Investigating": {"Confirmed", "Major", "Resolved"},
		"Confirmed":     {"Major", "Resolved"},
		"Major":         {"Confirmed", "Resolved"},
		"Resolved":      {"Investigating", "Confirmed", "Major"},
	}
	states := []string{"Investigating", "Confirmed", "Major", "Resolved"}
	for _, from := range states {
		for _, to := range states {
			if from == to {
				continue
			}
			name := strings.ToLower("t-" + from + "-" + to)
			start := from
			if from == "Resolved" {
				start = "Investigating"
			}
			declare(t, name, start)
			if from == "Resolved" {
				k(t, "patch", "incident", name, "--type=merge", "-p", `{"spec":{"state":"Resolved"}}`)
			}
			_, err := kubectl("patch", "incident", name, "--type=merge", "-p", fmt.Sprintf(`{"spec":{"state":%q}}`, to))
			valid := slices.Contains(allowed[from], to)
			switch {
			case valid && err != nil:
				t.Errorf("%s -> %s refused: %v", from, to, err)
			case !valid && err == nil:
				t.Errorf("%s -> %s accepted", from, to)
			case !valid:
				want := fmt.Sprintf("cannot move the incident from %s to %s: from %s it can move to %s", from, to, from, strings.Join(allowed[from], " or "))
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s -> %s: message does not say %q: %v", from, to, want, err)
				}
			}
		}
	}
	_, err := kubectlIn("apiVersion: firescope.dev/v1alpha1\nkind: Incident\nmetadata:\n  name: born-resolved\nspec:\n  title: x\n  state: Resolved\n", "apply", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "a new incident cannot start Resolved") {
		t.Errorf("creating a Resolved incident: %v", err)
	}
}

func TestE2EFirstResponderIsICAndServiceAccountsMustNameOne(t *testing.T) {
	declare(t, "no-ic", "Investigating")
	if ic := k(t, "get", "incident", "no-ic", "-o", "jsonpath={.spec.roles.commander}"); ic != user {
		t.Fatalf("IC = %q, want the first responder %q", ic, user)
	}
	manifest := "apiVersion: firescope.dev/v1alpha1\nkind: Incident\nmetadata:\n  name: from-ci\nspec:\n  title: from CI\n"
	_, err := kubectlIn(manifest, "apply", "-f", "-", "--as=system:serviceaccount:default:deployer", "--as-group=system:masters")
	if err == nil || !strings.Contains(err.Error(), "set spec.roles.commander to the person in command") {
		t.Fatalf("service account without IC: %v", err)
	}
}

func TestE2EKillNineAndRestartRepeatsNothing(t *testing.T) {
	declare(t, "crash", "Investigating")
	k(t, "patch", "incident", "crash", "--type=merge", "-p", `{"spec":{"state":"Confirmed","roles":{"communications":"keiko"}}}`)
	want := []string{"StateChanged: Incident declared (Investigating)", "Handoff: IC -> ricardo", "StateChanged: Incident Confirmed", "Handoff: Comms -> keiko"}
	// Events are written just before the status that records them: wait for both.
	settled := func(n int) func() error {
		return func() error {
			if got := events(t, "crash"); !slices.Equal(got, want) {
				return fmt.Errorf("events %q, want %q", got, want)
			}
			if tl := timeline(t, "crash"); len(tl) != n {
				return fmt.Errorf("timeline has %d entries, want %d", len(tl), n)
			}
			return nil
		}
	}
	testenv.Eventually(t, 10*time.Second, settled(len(want)))
	before := timeline(t, "crash")

	cluster.KillManager()
	// A change made while the manager is down is recorded once it is back.
	k(t, "patch", "incident", "crash", "--type=merge", "-p", `{"spec":{"state":"Major"}}`)
	if err := cluster.StartManager(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = append(want, "StateChanged: Incident escalated to Major")
	testenv.Eventually(t, 10*time.Second, settled(len(want)))
	after := timeline(t, "crash")
	if !slices.Equal(after[:len(before)], before) || len(after) != len(before)+1 {
		t.Fatalf("timeline after kill -9 is not the old one plus the escalation:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestE2EKillNineWhileRemindersAreDueSendsNothingTwiceAndMissesNothing(t *testing.T) {
	sl := slack.New()
	defer sl.Close()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: reminders}
---
apiVersion: v1
kind: Secret
metadata:
  name: comms
  namespace: reminders
  labels: {firescope.dev/credential: "true"}
  annotations: {firescope.dev/provider: slack, firescope.dev/hosts: 127.0.0.1}
stringData: {url: %q}
---
apiVersion: firescope.dev/v1alpha1
kind: ResponsePolicy
metadata: {name: default, namespace: reminders}
spec:
  sitrepCadence: {investigating: 2s, confirmed: 2s, major: 2s}
  commsChannel:
    slack:
      webhookURLSecretRef: {name: comms, key: url}
---
apiVersion: firescope.dev/v1alpha1
kind: Incident
metadata: {name: overdue, namespace: reminders}
spec:
  title: EC2 API errors
  state: Confirmed
  roles: {communications: keiko}
  impact: {description: PX dynos cannot scale}
`, sl.WebhookURL())
	if _, err := kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	overdue := func() int { return countPrefix(sl.Texts(), "@ricardo: Sitrep overdue") }
	testenv.Eventually(t, 15*time.Second, func() error {
		if overdue() < 1 {
			return fmt.Errorf("no reminder yet: %q", sl.Texts())
		}
		return nil
	})
	cluster.KillManager()
	time.Sleep(5 * time.Second) // reminders fall due with nobody watching
	if err := cluster.StartManager(context.Background()); err != nil {
		t.Fatal(err)
	}
	atRestart := overdue()
	// Nothing missed: the restarted manager reminds of the interval now due, then goes on.
	testenv.Eventually(t, 15*time.Second, func() error {
		if overdue() < atRestart+2 {
			return fmt.Errorf("%d reminders since the restart", overdue()-atRestart)
		}
		return nil
	})
	texts := sl.Texts()
	seen := map[string]bool{}
	for _, s := range texts {
		if seen[s] {
			t.Fatalf("posted twice: %q\nall: %q", s, texts)
		}
		seen[s] = true
	}
	// Every reminder in Slack has its Event; an announcement cut off by the kill may be
	// missing from Slack (it is never sent twice), but its Event is there.
	out := k(t, "get", "events.events.k8s.io", "-n", "reminders", "--field-selector", "reason=SitrepOverdue", "-o", "name")
	if events := len(strings.Fields(out)); events < countPrefix(texts, "@ricardo: Sitrep overdue") {
		t.Fatalf("%d SitrepOverdue Events but %d reminders in Slack", events, countPrefix(texts, "@ricardo: Sitrep overdue"))
	}
}

func countPrefix(texts []string, prefix string) int {
	n := 0
	for _, s := range texts {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// kubectlBoth runs kubectl and returns its stdout and stderr (where warnings go).
func kubectlBoth(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", cluster.Kubeconfig}, args...)...)
	cmd.Dir = root
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, strings.NewReader(stdin)
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func statusUpdate(name, message string) string {
	return fmt.Sprintf(`apiVersion: firescope.dev/v1alpha1
kind: StatusUpdate
metadata: {name: %s, namespace: wording}
spec:
  incidentRef: {name: ec2-api-errors}
  status: identified
  message: %q
`, name, message)
}

func TestE2EStatusUpdateWordingWarningsAndEnforcement(t *testing.T) {
	if _, err := kubectlIn("apiVersion: v1\nkind: Namespace\nmetadata: {name: wording}\n", "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := kubectlBoth(statusUpdate("eta", "Postgres provisioning is failing. We expect a fix by 5pm."), "apply", "-f", "-")
	if err != nil {
		t.Fatalf("a warned update was refused: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "Warning: status update explicit-eta:") || !strings.Contains(stderr, "5pm") {
		t.Fatalf("kubectl printed no ETA warning:\n%s", stderr)
	}
	good := "Creating new Postgres databases is failing for some customers. We have identified the cause and " +
		"are rolling out a fix. Existing databases are not affected; if you need a new database now, create it " +
		"in the EU region. Next update in 30 minutes."
	if _, stderr, err := kubectlBoth(statusUpdate("good", good), "apply", "-f", "-"); err != nil || strings.Contains(stderr, "Warning:") {
		t.Fatalf("a well-worded update got: %v\n%s", err, stderr)
	}

	// A team that enforces the guidelines gets a refusal instead.
	k(t, "apply", "-n", "wording", "-f", "config/samples/ec2-api-errors.yaml")
	policy := "apiVersion: firescope.dev/v1alpha1\nkind: ResponsePolicy\nmetadata: {name: default, namespace: wording}\nspec: {statusUpdateWording: Enforce}\n"
	if _, err := kubectlIn(policy, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		_, stderr, err := kubectlBoth(statusUpdate("blame", "Our upstream provider is down, it is their fault. Fixed in 30 minutes."), "apply", "-f", "-")
		if err == nil || !strings.Contains(stderr, "which this team's ResponsePolicy enforces") {
			return fmt.Errorf("not refused (the webhook's cache may not have the policy yet): %v %s", err, stderr)
		}
		return nil
	})
	// An existing update whose wording the policy now refuses can still be labelled and deleted.
	k(t, "label", "statusupdate", "eta", "-n", "wording", "team=platform")
	k(t, "delete", "statusupdate", "eta", "-n", "wording")
}

func TestE2ESampleStatusUpdateShowsOnTheLocalStatusPage(t *testing.T) {
	k(t, "apply", "-f", "config/samples/")
	k(t, "apply", "-f", "config/samples/statusupdates/")
	testenv.Eventually(t, 10*time.Second, func() error {
		out, err := kubectl("get", "statusupdate", "ec2-api-errors-1", "-o", "jsonpath={.status.conditions[?(@.type==\"Published\")].reason}")
		if err != nil || out != "Published" {
			return fmt.Errorf("Published=%q %v", out, err)
		}
		return nil
	})
	resp, err := http.Get("http://" + statusPageAddr + "/api/v2/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var summary struct {
		Incidents []struct {
			Name, Impact    string
			IncidentUpdates []struct{ Body, Status string } `json:"incident_updates"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&summary); err != nil {
		t.Fatal(err)
	}
	if len(summary.Incidents) != 1 || summary.Incidents[0].Name != "AWS EC2 API problems" || summary.Incidents[0].Impact != "major" ||
		len(summary.Incidents[0].IncidentUpdates) != 1 || !strings.HasPrefix(summary.Incidents[0].IncidentUpdates[0].Body, "Creating single-tenant Postgres") {
		t.Fatalf("summary.json incidents: %+v", summary.Incidents)
	}
	if got := k(t, "get", "incident", "ec2-api-errors", "-o", "jsonpath={.status.statusUpdates.published}"); got != "1" {
		t.Fatalf("incident counts %q published updates", got)
	}
	// An edited message is sent as an edit of the published update, not as a new one.
	k(t, "patch", "statusupdate", "ec2-api-errors-1", "--type", "merge", "-p",
		`{"spec":{"message":"Creating single-tenant Postgres databases and scaling PX dynos is failing. We are restoring provisioning. Running apps are not affected; use a non-PX dyno type meanwhile. Next update in 30 minutes."}}`)
	testenv.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + statusPageAddr + "/api/v2/summary.json")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		summary.Incidents = nil
		if err := json.NewDecoder(resp.Body).Decode(&summary); err != nil {
			return err
		}
		if u := summary.Incidents[0].IncidentUpdates; len(u) != 1 || !strings.Contains(u[0].Body, "We are restoring provisioning") {
			return fmt.Errorf("updates on the page: %+v", u)
		}
		return nil
	})
	// What a customer sees: the page rendered by a real browser, and a screenshot kept.
	dom := testenv.Chromium(t, "--dump-dom", "http://"+statusPageAddr+"/")
	for _, want := range []string{"AWS EC2 API problems", "We are restoring provisioning", "Postgres provisioning", "Partial outage"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("the rendered page does not show %q", want)
		}
	}
	shot := filepath.Join(root, "artifacts", "e2e", "statuspage-after-statusupdate.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Chromium(t, "--window-size=1100,1100", "--screenshot="+shot, "http://"+statusPageAddr+"/")
	t.Logf("screenshot: %s", shot)
}
