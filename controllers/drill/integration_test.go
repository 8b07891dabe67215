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
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/drill"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/testenv"
)

// The tests share one control plane and one running manager, started on first use.
func TestMain(m *testing.M) { testenv.Main(m) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type fakes struct {
	ns    string
	slack *slack.Server
	page  *statuspage.Server
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// namespace creates a namespace whose default ResponsePolicy announces to a fake Slack and
// publishes to a fake Statuspage that does not allow drills, with cadences far longer than a
// test's run so that the scripted response is on time however slow the machine.
func namespace(t *testing.T, e *testenv.Env, ns string) fakes {
	t.Helper()
	ctx := context.Background()
	f := fakes{ns: ns, slack: slack.New(), page: statuspage.New()}
	t.Cleanup(f.slack.Close)
	t.Cleanup(f.page.Close)
	f.page.AddComponent("cmp0ec2", "EC2")
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}))
	for name, cred := range map[string]struct {
		provider credentials.Provider
		data     string
	}{"comms": {credentials.Slack, f.slack.WebhookURL()}, "statuspage": {credentials.Statuspage, statuspage.APIKey}} {
		must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{credentials.Label: "true"},
			Annotations: credentials.Annotations(cred.provider, "127.0.0.1"), Name: name, Namespace: f.ns},
			StringData: map[string]string{"key": cred.data}}))
	}
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: f.ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, URL: f.page.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"},
			Components:           []v1alpha1.ComponentMapping{{Name: "EC2", ID: "cmp0ec2"}}}}))
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: f.ns}, Spec: v1alpha1.ResponsePolicySpec{
		SitrepCadence:           v1alpha1.SitrepCadence{Investigating: dur(5 * time.Minute), Confirmed: dur(5 * time.Minute), Major: dur(5 * time.Minute)},
		CustomersInformedWithin: dur(5 * time.Minute),
		StatusPageRef:           &v1alpha1.LocalReference{Name: "public"},
		CommsChannel:            &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "key"}}},
	}}))
	return f
}

func note(at time.Duration, typ v1alpha1.InjectType, msg string) v1alpha1.Inject {
	return v1alpha1.Inject{At: metav1.Duration{Duration: at}, Type: typ, Message: msg}
}

func getDrill(t *testing.T, e *testenv.Env, ns, name string) *v1alpha1.Drill {
	t.Helper()
	d := &v1alpha1.Drill{}
	must(t, e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d))
	return d
}

func waitDrill(t *testing.T, e *testenv.Env, ns, name string, ok func(*v1alpha1.Drill) error) *v1alpha1.Drill {
	t.Helper()
	var d *v1alpha1.Drill
	testenv.Eventually(t, 60*time.Second, func() error {
		d = &v1alpha1.Drill{}
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			return err
		}
		return ok(d)
	})
	return d
}

func waitIncident(t *testing.T, e *testenv.Env, ns, name string, ok func(*v1alpha1.Incident) error) *v1alpha1.Incident {
	t.Helper()
	var inc *v1alpha1.Incident
	testenv.Eventually(t, 60*time.Second, func() error {
		inc = &v1alpha1.Incident{}
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, inc); err != nil {
			return err
		}
		return ok(inc)
	})
	return inc
}

func hasEntry(inc *v1alpha1.Incident, msg string) error {
	for _, en := range inc.Status.Timeline {
		if en.Message == msg {
			return nil
		}
	}
	return fmt.Errorf("no timeline entry %q yet", msg)
}

// patch merges a JSON patch into the Incident as user, as kubectl or the plugin would.
func patch(t *testing.T, e *testenv.Env, user, ns, name, body string) {
	t.Helper()
	must(t, e.As(user).Patch(context.Background(), &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(body))))
}

// count is how many Slack messages contain s.
func count(f fakes, s string) int {
	n := 0
	for _, txt := range f.slack.Texts() {
		if strings.Contains(txt, s) {
			n++
		}
	}
	return n
}

func TestADrillStartsOnScheduleInjectsLandAndAScriptedResponseEarnsItsGrade(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, "drill-scheduled")
	// The team practises the post-mortem too.
	policy := &v1alpha1.ResponsePolicy{}
	must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "default"}, policy))
	policy.Spec.PostmortemForDrills, policy.Spec.PostmortemDue = true, dur(time.Hour)
	must(t, e.Client.Update(ctx, policy))
	impact := &v1alpha1.Impact{Description: "PX dynos cannot scale", CustomersAffected: new(int64(120))}
	d := &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "ec2", Namespace: f.ns}, Spec: v1alpha1.DrillSpec{
		Scenario: v1alpha1.DrillScenario{Inline: &v1alpha1.DrillScenarioSpec{Title: "EC2 API errors", ExpectHandoff: true, Injects: []v1alpha1.Inject{
			note(2*time.Second, v1alpha1.InjectImpact, "PX dynos cannot scale"),
			note(0, v1alpha1.InjectNote, "AWS status page: elevated EC2 API error rates in us-east-1"),
			note(time.Second, v1alpha1.InjectPressure, "Customers are tweeting that deploys fail"),
		}}},
		Commander: "ricardo", Participants: []v1alpha1.Person{"keiko"},
		Schedule: "*/2 * * * * *", TimeLimit: metav1.Duration{Duration: 10 * time.Minute},
	}}
	d.Spec.Scenario.Inline.Injects[0].Impact = impact
	must(t, e.Client.Create(ctx, d))

	// It starts by itself; suspending it then lets the run go on and starts no other.
	d = waitDrill(t, e, f.ns, "ec2", func(d *v1alpha1.Drill) error {
		if d.Status.Active == nil {
			return fmt.Errorf("no run yet")
		}
		return nil
	})
	run := d.Status.Active.Incident
	if !strings.HasPrefix(run, "ec2-") {
		t.Fatalf("run %q is not named after the Drill and its scheduled time", run)
	}
	must(t, e.Client.Patch(ctx, d, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"suspend":true}}`))))

	// The injects land in order, each once, in the run's record, the Incident and the channel.
	d = waitDrill(t, e, f.ns, "ec2", func(d *v1alpha1.Drill) error {
		if d.Status.Active == nil || len(d.Status.Active.Injects) != 3 {
			return fmt.Errorf("injects played: %+v", d.Status.Active)
		}
		return nil
	})
	for i, p := range d.Status.Active.Injects {
		if int(p.Index) != i || p.PlayedAt.Before(&p.PlannedAt) {
			t.Errorf("inject %d recorded as %+v", i, p)
		}
	}
	inc := waitIncident(t, e, f.ns, run, func(inc *v1alpha1.Incident) error {
		if inc.Spec.Impact == nil || inc.Spec.Impact.Description != "PX dynos cannot scale" {
			return fmt.Errorf("impact %+v", inc.Spec.Impact)
		}
		return hasEntry(inc, "IC -> ricardo")
	})
	if !inc.Spec.Drill || inc.Spec.Roles.Commander != "ricardo" || !metav1.IsControlledBy(inc, d) {
		t.Fatalf("run Incident %+v", inc)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		for _, want := range []string{
			"[DRILL] @ricardo @keiko: drill ec2 has started",
			"[DRILL] @all: AWS status page: elevated EC2 API error rates in us-east-1",
			"[DRILL] @ricardo: Customers are tweeting that deploys fail",
			"[DRILL] @all: Impact: PX dynos cannot scale",
		} {
			if n := count(f, want); n != 1 {
				return fmt.Errorf("%q announced %d times; messages: %q", want, n, f.slack.Texts())
			}
		}
		return nil
	})

	// The scripted response: confirm with Comms, tell customers, a sitrep, hand off, resolve.
	patch(t, e, "ricardo", f.ns, run, `{"spec":{"state":"Confirmed","roles":{"communications":"keiko"}}}`)
	waitIncident(t, e, f.ns, run, func(inc *v1alpha1.Incident) error { return hasEntry(inc, "Comms -> keiko") })
	must(t, e.As("keiko").Create(ctx, &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: run + "-1", Namespace: f.ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: run}, Status: "investigating",
			Message:    "Launching servers fails in us-east-1; we are investigating. Existing apps keep running, and no action is needed.",
			Components: []v1alpha1.UpdateComponent{{Name: "EC2", Status: "major_outage"}}}}))
	waitIncident(t, e, f.ns, run, func(inc *v1alpha1.Incident) error {
		return hasEntry(inc, "Status update 1 written (drill: held from customers)")
	})
	patch(t, e, "ricardo", f.ns, run, `{"spec":{"sitreps":[{"summary":"EC2 API errors in us-east-1","impact":"PX dynos cannot scale","actions":"ops/dynos is moving load"}]}}`)
	waitIncident(t, e, f.ns, run, func(inc *v1alpha1.Incident) error {
		return hasEntry(inc, "Sitrep 1 from ricardo: EC2 API errors in us-east-1")
	})
	patch(t, e, "ricardo", f.ns, run, `{"spec":{"roles":{"commander":"greg-burek"}}}`)
	waitIncident(t, e, f.ns, run, func(inc *v1alpha1.Incident) error { return hasEntry(inc, "IC -> greg-burek") })
	patch(t, e, "greg-burek", f.ns, run, `{"spec":{"state":"Resolved"}}`)

	d = waitDrill(t, e, f.ns, "ec2", func(d *v1alpha1.Drill) error {
		if len(d.Status.Runs) != 1 {
			return fmt.Errorf("runs: %+v", d.Status.Runs)
		}
		return nil
	})
	res := d.Status.Runs[0]
	if res.EndReason != v1alpha1.DrillEndResolved || res.Grade != "8/8" || d.Status.LastGrade != "8/8" || d.Status.Active != nil {
		t.Fatalf("run %s ended %s with grade %s (last %s): %+v", res.Incident, res.EndReason, res.Grade, d.Status.LastGrade, res.Criteria)
	}
	evidence := map[string]string{
		"Confirmed":         `"Incident Confirmed"`,
		"CommsStaffed":      `"Comms -> keiko"`,
		"CustomersInformed": `"Status update 1 written (drill: held from customers)"`,
		"SitrepsOnCadence":  "1 on time",
		"UpdateWording":     "1 status updates follow the wording guidelines",
		"ChangesAnnounced":  "announced to the comms channel",
		"HandoffPractised":  `"IC -> greg-burek"`,
		"ResolvedInTime":    `"Incident Resolved"`,
	}
	for _, c := range res.Criteria {
		if c.Name == drill.CriterionPostmortemWritten {
			if c.Result != v1alpha1.CriterionPending {
				t.Errorf("%s: %s %q; want Pending until the post-mortem is Published or due", c.Name, c.Result, c.Evidence)
			}
			continue
		}
		if c.Result != v1alpha1.CriterionPass || !strings.Contains(c.Evidence, evidence[c.Name]) {
			t.Errorf("%s: %s %q; want Pass citing %s", c.Name, c.Result, c.Evidence, evidence[c.Name])
		}
	}
	// The post-mortem, owned and Published before its due date, completes the grade.
	pm := &v1alpha1.Postmortem{}
	testenv.Eventually(t, 60*time.Second, func() error { return e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: run}, pm) })
	patch := client.MergeFrom(pm.DeepCopy())
	pm.Spec.Owner, pm.Spec.State = "greg-burek", v1alpha1.PostmortemInReview
	must(t, e.Client.Patch(ctx, pm, patch))
	patch = client.MergeFrom(pm.DeepCopy())
	pm.Spec.State, pm.Spec.Apology, pm.Spec.Understanding = v1alpha1.PostmortemPublished, "We are sorry.", "EC2 API errors stopped scaling."
	must(t, e.Client.Patch(ctx, pm, patch))
	waitDrill(t, e, f.ns, "ec2", func(d *v1alpha1.Drill) error {
		r := d.Status.Runs[0]
		for _, c := range r.Criteria {
			if c.Name == drill.CriterionPostmortemWritten && (c.Result != v1alpha1.CriterionPass || !strings.Contains(c.Evidence, "owned by greg-burek and Published")) {
				return fmt.Errorf("%s: %s %q", c.Name, c.Result, c.Evidence)
			}
		}
		if r.Grade != "9/9" || d.Status.LastGrade != "9/9" {
			return fmt.Errorf("grade %s, last %s; want 9/9", r.Grade, d.Status.LastGrade)
		}
		return nil
	})
	// Suspended since the first run: no other Incident was declared.
	list := &v1alpha1.IncidentList{}
	must(t, e.Client.List(ctx, list, client.InNamespace(f.ns), client.MatchingLabels{v1alpha1.LabelDrill: "ec2"}))
	if len(list.Items) != 1 {
		t.Fatalf("%d runs declared; want 1", len(list.Items))
	}
	if n := len(f.page.Incidents()); n != 0 {
		t.Fatalf("the drill reached the public status page: %d incidents", n)
	}
}

func TestARestartMidDrillNeitherRepeatsNorSkipsAnInject(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, "drill-restart")
	d := &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "router", Namespace: f.ns, Annotations: map[string]string{v1alpha1.AnnotationStartDrill: "first"}},
		Spec: v1alpha1.DrillSpec{
			Scenario: v1alpha1.DrillScenario{Inline: &v1alpha1.DrillScenarioSpec{Title: "Router latency", Injects: []v1alpha1.Inject{
				note(0, v1alpha1.InjectNote, "inject one: p99 latency at 2s"),
				note(4*time.Second, v1alpha1.InjectNote, "inject two: 503s at 5%"),
				note(8*time.Second, v1alpha1.InjectNote, "inject three: the deploy finished at 14:02"),
			}}},
			Commander: "ricardo", TimeLimit: metav1.Duration{Duration: 10 * time.Minute},
		}}
	must(t, e.Client.Create(ctx, d))
	d = waitDrill(t, e, f.ns, "router", func(d *v1alpha1.Drill) error {
		if d.Status.Active == nil || len(d.Status.Active.Injects) != 1 {
			return fmt.Errorf("active run: %+v", d.Status.Active)
		}
		return nil
	})
	run, started := d.Status.Active.Incident, d.Status.Active.StartedAt.Time
	// An inject is recorded before it is announced, and an announcement cut off by a stop is
	// not sent again (docs/drills.md): stop only once the first one is out.
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := count(f, "inject one"); n != 1 {
			return fmt.Errorf("inject one announced %d times", n)
		}
		return nil
	})

	// Down while the second inject falls due.
	e.StopManager()
	time.Sleep(time.Until(started.Add(5 * time.Second)))
	must(t, e.RunManager())

	d = waitDrill(t, e, f.ns, "router", func(d *v1alpha1.Drill) error {
		if d.Status.Active == nil || len(d.Status.Active.Injects) != 3 {
			return fmt.Errorf("active run: %+v", d.Status.Active)
		}
		return nil
	})
	for i, p := range d.Status.Active.Injects {
		if int(p.Index) != i {
			t.Fatalf("injects recorded out of order: %+v", d.Status.Active.Injects)
		}
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		for _, s := range []string{"inject one", "inject two", "inject three"} {
			if n := count(f, s); n != 1 {
				return fmt.Errorf("%q announced %d times: %q", s, n, f.slack.Texts())
			}
		}
		return nil
	})

	// A start request while the run is under way is refused: runs never overlap.
	must(t, e.Client.Patch(ctx, d, client.RawPatch("application/merge-patch+json",
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"second"}}}`, v1alpha1.AnnotationStartDrill))))
	waitDrill(t, e, f.ns, "router", func(d *v1alpha1.Drill) error {
		if d.Status.LastStartRequest != "second" || d.Status.Active == nil || d.Status.Active.Incident != run {
			return fmt.Errorf("start request %q, active %+v", d.Status.LastStartRequest, d.Status.Active)
		}
		return nil
	})
	list := &v1alpha1.IncidentList{}
	must(t, e.Client.List(ctx, list, client.InNamespace(f.ns), client.MatchingLabels{v1alpha1.LabelDrill: "router"}))
	if len(list.Items) != 1 {
		t.Fatalf("%d runs declared; want 1", len(list.Items))
	}

	patch(t, e, "ricardo", f.ns, run, `{"spec":{"state":"Resolved"}}`)
	d = waitDrill(t, e, f.ns, "router", func(d *v1alpha1.Drill) error {
		if len(d.Status.Runs) != 1 {
			return fmt.Errorf("runs: %+v", d.Status.Runs)
		}
		return nil
	})
	if got := len(d.Status.Runs[0].Injects); got != 3 {
		t.Fatalf("the graded run kept %d injects; want 3", got)
	}
}

func TestAScenarioConfigMapIsCheckedWithActionableMessages(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, "drill-configmap")
	must(t, e.Client.Create(ctx, &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: f.ns}, Spec: v1alpha1.DrillSpec{
		Scenario:  v1alpha1.DrillScenario{ConfigMapRef: &v1alpha1.LocalReference{Name: "heartbleed"}},
		Commander: "ricardo", Schedule: "0 14 * * 2", TimeLimit: metav1.Duration{Duration: 15 * time.Minute},
	}}))
	ready := func(reason, message string) {
		t.Helper()
		waitDrill(t, e, f.ns, "shared", func(d *v1alpha1.Drill) error {
			for _, c := range d.Status.Conditions {
				if c.Type == v1alpha1.ConditionDrillReady && c.Reason == reason && strings.Contains(c.Message, message) {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v; want Ready %s with %q", d.Status.Conditions, reason, message)
		})
	}
	ready(v1alpha1.ReasonScenarioInvalid, `scenario ConfigMap "heartbleed" not found: create it with the scenario under the key scenario.yaml`)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "heartbleed", Namespace: f.ns},
		Data: map[string]string{v1alpha1.ScenarioConfigMapKey: "title: Heartbleed\ninjects:\n- at: 20m\n  type: Note\n  message: the fix is out\n"}}
	must(t, e.Client.Create(ctx, cm))
	// The ConfigMap is read at each reconcile, not watched: a spec change brings the next one.
	bump := func(s string) {
		must(t, e.Client.Patch(ctx, &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: f.ns}},
			client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"participants":[%q]}}`, s))))
	}
	bump("keiko")
	ready(v1alpha1.ReasonScenarioInvalid, "inject 0 (at 20m0s) plays after timeLimit 15m0s: raise timeLimit or move the inject earlier")

	cm.Data[v1alpha1.ScenarioConfigMapKey] = "title: Heartbleed\nstate: Major\ninjects:\n- at: 5m\n  type: Pressure\n  message: a customer asks whether keys leaked\n"
	must(t, e.Client.Update(ctx, cm))
	bump("chris")
	ready(v1alpha1.ReasonDrillValid, "the scenario resolves and the schedule parses")
	if d := getDrill(t, e, f.ns, "shared"); d.Status.NextRunAt == nil || d.Status.NextRunAt.Weekday() != time.Tuesday {
		t.Fatalf("next run %v; want the next Tuesday", d.Status.NextRunAt)
	}
}
