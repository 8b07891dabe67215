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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// The IC's event loop from the talk, run for the IC: is it time for a sitrep, are customers
// being kept informed, does anybody need a break, do we understand the impact, does every role
// have a person. Each check is a pure function of the Incident, the policy and the time; it
// returns the reminders that are due now and how long until its next one could be.

// maxSentReminders bounds status.reminders.sent; the oldest keys go first.
const maxSentReminders = 32

// cadenceOf is the sitrep cadence per open state under a policy (nil: the defaults).
func cadenceOf(p *v1alpha1.ResponsePolicy) map[v1alpha1.IncidentState]time.Duration {
	c := map[v1alpha1.IncidentState]time.Duration{}
	for _, s := range []v1alpha1.IncidentState{v1alpha1.StateInvestigating, v1alpha1.StateConfirmed, v1alpha1.StateMajor} {
		c[s], _ = p.SitrepEvery(s)
	}
	return c
}

func reminders(inc *v1alpha1.Incident) *v1alpha1.Reminders {
	if inc.Status.Reminders == nil {
		inc.Status.Reminders = &v1alpha1.Reminders{}
	}
	return inc.Status.Reminders
}

// reminder builds a reminder fact with its own key: the key, not the generation, is what makes
// it unique, since reminders fall due with time rather than with spec changes.
func reminder(key, reason, eventType, msg string, at time.Time, by string) fact {
	return fact{
		key:         key,
		entry:       entry(metav1.NewTime(at), v1alpha1.TimelineReminder, msg, by),
		eventReason: reason,
		eventType:   eventType,
	}
}

// sentOnce reports whether the one-off reminder key was already sent, and records it if not.
func sentOnce(inc *v1alpha1.Incident, key string) bool {
	rem := reminders(inc)
	for _, k := range rem.Sent {
		if k == key {
			return true
		}
	}
	rem.Sent = append(rem.Sent, key)
	if len(rem.Sent) > maxSentReminders {
		rem.Sent = rem.Sent[len(rem.Sent)-maxSentReminders:]
	}
	return false
}

// checkSitrepOverdue reminds the IC once at the due time and once more for each further missed
// interval, never twice for the same interval: status.reminders counts the intervals already
// reminded since the due time they count from. After downtime it sends one reminder for the
// current interval, not one per interval missed meanwhile. It also returns the lateness of the
// reminder against its due time (the skew), or a negative duration when none was sent.
func checkSitrepOverdue(inc *v1alpha1.Incident, cadence map[v1alpha1.IncidentState]time.Duration, now time.Time) ([]fact, time.Duration, time.Duration) {
	due, ok := sitrepDue(inc, cadence)
	if !ok {
		return nil, 0, -1
	}
	if now.Before(due) {
		return nil, due.Sub(now), -1
	}
	every := cadence[inc.Spec.State]
	interval := int32(now.Sub(due)/every) + 1
	next := due.Add(time.Duration(interval) * every)
	rem := reminders(inc)
	if rem.SitrepDueAt == nil || !rem.SitrepDueAt.Time.Equal(due) {
		d := metav1.NewTime(due)
		rem.SitrepDueAt, rem.SitrepOverdue = &d, 0
	}
	if interval <= rem.SitrepOverdue {
		return nil, next.Sub(now), -1
	}
	rem.SitrepOverdue = interval
	intervalDue := due.Add(time.Duration(interval-1) * every)
	// Truncated, not rounded: reminders of two intervals never read the same.
	msg := fmt.Sprintf("Sitrep overdue by %s: sitreps are due every %s while %s; IC: %s",
		now.Sub(due).Truncate(time.Second), every, inc.Spec.State, holder(inc.Spec.Roles.Commander))
	key := fmt.Sprintf("SitrepOverdue/%d/%d", due.Unix(), interval)
	return []fact{reminder(key, v1alpha1.EventSitrepOverdue, "Warning", msg, now, "")}, next.Sub(now), now.Sub(intervalDue)
}

// customersWindowStart is when the incident first became Confirmed or Major, or, for a
// reopened incident, the reopen: customers must hear about the new episode too.
func customersWindowStart(inc *v1alpha1.Incident) *metav1.Time {
	st := inc.Status
	start := st.ConfirmedAt
	if st.MajorAt != nil && (start == nil || st.MajorAt.Before(start)) {
		start = st.MajorAt
	}
	if start != nil && st.ReopenedAt != nil && start.Before(st.ReopenedAt) {
		start = st.ReopenedAt
	}
	return start
}

// published counts the status updates customers have had since the window started: after a
// reopen, the updates of the earlier episode do not count.
func published(inc *v1alpha1.Incident) int32 {
	su := inc.Status.StatusUpdates
	if su == nil {
		return 0
	}
	if r := inc.Status.ReopenedAt; r != nil && (su.LastPublishedAt == nil || su.LastPublishedAt.Before(r)) {
		return 0
	}
	return su.Published
}

func severe(s v1alpha1.IncidentState) bool {
	return s == v1alpha1.StateConfirmed || s == v1alpha1.StateMajor
}

// checkCustomersInformed warns once when a Confirmed or Major incident has published no status
// update within the policy's window.
func checkCustomersInformed(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, now time.Time) ([]fact, time.Duration) {
	start := customersWindowStart(inc)
	if !severe(inc.Spec.State) || start == nil || published(inc) > 0 {
		return nil, 0
	}
	deadline := start.Add(p.CustomersWithin())
	if now.Before(deadline) {
		return nil, deadline.Sub(now)
	}
	key := fmt.Sprintf("CustomersNotInformed/%d", start.Unix())
	if sentOnce(inc, key) {
		return nil, 0
	}
	msg := fmt.Sprintf("Customers have not been told: no status update published within %s of the incident becoming %s; Comms: %s",
		p.CustomersWithin(), inc.Spec.State, holder(inc.Spec.Roles.Communications))
	return []fact{reminder(key, v1alpha1.EventCustomersNotInformed, "Warning", msg, now, "")}, 0
}

// checkCustomersUpdateDue reminds Comms once for each status-update interval that passes
// without a new update while the incident is Confirmed or Major and customers were last told it
// is not over. Counting from the last update, a new update restarts the count.
func checkCustomersUpdateDue(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, now time.Time) ([]fact, time.Duration) {
	su := inc.Status.StatusUpdates
	if !severe(inc.Spec.State) || published(inc) == 0 || su.LastPublishedAt == nil || su.LastStatus == "resolved" {
		return nil, 0
	}
	every := p.StatusUpdateEvery()
	last := su.LastPublishedAt.Time
	missed := int64(now.Sub(last) / every)
	next := last.Add(time.Duration(missed+1) * every)
	if missed < 1 {
		return nil, next.Sub(now)
	}
	// Counted, not kept in reminders.sent: a long silence must not push the one-off keys out.
	rem := reminders(inc)
	if rem.CustomersHeardAt == nil || !rem.CustomersHeardAt.Time.Equal(last) {
		heard := metav1.NewTime(last)
		rem.CustomersHeardAt, rem.CustomersUpdatesMissed = &heard, 0
	}
	if int32(missed) <= rem.CustomersUpdatesMissed {
		return nil, next.Sub(now)
	}
	rem.CustomersUpdatesMissed = int32(missed)
	key := fmt.Sprintf("CustomersUpdateDue/%d/%d", last.Unix(), missed)
	msg := fmt.Sprintf("Customers last heard %s ago (%q): status updates are due every %s while %s; Comms: %s",
		now.Sub(last).Truncate(time.Second), su.LastStatus, every, inc.Spec.State, holder(inc.Spec.Roles.Communications))
	return []fact{reminder(key, v1alpha1.EventCustomersNotInformed, "Warning", msg, now, "")}, next.Sub(now)
}

// checkResolvedAnnounced warns once when an incident that customers heard about has been
// resolved for the policy's window without a published "resolved" update: they must hear it is
// over, too.
func checkResolvedAnnounced(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, now time.Time) ([]fact, time.Duration) {
	su := inc.Status.StatusUpdates
	if inc.Spec.State != v1alpha1.StateResolved || inc.Status.ResolvedAt == nil || su == nil || su.Published == 0 || su.LastStatus == "resolved" {
		return nil, 0
	}
	deadline := inc.Status.ResolvedAt.Add(p.CustomersWithin())
	if now.Before(deadline) {
		return nil, deadline.Sub(now)
	}
	key := fmt.Sprintf("ResolvedNotAnnounced/%d", inc.Status.ResolvedAt.Unix())
	if sentOnce(inc, key) {
		return nil, 0
	}
	msg := fmt.Sprintf("The incident was resolved %s ago but customers were last told %q: publish a StatusUpdate with status resolved; Comms: %s",
		now.Sub(inc.Status.ResolvedAt.Time).Round(time.Minute), su.LastStatus, holder(inc.Spec.Roles.Communications))
	return []fact{reminder(key, v1alpha1.EventCustomersNotInformed, "Warning", msg, now, "")}, 0
}

// checkRolesUnassigned warns once per state change when the IC, or at Confirmed or Major the
// Communications lead, is missing.
func checkRolesUnassigned(inc *v1alpha1.Incident, now time.Time) []fact {
	if !inc.Spec.State.IsOpen() || inc.Status.StateChangedAt == nil {
		return nil
	}
	since := inc.Status.StateChangedAt.Unix()
	var facts []fact
	warn := func(role, field string) {
		key := fmt.Sprintf("RoleUnassigned/%s/%d", role, since)
		if sentOnce(inc, key) {
			return
		}
		msg := fmt.Sprintf("Nobody is %s of this %s incident: set %s", role, inc.Spec.State, field)
		facts = append(facts, reminder(key, v1alpha1.EventRoleUnassigned, "Warning", msg, now, ""))
	}
	if inc.Spec.Roles.Commander == "" {
		warn("Incident Commander", "spec.roles.commander")
	}
	if severe(inc.Spec.State) && inc.Spec.Roles.Communications == "" {
		warn("Communications", "spec.roles.communications")
	}
	return facts
}

// checkHandoffSuggested asks "does anybody need a break?" once per person and stint, when one
// person has held a role past the policy's limit.
func checkHandoffSuggested(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, now time.Time) ([]fact, time.Duration) {
	rec := inc.Status.Recorded
	if !inc.Spec.State.IsOpen() || rec == nil {
		return nil, 0
	}
	limit := p.RoleHoldLimit()
	var facts []fact
	var wait time.Duration
	check := func(role, field string, who v1alpha1.Person, since *metav1.Time) {
		if who == "" || since == nil {
			return
		}
		end := since.Add(limit)
		if now.Before(end) {
			wait = minPositive(wait, end.Sub(now))
			return
		}
		key := fmt.Sprintf("HandoffSuggested/%s/%s/%d", role, who, since.Unix())
		if sentOnce(inc, key) {
			return
		}
		msg := fmt.Sprintf("%s has been %s for %s: anybody need a break? Hand off with %s",
			who, role, now.Sub(since.Time).Round(time.Minute), field)
		facts = append(facts, reminder(key, v1alpha1.EventHandoffSuggested, "Normal", msg, now, ""))
	}
	check("IC", "spec.roles.commander", rec.Roles.Commander, rec.Roles.CommanderSince)
	check("Comms", "spec.roles.communications", rec.Roles.Communications, rec.Roles.CommunicationsSince)
	for _, g := range rec.Roles.Operations {
		check("Ops/"+g.Name, "spec.roles.operations", g.Supervisor, g.Since)
	}
	return facts, wait
}

// impactSource says where the impact is described: spec.impact, else the latest sitrep that
// says it, else "" (unknown).
func impactSource(inc *v1alpha1.Incident) string {
	if i := inc.Spec.Impact; i != nil && (strings.TrimSpace(i.Description) != "" || i.CustomersAffected != nil || i.AppsAffected != nil) {
		return "spec.impact"
	}
	for n := len(inc.Spec.Sitreps); n > 0; n-- {
		if strings.TrimSpace(inc.Spec.Sitreps[n-1].Impact) != "" {
			return fmt.Sprintf("sitrep %d", n)
		}
	}
	return ""
}

func impactKnown(inc *v1alpha1.Incident) bool { return impactSource(inc) != "" }

// checkImpactUnknown warns once per state change when a Confirmed or Major incident has no
// description of its impact.
func checkImpactUnknown(inc *v1alpha1.Incident, now time.Time) []fact {
	if !severe(inc.Spec.State) || impactKnown(inc) || inc.Status.StateChangedAt == nil {
		return nil
	}
	key := fmt.Sprintf("ImpactUnknown/%d", inc.Status.StateChangedAt.Unix())
	if sentOnce(inc, key) {
		return nil
	}
	msg := fmt.Sprintf("The impact of this %s incident is unknown: describe what is broken and how widespread it is in spec.impact or a sitrep's impact", inc.Spec.State)
	return []fact{reminder(key, v1alpha1.EventImpactUnknown, "Warning", msg, now, "")}
}

// minPositive is the smaller of two waits, where zero means "no wait".
func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// checklist runs the IC's event loop for open incidents and returns the reminders due now, how
// long until the next one could be, and how late a sitrep reminder goes out (negative: none).
func checklist(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, cadence map[v1alpha1.IncidentState]time.Duration, now time.Time) ([]fact, time.Duration, time.Duration) {
	facts, wait, skew := checkSitrepOverdue(inc, cadence, now)
	customers, w := checkCustomersInformed(inc, p, now)
	facts, wait = append(facts, customers...), minPositive(wait, w)
	due, w := checkCustomersUpdateDue(inc, p, now)
	facts, wait = append(facts, due...), minPositive(wait, w)
	resolved, w := checkResolvedAnnounced(inc, p, now)
	facts, wait = append(facts, resolved...), minPositive(wait, w)
	facts = append(facts, checkRolesUnassigned(inc, now)...)
	handoffs, w := checkHandoffSuggested(inc, p, now)
	facts, wait = append(facts, handoffs...), minPositive(wait, w)
	facts = append(facts, checkImpactUnknown(inc, now)...)
	return facts, wait, skew
}
