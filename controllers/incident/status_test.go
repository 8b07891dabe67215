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
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/attribution"
)

// t0 is when the incidents in these tests are declared.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// never stands for a timestamp that must be unset.
const never = time.Duration(-1)

func at(d time.Duration) time.Time { return t0.Add(d) }

func mt(d time.Duration) *metav1.Time {
	if d == never {
		return nil
	}
	t := metav1.NewTime(t0.Add(d))
	return &t
}

// declared returns an Incident created at t0 in the given state, with alice in command, that
// the controller has not seen yet.
func declared(state v1alpha1.IncidentState) *v1alpha1.Incident {
	return &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{
			Name: "ec2-api-errors", Namespace: "default",
			CreationTimestamp: metav1.NewTime(t0), Generation: 1,
		},
		Spec: v1alpha1.IncidentSpec{
			Title: "EC2 API errors",
			State: state,
			Roles: v1alpha1.Roles{Commander: "alice"},
		},
	}
}

func setChangedBy(inc *v1alpha1.Incident, by map[string]string) {
	raw, err := json.Marshal(by)
	if err != nil {
		panic(err)
	}
	if inc.Annotations == nil {
		inc.Annotations = map[string]string{}
	}
	inc.Annotations[v1alpha1.AnnotationChangedBy] = string(raw)
}

// recordTrusted records the changes with the changed-by annotation believed as written, as
// the controller believes one the webhook signed.
func recordTrusted(inc *v1alpha1.Incident, now time.Time) []fact {
	by, _ := attribution.Parse(inc.Annotations[v1alpha1.AnnotationChangedBy])
	return recordChanges(inc, by, now)
}

// seen is what a fact says, in a comparable form.
type seen struct {
	Reason  string
	Type    v1alpha1.TimelineEntryType
	Message string
	By      string
}

func summarize(t *testing.T, facts []fact) []seen {
	t.Helper()
	var out []seen
	for _, f := range facts {
		if f.eventType != "Normal" {
			t.Errorf("fact %q has event type %q, want Normal", f.entry.Message, f.eventType)
		}
		out = append(out, seen{f.eventReason, f.entry.Type, f.entry.Message, f.entry.By})
	}
	return out
}

func checkTime(t *testing.T, name string, got *metav1.Time, want time.Duration) {
	t.Helper()
	switch {
	case want == never && got != nil:
		t.Errorf("%s = %s, want unset", name, got.UTC().Format(time.RFC3339))
	case want != never && got == nil:
		t.Errorf("%s unset, want %s", name, at(want).Format(time.RFC3339))
	case want != never && !got.Time.Equal(at(want)):
		t.Errorf("%s = %s, want %s", name, got.UTC().Format(time.RFC3339), at(want).Format(time.RFC3339))
	}
}

// timelineEndsWith checks that the facts were appended to the timeline, in order.
func timelineEndsWith(t *testing.T, inc *v1alpha1.Incident, facts []fact) {
	t.Helper()
	tl := inc.Status.Timeline
	if len(tl) < len(facts) {
		t.Fatalf("timeline has %d entries, fewer than the %d new facts", len(tl), len(facts))
	}
	for i, f := range facts {
		if got := tl[len(tl)-len(facts)+i]; got != f.entry {
			t.Errorf("timeline entry %d = %+v, want the fact %+v", len(tl)-len(facts)+i, got, f.entry)
		}
	}
}

func TestRecordChangesDeclaresTheIncidentAtItsCreationTime(t *testing.T) {
	for _, tc := range []struct {
		state                v1alpha1.IncidentState
		confirmedAt, majorAt time.Duration
	}{
		{v1alpha1.StateInvestigating, never, never},
		{v1alpha1.StateConfirmed, 0, never},
		{v1alpha1.StateMajor, never, 0},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			inc := declared(tc.state)
			setChangedBy(inc, map[string]string{"state": "alice", "commander": "alice", "sitreps": "alice"})
			// The controller was down for five minutes: the declaration still dates from creation.
			now := at(5 * time.Minute)

			facts := recordTrusted(inc, now)

			want := []seen{
				{v1alpha1.EventStateChanged, v1alpha1.TimelineDeclared, "Incident declared (" + string(tc.state) + ")", "alice"},
				{v1alpha1.EventHandoff, v1alpha1.TimelineHandoff, "IC -> alice", "alice"},
			}
			if got := summarize(t, facts); !slices.Equal(got, want) {
				t.Fatalf("facts\n got %+v\nwant %+v", got, want)
			}
			if !facts[0].entry.At.Time.Equal(t0) {
				t.Errorf("declaration at %s, want the creation time %s", facts[0].entry.At.UTC(), t0)
			}
			// The first IC took command when the incident was declared, not when it was observed.
			if !facts[1].entry.At.Time.Equal(t0) {
				t.Errorf("first hand-off at %s, want the declaration, %s", facts[1].entry.At.UTC(), t0)
			}
			st := inc.Status
			checkTime(t, "openedAt", st.OpenedAt, 0)
			checkTime(t, "stateChangedAt", st.StateChangedAt, 0)
			checkTime(t, "confirmedAt", st.ConfirmedAt, tc.confirmedAt)
			checkTime(t, "majorAt", st.MajorAt, tc.majorAt)
			checkTime(t, "resolvedAt", st.ResolvedAt, never)
			checkTime(t, "reopenedAt", st.ReopenedAt, never)
			if len(st.Timeline) != len(facts) {
				t.Errorf("timeline has %d entries, want %d", len(st.Timeline), len(facts))
			}
			timelineEndsWith(t, inc, facts)
			// The IC holds the role from the declaration: that starts the hand-off clock.
			wantRec := &v1alpha1.Recorded{State: tc.state, Roles: v1alpha1.RecordedRoles{Commander: "alice", CommanderSince: st.OpenedAt}}
			if !equality.Semantic.DeepEqual(st.Recorded, wantRec) {
				t.Errorf("recorded = %+v, want %+v", st.Recorded, wantRec)
			}
		})
	}
}

func TestRecordChangesDeclaresAtObservationTimeWhenCreationTimeIsUnknown(t *testing.T) {
	inc := declared(v1alpha1.StateInvestigating)
	inc.CreationTimestamp = metav1.Time{}
	now := at(5 * time.Minute)

	facts := recordTrusted(inc, now)

	if len(facts) == 0 || facts[0].entry.Type != v1alpha1.TimelineDeclared {
		t.Fatalf("first fact is not the declaration: %+v", facts)
	}
	if !facts[0].entry.At.Time.Equal(now) {
		t.Errorf("declaration at %s, want %s", facts[0].entry.At.UTC(), now)
	}
	checkTime(t, "openedAt", inc.Status.OpenedAt, 5*time.Minute)
}

func TestRecordChangesWordsEveryStateChange(t *testing.T) {
	type transition struct {
		from, to v1alpha1.IncidentState
		typ      v1alpha1.TimelineEntryType
		message  string
	}
	cases := []transition{
		{v1alpha1.StateInvestigating, v1alpha1.StateConfirmed, v1alpha1.TimelineStateChanged, "Incident Confirmed"},
		{v1alpha1.StateInvestigating, v1alpha1.StateMajor, v1alpha1.TimelineStateChanged, "Incident escalated to Major"},
		{v1alpha1.StateInvestigating, v1alpha1.StateResolved, v1alpha1.TimelineStateChanged, "Incident Resolved"},
		{v1alpha1.StateConfirmed, v1alpha1.StateMajor, v1alpha1.TimelineStateChanged, "Incident escalated to Major"},
		{v1alpha1.StateConfirmed, v1alpha1.StateResolved, v1alpha1.TimelineStateChanged, "Incident Resolved"},
		{v1alpha1.StateMajor, v1alpha1.StateConfirmed, v1alpha1.TimelineStateChanged, "Incident downgraded to Confirmed"},
		{v1alpha1.StateMajor, v1alpha1.StateResolved, v1alpha1.TimelineStateChanged, "Incident Resolved"},
		{v1alpha1.StateResolved, v1alpha1.StateInvestigating, v1alpha1.TimelineReopened, "Incident reopened"},
		{v1alpha1.StateResolved, v1alpha1.StateConfirmed, v1alpha1.TimelineReopened, "Incident reopened"},
		{v1alpha1.StateResolved, v1alpha1.StateMajor, v1alpha1.TimelineReopened, "Incident reopened"},
	}
	// Every transition of the API's table has its wording here.
	for from, tos := range v1alpha1.Transitions {
		for _, to := range tos {
			if from != "" && !slices.ContainsFunc(cases, func(c transition) bool { return c.from == from && c.to == to }) {
				t.Errorf("no case for the transition %s -> %s", from, to)
			}
		}
	}
	for _, tc := range cases {
		t.Run(string(tc.from)+"->"+string(tc.to), func(t *testing.T) {
			inc := declared(v1alpha1.StateInvestigating)
			recordTrusted(inc, t0)
			if tc.from != v1alpha1.StateInvestigating {
				inc.Spec.State = tc.from
				recordTrusted(inc, at(30*time.Minute))
			}
			inc.Spec.State = tc.to
			setChangedBy(inc, map[string]string{"state": "bob", "commander": "alice"})
			now := at(time.Hour)

			facts := recordTrusted(inc, now)

			want := []seen{{v1alpha1.EventStateChanged, tc.typ, tc.message, "bob"}}
			if got := summarize(t, facts); !slices.Equal(got, want) {
				t.Fatalf("facts\n got %+v\nwant %+v", got, want)
			}
			if !facts[0].entry.At.Time.Equal(now) {
				t.Errorf("entry at %s, want %s", facts[0].entry.At.UTC(), now)
			}
			checkTime(t, "stateChangedAt", inc.Status.StateChangedAt, time.Hour)
			checkTime(t, "openedAt", inc.Status.OpenedAt, 0)
			timelineEndsWith(t, inc, facts)
		})
	}
}

func TestRecordChangesSetsConfirmedAndMajorOnceAndClearsResolvedOnReopen(t *testing.T) {
	inc := declared(v1alpha1.StateInvestigating)
	recordTrusted(inc, t0)
	for _, step := range []struct {
		to                                           v1alpha1.IncidentState
		at                                           time.Duration
		message                                      string
		confirmed, major, resolved, reopened, change time.Duration
	}{
		{v1alpha1.StateConfirmed, 10 * time.Minute, "Incident Confirmed", 10 * time.Minute, never, never, never, 10 * time.Minute},
		{v1alpha1.StateMajor, 20 * time.Minute, "Incident escalated to Major", 10 * time.Minute, 20 * time.Minute, never, never, 20 * time.Minute},
		{v1alpha1.StateConfirmed, 30 * time.Minute, "Incident downgraded to Confirmed", 10 * time.Minute, 20 * time.Minute, never, never, 30 * time.Minute},
		{v1alpha1.StateMajor, 40 * time.Minute, "Incident escalated to Major", 10 * time.Minute, 20 * time.Minute, never, never, 40 * time.Minute},
		{v1alpha1.StateResolved, 50 * time.Minute, "Incident Resolved", 10 * time.Minute, 20 * time.Minute, 50 * time.Minute, never, 50 * time.Minute},
		{v1alpha1.StateConfirmed, 60 * time.Minute, "Incident reopened", 10 * time.Minute, 20 * time.Minute, never, 60 * time.Minute, 60 * time.Minute},
		{v1alpha1.StateResolved, 70 * time.Minute, "Incident Resolved", 10 * time.Minute, 20 * time.Minute, 70 * time.Minute, 60 * time.Minute, 70 * time.Minute},
		{v1alpha1.StateMajor, 80 * time.Minute, "Incident reopened", 10 * time.Minute, 20 * time.Minute, never, 80 * time.Minute, 80 * time.Minute},
	} {
		inc.Spec.State = step.to
		facts := recordTrusted(inc, at(step.at))
		if len(facts) != 1 || facts[0].entry.Message != step.message {
			t.Fatalf("at +%s to %s: facts %+v, want one: %q", step.at, step.to, summarize(t, facts), step.message)
		}
		st := inc.Status
		name := func(field string) string { return fmt.Sprintf("after %s at +%s: %s", step.to, step.at, field) }
		checkTime(t, name("openedAt"), st.OpenedAt, 0)
		checkTime(t, name("confirmedAt"), st.ConfirmedAt, step.confirmed)
		checkTime(t, name("majorAt"), st.MajorAt, step.major)
		checkTime(t, name("resolvedAt"), st.ResolvedAt, step.resolved)
		checkTime(t, name("reopenedAt"), st.ReopenedAt, step.reopened)
		checkTime(t, name("stateChangedAt"), st.StateChangedAt, step.change)
	}
}

func TestRecordChangesRecordsEachHandoff(t *testing.T) {
	ops := func(groups ...v1alpha1.OperationsGroup) []v1alpha1.OperationsGroup { return groups }
	recOps := func(groups ...v1alpha1.RecordedGroup) []v1alpha1.RecordedGroup { return groups }
	handoff := func(msg, by string) seen {
		return seen{v1alpha1.EventHandoff, v1alpha1.TimelineHandoff, msg, by}
	}
	for _, tc := range []struct {
		name     string
		recorded v1alpha1.RecordedRoles
		spec     v1alpha1.Roles
		by       map[string]string
		want     []seen
	}{{
		name:     "IC handed to another person",
		recorded: v1alpha1.RecordedRoles{Commander: "alice"},
		spec:     v1alpha1.Roles{Commander: "ricardo"},
		by:       map[string]string{"commander": "alice"},
		want:     []seen{handoff("IC -> ricardo", "alice")},
	}, {
		name:     "Comms assigned",
		recorded: v1alpha1.RecordedRoles{Commander: "alice"},
		spec:     v1alpha1.Roles{Commander: "alice", Communications: "keiko"},
		by:       map[string]string{"commander": "alice", "communications": "ricardo"},
		want:     []seen{handoff("Comms -> keiko", "ricardo")},
	}, {
		name:     "Comms stood down",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Communications: "keiko"},
		spec:     v1alpha1.Roles{Commander: "alice"},
		by:       map[string]string{"communications": "keiko"},
		want:     []seen{handoff("Comms -> (unassigned)", "keiko")},
	}, {
		name:     "Operations group formed with a supervisor",
		recorded: v1alpha1.RecordedRoles{Commander: "alice"},
		spec:     v1alpha1.Roles{Commander: "alice", Operations: ops(v1alpha1.OperationsGroup{Name: "postgres", Supervisor: "noah"})},
		by:       map[string]string{"ops/postgres": "alice"},
		want:     []seen{handoff("Ops/postgres -> noah", "alice")},
	}, {
		name:     "Operations group formed without a supervisor is no hand-off",
		recorded: v1alpha1.RecordedRoles{Commander: "alice"},
		spec:     v1alpha1.Roles{Commander: "alice", Operations: ops(v1alpha1.OperationsGroup{Name: "postgres", Members: []v1alpha1.Person{"noah"}})},
	}, {
		name:     "Operations supervisor replaced",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Operations: recOps(v1alpha1.RecordedGroup{Name: "postgres", Supervisor: "maria"})},
		spec:     v1alpha1.Roles{Commander: "alice", Operations: ops(v1alpha1.OperationsGroup{Name: "postgres", Supervisor: "noah"})},
		by:       map[string]string{"ops/postgres": "ricardo"},
		want:     []seen{handoff("Ops/postgres -> noah", "ricardo")},
	}, {
		name:     "Operations supervisor left the group",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Operations: recOps(v1alpha1.RecordedGroup{Name: "postgres", Supervisor: "noah"})},
		spec:     v1alpha1.Roles{Commander: "alice", Operations: ops(v1alpha1.OperationsGroup{Name: "postgres"})},
		by:       map[string]string{"ops/postgres": "noah"},
		want:     []seen{handoff("Ops/postgres -> (unassigned)", "noah")},
	}, {
		name:     "Operations group removed from the spec stood down",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Operations: recOps(v1alpha1.RecordedGroup{Name: "x", Supervisor: "noah"})},
		spec:     v1alpha1.Roles{Commander: "alice"},
		by:       map[string]string{"ops/x": "ricardo"},
		want:     []seen{handoff("Ops/x -> (unassigned)", "ricardo")},
	}, {
		name:     "Operations group without a supervisor removed is no hand-off",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Operations: recOps(v1alpha1.RecordedGroup{Name: "x"})},
		spec:     v1alpha1.Roles{Commander: "alice"},
	}, {
		name:     "members joining a group is no hand-off",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Operations: recOps(v1alpha1.RecordedGroup{Name: "postgres", Supervisor: "noah"})},
		spec: v1alpha1.Roles{Commander: "alice", Operations: ops(v1alpha1.OperationsGroup{
			Name: "postgres", Supervisor: "noah", Members: []v1alpha1.Person{"maria", "chris"},
		})},
	}, {
		name: "several hand-offs at once: IC, Comms, groups in spec order, then removed groups",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Communications: "keiko", Operations: recOps(
			v1alpha1.RecordedGroup{Name: "x", Supervisor: "noah"},
			v1alpha1.RecordedGroup{Name: "postgres", Supervisor: "maria"},
		)},
		spec: v1alpha1.Roles{Commander: "ricardo", Communications: "chris-stolt", Operations: ops(
			v1alpha1.OperationsGroup{Name: "postgres", Supervisor: "noah"},
			v1alpha1.OperationsGroup{Name: "dynos", Supervisor: "ann"},
		)},
		by: map[string]string{"commander": "alice", "communications": "keiko", "ops/postgres": "ricardo", "ops/dynos": "ricardo", "ops/x": "ricardo"},
		want: []seen{
			handoff("IC -> ricardo", "alice"),
			handoff("Comms -> chris-stolt", "keiko"),
			handoff("Ops/postgres -> noah", "ricardo"),
			handoff("Ops/dynos -> ann", "ricardo"),
			handoff("Ops/x -> (unassigned)", "ricardo"),
		},
	}, {
		name:     "nothing changed",
		recorded: v1alpha1.RecordedRoles{Commander: "alice", Communications: "keiko", Operations: recOps(v1alpha1.RecordedGroup{Name: "postgres", Supervisor: "noah"})},
		spec:     v1alpha1.Roles{Commander: "alice", Communications: "keiko", Operations: ops(v1alpha1.OperationsGroup{Name: "postgres", Supervisor: "noah"})},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateInvestigating)
			inc.Spec.Roles = tc.spec
			inc.Status.Recorded = &v1alpha1.Recorded{State: v1alpha1.StateInvestigating, Roles: tc.recorded}
			if tc.by != nil {
				setChangedBy(inc, tc.by)
			}

			facts := recordTrusted(inc, at(time.Hour))

			if got := summarize(t, facts); !slices.Equal(got, tc.want) {
				t.Errorf("facts\n got %+v\nwant %+v", got, tc.want)
			}
			timelineEndsWith(t, inc, facts)
			want := v1alpha1.RecordedRoles{Commander: tc.spec.Commander, Communications: tc.spec.Communications}
			for _, g := range tc.spec.Operations {
				want.Operations = append(want.Operations, v1alpha1.RecordedGroup{Name: g.Name, Supervisor: g.Supervisor})
			}
			if got := withoutSince(inc.Status.Recorded.Roles); !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("recorded roles = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRecordChangesRecordsNewSitreps(t *testing.T) {
	sitrep := func(at time.Duration, author v1alpha1.Person, summary string) v1alpha1.Sitrep {
		s := v1alpha1.Sitrep{At: mt(at), Author: author, Summary: summary}
		return s
	}
	long := strings.Repeat("x", 500)
	for _, tc := range []struct {
		name       string
		sitreps    []v1alpha1.Sitrep
		recorded   int32
		lastBefore time.Duration
		by         map[string]string
		want       []string
		wantAt     []time.Duration
		wantBy     string
		// wantBys, when set, is each fact's by instead.
		wantBys  []string
		wantLast time.Duration
	}{{
		name: "only the sitreps after the recorded ones, numbered from the first",
		sitreps: []v1alpha1.Sitrep{
			sitrep(5*time.Minute, "ricardo", "EC2 API errors"),
			sitrep(20*time.Minute, "ricardo", "Postgres provisioning restored"),
			sitrep(25*time.Minute, "", "Dynos restarting"),
		},
		recorded:   1,
		lastBefore: 5 * time.Minute,
		by:         map[string]string{"sitreps": "keiko"},
		want: []string{
			"Sitrep 2 from ricardo (posted by keiko): Postgres provisioning restored",
			"Sitrep 3 from keiko: Dynos restarting",
		},
		wantAt:   []time.Duration{20 * time.Minute, 25 * time.Minute},
		wantBy:   "keiko",
		wantLast: 25 * time.Minute,
	}, {
		name:       "a sitrep without a time counts from when it was observed",
		sitreps:    []v1alpha1.Sitrep{sitrep(never, "ricardo", "EC2 API errors")},
		lastBefore: never,
		want:       []string{"Sitrep 1 from ricardo (not verified): EC2 API errors"},
		wantAt:     []time.Duration{time.Hour},
		wantLast:   time.Hour,
	}, {
		name:       "author unknown without an author or a changed-by record",
		sitreps:    []v1alpha1.Sitrep{sitrep(10*time.Minute, "", "EC2 API errors")},
		lastBefore: never,
		want:       []string{"Sitrep 1 from unknown: EC2 API errors"},
		wantAt:     []time.Duration{10 * time.Minute},
		wantLast:   10 * time.Minute,
	}, {
		name:       "summary on one line",
		sitreps:    []v1alpha1.Sitrep{sitrep(10*time.Minute, "ricardo", "Postgres\n  provisioning\trestored\n")},
		lastBefore: never,
		want:       []string{"Sitrep 1 from ricardo (not verified): Postgres provisioning restored"},
		wantAt:     []time.Duration{10 * time.Minute},
		wantLast:   10 * time.Minute,
	}, {
		name:       "long summary shortened to 200 bytes",
		sitreps:    []v1alpha1.Sitrep{sitrep(10*time.Minute, "ricardo", long)},
		lastBefore: never,
		by:         map[string]string{"sitrep/1": "ricardo"},
		want:       []string{"Sitrep 1 from ricardo: " + long[:200-len("…")] + "…"},
		wantBy:     "ricardo",
		wantAt:     []time.Duration{10 * time.Minute},
		wantLast:   10 * time.Minute,
	}, {
		name:       "lastSitrepAt never moves back for a backdated sitrep",
		sitreps:    []v1alpha1.Sitrep{sitrep(40*time.Minute, "ricardo", "one"), sitrep(30*time.Minute, "ricardo", "two")},
		recorded:   1,
		lastBefore: 40 * time.Minute,
		want:       []string{"Sitrep 2 from ricardo (not verified): two"},
		wantAt:     []time.Duration{30 * time.Minute},
		wantLast:   40 * time.Minute,
	}, {
		name:       "a sitrep from the future counts from when it was observed, so it cannot silence reminders",
		sitreps:    []v1alpha1.Sitrep{sitrep(30*24*time.Hour, "ricardo", "all fine, honest")},
		lastBefore: never,
		by:         map[string]string{"sitrep/1": "ricardo", "sitreps": "ricardo"},
		want:       []string{"Sitrep 1 from ricardo: all fine, honest"},
		wantBy:     "ricardo",
		wantAt:     []time.Duration{time.Hour},
		wantLast:   time.Hour,
	}, {
		name:       "a claimed author is shown next to who really posted it",
		sitreps:    []v1alpha1.Sitrep{sitrep(10*time.Minute, "ricardo", "one"), sitrep(20*time.Minute, "ricardo", "two")},
		lastBefore: never,
		by:         map[string]string{"sitrep/1": "ricardo", "sitrep/2": "mallory", "sitreps": "mallory"},
		want:       []string{"Sitrep 1 from ricardo: one", "Sitrep 2 from ricardo (posted by mallory): two"},
		wantBys:    []string{"ricardo", "mallory"},
		wantAt:     []time.Duration{10 * time.Minute, 20 * time.Minute},
		wantLast:   20 * time.Minute,
	}, {
		name:       "no new sitrep",
		sitreps:    []v1alpha1.Sitrep{sitrep(40*time.Minute, "ricardo", "one")},
		recorded:   1,
		lastBefore: 40 * time.Minute,
		wantLast:   40 * time.Minute,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateInvestigating)
			recordTrusted(inc, t0)
			inc.Spec.Sitreps = tc.sitreps
			inc.Status.Recorded.Sitreps = tc.recorded
			inc.Status.LastSitrepAt = mt(tc.lastBefore)
			if tc.by != nil {
				setChangedBy(inc, tc.by)
			}

			facts := recordTrusted(inc, at(time.Hour))

			var got []string
			for i, f := range facts {
				got = append(got, f.entry.Message)
				if f.eventReason != v1alpha1.EventSitrepPosted || f.entry.Type != v1alpha1.TimelineSitrep {
					t.Errorf("fact %q: reason %q type %q, want SitrepPosted and Sitrep", f.entry.Message, f.eventReason, f.entry.Type)
				}
				wantBy := tc.wantBy
				if tc.wantBys != nil {
					wantBy = tc.wantBys[i]
				}
				if f.entry.By != wantBy {
					t.Errorf("fact %q by %q, want %q", f.entry.Message, f.entry.By, wantBy)
				}
				if i < len(tc.wantAt) && !f.entry.At.Time.Equal(at(tc.wantAt[i])) {
					t.Errorf("fact %q at %s, want %s", f.entry.Message, f.entry.At.UTC(), at(tc.wantAt[i]))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("messages\n got %q\nwant %q", got, tc.want)
			}
			timelineEndsWith(t, inc, facts)
			checkTime(t, "lastSitrepAt", inc.Status.LastSitrepAt, tc.wantLast)
			if n := inc.Status.Recorded.Sitreps; int(n) != len(tc.sitreps) {
				t.Errorf("recorded sitreps = %d, want %d", n, len(tc.sitreps))
			}
		})
	}
}

func TestRecordChangesTakesByFromTheChangedByAnnotation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		annotation *string
		want       string
	}{
		{"recorded by the webhook", ptr(`{"state":"bob","commander":"alice"}`), "bob"},
		{"field not recorded", ptr(`{"commander":"alice"}`), ""},
		{"no annotation (webhook was down)", nil, ""},
		{"empty annotation", ptr(""), ""},
		{"malformed JSON", ptr(`{"state":"bob"`), ""},
		{"not an object", ptr(`["bob"]`), ""},
		{"wrong value type", ptr(`{"state":42}`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateInvestigating)
			recordTrusted(inc, t0)
			inc.Spec.State = v1alpha1.StateConfirmed
			if tc.annotation != nil {
				inc.Annotations = map[string]string{v1alpha1.AnnotationChangedBy: *tc.annotation}
			}

			facts := recordTrusted(inc, at(time.Hour))

			want := []seen{{v1alpha1.EventStateChanged, v1alpha1.TimelineStateChanged, "Incident Confirmed", tc.want}}
			if got := summarize(t, facts); !slices.Equal(got, want) {
				t.Errorf("facts\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The controller may see the same object twice (a requeue) or, after a restart or a leader
// change, read it back from the API server; either way a fact already recorded must not be
// recorded or announced again.
func TestRecordChangesRecordsNothingTheSecondTime(t *testing.T) {
	everything := func(inc *v1alpha1.Incident) {
		inc.Spec.State = v1alpha1.StateMajor
		inc.Spec.Roles = v1alpha1.Roles{Commander: "ricardo", Communications: "keiko", Operations: []v1alpha1.OperationsGroup{
			{Name: "postgres", Supervisor: "noah"}, {Name: "dynos"},
		}}
		inc.Spec.Sitreps = []v1alpha1.Sitrep{{At: mt(20 * time.Minute), Author: "ricardo", Summary: "EC2 API errors"}, {Summary: "no time"}}
	}
	for _, tc := range []struct {
		name string
		// seen says whether the controller recorded the declaration before the change.
		seen   bool
		change func(*v1alpha1.Incident)
	}{
		{"declaration", false, func(*v1alpha1.Incident) {}},
		{"declaration with roles and sitreps", false, everything},
		{"state change", true, func(inc *v1alpha1.Incident) { inc.Spec.State = v1alpha1.StateConfirmed }},
		{"resolve", true, func(inc *v1alpha1.Incident) { inc.Spec.State = v1alpha1.StateResolved }},
		{"IC hand-off", true, func(inc *v1alpha1.Incident) { inc.Spec.Roles.Commander = "ricardo" }},
		{"Operations group formed", true, func(inc *v1alpha1.Incident) {
			inc.Spec.Roles.Operations = []v1alpha1.OperationsGroup{{Name: "postgres", Supervisor: "noah"}}
		}},
		{"sitreps posted", true, func(inc *v1alpha1.Incident) {
			inc.Spec.Sitreps = []v1alpha1.Sitrep{{At: mt(20 * time.Minute), Author: "ricardo", Summary: "one"}, {Summary: "two"}}
		}},
		{"everything at once", true, everything},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateInvestigating)
			setChangedBy(inc, map[string]string{"state": "alice", "commander": "alice"})
			if tc.seen {
				recordTrusted(inc, t0)
			}
			tc.change(inc)
			if facts := recordTrusted(inc, at(time.Hour)); len(facts) == 0 {
				t.Fatal("the change was not recorded at all")
			}

			t.Run("same object again", func(t *testing.T) {
				again := inc.DeepCopy()
				if facts := recordTrusted(again, at(2*time.Hour)); len(facts) != 0 {
					t.Errorf("recorded again: %+v", summarize(t, facts))
				}
				if !equality.Semantic.DeepEqual(again.Status, inc.Status) {
					t.Errorf("status changed\n got %+v\nwant %+v", again.Status, inc.Status)
				}
			})
			t.Run("read back after a restart", func(t *testing.T) {
				raw, err := json.Marshal(inc)
				if err != nil {
					t.Fatal(err)
				}
				stored := &v1alpha1.Incident{}
				if err := json.Unmarshal(raw, stored); err != nil {
					t.Fatal(err)
				}
				before := stored.DeepCopy()
				if facts := recordTrusted(stored, at(2*time.Hour)); len(facts) != 0 {
					t.Errorf("recorded again: %+v", summarize(t, facts))
				}
				if !equality.Semantic.DeepEqual(stored.Status, before.Status) {
					t.Errorf("status changed\n got %+v\nwant %+v", stored.Status, before.Status)
				}
			})
		})
	}
}

func TestRecordChangesKeepsTheTimelineBounded(t *testing.T) {
	inc := declared(v1alpha1.StateInvestigating)
	recordTrusted(inc, t0)
	inc.Status.Timeline = nil
	for i := range v1alpha1.MaxTimelineEntries {
		inc.Status.Timeline = append(inc.Status.Timeline, v1alpha1.TimelineEntry{
			At: metav1.NewTime(at(time.Duration(i) * time.Second)), Type: v1alpha1.TimelineReminder, Message: fmt.Sprint("reminder ", i),
		})
	}
	inc.Spec.State = v1alpha1.StateConfirmed

	recordTrusted(inc, at(time.Hour))

	tl := inc.Status.Timeline
	if len(tl) != v1alpha1.MaxTimelineEntries {
		t.Fatalf("timeline has %d entries, want %d", len(tl), v1alpha1.MaxTimelineEntries)
	}
	if last := tl[len(tl)-1]; last.Message != "Incident Confirmed" {
		t.Errorf("last entry %+v, want the state change", last)
	}
	if first := tl[0]; first.Message != "reminder 1" {
		t.Errorf("first entry %+v, want the second reminder (the oldest one dropped)", first)
	}
}

// entries builds a timeline from short names whose first letter is the type: D Declared,
// C StateChanged, O Reopened, H Handoff, S Sitrep, U StatusUpdate, R Reminder.
func entries(names ...string) []v1alpha1.TimelineEntry {
	types := map[byte]v1alpha1.TimelineEntryType{
		'D': v1alpha1.TimelineDeclared, 'C': v1alpha1.TimelineStateChanged, 'O': v1alpha1.TimelineReopened,
		'H': v1alpha1.TimelineHandoff, 'S': v1alpha1.TimelineSitrep, 'U': v1alpha1.TimelineStatusUpdate,
		'R': v1alpha1.TimelineReminder,
	}
	var tl []v1alpha1.TimelineEntry
	for i, n := range names {
		tl = append(tl, v1alpha1.TimelineEntry{At: metav1.NewTime(at(time.Duration(i) * time.Minute)), Type: types[n[0]], Message: n})
	}
	return tl
}

func names(tl []v1alpha1.TimelineEntry) []string {
	out := []string{}
	for _, e := range tl {
		out = append(out, e.Message)
	}
	return out
}

func TestCompactTimeline(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		max  int
		want []string
	}{{
		name: "within the bound nothing is dropped",
		in:   []string{"D1", "R1", "S1"},
		max:  3,
		want: []string{"D1", "R1", "S1"},
	}, {
		name: "oldest reminders go first",
		in:   []string{"D1", "R1", "S1", "R2", "H1", "R3"},
		max:  4,
		want: []string{"D1", "S1", "H1", "R3"},
	}, {
		name: "then the oldest sitrep entries",
		in:   []string{"D1", "R1", "S1", "S2", "H1", "R2", "S3", "U1"},
		max:  5,
		want: []string{"D1", "S2", "H1", "S3", "U1"},
	}, {
		name: "then status updates",
		in:   []string{"D1", "U1", "S1", "C1", "U2", "R1", "H1", "U3"},
		max:  4,
		want: []string{"D1", "C1", "H1", "U3"},
	}, {
		name: "state changes, reopens and hand-offs are kept while anything else can go",
		in:   []string{"D1", "S1", "C1", "R1", "H1", "U1", "O1", "C2"},
		max:  5,
		want: []string{"D1", "C1", "H1", "O1", "C2"},
	}, {
		name: "only then the oldest entries",
		in:   []string{"D1", "C1", "H1", "R1", "O1", "C2"},
		max:  3,
		want: []string{"H1", "O1", "C2"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := CompactTimeline(entries(tc.in...), tc.max)
			if !slices.Equal(names(got), tc.want) {
				t.Errorf("got %q, want %q", names(got), tc.want)
			}
		})
	}
}

// Whatever the mix, the timeline never exceeds its bound, keeps its order, and drops an entry
// of one kind only once every entry of a kind that goes before it is gone.
func TestCompactTimelineNeverExceedsItsBoundAndDropsInPriorityOrder(t *testing.T) {
	rank := map[v1alpha1.TimelineEntryType]int{
		v1alpha1.TimelineReminder: 0, v1alpha1.TimelineSitrep: 1, v1alpha1.TimelineStatusUpdate: 2,
		v1alpha1.TimelineDeclared: 3, v1alpha1.TimelineStateChanged: 3, v1alpha1.TimelineReopened: 3, v1alpha1.TimelineHandoff: 3,
	}
	kinds := "DCOHSUR"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var in []string
		for i := range rng.IntN(40) {
			in = append(in, fmt.Sprintf("%c%d", kinds[rng.IntN(len(kinds))], i))
		}
		bound := rng.IntN(len(in) + 2)
		tl := entries(in...)
		got := CompactTimeline(tl, bound)
		if len(got) > bound {
			t.Fatalf("%q compacted to %d: %d entries", in, bound, len(got))
		}
		if want := min(len(in), bound); len(got) != want {
			t.Fatalf("%q compacted to %d: %d entries, want %d", in, bound, len(got), want)
		}
		kept := map[string]bool{}
		j := 0
		for _, e := range got {
			for j < len(tl) && tl[j].Message != e.Message {
				j++
			}
			if j == len(tl) {
				t.Fatalf("%q compacted to %d: %q is out of order or invented", in, bound, names(got))
			}
			kept[e.Message] = true
		}
		for _, dropped := range tl {
			if kept[dropped.Message] {
				continue
			}
			for _, e := range got {
				if rank[e.Type] < rank[dropped.Type] {
					t.Fatalf("%q compacted to %d = %q: dropped %s but kept %s", in, bound, names(got), dropped.Message, e.Message)
				}
			}
		}
	}
}

func TestSetRolesAssignedCondition(t *testing.T) {
	withOps := func(r v1alpha1.Roles, groups ...v1alpha1.OperationsGroup) v1alpha1.Roles {
		r.Operations = groups
		return r
	}
	for _, tc := range []struct {
		name    string
		state   v1alpha1.IncidentState
		roles   v1alpha1.Roles
		status  metav1.ConditionStatus
		message string
	}{{
		name:    "IC alone is enough while Investigating",
		state:   v1alpha1.StateInvestigating,
		roles:   v1alpha1.Roles{Commander: "alice"},
		status:  metav1.ConditionTrue,
		message: "Every role this incident needs has a person",
	}, {
		name:    "no IC",
		state:   v1alpha1.StateInvestigating,
		status:  metav1.ConditionFalse,
		message: "Nobody holds: Incident Commander (spec.roles.commander)",
	}, {
		name:    "Confirmed needs Comms",
		state:   v1alpha1.StateConfirmed,
		roles:   v1alpha1.Roles{Commander: "alice"},
		status:  metav1.ConditionFalse,
		message: "Nobody holds: Communications (spec.roles.communications)",
	}, {
		name:    "Major needs Comms",
		state:   v1alpha1.StateMajor,
		roles:   v1alpha1.Roles{Commander: "alice"},
		status:  metav1.ConditionFalse,
		message: "Nobody holds: Communications (spec.roles.communications)",
	}, {
		name:    "Resolved needs no Comms",
		state:   v1alpha1.StateResolved,
		roles:   v1alpha1.Roles{Commander: "alice"},
		status:  metav1.ConditionTrue,
		message: "Every role this incident needs has a person",
	}, {
		name:    "Major with IC and Comms",
		state:   v1alpha1.StateMajor,
		roles:   withOps(v1alpha1.Roles{Commander: "alice", Communications: "keiko"}, v1alpha1.OperationsGroup{Name: "postgres", Supervisor: "noah"}),
		status:  metav1.ConditionTrue,
		message: "Every role this incident needs has a person",
	}, {
		name:    "Operations group without a supervisor",
		state:   v1alpha1.StateInvestigating,
		roles:   withOps(v1alpha1.Roles{Commander: "alice"}, v1alpha1.OperationsGroup{Name: "postgres", Supervisor: "noah"}, v1alpha1.OperationsGroup{Name: "dynos", Members: []v1alpha1.Person{"ann"}}),
		status:  metav1.ConditionFalse,
		message: "Nobody holds: supervisor of Operations group dynos",
	}, {
		name:    "every missing role is named",
		state:   v1alpha1.StateConfirmed,
		roles:   withOps(v1alpha1.Roles{}, v1alpha1.OperationsGroup{Name: "postgres"}),
		status:  metav1.ConditionFalse,
		message: "Nobody holds: Incident Commander (spec.roles.commander), Communications (spec.roles.communications), supervisor of Operations group postgres",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(tc.state)
			inc.Generation = 7
			inc.Spec.Roles = tc.roles
			// A stale condition of the opposite verdict is replaced.
			stale := metav1.ConditionFalse
			if tc.status == metav1.ConditionFalse {
				stale = metav1.ConditionTrue
			}
			inc.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionRolesAssigned, Status: stale, Reason: "Stale", Message: "stale", ObservedGeneration: 6}}

			setRolesAssignedCondition(inc)

			if n := len(inc.Status.Conditions); n != 1 {
				t.Fatalf("%d conditions, want 1: %+v", n, inc.Status.Conditions)
			}
			c := meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionRolesAssigned)
			wantReason := v1alpha1.ReasonAssigned
			if tc.status == metav1.ConditionFalse {
				wantReason = v1alpha1.ReasonUnassigned
			}
			if c.Status != tc.status || c.Reason != wantReason || c.Message != tc.message || c.ObservedGeneration != 7 {
				t.Errorf("condition %s/%s %q (generation %d), want %s/%s %q (generation 7)",
					c.Status, c.Reason, c.Message, c.ObservedGeneration, tc.status, wantReason, tc.message)
			}
		})
	}
}

func TestDefaultSitrepCadenceFollowsTheDesign(t *testing.T) {
	want := map[v1alpha1.IncidentState]time.Duration{
		v1alpha1.StateInvestigating: 30 * time.Minute,
		v1alpha1.StateConfirmed:     60 * time.Minute,
		v1alpha1.StateMajor:         30 * time.Minute,
	}
	if !equality.Semantic.DeepEqual(DefaultSitrepCadence, want) {
		t.Errorf("DefaultSitrepCadence = %v, want %v", DefaultSitrepCadence, want)
	}
}

func TestSitrepDueRunsFromTheDeclarationInEveryOpenState(t *testing.T) {
	for _, state := range v1alpha1.States {
		t.Run(string(state), func(t *testing.T) {
			inc := declared(state)
			inc.Status.OpenedAt = mt(0)
			due, ok := sitrepDue(inc, DefaultSitrepCadence)
			if ok != state.IsOpen() {
				t.Fatalf("due = %v, want %v", ok, state.IsOpen())
			}
			if ok && !due.Equal(at(DefaultSitrepCadence[state])) {
				t.Errorf("due at %s, want %s", due, at(DefaultSitrepCadence[state]))
			}
		})
	}
	t.Run("state without a cadence", func(t *testing.T) {
		inc := declared(v1alpha1.StateMajor)
		inc.Status.OpenedAt = mt(0)
		if _, ok := sitrepDue(inc, map[v1alpha1.IncidentState]time.Duration{v1alpha1.StateInvestigating: time.Minute}); ok {
			t.Error("a sitrep is due in a state the policy gives no cadence")
		}
	})
}

func TestSetSitrepCurrentCondition(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		state                  v1alpha1.IncidentState
		commander              v1alpha1.Person
		opened, reopened, last time.Duration
		openedOffset           time.Duration
		cadence                map[v1alpha1.IncidentState]time.Duration
		now                    time.Duration
		status                 metav1.ConditionStatus
		reason, message        string
		due                    time.Duration
		wait                   time.Duration
	}{{
		name: "Investigating: every 30m from the declaration", state: v1alpha1.StateInvestigating,
		opened: 0, reopened: never, last: never, now: 10 * time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T10:30:00Z (every 30m0s while Investigating)",
		due:     30 * time.Minute, wait: 20 * time.Minute,
	}, {
		name: "Confirmed: every 60m", state: v1alpha1.StateConfirmed,
		opened: 0, reopened: never, last: never, now: 10 * time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T11:00:00Z (every 1h0m0s while Confirmed)",
		due:     60 * time.Minute, wait: 50 * time.Minute,
	}, {
		name: "Major: every 30m", state: v1alpha1.StateMajor,
		opened: 0, reopened: never, last: never, now: 10 * time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T10:30:00Z (every 30m0s while Major)",
		due:     30 * time.Minute, wait: 20 * time.Minute,
	}, {
		name: "the clock restarts at the last sitrep", state: v1alpha1.StateInvestigating,
		opened: 0, reopened: never, last: 25 * time.Minute, now: 40 * time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T10:55:00Z (every 30m0s while Investigating)",
		due:     55 * time.Minute, wait: 15 * time.Minute,
	}, {
		name: "the clock restarts at a reopen after the last sitrep", state: v1alpha1.StateConfirmed,
		opened: 0, reopened: 2 * time.Hour, last: 10 * time.Minute, now: 2*time.Hour + 10*time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T13:00:00Z (every 1h0m0s while Confirmed)",
		due:     3 * time.Hour, wait: 50 * time.Minute,
	}, {
		name: "a sitrep after the reopen restarts it again", state: v1alpha1.StateInvestigating,
		opened: 0, reopened: 2 * time.Hour, last: 2*time.Hour + 20*time.Minute, now: 2*time.Hour + 30*time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T12:50:00Z (every 30m0s while Investigating)",
		due:     2*time.Hour + 50*time.Minute, wait: 20 * time.Minute,
	}, {
		name: "overdue once the due time has passed", state: v1alpha1.StateInvestigating, commander: "ricardo",
		opened: 0, reopened: never, last: never, now: 45 * time.Minute,
		status: metav1.ConditionFalse, reason: v1alpha1.ReasonOverdue,
		message: "Sitrep overdue since 2026-11-25T10:30:00Z (every 30m0s while Investigating); IC: ricardo",
		due:     30 * time.Minute, wait: 0,
	}, {
		name: "overdue at the due time", state: v1alpha1.StateMajor, commander: "ricardo",
		opened: 0, reopened: never, last: never, now: 30 * time.Minute,
		status: metav1.ConditionFalse, reason: v1alpha1.ReasonOverdue,
		message: "Sitrep overdue since 2026-11-25T10:30:00Z (every 30m0s while Major); IC: ricardo",
		due:     30 * time.Minute, wait: 0,
	}, {
		name: "overdue without an IC says so", state: v1alpha1.StateInvestigating,
		opened: 0, reopened: never, last: never, now: 31 * time.Minute,
		status: metav1.ConditionFalse, reason: v1alpha1.ReasonOverdue,
		message: "Sitrep overdue since 2026-11-25T10:30:00Z (every 30m0s while Investigating); IC: (unassigned)",
		due:     30 * time.Minute, wait: 0,
	}, {
		name: "Resolved needs no sitrep", state: v1alpha1.StateResolved,
		opened: 0, reopened: never, last: 10 * time.Minute, now: 5 * time.Hour,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonNotRequired,
		message: "No sitrep is due: the incident is Resolved",
		due:     never, wait: 0,
	}, {
		name: "a policy cadence of seconds", state: v1alpha1.StateInvestigating,
		cadence: map[v1alpha1.IncidentState]time.Duration{v1alpha1.StateInvestigating: 10 * time.Second},
		opened:  0, reopened: never, last: never, now: 4 * time.Second,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T10:00:10Z (every 10s while Investigating)",
		due:     10 * time.Second, wait: 6 * time.Second,
	}, {
		name: "the due time is stored to the second, the wait is exact", state: v1alpha1.StateInvestigating,
		opened: 0, openedOffset: 500 * time.Millisecond, reopened: never, last: never, now: 10 * time.Minute,
		status: metav1.ConditionTrue, reason: v1alpha1.ReasonCurrent,
		message: "Next sitrep due at 2026-11-25T10:30:00Z (every 30m0s while Investigating)",
		due:     30 * time.Minute, wait: 20*time.Minute + 500*time.Millisecond,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(tc.state)
			inc.Generation = 3
			inc.Spec.Roles.Commander = tc.commander
			inc.Status.OpenedAt = mt(tc.opened + tc.openedOffset)
			inc.Status.ReopenedAt = mt(tc.reopened)
			inc.Status.LastSitrepAt = mt(tc.last)
			inc.Status.NextSitrepDueAt = mt(-time.Hour) // stale
			cadence := tc.cadence
			if cadence == nil {
				cadence = DefaultSitrepCadence
			}

			wait := setSitrepCurrentCondition(inc, at(tc.now), cadence)

			c := meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionSitrepCurrent)
			if c == nil {
				t.Fatal("no SitrepCurrent condition")
			}
			if c.Status != tc.status || c.Reason != tc.reason || c.Message != tc.message || c.ObservedGeneration != 3 {
				t.Errorf("condition %s/%s %q (generation %d)\n want %s/%s %q (generation 3)",
					c.Status, c.Reason, c.Message, c.ObservedGeneration, tc.status, tc.reason, tc.message)
			}
			checkTime(t, "nextSitrepDueAt", inc.Status.NextSitrepDueAt, tc.due)
			if wait != tc.wait {
				t.Errorf("wait %s, want %s", wait, tc.wait)
			}
		})
	}
}

func TestEscalationToMajorShortensTheSitrepCadenceAtOnce(t *testing.T) {
	inc := declared(v1alpha1.StateConfirmed)
	inc.Status.OpenedAt = mt(0)
	inc.Status.LastSitrepAt = mt(10 * time.Minute)
	now := at(45 * time.Minute)

	wait := setSitrepCurrentCondition(inc, now, DefaultSitrepCadence)
	if c := meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionSitrepCurrent); c.Reason != v1alpha1.ReasonCurrent || wait != 25*time.Minute {
		t.Fatalf("while Confirmed: %s, wait %s; want Current, wait 25m", c.Reason, wait)
	}
	checkTime(t, "nextSitrepDueAt while Confirmed", inc.Status.NextSitrepDueAt, 70*time.Minute)

	inc.Spec.State = v1alpha1.StateMajor
	wait = setSitrepCurrentCondition(inc, now, DefaultSitrepCadence)

	c := meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionSitrepCurrent)
	if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonOverdue || wait != 0 {
		t.Errorf("after escalation: %s/%s, wait %s; want False/Overdue, wait 0", c.Status, c.Reason, wait)
	}
	checkTime(t, "nextSitrepDueAt when Major", inc.Status.NextSitrepDueAt, 40*time.Minute)
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short text unchanged", "IC -> ricardo", 200, "IC -> ricardo"},
		{"text of exactly n bytes unchanged", "abcde", 5, "abcde"},
		{"ASCII cut with an ellipsis", "abcdefghij", 8, "abcde…"},
		{"two-byte runes cut on a boundary", "ééééé", 8, "éé…"},
		{"four-byte runes cut on a boundary", "🔥🔥🔥", 9, "🔥…"},
		{"a first rune longer than the budget leaves the ellipsis", "🔥🔥", 5, "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncate(tc.s, tc.n); got != tc.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

func TestTruncateIsValidUTF8AndAtMostNBytes(t *testing.T) {
	for _, s := range []string{
		"EC2 API errors in us-east-1",
		"Résumé — 数据库 🔥 down; Postgres provisioning über alles",
		strings.Repeat("數", 100),
		strings.Repeat("🔥a", 60),
	} {
		for n := len("…"); n <= len(s)+2; n++ {
			got := truncate(s, n)
			if len(got) > n {
				t.Errorf("truncate(%q, %d) = %q: %d bytes", s, n, got, len(got))
			}
			if !utf8.ValidString(got) {
				t.Errorf("truncate(%q, %d) = %q: not valid UTF-8", s, n, got)
			}
			if len(s) <= n {
				if got != s {
					t.Errorf("truncate(%q, %d) = %q, want it unchanged", s, n, got)
				}
				continue
			}
			kept, ok := strings.CutSuffix(got, "…")
			if !ok || !strings.HasPrefix(s, kept) {
				t.Errorf("truncate(%q, %d) = %q, want a prefix and an ellipsis", s, n, got)
			}
			// It cuts no more than the one rune that does not fit.
			if len(got) <= n-utf8.UTFMax {
				t.Errorf("truncate(%q, %d) = %q: %d bytes, more cut than needed", s, n, got, len(got))
			}
		}
	}
}

// truncate promises at most n bytes for any n; a budget smaller than the ellipsis itself must
// not crash the controller.
func TestTruncateHonoursBudgetsSmallerThanTheEllipsis(t *testing.T) {
	for n := range len("…") {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("truncate(%q, %d) panicked: %v", "abcdef", n, r)
				}
			}()
			if got := truncate("abcdef", n); len(got) > n || !utf8.ValidString(got) {
				t.Errorf("truncate(%q, %d) = %q, want valid UTF-8 of at most %d bytes", "abcdef", n, got, n)
			}
		}()
	}
}

// withoutSince drops the hand-off clock of recorded roles, which TestRecordChangesStartsTheRoleClockAtTheHandoff covers.
func withoutSince(r v1alpha1.RecordedRoles) v1alpha1.RecordedRoles {
	r.CommanderSince, r.CommunicationsSince = nil, nil
	ops := make([]v1alpha1.RecordedGroup, len(r.Operations))
	for i, g := range r.Operations {
		g.Since = nil
		ops[i] = g
	}
	if len(ops) == 0 {
		ops = nil
	}
	r.Operations = ops
	return r
}

func TestRecordChangesStartsTheRoleClockAtTheHandoff(t *testing.T) {
	inc := &v1alpha1.Incident{}
	inc.Spec.State = v1alpha1.StateMajor
	inc.Spec.Roles = v1alpha1.Roles{Commander: "ricardo", Operations: []v1alpha1.OperationsGroup{{Name: "postgres", Supervisor: "noah"}}}
	recordTrusted(inc, at(0))
	inc.Spec.Roles.Communications = "keiko"
	inc.Spec.Roles.Operations[0].Members = []v1alpha1.Person{"greg"}
	recordTrusted(inc, at(time.Hour))
	inc.Spec.Roles.Commander = "greg"
	recordTrusted(inc, at(2*time.Hour))
	r := inc.Status.Recorded.Roles
	if !r.CommanderSince.Time.Equal(at(2*time.Hour)) || !r.CommunicationsSince.Time.Equal(at(time.Hour)) || !r.Operations[0].Since.Time.Equal(at(0)) {
		t.Fatalf("role clocks: IC %s, Comms %s, Ops/postgres %s", r.CommanderSince, r.CommunicationsSince, r.Operations[0].Since)
	}
}
