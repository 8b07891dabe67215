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

package incident

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func key(d time.Duration, n int) string {
	return fmt.Sprintf("SitrepOverdue/%d/%d", t0.Add(d).Unix(), n)
}

func policyWith(f func(*v1alpha1.ResponsePolicySpec)) *v1alpha1.ResponsePolicy {
	p := &v1alpha1.ResponsePolicy{}
	f(&p.Spec)
	return p
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func tenSeconds() *v1alpha1.ResponsePolicy {
	return policyWith(func(s *v1alpha1.ResponsePolicySpec) {
		s.SitrepCadence = v1alpha1.SitrepCadence{Investigating: dur(10 * time.Second), Confirmed: dur(10 * time.Second), Major: dur(5 * time.Second)}
	})
}

func openIncident(state v1alpha1.IncidentState) *v1alpha1.Incident {
	inc := &v1alpha1.Incident{}
	inc.Spec.State = state
	inc.Spec.Roles.Commander = "ricardo"
	inc.Status.OpenedAt = mt(0)
	inc.Status.StateChangedAt = mt(0)
	return inc
}

// TestSitrepOverdueRemindsOncePerMissedInterval walks the clock across a 10s cadence, calling
// the check as a reconcile would (several times per interval, and again after a restart that
// reloads the stored status), and counts the reminders.
func TestSitrepOverdueRemindsOncePerMissedInterval(t *testing.T) {
	inc := openIncident(v1alpha1.StateConfirmed)
	cadence := cadenceOf(tenSeconds())
	var sent []string
	for ms := 0; ms <= 35000; ms += 500 {
		facts, wait, skew := checkSitrepOverdue(inc, cadence, t0.Add(time.Duration(ms)*time.Millisecond))
		for _, f := range facts {
			sent = append(sent, f.key)
			if f.eventReason != v1alpha1.EventSitrepOverdue || f.eventType != "Warning" {
				t.Fatalf("reminder %+v", f)
			}
			if skew < 0 || skew >= 500*time.Millisecond {
				t.Fatalf("skew %s at %dms", skew, ms)
			}
		}
		if wait <= 0 || wait > 10*time.Second {
			t.Fatalf("wait %s at %dms", wait, ms)
		}
		// A restart reloads the stored status: the same object, deep-copied.
		inc = inc.DeepCopy()
	}
	want := []string{key(10*time.Second, 1), key(10*time.Second, 2), key(10*time.Second, 3)}
	if strings.Join(sent, ",") != strings.Join(want, ",") {
		t.Fatalf("reminders %q, want %q", sent, want)
	}
}

func TestSitrepOverdueMessageSaysHowLateTheCadenceAndTheIC(t *testing.T) {
	inc := openIncident(v1alpha1.StateMajor)
	facts, _, _ := checkSitrepOverdue(inc, cadenceOf(nil), t0.Add(42*time.Minute))
	if len(facts) != 1 {
		t.Fatalf("facts %+v", facts)
	}
	want := "Sitrep overdue by 12m0s: sitreps are due every 30m0s while Major; IC: ricardo"
	if facts[0].entry.Message != want {
		t.Fatalf("message %q, want %q", facts[0].entry.Message, want)
	}
}

func TestSitrepOverdueAfterDowntimeSendsOneReminderNotABacklog(t *testing.T) {
	inc := openIncident(v1alpha1.StateConfirmed)
	facts, _, _ := checkSitrepOverdue(inc, cadenceOf(tenSeconds()), t0.Add(65*time.Second))
	if len(facts) != 1 || facts[0].key != key(10*time.Second, 6) {
		t.Fatalf("facts %+v", facts)
	}
}

func TestNewSitrepClearsTheOverdueAndRestartsTheCount(t *testing.T) {
	inc := openIncident(v1alpha1.StateConfirmed)
	cadence := cadenceOf(tenSeconds())
	if f, _, _ := checkSitrepOverdue(inc, cadence, t0.Add(11*time.Second)); len(f) != 1 {
		t.Fatal("no first reminder")
	}
	inc.Status.LastSitrepAt = mt(12 * time.Second)
	if f, wait, _ := checkSitrepOverdue(inc, cadence, t0.Add(13*time.Second)); len(f) != 0 || wait != 9*time.Second {
		t.Fatalf("after a sitrep: facts %+v wait %s", f, wait)
	}
	f, _, _ := checkSitrepOverdue(inc, cadence, t0.Add(22*time.Second))
	if len(f) != 1 || f[0].key != key(22*time.Second, 1) {
		t.Fatalf("next reminder %+v", f)
	}
}

func TestEscalationToMajorRemindsOnTheMajorCadenceAtOnce(t *testing.T) {
	inc := openIncident(v1alpha1.StateConfirmed)
	cadence := cadenceOf(tenSeconds())
	if f, _, _ := checkSitrepOverdue(inc, cadence, t0.Add(7*time.Second)); len(f) != 0 {
		t.Fatal("reminded before the Confirmed cadence")
	}
	inc.Spec.State = v1alpha1.StateMajor
	if f, _, _ := checkSitrepOverdue(inc, cadence, t0.Add(7*time.Second)); len(f) != 1 {
		t.Fatal("escalation to Major did not apply the 5s cadence at once")
	}
}

func TestResolvedIncidentGetsNoReminders(t *testing.T) {
	inc := openIncident(v1alpha1.StateResolved)
	inc.Spec.Roles = v1alpha1.Roles{}
	inc.Status.ConfirmedAt = mt(0)
	p := tenSeconds()
	later := t0.Add(24 * time.Hour)
	f1, _, _ := checkSitrepOverdue(inc, cadenceOf(p), later)
	f2, _ := checkCustomersInformed(inc, p, later)
	f3 := checkRolesUnassigned(inc, later)
	f4 := checkImpactUnknown(inc, later)
	if n := len(f1) + len(f2) + len(f3) + len(f4); n != 0 {
		t.Fatalf("%d reminders for a resolved incident", n)
	}
}

func TestCustomersNotInformedWarnsOnceAfterTheWindow(t *testing.T) {
	p := policyWith(func(s *v1alpha1.ResponsePolicySpec) { s.CustomersInformedWithin = dur(10 * time.Minute) })
	inc := openIncident(v1alpha1.StateConfirmed)
	inc.Status.ConfirmedAt = mt(time.Minute)
	if f, wait := checkCustomersInformed(inc, p, t0.Add(5*time.Minute)); len(f) != 0 || wait != 6*time.Minute {
		t.Fatalf("inside the window: %+v, wait %s", f, wait)
	}
	setCustomersInformedCondition(inc, p, t0.Add(5*time.Minute))
	if c := cond(inc, v1alpha1.ConditionCustomersInformed); c.Reason != v1alpha1.ReasonPending {
		t.Fatalf("condition %+v", c)
	}
	f, _ := checkCustomersInformed(inc, p, t0.Add(11*time.Minute))
	if len(f) != 1 || f[0].eventReason != v1alpha1.EventCustomersNotInformed || f[0].eventType != "Warning" {
		t.Fatalf("after the window: %+v", f)
	}
	if f, _ := checkCustomersInformed(inc, p, t0.Add(20*time.Minute)); len(f) != 0 {
		t.Fatal("warned twice")
	}
	setCustomersInformedCondition(inc, p, t0.Add(20*time.Minute))
	if c := cond(inc, v1alpha1.ConditionCustomersInformed); c.Reason != v1alpha1.ReasonNotInformed {
		t.Fatalf("condition %+v", c)
	}
	inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{Published: 1}
	setCustomersInformedCondition(inc, p, t0.Add(21*time.Minute))
	if c := cond(inc, v1alpha1.ConditionCustomersInformed); c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonInformed {
		t.Fatalf("after an update: %+v", c)
	}
}

func TestCustomersUpdateDueOncePerMissedCadence(t *testing.T) {
	p := policyWith(func(s *v1alpha1.ResponsePolicySpec) { s.StatusUpdateCadence = dur(20 * time.Minute) })
	inc := openIncident(v1alpha1.StateMajor)
	inc.Spec.Roles.Communications = "mia"
	inc.Status.MajorAt = mt(0)
	if f, wait := checkCustomersUpdateDue(inc, p, t0.Add(30*time.Minute)); len(f) != 0 || wait != 0 {
		t.Fatalf("before any update (the first is CustomersInformed's): %+v, wait %s", f, wait)
	}
	inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{Published: 1, LastPublishedAt: mt(10 * time.Minute), LastStatus: "identified"}
	if f, wait := checkCustomersUpdateDue(inc, p, t0.Add(25*time.Minute)); len(f) != 0 || wait != 5*time.Minute {
		t.Fatalf("inside the cadence: %+v, wait %s", f, wait)
	}
	f, wait := checkCustomersUpdateDue(inc, p, t0.Add(31*time.Minute))
	if len(f) != 1 || f[0].eventReason != v1alpha1.EventCustomersNotInformed || wait != 19*time.Minute {
		t.Fatalf("after one cadence: %+v, wait %s", f, wait)
	}
	want := `Customers last heard 21m0s ago ("identified"): status updates are due every 20m0s while Major; Comms: mia`
	if f[0].entry.Message != want {
		t.Fatalf("message %q, want %q", f[0].entry.Message, want)
	}
	if f, _ := checkCustomersUpdateDue(inc, p, t0.Add(45*time.Minute)); len(f) != 0 {
		t.Fatal("reminded twice for one missed cadence")
	}
	if f, _ := checkCustomersUpdateDue(inc, p, t0.Add(51*time.Minute)); len(f) != 1 {
		t.Fatal("no reminder for the second missed cadence")
	}
	inc.Status.StatusUpdates.LastPublishedAt = mt(52 * time.Minute)
	if f, wait := checkCustomersUpdateDue(inc, p, t0.Add(53*time.Minute)); len(f) != 0 || wait != 19*time.Minute {
		t.Fatalf("a new update restarts the count: %+v, wait %s", f, wait)
	}
	if len(inc.Status.Reminders.Sent) != 0 {
		t.Fatalf("cadence reminders fill reminders.sent: %q", inc.Status.Reminders.Sent)
	}
	inc.Status.StatusUpdates.LastStatus = "resolved"
	if f, _ := checkCustomersUpdateDue(inc, p, t0.Add(2*time.Hour)); len(f) != 0 {
		t.Fatal("reminded after customers were told it is resolved")
	}
	inc.Status.StatusUpdates.LastStatus = "monitoring"
	inc.Spec.State = v1alpha1.StateInvestigating
	if f, _ := checkCustomersUpdateDue(inc, p, t0.Add(2*time.Hour)); len(f) != 0 {
		t.Fatal("reminded at Investigating")
	}
}

func TestRoleUnassignedWarnsOncePerStateChange(t *testing.T) {
	inc := openIncident(v1alpha1.StateConfirmed)
	f := checkRolesUnassigned(inc, t0)
	if len(f) != 1 || !strings.Contains(f[0].entry.Message, "Nobody is Communications of this Confirmed incident: set spec.roles.communications") {
		t.Fatalf("%+v", f)
	}
	if len(checkRolesUnassigned(inc, t0.Add(time.Minute))) != 0 {
		t.Fatal("warned twice in one state")
	}
	inc.Spec.State, inc.Status.StateChangedAt = v1alpha1.StateMajor, mt(2*time.Minute)
	if len(checkRolesUnassigned(inc, t0.Add(2*time.Minute))) != 1 {
		t.Fatal("no warning after the escalation")
	}
	inc.Spec.State = v1alpha1.StateInvestigating
	inc.Status.StateChangedAt = mt(3 * time.Minute)
	if len(checkRolesUnassigned(inc, t0.Add(3*time.Minute))) != 0 {
		t.Fatal("Comms is not required while Investigating")
	}
}

func TestHandoffSuggestedAfterTheRoleHoldLimit(t *testing.T) {
	p := policyWith(func(s *v1alpha1.ResponsePolicySpec) { s.MaxRoleHold = dur(4 * time.Hour) })
	inc := openIncident(v1alpha1.StateMajor)
	inc.Status.Recorded = &v1alpha1.Recorded{Roles: v1alpha1.RecordedRoles{
		Commander: "ricardo", CommanderSince: mt(0),
		Operations: []v1alpha1.RecordedGroup{{Name: "postgres", Supervisor: "noah", Since: mt(time.Hour)}},
	}}
	if f, wait := checkHandoffSuggested(inc, p, t0.Add(3*time.Hour)); len(f) != 0 || wait != time.Hour {
		t.Fatalf("before the limit: %+v wait %s", f, wait)
	}
	f, wait := checkHandoffSuggested(inc, p, t0.Add(4*time.Hour+10*time.Minute))
	if len(f) != 1 || f[0].entry.Message != "ricardo has been IC for 4h10m0s: anybody need a break? Hand off with spec.roles.commander" {
		t.Fatalf("%+v", f)
	}
	if wait != 50*time.Minute {
		t.Fatalf("wait for noah's limit: %s", wait)
	}
	if f, _ := checkHandoffSuggested(inc, p, t0.Add(4*time.Hour+20*time.Minute)); len(f) != 0 {
		t.Fatal("suggested twice")
	}
	f, _ = checkHandoffSuggested(inc, p, t0.Add(5*time.Hour))
	if len(f) != 1 || !strings.HasPrefix(f[0].entry.Message, "noah has been Ops/postgres for 4h0m0s") {
		t.Fatalf("%+v", f)
	}
}

func TestImpactUnknownAtConfirmedAndMajor(t *testing.T) {
	inc := openIncident(v1alpha1.StateInvestigating)
	if len(checkImpactUnknown(inc, t0)) != 0 {
		t.Fatal("impact is not required while Investigating")
	}
	inc.Spec.State = v1alpha1.StateMajor
	if f := checkImpactUnknown(inc, t0); len(f) != 1 || f[0].eventReason != v1alpha1.EventImpactUnknown {
		t.Fatalf("%+v", f)
	}
	setImpactKnownCondition(inc)
	if c := cond(inc, v1alpha1.ConditionImpactKnown); c.Status != metav1.ConditionFalse {
		t.Fatalf("%+v", c)
	}
	inc.Spec.Sitreps = []v1alpha1.Sitrep{{Summary: "EC2 API errors"}, {Summary: "Still failing", Impact: "Postgres provisioning fails"}, {Summary: "Retrying"}}
	setImpactKnownCondition(inc)
	if c := cond(inc, v1alpha1.ConditionImpactKnown); c.Status != metav1.ConditionTrue || c.Message != "sitrep 2 describes the impact" {
		t.Fatalf("a sitrep's impact: %+v", c)
	}
	if f := checkImpactUnknown(inc, t0.Add(time.Minute)); len(f) != 0 {
		t.Fatalf("reminded though a sitrep describes the impact: %+v", f)
	}
	n := int64(120)
	inc.Spec.Impact = &v1alpha1.Impact{CustomersAffected: &n}
	setImpactKnownCondition(inc)
	if c := cond(inc, v1alpha1.ConditionImpactKnown); c.Status != metav1.ConditionTrue || c.Message != "spec.impact describes the impact" {
		t.Fatalf("%+v", c)
	}
}

func TestSentRemindersStayBounded(t *testing.T) {
	inc := openIncident(v1alpha1.StateMajor)
	for i := range 100 {
		sentOnce(inc, strings.Repeat("k", i+1))
	}
	if n := len(inc.Status.Reminders.Sent); n != maxSentReminders {
		t.Fatalf("%d keys kept", n)
	}
}

func TestPolicyAppliedSaysWhenTheDefaultsRun(t *testing.T) {
	inc := openIncident(v1alpha1.StateInvestigating)
	setPolicyAppliedCondition(inc, "oncall", false)
	c := cond(inc, v1alpha1.ConditionPolicyApplied)
	if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonNotFound ||
		!strings.Contains(c.Message, `ResponsePolicy "oncall" not found: running on the defaults (sitreps every 30m0s Investigating, 1h0m0s Confirmed, 30m0s Major`) {
		t.Fatalf("%+v", c)
	}
}

func cond(inc *v1alpha1.Incident, typ string) metav1.Condition {
	for _, c := range inc.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

func TestResolvedIncidentWithoutAResolvedUpdateRemindsOnceAfterTheWindow(t *testing.T) {
	p := policyWith(func(s *v1alpha1.ResponsePolicySpec) { s.CustomersInformedWithin = dur(10 * time.Minute) })
	inc := openIncident(v1alpha1.StateResolved)
	inc.Spec.Roles.Communications = "keiko"
	inc.Status.ResolvedAt = mt(time.Hour)
	inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{Published: 2, LastStatus: "monitoring"}
	if f, wait := checkResolvedAnnounced(inc, p, t0.Add(time.Hour+time.Minute)); len(f) != 0 || wait != 9*time.Minute {
		t.Fatalf("inside the window: %+v, wait %s", f, wait)
	}
	f, _ := checkResolvedAnnounced(inc, p, t0.Add(time.Hour+12*time.Minute))
	if len(f) != 1 || f[0].eventReason != v1alpha1.EventCustomersNotInformed ||
		f[0].entry.Message != `The incident was resolved 12m0s ago but customers were last told "monitoring": publish a StatusUpdate with status resolved; Comms: keiko` {
		t.Fatalf("%+v", f)
	}
	if f, _ := checkResolvedAnnounced(inc, p, t0.Add(2*time.Hour)); len(f) != 0 {
		t.Fatal("reminded twice")
	}
	inc.Status.StatusUpdates.LastStatus = "resolved"
	inc.Status.Reminders = nil
	if f, _ := checkResolvedAnnounced(inc, p, t0.Add(2*time.Hour)); len(f) != 0 {
		t.Fatal("reminded although customers were told it is resolved")
	}
	inc.Status.StatusUpdates = nil
	if f, _ := checkResolvedAnnounced(inc, p, t0.Add(2*time.Hour)); len(f) != 0 {
		t.Fatal("reminded about an incident customers never heard of")
	}
}

func TestAReopenedIncidentNeedsAFreshStatusUpdate(t *testing.T) {
	p := policyWith(func(s *v1alpha1.ResponsePolicySpec) { s.CustomersInformedWithin = dur(10 * time.Minute) })
	inc := openIncident(v1alpha1.StateConfirmed)
	inc.Status.ConfirmedAt = mt(0)
	inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{Published: 2, LastPublishedAt: mt(5 * time.Minute)}
	inc.Status.ReopenedAt = mt(2 * time.Hour)
	setCustomersInformedCondition(inc, p, t0.Add(2*time.Hour+time.Minute))
	if c := cond(inc, v1alpha1.ConditionCustomersInformed); c.Reason != v1alpha1.ReasonPending {
		t.Fatalf("after the reopen: %+v", c)
	}
	if f, _ := checkCustomersInformed(inc, p, t0.Add(2*time.Hour+11*time.Minute)); len(f) != 1 {
		t.Fatalf("no reminder 11 minutes after the reopen: %+v", f)
	}
	inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{Published: 3, LastPublishedAt: mt(2*time.Hour + 12*time.Minute)}
	setCustomersInformedCondition(inc, p, t0.Add(2*time.Hour+13*time.Minute))
	if c := cond(inc, v1alpha1.ConditionCustomersInformed); c.Reason != v1alpha1.ReasonInformed {
		t.Fatalf("after a fresh update: %+v", c)
	}
}
