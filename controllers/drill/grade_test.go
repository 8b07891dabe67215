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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

var start = at("2026-12-03T09:00:00Z")

// tl builds a timeline entry at an offset from the start of the run.
func tl(offset time.Duration, typ v1alpha1.TimelineEntryType, msg string) v1alpha1.TimelineEntry {
	return v1alpha1.TimelineEntry{At: metav1.NewTime(start.Add(offset)), Type: typ, Message: msg}
}

// drillPolicy is the scenarios' policy: sitreps every 4m Investigating, 5m Confirmed, 3m Major;
// customers informed within 5m; a Slack channel.
func drillPolicy() *v1alpha1.ResponsePolicy {
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	return &v1alpha1.ResponsePolicy{Spec: v1alpha1.ResponsePolicySpec{
		SitrepCadence:           v1alpha1.SitrepCadence{Investigating: d(4 * time.Minute), Confirmed: d(5 * time.Minute), Major: d(3 * time.Minute)},
		CustomersInformedWithin: d(5 * time.Minute),
		CommsChannel:            &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{}},
	}}
}

func record(end time.Duration, scenario v1alpha1.DrillScenarioSpec, entries ...v1alpha1.TimelineEntry) runRecord {
	inc := &v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{State: v1alpha1.StateMajor}, Status: v1alpha1.IncidentStatus{Timeline: entries}}
	return runRecord{inc: inc, policy: drillPolicy(), scenario: &scenario, start: start, end: start.Add(end)}
}

const (
	m = time.Minute
	s = time.Second
)

var (
	declared  = tl(0, v1alpha1.TimelineDeclared, "Incident declared (Investigating)")
	icRicardo = tl(0, v1alpha1.TimelineHandoff, "IC -> ricardo")
	confirmed = tl(2*m, v1alpha1.TimelineStateChanged, "Incident Confirmed")
)

func TestGradeCriteria(t *testing.T) {
	cases := []struct {
		name      string
		criterion func(runRecord) v1alpha1.Criterion
		rec       runRecord
		result    v1alpha1.CriterionResult
		evidence  string
	}{
		{"confirmed: the time to confirm, quoting the entry", gradeConfirmed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, icRicardo, confirmed),
			v1alpha1.CriterionPass, `time to confirm 2m0s: +2m0s "Incident Confirmed"`},
		{"confirmed: escalating straight to Major counts", gradeConfirmed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, tl(70*s, v1alpha1.TimelineStateChanged, "Incident escalated to Major")),
			v1alpha1.CriterionPass, "time to confirm 1m10s"},
		{"confirmed: never", gradeConfirmed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, icRicardo),
			v1alpha1.CriterionFail, "never Confirmed or Major"},
		{"confirmed: a scenario declared Major has nothing to confirm", gradeConfirmed,
			record(15*m, v1alpha1.DrillScenarioSpec{State: v1alpha1.StateMajor}, tl(0, v1alpha1.TimelineDeclared, "Incident declared (Major)")),
			v1alpha1.CriterionNotApplicable, "declares the incident Major"},
		{"comms: staffed within the window", gradeCommsStaffed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed, tl(4*m, v1alpha1.TimelineHandoff, "Comms -> keiko")),
			v1alpha1.CriterionPass, `+4m0s "Comms -> keiko" (window 5m0s from +2m0s "Incident Confirmed")`},
		{"comms: staffed before the incident was confirmed", gradeCommsStaffed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, tl(30*s, v1alpha1.TimelineHandoff, "Comms -> keiko"), confirmed),
			v1alpha1.CriterionPass, `+30s "Comms -> keiko"`},
		{"comms: staffed too late", gradeCommsStaffed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed, tl(8*m, v1alpha1.TimelineHandoff, "Comms -> keiko")),
			v1alpha1.CriterionFail, "Communications staffed 6m0s after Incident Confirmed, later than the policy's 5m0s"},
		{"comms: never staffed", gradeCommsStaffed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed),
			v1alpha1.CriterionFail, "nobody held Communications"},
		{"comms: a run that never got serious", gradeCommsStaffed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared),
			v1alpha1.CriterionNotApplicable, "never became Confirmed or Major"},
		{"customers: first update within the window", gradeCustomersInformed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed, tl(6*m, v1alpha1.TimelineStatusUpdate, "Status update 1 written (drill: held from customers)")),
			v1alpha1.CriterionPass, `+6m0s "Status update 1 written (drill: held from customers)", within 5m0s`},
		{"customers: first update late", gradeCustomersInformed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed, tl(9*m, v1alpha1.TimelineStatusUpdate, "Status update 1 written (drill: held from customers)")),
			v1alpha1.CriterionFail, "first status update 2m0s late"},
		{"customers: no update at all", gradeCustomersInformed,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed),
			v1alpha1.CriterionFail, "no status update during the run"},
		{"sitreps: all on cadence across state changes", gradeSitreps,
			record(10*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed,
				tl(3*m, v1alpha1.TimelineSitrep, "Sitrep 1 from ricardo: EC2 API errors"),
				tl(4*m, v1alpha1.TimelineStateChanged, "Incident escalated to Major"),
				tl(6*m, v1alpha1.TimelineSitrep, "Sitrep 2 from ricardo: dynos"),
				tl(9*m, v1alpha1.TimelineSitrep, "Sitrep 3 from ricardo: recovering"),
				tl(9*m+30*s, v1alpha1.TimelineStateChanged, "Incident Resolved")),
			v1alpha1.CriterionPass, "3 on time"},
		{"sitreps: one late and one missing at the end", gradeSitreps,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed,
				tl(3*m, v1alpha1.TimelineSitrep, "Sitrep 1 from ricardo: EC2 API errors"),
				tl(9*m+20*s, v1alpha1.TimelineSitrep, "Sitrep 2 from ricardo: dynos")),
			v1alpha1.CriterionFail, `1 on time, 2 late: +9m20s "Sitrep 2 from ricardo: dynos" late by 1m20s; none by the end, 40s after one was due at +14m20s`},
		{"sitreps: a short run before the first was due", gradeSitreps,
			record(3*m, v1alpha1.DrillScenarioSpec{}, declared, tl(2*m, v1alpha1.TimelineStateChanged, "Incident Resolved")),
			v1alpha1.CriterionNotApplicable, "before a sitrep was due"},
		{"announced: every change reached the channel", gradeChangesAnnounced,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, icRicardo, confirmed,
				tl(3*m, v1alpha1.TimelineReminder, `Could not deliver "Incident Confirmed" to slack: 503 (retrying)`)),
			v1alpha1.CriterionPass, "2 state changes and hand-offs announced"},
		{"announced: an announcement given up", gradeChangesAnnounced,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, icRicardo, confirmed,
				tl(3*m, v1alpha1.TimelineReminder, `Could not deliver "Incident Confirmed" to slack: 404 channel_not_found`)),
			v1alpha1.CriterionFail, `an announcement was given up: +3m0s "Could not deliver`},
		{"handoff: practised", gradeHandoff,
			record(15*m, v1alpha1.DrillScenarioSpec{ExpectHandoff: true}, declared, icRicardo, confirmed, tl(11*m, v1alpha1.TimelineHandoff, "IC -> greg-burek")),
			v1alpha1.CriterionPass, `+11m0s "IC -> greg-burek"`},
		{"handoff: asked for and not practised (the declaration's IC is no hand-off)", gradeHandoff,
			record(15*m, v1alpha1.DrillScenarioSpec{ExpectHandoff: true}, declared, icRicardo, confirmed, tl(5*m, v1alpha1.TimelineHandoff, "Comms -> keiko")),
			v1alpha1.CriterionFail, "the IC never changed"},
		{"handoff: not asked for", gradeHandoff,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, icRicardo),
			v1alpha1.CriterionNotApplicable, "does not ask for a hand-off"},
		{"resolved: by the IC in time", gradeResolved,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, tl(12*m, v1alpha1.TimelineStateChanged, "Incident Resolved")),
			v1alpha1.CriterionPass, `+12m0s "Incident Resolved"`},
		{"resolved: an entry after the end does not count", gradeResolved,
			record(15*m, v1alpha1.DrillScenarioSpec{}, declared, tl(16*m, v1alpha1.TimelineStateChanged, "Incident Resolved")),
			v1alpha1.CriterionFail, "still Major when the time limit ended the run at +15m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.criterion(tc.rec)
			if got.Result != tc.result || !strings.Contains(got.Evidence, tc.evidence) {
				t.Fatalf("got %s %q\nwant %s with %q", got.Result, got.Evidence, tc.result, tc.evidence)
			}
		})
	}
}

func TestGradeWithoutACommsChannelFailsAnnouncements(t *testing.T) {
	rec := record(15*m, v1alpha1.DrillScenarioSpec{}, declared, confirmed)
	rec.policy.Spec.CommsChannel = nil
	if got := gradeChangesAnnounced(rec); got.Result != v1alpha1.CriterionFail || !strings.Contains(got.Evidence, "set commsChannel") {
		t.Fatalf("got %+v", got)
	}
}

func TestScoreCountsOnlyApplicableCriteria(t *testing.T) {
	cs := []v1alpha1.Criterion{{Result: v1alpha1.CriterionPass}, {Result: v1alpha1.CriterionFail}, {Result: v1alpha1.CriterionNotApplicable}, {Result: v1alpha1.CriterionPass}}
	if g, r := score(cs); g != "2/3" || r < 0.66 || r > 0.67 {
		t.Fatalf("got %s %.2f", g, r)
	}
	if g, _ := score(nil); g != "0/0" {
		t.Fatalf("got %s", g)
	}
}

func update(name string, ok bool, msg string) v1alpha1.StatusUpdate {
	st := metav1.ConditionTrue
	if !ok {
		st = metav1.ConditionFalse
	}
	return v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1alpha1.StatusUpdateStatus{
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionWordingOK, Status: st, Message: msg}}}}
}

func TestGradeWording(t *testing.T) {
	cases := []struct {
		name     string
		updates  []v1alpha1.StatusUpdate
		result   v1alpha1.CriterionResult
		evidence string
	}{
		{"no update written", nil, v1alpha1.CriterionNotApplicable, "no status update was written"},
		{"every update follows the guidelines", []v1alpha1.StatusUpdate{update("u1", true, ""), update("u2", true, "")},
			v1alpha1.CriterionPass, "2 status updates follow the wording guidelines"},
		{"one gives an ETA", []v1alpha1.StatusUpdate{update("u1", true, ""), update("u2", false, `gives an ETA ("fixed by 5pm")`)},
			v1alpha1.CriterionFail, `1 of 2 status updates depart from the wording guidelines: u2: gives an ETA ("fixed by 5pm")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(15*m, v1alpha1.DrillScenarioSpec{}, declared)
			rec.updates = tc.updates
			got := gradeWording(rec)
			if got.Result != tc.result || !strings.Contains(got.Evidence, tc.evidence) {
				t.Fatalf("got %s %q; want %s with %q", got.Result, got.Evidence, tc.result, tc.evidence)
			}
		})
	}
}
