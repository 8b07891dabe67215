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

package postmortem

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"firescope.dev/firescope/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func resolvedIncident() *v1alpha1.Incident {
	inc := &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: "payments"},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateResolved,
			Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "ana"}},
	}
	inc.Status.OpenedAt = at(0)
	inc.Status.MajorAt = at(10 * time.Minute)
	inc.Status.ConfirmedAt = at(20 * time.Minute)
	inc.Status.ResolvedAt = at(90 * time.Minute)
	inc.Status.Timeline = []v1alpha1.TimelineEntry{
		{At: *at(0), Type: v1alpha1.TimelineDeclared, Message: "Declared: Investigating", By: "ricardo"},
		{At: *at(5 * time.Minute), Type: v1alpha1.TimelineReminder, Message: "Sitrep overdue"},
		{At: *at(10 * time.Minute), Type: v1alpha1.TimelineStateChanged, Message: "Investigating -> Major", By: "ricardo"},
		{At: *at(90 * time.Minute), Type: v1alpha1.TimelineStateChanged, Message: "Major -> Resolved"},
	}
	return inc
}

func TestNewPostmortemIsDueByThePolicyAfterResolutionAndHasNoOwnerYet(t *testing.T) {
	inc := resolvedIncident()
	pol := &v1alpha1.ResponsePolicy{Spec: v1alpha1.ResponsePolicySpec{PostmortemDue: &metav1.Duration{Duration: 48 * time.Hour}}}
	pm := newPostmortem(inc, pol, t0.Add(100*time.Minute))
	if want := t0.Add(90*time.Minute + 48*time.Hour); !pm.Spec.DueAt.Time.Equal(want) {
		t.Errorf("due %v, want %v", pm.Spec.DueAt.Time, want)
	}
	if pm.Spec.Owner != "" || pm.Spec.State != v1alpha1.PostmortemDraft || pm.Name != inc.Name || pm.Spec.IncidentRef.Name != inc.Name {
		t.Errorf("unexpected post-mortem %+v", pm.Spec)
	}
	u := pm.Spec.Understanding
	for _, want := range []string{"2026-11-25 12:00 Declared: Declared: Investigating (by ricardo)", "12:10 StateChanged: Investigating -> Major", "13:30 StateChanged: Major -> Resolved"} {
		if !strings.Contains(u, want) {
			t.Errorf("understanding lacks %q:\n%s", want, u)
		}
	}
	if strings.Contains(u, "Sitrep overdue") {
		t.Errorf("reminders belong in the timeline, not the story:\n%s", u)
	}
	if def := newPostmortem(inc, nil, t0); !def.Spec.DueAt.Time.Equal(t0.Add(90*time.Minute + v1alpha1.DefaultPostmortemDue)) {
		t.Errorf("default due %v", def.Spec.DueAt)
	}
}

func TestChronologyStaysWithinTheUnderstandingBound(t *testing.T) {
	inc := resolvedIncident()
	long := strings.Repeat("x", 500)
	for i := range 200 {
		inc.Status.Timeline = append(inc.Status.Timeline, v1alpha1.TimelineEntry{At: *at(time.Duration(i) * time.Minute), Type: v1alpha1.TimelineSitrep, Message: long})
	}
	c := chronology(inc)
	if len(c) > maxChronology+100 || !strings.Contains(c, "later entries are in status.incident.timeline") {
		t.Errorf("chronology of %d bytes, or no pointer to the rest", len(c))
	}
}

func TestRecordMeasuresTheResponseAndListsOnlyPublishedUpdatesInOrder(t *testing.T) {
	inc := resolvedIncident()
	pub := func(name string, at *metav1.Time) v1alpha1.StatusUpdate {
		su := v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.StatusUpdateSpec{Status: "investigating", Message: name}}
		if at != nil {
			su.Status.PublishedAt = at
			meta.SetStatusCondition(&su.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionPublished, Status: metav1.ConditionTrue, Reason: "Published"})
		}
		return su
	}
	r := record(inc, []v1alpha1.StatusUpdate{pub("second", at(40*time.Minute)), pub("unpublished", nil), pub("first", at(15*time.Minute))})
	if len(r.StatusUpdates) != 2 || r.StatusUpdates[0].Name != "first" || r.StatusUpdates[1].Name != "second" {
		t.Fatalf("status updates %+v", r.StatusUpdates)
	}
	// Major came before Confirmed: time to confirm is to the first of them.
	if r.Durations.ToConfirm.Duration != 10*time.Minute || r.Durations.ToFirstStatusUpdate.Duration != 15*time.Minute || r.Durations.ToResolve.Duration != 90*time.Minute {
		t.Errorf("durations %+v", r.Durations)
	}
	if r.HighestState != v1alpha1.StateMajor || r.Roles.Commander != "ricardo" || len(r.Timeline) != 4 {
		t.Errorf("record %+v", r)
	}
}

func postmortemAt(created time.Duration) *v1alpha1.Postmortem {
	pm := &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", CreationTimestamp: *at(created)},
		Spec: v1alpha1.PostmortemSpec{State: v1alpha1.PostmortemDraft, DueAt: at(created + 48*time.Hour)}}
	pm.Status.ProposedOwner = "ricardo"
	return pm
}

func reasons(rs []reminder) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.reason)
	}
	return out
}

func TestRemindersForAMissingOwnerRepeatEachIntervalWithoutABacklog(t *testing.T) {
	pm := postmortemAt(0)
	pm.Spec.DueAt = at(30 * 24 * time.Hour)
	every := 24 * time.Hour
	due, next := reminders(pm, t0, every)
	if len(due) != 1 || due[0].reason != v1alpha1.EventPostmortemOwnerMissing || !next.Equal(t0.Add(every)) {
		t.Fatalf("at creation: %v, next %v", reasons(due), next)
	}
	if !strings.Contains(due[0].note, "the IC, ricardo, is proposed") {
		t.Errorf("note %q does not propose the IC", due[0].note)
	}
	markSent(pm, due)
	if due, _ := reminders(pm, t0.Add(time.Hour), every); len(due) != 0 {
		t.Errorf("reminded again within the interval: %v", reasons(due))
	}
	// After 3.5 intervals of downtime: one reminder, not three.
	due, _ = reminders(pm, t0.Add(3*every+12*time.Hour), every)
	if len(due) != 1 || due[0].keys[0] != "owner-missing/3" {
		t.Errorf("after downtime: %+v", due)
	}
	pm.Spec.Owner = "ana"
	if due, _ := reminders(pm, t0.Add(3*every+12*time.Hour), every); len(due) != 0 {
		t.Errorf("an owned post-mortem is not reminded of its owner: %v", reasons(due))
	}
}

func TestRemindersWhenDueDatePassesStopOncePublished(t *testing.T) {
	pm := postmortemAt(0)
	pm.Spec.Owner = "ana"
	every := 24 * time.Hour
	due, next := reminders(pm, t0.Add(time.Hour), every)
	if len(due) != 0 || !next.Equal(pm.Spec.DueAt.Time) {
		t.Fatalf("before the due date: %v, next %v (want the due date)", reasons(due), next)
	}
	due, _ = reminders(pm, pm.Spec.DueAt.Time, every)
	if len(due) != 1 || due[0].reason != v1alpha1.EventPostmortemOverdue || !strings.Contains(due[0].note, "owner: ana") {
		t.Fatalf("at the due date: %+v", due)
	}
	pm.Spec.State = v1alpha1.PostmortemPublished
	if due, next := reminders(pm, pm.Spec.DueAt.Add(time.Hour), every); len(due) != 0 || !next.IsZero() {
		t.Errorf("published: %v, next %v", reasons(due), next)
	}
}

func TestRemindersForUnownedRemediationComeAtOnceForANewItem(t *testing.T) {
	pm := postmortemAt(0)
	pm.Spec.Owner = "ana"
	pm.Spec.Remediation = []v1alpha1.RemediationItem{{Title: "Alert on EC2 API error rate", Owner: "greg"}, {Title: "Retry with backoff"}, {Title: "Done already", Done: true}}
	due, _ := reminders(pm, t0.Add(time.Hour), time.Hour*24)
	if len(due) != 1 || due[0].reason != v1alpha1.EventRemediationUnowned || !strings.Contains(due[0].note, "Retry with backoff") || strings.Contains(due[0].note, "Done already") {
		t.Fatalf("reminders %+v", due)
	}
	markSent(pm, due)
	pm.Spec.Remediation = append(pm.Spec.Remediation, v1alpha1.RemediationItem{Title: "Regional failover runbook"})
	due, _ = reminders(pm, t0.Add(2*time.Hour), 24*time.Hour)
	if len(due) != 1 {
		t.Fatalf("a newly unowned item waits for the next interval: %+v", due)
	}
	markSent(pm, due)
	// Giving one item an owner closes a gap: nobody is pinged for that.
	pm.Spec.Remediation[1].Owner = "noah"
	if due, _ := reminders(pm, t0.Add(3*time.Hour), 24*time.Hour); len(due) != 0 {
		t.Errorf("closing a gap sent a reminder: %+v", due)
	}
	if due, _ := reminders(pm, t0.Add(25*time.Hour), 24*time.Hour); len(due) != 1 || !strings.Contains(due[0].note, "Regional failover runbook") || strings.Contains(due[0].note, "Retry with backoff") {
		t.Errorf("next interval: %+v", due)
	}
}

func TestMovingTheDueDateStartsOverdueRemindersAfresh(t *testing.T) {
	pm := postmortemAt(0)
	pm.Spec.Owner = "ana"
	every := 24 * time.Hour
	due, _ := reminders(pm, pm.Spec.DueAt.Time, every)
	if len(due) != 1 {
		t.Fatalf("at the due date: %+v", due)
	}
	markSent(pm, due)
	pm.Spec.DueAt = at(5 * 24 * time.Hour)
	if due, next := reminders(pm, t0.Add(3*24*time.Hour), every); len(due) != 0 || !next.Equal(pm.Spec.DueAt.Time) {
		t.Errorf("before the new due date: %+v, next %v", due, next)
	}
	if due, _ := reminders(pm, pm.Spec.DueAt.Time, every); len(due) != 1 || due[0].reason != v1alpha1.EventPostmortemOverdue {
		t.Errorf("at the new due date: %+v", due)
	}
}

func TestMarkSentKeepsTheNewest(t *testing.T) {
	pm := postmortemAt(0)
	for i := range 40 {
		markSent(pm, []reminder{{keys: []string{fmt.Sprint("k", i)}}})
	}
	if n := len(pm.Status.RemindersSent); n != 40 {
		t.Errorf("kept %d of 40", n)
	}
	for i := 40; i < 200; i++ {
		markSent(pm, []reminder{{keys: []string{fmt.Sprint("k", i)}}})
	}
	if n := len(pm.Status.RemindersSent); n != maxRemindersSent || pm.Status.RemindersSent[n-1] != "k199" {
		t.Errorf("kept %d, newest %q", n, pm.Status.RemindersSent[n-1])
	}
}

func TestConditions(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*v1alpha1.Postmortem)
		now   time.Duration
		owner string // OwnerAssigned reason
		sched string // OnSchedule reason
		remed string // RemediationOwned reason
	}{
		{"fresh", func(*v1alpha1.Postmortem) {}, time.Hour, v1alpha1.ReasonOwnerMissing, v1alpha1.ReasonNotDue, v1alpha1.ReasonAllOwned},
		{"owned and late", func(p *v1alpha1.Postmortem) { p.Spec.Owner = "ana" }, 49 * time.Hour, v1alpha1.ReasonOwnerConfirmed, v1alpha1.ReasonPastDue, v1alpha1.ReasonAllOwned},
		{"published late", func(p *v1alpha1.Postmortem) { p.Spec.Owner, p.Spec.State = "ana", v1alpha1.PostmortemPublished }, 49 * time.Hour, v1alpha1.ReasonOwnerConfirmed, v1alpha1.ReasonDone, v1alpha1.ReasonAllOwned},
		{"unowned item", func(p *v1alpha1.Postmortem) { p.Spec.Remediation = []v1alpha1.RemediationItem{{Title: "x"}} }, time.Hour, v1alpha1.ReasonOwnerMissing, v1alpha1.ReasonNotDue, v1alpha1.ReasonUnowned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pm := postmortemAt(0)
			c.edit(pm)
			setConditions(pm, t0.Add(c.now))
			for typ, want := range map[string]string{v1alpha1.ConditionOwnerAssigned: c.owner, v1alpha1.ConditionOnSchedule: c.sched, v1alpha1.ConditionRemediationOwned: c.remed} {
				if got := meta.FindStatusCondition(pm.Status.Conditions, typ); got == nil || got.Reason != want {
					t.Errorf("%s: %+v, want reason %s", typ, got, want)
				}
			}
		})
	}
}

func TestBodyKeepsOwnersAndTrackersInternal(t *testing.T) {
	pm := postmortemAt(0)
	pm.Spec.Apology = "We are sorry."
	pm.Spec.Understanding = "The EC2 API returned errors."
	pm.Spec.Remediation = []v1alpha1.RemediationItem{{Title: "Alert on errors", Owner: "greg", Tracker: "https://tracker.example.com/OPS-1", Done: true}}
	b := body(pm)
	for _, want := range []string{"We are sorry.", "What happened", "The EC2 API returned errors.", "- Alert on errors (done)"} {
		if !strings.Contains(b, want) {
			t.Errorf("body lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "greg") || strings.Contains(b, "tracker.example.com") {
		t.Errorf("body leaks internal details:\n%s", b)
	}
}

func TestLaterNameKeepsTheIncidentsNameWithinTheLimit(t *testing.T) {
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "db-down", UID: "0123abcd-ef01-2345-6789-abcdef012345"}}
	if got := laterName(inc); got != "db-down-0123abcd" {
		t.Errorf("laterName = %q", got)
	}
	inc.Name = strings.Repeat("a", 243) + "-.b"
	if got := laterName(inc); len(got) > 253 || strings.Contains(got, "-.") || !strings.HasSuffix(got, "a-0123abcd") {
		t.Errorf("laterName = %q (%d)", got, len(got))
	}
}

func TestAPostmortemReviewsItsIncidentNotALaterOneOfTheSameName(t *testing.T) {
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "db-down", UID: "later", CreationTimestamp: at(time.Hour)}}
	pm := func(uid string, created time.Duration) *v1alpha1.Postmortem {
		p := &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(created)},
			Spec: v1alpha1.PostmortemSpec{IncidentRef: v1alpha1.LocalReference{Name: "db-down"}}}
		p.Status.Incident.UID = types.UID(uid)
		return p
	}
	for _, c := range []struct {
		name string
		pm   *v1alpha1.Postmortem
		want bool
	}{
		{"recorded this incident", pm("later", 2*time.Hour), true},
		{"recorded an earlier incident", pm("earlier", 2*time.Hour), false},
		{"nothing recorded, made after the incident", pm("", 2*time.Hour), true},
		{"nothing recorded, older than the incident", pm("", 0), false},
	} {
		if got := reviews(c.pm, inc); got != c.want {
			t.Errorf("%s: reviews = %v", c.name, got)
		}
	}
}
