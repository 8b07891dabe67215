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

package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"firescope.dev/firescope/api/v1alpha1"
)

var now = time.Date(2026, 11, 25, 12, 14, 0, 0, time.UTC)

func TestNameFromTitleIsDNSSafeAndReadable(t *testing.T) {
	for title, want := range map[string]string{
		"EC2 API errors":               "ec2-api-errors",
		"  AWS EC2 API problems!  ":    "aws-ec2-api-problems",
		"PX dynos can't scale":         "px-dynos-cant-scale",
		"Postgres: provisioning -- EU": "postgres-provisioning-eu",
		"Elevated API latency in us-east-1 and eu-west-1 for all customers": "elevated-api-latency-in-us-east-1-and",
		"!!!":  "incident-20261125-1214",
		"障害発生": "incident-20261125-1214",
	} {
		got := NameFromTitle(title, now)
		if got != want {
			t.Errorf("NameFromTitle(%q) = %q, want %q", title, got, want)
		}
		if len(got) > 63 || strings.HasPrefix(got, "-") || strings.HasSuffix(got, "-") {
			t.Errorf("NameFromTitle(%q) = %q is not a DNS label", title, got)
		}
	}
}

func TestParseStateAcceptsAnyCase(t *testing.T) {
	for in, want := range map[string]v1alpha1.IncidentState{"major": v1alpha1.StateMajor, "Confirmed": v1alpha1.StateConfirmed, "INVESTIGATING": v1alpha1.StateInvestigating} {
		if got, err := ParseState(in); err != nil || got != want {
			t.Errorf("ParseState(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseState("sev1"); err == nil || !strings.Contains(err.Error(), "Investigating, Confirmed, Major or Resolved") {
		t.Errorf("ParseState(sev1): %v", err)
	}
}

func TestFlagValueParsers(t *testing.T) {
	ops, err := parseOps([]string{"postgres=noah", "dynos=harold"})
	if err != nil || !reflect.DeepEqual(ops, []opsHandoff{{"postgres", "noah"}, {"dynos", "harold"}}) {
		t.Errorf("parseOps: %v %v", ops, err)
	}
	if _, err := parseOps([]string{"noah"}); err == nil || !strings.Contains(err.Error(), "GROUP=PERSON") {
		t.Errorf("parseOps(noah): %v", err)
	}
	links, err := ParseLinks([]string{"ticket=https://example.com/t?a=b"})
	if err != nil || !reflect.DeepEqual(links, []v1alpha1.Link{{Name: "ticket", URL: "https://example.com/t?a=b"}}) {
		t.Errorf("ParseLinks: %v %v", links, err)
	}
	if _, err := ParseLinks([]string{"https://example.com"}); err == nil {
		t.Error("ParseLinks accepted a link without a name")
	}
	comps, err := ParseComponents([]string{"PX dynos=partial_outage"})
	if err != nil || !reflect.DeepEqual(comps, []any{map[string]any{"name": "PX dynos", "status": "partial_outage"}}) {
		t.Errorf("ParseComponents: %v %v", comps, err)
	}
	if _, err := ParseComponents([]string{"PX dynos"}); err == nil {
		t.Error("ParseComponents accepted a component without a status")
	}
}

func TestUpdateNamesCountOnFromTheIncidentsUpdates(t *testing.T) {
	var existing []unstructured.Unstructured
	for _, n := range []string{"ec2-api-errors-1", "ec2-api-errors-3", "ec2-api-errors-eta", "other-7"} {
		u := unstructured.Unstructured{}
		u.SetName(n)
		existing = append(existing, u)
	}
	if got := nextUpdateName("ec2-api-errors", existing); got != "ec2-api-errors-4" {
		t.Errorf("nextUpdateName = %q", got)
	}
	if got := nextUpdateName("db", nil); got != "db-1" {
		t.Errorf("nextUpdateName of a first update = %q", got)
	}
	if got := bumpName("db-9"); got != "db-10" {
		t.Errorf("bumpName(db-9) = %q", got)
	}
}

func incidentWithSitrep() *v1alpha1.Incident {
	at := metav1.NewTime(now.Add(-20 * time.Minute))
	return &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors"},
		Spec: v1alpha1.IncidentSpec{
			Title: "AWS EC2 API problems", State: v1alpha1.StateMajor,
			Roles:   v1alpha1.Roles{Commander: "ricardo"},
			Sitreps: []v1alpha1.Sitrep{{At: &at, Author: "ricardo", Summary: "EC2 API errors.\nPostgres provisioning fails.", Actions: "Noah watches the queue"}},
		},
	}
}

func TestSitrepTemplateUnchangedOrEmptyPostsNothing(t *testing.T) {
	tmpl := SitrepTemplate(incidentWithSitrep())
	for name, text := range map[string]string{"unchanged": tmpl, "empty": "", "only comments": "# nothing\n#\n"} {
		if _, err := ParseSitrep(text); !errors.Is(err, errNothingPosted) {
			t.Errorf("%s: %v, want nothing posted", name, err)
		}
	}
	for _, want := range []string{"# Sitrep 2 for ec2-api-errors", "(Major, IC ricardo)", "# Sitrep 1, posted at 11:54 UTC by ricardo:", "#     Postgres provisioning fails."} {
		if !strings.Contains(tmpl, want) {
			t.Errorf("template does not contain %q:\n%s", want, tmpl)
		}
	}
}

func TestSitrepTemplateFilledIn(t *testing.T) {
	tmpl := SitrepTemplate(incidentWithSitrep())
	filled := strings.Replace(tmpl, "summary: |\n  \n", "summary: |\n  EC2 API recovering.\n  #3 in the queue is ours.\n", 1)
	filled = strings.Replace(filled, "actions: |\n  \n", "actions: |\n  Noah drains the queue.\n", 1)
	filled = strings.Replace(filled, "links:\n", "links:\n- name: graph\n  url: https://grafana.example.com/d/q\n", 1)
	f, err := ParseSitrep(filled)
	if err != nil {
		t.Fatal(err)
	}
	want := sitrepFields{Summary: "EC2 API recovering.\n#3 in the queue is ours.", Actions: "Noah drains the queue.",
		Links: []v1alpha1.Link{{Name: "graph", URL: "https://grafana.example.com/d/q"}}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
}

func TestSitrepTemplateErrorsSayWhatIsWrong(t *testing.T) {
	if _, err := ParseSitrep("impact: |\n  everyone\n"); err == nil || !strings.Contains(err.Error(), "needs a summary") {
		t.Errorf("no summary: %v", err)
	}
	if _, err := ParseSitrep("sumary: typo\n"); err == nil || !strings.Contains(err.Error(), "sumary") {
		t.Errorf("unknown field: %v", err)
	}
}

// managed builds an object with the given managed fields.
func managed(spec map[string]any, entries ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetManagedFields(entries)
	return u
}

func entry(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}
}

func TestOwnedSpecIsWhatTheManagerApplied(t *testing.T) {
	spec := map[string]any{
		"title": "EC2", "state": "Major",
		"roles": map[string]any{"commander": "greg", "communications": "keiko", "operations": []any{
			map[string]any{"name": "postgres", "supervisor": "noah", "members": []any{"greg", "ana"}},
			map[string]any{"name": "dynos", "supervisor": "harold"},
		}},
		"sitreps": []any{map[string]any{"summary": "one"}, map[string]any{"summary": "two"}},
	}
	u := managed(spec,
		entry("gitops", metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:title":{},"f:roles":{"f:communications":{},"f:operations":{"k:{\"name\":\"dynos\"}":{".":{},"f:name":{},"f:supervisor":{}}}}}}`),
		entry(FieldManager, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:state":{},"f:sitreps":{},"f:roles":{"f:commander":{},"f:operations":{"k:{\"name\":\"postgres\"}":{".":{},"f:name":{},"f:supervisor":{},"f:members":{"v:\"ana\"":{}}}}}}}`),
		// The plugin's own declaration is a create, so an update under its name.
		entry(FieldManager, metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:title":{}}}`),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:title":{}}}`),
	)
	got := ownedSpec(u, FieldManager)
	want := map[string]any{
		"title":   "EC2",
		"state":   "Major",
		"sitreps": []any{map[string]any{"summary": "one"}, map[string]any{"summary": "two"}},
		"roles": map[string]any{"commander": "greg", "operations": []any{
			map[string]any{"name": "postgres", "supervisor": "noah", "members": []any{"ana"}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("ownedSpec\n got %s\nwant %s", g, w)
	}
	if o := owners(u, FieldManager, "f:spec", "f:roles", "f:communications"); !reflect.DeepEqual(o, []string{"gitops"}) {
		t.Errorf("owners of communications: %v", o)
	}
	if o := owners(u, FieldManager, "f:spec", "f:roles", "f:commander"); o != nil {
		t.Errorf("owners of commander besides the plugin: %v", o)
	}
}

func TestOwnedSpecKeepsTheLiveOrderOfListItems(t *testing.T) {
	names := []string{"abc", "bcd", "cde", "def", "efg"}
	var groups []any
	fields := map[string]any{}
	for _, n := range names {
		groups = append(groups, map[string]any{"name": n, "supervisor": "noah"})
		fields[`k:{"name":"`+n+`"}`] = map[string]any{".": map[string]any{}, "f:name": map[string]any{}, "f:supervisor": map[string]any{}}
	}
	f, _ := json.Marshal(map[string]any{"f:spec": map[string]any{"f:roles": map[string]any{"f:operations": fields}}})
	u := managed(map[string]any{"roles": map[string]any{"operations": groups}}, entry(FieldManager, metav1.ManagedFieldsOperationApply, string(f)))
	for range 20 { // map iteration order differs from run to run
		got := ownedSpec(u, FieldManager)["roles"].(map[string]any)["operations"].([]any)
		for i, g := range got {
			if g.(map[string]any)["name"] != names[i] {
				t.Fatalf("operations in order %v, want %v", got, names)
			}
		}
	}
}

func TestOwnedSpecSkipsFieldsNoLongerThere(t *testing.T) {
	u := managed(map[string]any{"title": "x"}, entry(FieldManager, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:title":{},"f:drill":{}}}`))
	if got := ownedSpec(u, FieldManager); !reflect.DeepEqual(got, map[string]any{"title": "x"}) {
		t.Errorf("ownedSpec = %v", got)
	}
}

func TestStatusShowsOverdueSitrepAndWhatIsNotOK(t *testing.T) {
	inc := incidentWithSitrep()
	due := metav1.NewTime(now.Add(-5 * time.Minute))
	inc.Status.NextSitrepDueAt = &due
	inc.Status.Conditions = []metav1.Condition{
		{Type: v1alpha1.ConditionSitrepCurrent, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonOverdue, Message: "due 5m ago"},
		{Type: v1alpha1.ConditionRolesAssigned, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAssigned},
	}
	inc.Spec.Links = []v1alpha1.Link{{Name: "aws-ticket", URL: "https://aws.example.com/1"}}
	var b bytes.Buffer
	PrintStatus(&b, inc, nil, nil, now)
	out := b.String()
	for _, want := range []string{"ec2-api-errors: AWS EC2 API problems", "IC:", "ricardo", "OVERDUE by 5m (was due 12:09 UTC)",
		"SitrepCurrent (Overdue): due 5m ago", "no status update yet", "aws-ticket  https://aws.example.com/1"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "RolesAssigned") {
		t.Errorf("status lists a condition that is OK:\n%s", out)
	}
}

func TestStatusShowsTheImpactOfTheLatestSitrepThatSaysIt(t *testing.T) {
	inc := incidentWithSitrep()
	inc.Spec.Impact = nil
	inc.Spec.Sitreps = []v1alpha1.Sitrep{{Summary: "EC2 API errors", Impact: "Postgres provisioning fails"}, {Summary: "Retrying"}}
	var b bytes.Buffer
	PrintStatus(&b, inc, nil, nil, now)
	if want := "Postgres provisioning fails (sitrep 1)"; !strings.Contains(b.String(), want) {
		t.Errorf("status does not show %q:\n%s", want, b.String())
	}
	inc.Spec.Sitreps = inc.Spec.Sitreps[1:]
	b.Reset()
	PrintStatus(&b, inc, nil, nil, now)
	if want := "not described yet"; !strings.Contains(b.String(), want) {
		t.Errorf("status does not show %q:\n%s", want, b.String())
	}
}

func TestListPutsOpenSevereIncidentsFirst(t *testing.T) {
	mk := func(name string, st v1alpha1.IncidentState, age time.Duration) v1alpha1.Incident {
		return v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: v1alpha1.IncidentSpec{Title: name, State: st}}
	}
	var b bytes.Buffer
	PrintList(&b, []v1alpha1.Incident{mk("old-fixed", v1alpha1.StateResolved, time.Hour), mk("looking", v1alpha1.StateInvestigating, time.Minute), mk("fire", v1alpha1.StateMajor, 2*time.Minute)}, true, now)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var names []string
	for _, l := range lines[1:] {
		names = append(names, strings.Fields(l)[1])
	}
	if !reflect.DeepEqual(names, []string{"fire", "looking", "old-fixed"}) {
		t.Errorf("order %v:\n%s", names, b.String())
	}
	if h := strings.Fields(lines[0]); h[0] != "NAMESPACE" || h[1] != "NAME" {
		t.Errorf("header %q", lines[0])
	}
}

// runOffline runs a command line with no cluster behind it: for errors found before any call.
func runOffline(t *testing.T, args ...string) (string, int) {
	t.Helper()
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := NewOptions(streams)
	// An address nothing listens on: a command that reached the network would fail differently.
	code := Execute(o, append([]string{"--server", "https://127.0.0.1:1", "--request-timeout", "1s"}, args...))
	return errOut.String(), code
}

func TestCommandLineMistakesAreCaughtBeforeAnyCall(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"handoff", "x"}, "say who takes over"},
		{[]string{"handoff", "x", "--ops", "noah"}, "want GROUP=PERSON"},
		{[]string{"escalate"}, "accepts 1 arg(s), received 0"},
		{[]string{"escalate", "x", "--dry-run", "maybe"}, `--dry-run must be "none", "server" or "client"`},
		{[]string{"declare"}, "requires at least 1 arg(s)"},
		{[]string{"declare", "x", "--state", "sev1"}, `"sev1" is not a state`},
		{[]string{"sitrep", "x", "--impact", "everyone"}, "--summary is required"},
		{[]string{"sitrep", "x", "--summary", "s", "--link", "nourl"}, "want NAME=URL"},
		{[]string{"update", "x", "--status", "identified"}, "--status and --message are required"},
		{[]string{"update", "x", "--status", "identified", "--message", "m", "--component", "api"}, "want NAME=STATUS"},
	} {
		out, code := runOffline(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error saying %q", tc.args, code, out, tc.want)
		}
	}
}

func TestCompletionScriptsNameThePlugin(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		if code := Execute(NewOptions(streams), []string{"completion", shell}); code != 0 {
			t.Fatalf("completion %s: exit %d", shell, code)
		}
		if !strings.Contains(out.String(), "kubectl-incident") || !strings.Contains(out.String(), "__complete") {
			t.Errorf("the %s script does not call kubectl-incident __complete:\n%.400s", shell, out.String())
		}
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func FuzzNameFromTitleIsADNSLabel(f *testing.F) {
	for _, s := range []string{"EC2 API errors", "PX dynos can't scale", "!!!", "障害", strings.Repeat("ab-", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		name := NameFromTitle(title, now)
		if len(name) > 63 || !dnsLabel.MatchString(name) {
			t.Fatalf("NameFromTitle(%q) = %q, not a DNS label", title, name)
		}
	})
}

func FuzzParseSitrepPostsOnlyWithASummary(f *testing.F) {
	f.Add(SitrepTemplate(incidentWithSitrep()))
	f.Add("summary: x\nlinks:\n- name: a\n  url: https://e.com\n")
	f.Add("summary: |\n  #1\n# c\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSitrep(text)
		if err == nil && s.Summary == "" {
			t.Fatalf("ParseSitrep(%q) accepted a sitrep without a summary: %+v", text, s)
		}
	})
}

func TestStatusShowsThePostmortemsStateOwnerAndDueDate(t *testing.T) {
	inc := incidentWithSitrep()
	due := metav1.NewTime(now.Add(-2 * time.Hour))
	pm := &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors"},
		Spec:   v1alpha1.PostmortemSpec{State: v1alpha1.PostmortemDraft, DueAt: &due},
		Status: v1alpha1.PostmortemStatus{ProposedOwner: "ricardo"}}
	for _, c := range []struct {
		pm   *v1alpha1.Postmortem
		want string
	}{
		{pm, "Post-mortem:  ec2-api-errors: Draft, owner nobody yet (ricardo proposed), OVERDUE by 120m"},
		{&v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}, "Post-mortem:  gone (deleted, or not readable)"},
	} {
		var b bytes.Buffer
		PrintStatus(&b, inc, nil, c.pm, now)
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("status does not show %q:\n%s", c.want, b.String())
		}
	}
	var b bytes.Buffer
	PrintStatus(&b, inc, nil, nil, now)
	if strings.Contains(b.String(), "Post-mortem") {
		t.Errorf("status shows a post-mortem the incident does not have:\n%s", b.String())
	}
}

func TestStatusShowsWhoReallyPostedTheLastSitrep(t *testing.T) {
	for _, tc := range []struct {
		name, by, want string
	}{
		{name: "posted by its author", by: "ricardo", want: "by ricardo;"},
		{name: "posted by somebody else in its author's name", by: "mallory", want: "by ricardo (posted by mallory);"},
		{name: "posted while nobody could vouch for it", by: "", want: "by ricardo (not verified);"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := incidentWithSitrep()
			inc.Status.Timeline = []v1alpha1.TimelineEntry{{Type: v1alpha1.TimelineSitrep, Message: "Sitrep 1 from ricardo: EC2 API errors.", By: tc.by}}
			var b bytes.Buffer
			PrintStatus(&b, inc, nil, nil, now)
			if !strings.Contains(b.String(), tc.want) {
				t.Fatalf("status does not show %q:\n%s", tc.want, b.String())
			}
		})
	}
}
