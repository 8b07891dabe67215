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
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// Grading criteria, in the order a report lists them.
const (
	CriterionConfirmed         = "Confirmed"
	CriterionCommsStaffed      = "CommsStaffed"
	CriterionCustomersInformed = "CustomersInformed"
	CriterionSitrepsOnCadence  = "SitrepsOnCadence"
	CriterionChangesAnnounced  = "ChangesAnnounced"
	CriterionHandoffPractised  = "HandoffPractised"
	CriterionResolvedInTime    = "ResolvedInTime"
	CriterionUpdateWording     = "UpdateWording"
)

// runRecord is what a run is graded from: the drill Incident as it stood when the run ended,
// the policy it was graded against (nil: the defaults) and the scenario.
type runRecord struct {
	inc      *v1alpha1.Incident
	policy   *v1alpha1.ResponsePolicy
	scenario *v1alpha1.DrillScenarioSpec
	// updates are the StatusUpdates written for the Incident.
	updates []v1alpha1.StatusUpdate
	start   time.Time
	end     time.Time
}

// Grade grades a run of a Drill from its Incident as it stood at end, against the policy (nil:
// the defaults) and the scenario.
func Grade(inc *v1alpha1.Incident, policy *v1alpha1.ResponsePolicy, scenario *v1alpha1.DrillScenarioSpec, updates []v1alpha1.StatusUpdate, start, end time.Time) []v1alpha1.Criterion {
	return grade(runRecord{inc: inc, policy: policy, scenario: scenario, updates: updates, start: start, end: end})
}

// grade grades each criterion from the record. Every criterion is a pure function of it.
func grade(r runRecord) []v1alpha1.Criterion {
	return []v1alpha1.Criterion{
		gradeConfirmed(r), gradeCommsStaffed(r), gradeCustomersInformed(r), gradeSitreps(r),
		gradeWording(r), gradeChangesAnnounced(r), gradeHandoff(r), gradeResolved(r),
	}
}

// score words the grade as passed/graded; NotApplicable criteria do not count.
func score(cs []v1alpha1.Criterion) (string, float64) {
	var passed, graded int
	for _, c := range cs {
		switch c.Result {
		case v1alpha1.CriterionPass:
			passed++
			graded++
		case v1alpha1.CriterionFail:
			graded++
		}
	}
	if graded == 0 {
		return "0/0", 0
	}
	return fmt.Sprintf("%d/%d", passed, graded), float64(passed) / float64(graded)
}

func pass(name, format string, a ...any) v1alpha1.Criterion {
	return v1alpha1.Criterion{Name: name, Result: v1alpha1.CriterionPass, Evidence: truncate(fmt.Sprintf(format, a...))}
}

func fail(name, format string, a ...any) v1alpha1.Criterion {
	return v1alpha1.Criterion{Name: name, Result: v1alpha1.CriterionFail, Evidence: truncate(fmt.Sprintf(format, a...))}
}

func notApplicable(name, why string) v1alpha1.Criterion {
	return v1alpha1.Criterion{Name: name, Result: v1alpha1.CriterionNotApplicable, Evidence: why}
}

func truncate(s string) string {
	if len(s) > 1024 {
		return s[:1021] + "..."
	}
	return s
}

// quote cites a timeline entry with its offset from the start of the run.
func (r runRecord) quote(e v1alpha1.TimelineEntry) string {
	return fmt.Sprintf("%s %q", r.offset(e.At.Time), e.Message)
}

func (r runRecord) offset(t time.Time) string {
	d := t.Sub(r.start).Truncate(time.Second)
	if d < 0 {
		return "-" + (-d).String()
	}
	return "+" + d.String()
}

// entries are the timeline entries of the run, oldest first.
func (r runRecord) entries() []v1alpha1.TimelineEntry {
	var es []v1alpha1.TimelineEntry
	for _, e := range r.inc.Status.Timeline {
		if !e.At.Time.After(r.end) {
			es = append(es, e)
		}
	}
	return es
}

// severe reports whether a timeline entry made the incident Confirmed or Major.
func severe(e v1alpha1.TimelineEntry) bool {
	switch e.Type {
	case v1alpha1.TimelineDeclared:
		return strings.Contains(e.Message, "("+string(v1alpha1.StateConfirmed)+")") || strings.Contains(e.Message, "("+string(v1alpha1.StateMajor)+")")
	case v1alpha1.TimelineStateChanged:
		return e.Message == "Incident "+string(v1alpha1.StateConfirmed) || e.Message == "Incident escalated to Major"
	}
	return false
}

// firstSevere is the entry that first made the incident Confirmed or Major.
func (r runRecord) firstSevere() (v1alpha1.TimelineEntry, bool) {
	for _, e := range r.entries() {
		if severe(e) {
			return e, true
		}
	}
	return v1alpha1.TimelineEntry{}, false
}

// gradeConfirmed: the IC confirmed the incident (or escalated it to Major) during the run; the
// evidence gives the time to confirm. A scenario that starts Confirmed or Major leaves nothing
// to confirm.
func gradeConfirmed(r runRecord) v1alpha1.Criterion {
	if s := r.scenario.State; s == v1alpha1.StateConfirmed || s == v1alpha1.StateMajor {
		return notApplicable(CriterionConfirmed, "the scenario declares the incident "+string(s))
	}
	e, ok := r.firstSevere()
	if !ok {
		return fail(CriterionConfirmed, "never Confirmed or Major during the run: the impact injects called for it")
	}
	return pass(CriterionConfirmed, "time to confirm %s: %s", e.At.Sub(r.start).Truncate(time.Second), r.quote(e))
}

// gradeCommsStaffed: someone held Communications within the policy's customersInformedWithin
// of the incident becoming Confirmed or Major, the window in which Comms must tell customers.
func gradeCommsStaffed(r runRecord) v1alpha1.Criterion {
	sev, ok := r.firstSevere()
	if !ok {
		return notApplicable(CriterionCommsStaffed, "the incident never became Confirmed or Major")
	}
	within := r.policy.CustomersWithin()
	deadline := sev.At.Add(within)
	for _, e := range r.entries() {
		if e.Type == v1alpha1.TimelineHandoff && strings.HasPrefix(e.Message, "Comms -> ") && e.Message != "Comms -> (unassigned)" {
			if e.At.Time.After(deadline) {
				return fail(CriterionCommsStaffed, "Communications staffed %s after %s, later than the policy's %s: %s",
					e.At.Sub(sev.At.Time).Truncate(time.Second), sev.Message, within, r.quote(e))
			}
			return pass(CriterionCommsStaffed, "%s (window %s from %s)", r.quote(e), within, r.quote(sev))
		}
	}
	return fail(CriterionCommsStaffed, "nobody held Communications during the run (window %s from %s)", within, r.quote(sev))
}

// gradeCustomersInformed: the first status update was written within customersInformedWithin
// of the incident becoming Confirmed or Major (for a drill it is held from customers, and
// counts, as it does for the CustomersInformed condition).
func gradeCustomersInformed(r runRecord) v1alpha1.Criterion {
	sev, ok := r.firstSevere()
	if !ok {
		return notApplicable(CriterionCustomersInformed, "the incident never became Confirmed or Major")
	}
	within := r.policy.CustomersWithin()
	for _, e := range r.entries() {
		if e.Type == v1alpha1.TimelineStatusUpdate {
			if late := e.At.Sub(sev.At.Time) - within; late > 0 {
				return fail(CriterionCustomersInformed, "first status update %s late (due within %s of %s): %s", late.Truncate(time.Second), within, r.quote(sev), r.quote(e))
			}
			return pass(CriterionCustomersInformed, "%s, within %s of %s", r.quote(e), within, r.quote(sev))
		}
	}
	return fail(CriterionCustomersInformed, "no status update during the run (due within %s of %s)", within, r.quote(sev))
}

// gradeSitreps replays the sitrep clock the incident controller runs: each sitrep is due one
// cadence of the current state after the declaration, the latest sitrep or a reopen. It counts
// the sitreps on time and the lateness of the others; a sitrep due before the run ended that
// never came counts as late by the time to the end.
func gradeSitreps(r runRecord) v1alpha1.Criterion {
	state := r.scenario.State
	if state == "" {
		state = v1alpha1.StateInvestigating
	}
	base := r.start
	var onTime int
	var late []string
	for _, e := range r.entries() {
		every, _ := r.policy.SitrepEvery(state)
		due := base.Add(every)
		switch e.Type {
		case v1alpha1.TimelineSitrep:
			if d := e.At.Sub(due); d > 0 {
				late = append(late, fmt.Sprintf("%s late by %s", r.quote(e), d.Truncate(time.Second)))
			} else {
				onTime++
			}
			base = e.At.Time
		case v1alpha1.TimelineReopened:
			base = e.At.Time
		}
		if s, ok := stateOf(e); ok {
			state = s
		}
	}
	if state.IsOpen() {
		every, _ := r.policy.SitrepEvery(state)
		if due := base.Add(every); r.end.After(due) {
			late = append(late, fmt.Sprintf("none by the end, %s after one was due at %s", r.end.Sub(due).Truncate(time.Second), r.offset(due)))
		}
	}
	if len(late) > 0 {
		return fail(CriterionSitrepsOnCadence, "%d on time, %d late: %s", onTime, len(late), strings.Join(late, "; "))
	}
	if onTime == 0 {
		return notApplicable(CriterionSitrepsOnCadence, "the run ended before a sitrep was due")
	}
	return pass(CriterionSitrepsOnCadence, "%d on time", onTime)
}

// stateOf tells the state an entry moved the incident to.
func stateOf(e v1alpha1.TimelineEntry) (v1alpha1.IncidentState, bool) {
	switch e.Type {
	case v1alpha1.TimelineStateChanged:
		switch {
		case e.Message == "Incident escalated to Major":
			return v1alpha1.StateMajor, true
		case strings.HasPrefix(e.Message, "Incident downgraded to "), e.Message == "Incident Confirmed":
			return v1alpha1.StateConfirmed, true
		case e.Message == "Incident Resolved":
			return v1alpha1.StateResolved, true
		case e.Message == "Incident Investigating":
			return v1alpha1.StateInvestigating, true
		}
	case v1alpha1.TimelineReopened:
		// The timeline does not say which state a reopen went to; the sitrep clock restarts,
		// and the strictest cadence is the safe one to grade against.
		return v1alpha1.StateMajor, true
	}
	return "", false
}

// gradeWording: every status update of the run follows the wording guidelines, as the
// StatusUpdate controller's WordingOK condition says (say what is broken, what is being done
// and what customers can do; no ETA, presumed root cause or blame).
func gradeWording(r runRecord) v1alpha1.Criterion {
	if len(r.updates) == 0 {
		return notApplicable(CriterionUpdateWording, "no status update was written")
	}
	var departs []string
	for _, u := range r.updates {
		if c := meta.FindStatusCondition(u.Status.Conditions, v1alpha1.ConditionWordingOK); c != nil && c.Status == metav1.ConditionFalse {
			departs = append(departs, fmt.Sprintf("%s: %s", u.Name, c.Message))
		}
	}
	if len(departs) > 0 {
		return fail(CriterionUpdateWording, "%d of %d status updates depart from the wording guidelines: %s", len(departs), len(r.updates), strings.Join(departs, "; "))
	}
	return pass(CriterionUpdateWording, "%d status updates follow the wording guidelines", len(r.updates))
}

// gradeChangesAnnounced: every state change and hand-off reached the comms channel. The
// incident controller announces each one; a delivery it gave up on is in the timeline.
func gradeChangesAnnounced(r runRecord) v1alpha1.Criterion {
	if r.policy == nil || r.policy.Spec.CommsChannel == nil {
		return fail(CriterionChangesAnnounced, "the policy has no comms channel: state changes and hand-offs reached nobody; set commsChannel in the ResponsePolicy")
	}
	var changes int
	for _, e := range r.entries() {
		switch {
		case e.Type == v1alpha1.TimelineStateChanged || e.Type == v1alpha1.TimelineReopened || e.Type == v1alpha1.TimelineHandoff:
			changes++
		case e.Type == v1alpha1.TimelineReminder && strings.HasPrefix(e.Message, "Could not deliver ") && !strings.HasSuffix(e.Message, "(retrying)"):
			return fail(CriterionChangesAnnounced, "an announcement was given up: %s", r.quote(e))
		}
	}
	return pass(CriterionChangesAnnounced, "%d state changes and hand-offs announced to the comms channel", changes)
}

// gradeHandoff: when the scenario asks for it, command changed hands during the run (the first
// IC entry is the declaration's assignment, not a hand-off).
func gradeHandoff(r runRecord) v1alpha1.Criterion {
	if !r.scenario.ExpectHandoff {
		return notApplicable(CriterionHandoffPractised, "the scenario does not ask for a hand-off")
	}
	first := true
	for _, e := range r.entries() {
		if e.Type != v1alpha1.TimelineHandoff || !strings.HasPrefix(e.Message, "IC -> ") {
			continue
		}
		if !first && e.Message != "IC -> (unassigned)" {
			return pass(CriterionHandoffPractised, "%s", r.quote(e))
		}
		first = false
	}
	return fail(CriterionHandoffPractised, "the scenario asks to practise a hand-off of command, and the IC never changed")
}

// gradeResolved: the IC resolved the incident before the time limit.
func gradeResolved(r runRecord) v1alpha1.Criterion {
	for _, e := range r.entries() {
		if e.Type == v1alpha1.TimelineStateChanged && e.Message == "Incident Resolved" {
			return pass(CriterionResolvedInTime, "%s", r.quote(e))
		}
	}
	return fail(CriterionResolvedInTime, "still %s when the time limit ended the run at %s", r.inc.Spec.State, r.offset(r.end))
}
