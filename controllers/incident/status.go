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
	"cmp"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/attribution"
)

// fact is one new thing the controller observed: it becomes a timeline entry and an Event.
type fact struct {
	// key identifies the fact for its Event and announcement, from what it changed as stored
	// in status, so that recomputing the fact after a failed status write gives the same key.
	key         string
	entry       v1alpha1.TimelineEntry
	eventReason string
	eventType   string
	// sitrep is the 1-based number of the sitrep a SitrepPosted fact reports.
	sitrep int32
}

// maxEventSummary keeps SitrepPosted Events short; the full sitrep stays in the spec.
const maxEventSummary = 200

// DefaultSitrepCadence is the sitrep cadence per open state when no ResponsePolicy says
// otherwise: Investigating 30m, Confirmed 60m, Major 30m.
var DefaultSitrepCadence = cadenceOf(nil)

// recordChanges compares the spec with status.recorded and turns every difference into a
// fact: a declaration, a state change or reopen, a hand-off of each role, a new sitrep. It
// updates status.recorded, the state timestamps and status.timeline to match, so that the
// same fact is never recorded twice. It returns the new facts in the order they happened.
// by is the webhook's verified record of who changed each tracked field (see
// internal/attribution); a field it does not name was changed by somebody unknown.
func recordChanges(inc *v1alpha1.Incident, by map[string]string, now time.Time) []fact {
	rec := inc.Status.Recorded
	if rec == nil {
		rec = &v1alpha1.Recorded{}
	}
	at := metav1.NewTime(now)
	var facts []fact

	rolesAt := at
	if rec.State != inc.Spec.State {
		facts = append(facts, stateFact(inc, rec.State, at, by["state"]))
		if rec.State == "" {
			// The first roles were taken when the incident was declared.
			rolesAt = *inc.Status.OpenedAt
		}
		rec.State = inc.Spec.State
	}
	facts = append(facts, handoffFacts(&rec.Roles, inc.Spec.Roles, rolesAt, by)...)
	facts = append(facts, sitrepFacts(inc, rec, at, by)...)
	facts = append(facts, alertFacts(inc, rec, at)...)
	if su := inc.Status.StatusUpdates; su != nil && su.Published > rec.StatusUpdates {
		when := at
		if su.LastPublishedAt != nil {
			when = *su.LastPublishedAt
		}
		msg := fmt.Sprintf("Status update %d published to customers", su.Published)
		if inc.Spec.Drill && su.ProviderRef == "" {
			msg = fmt.Sprintf("Status update %d written (drill: held from customers)", su.Published)
		}
		facts = append(facts, fact{key: fmt.Sprintf("statusupdate/%d", su.Published), entry: entry(when, v1alpha1.TimelineStatusUpdate, msg, ""),
			eventReason: v1alpha1.EventStatusUpdatePublished, eventType: "Normal"})
		rec.StatusUpdates = su.Published
	}

	inc.Status.Recorded = rec
	for _, f := range facts {
		inc.Status.Timeline = append(inc.Status.Timeline, f.entry)
	}
	inc.Status.Timeline = CompactTimeline(inc.Status.Timeline, v1alpha1.MaxTimelineEntries)
	return facts
}

// stateFact records a change from one state to the current one, with its timestamps.
func stateFact(inc *v1alpha1.Incident, from v1alpha1.IncidentState, at metav1.Time, by string) fact {
	to := inc.Spec.State
	st := &inc.Status
	// The key names the change by what it changed from, as stored: a retry after a failed
	// status write finds the same key whatever else changed meanwhile.
	var since int64
	if st.StateChangedAt != nil {
		since = st.StateChangedAt.Unix()
	}
	f := fact{key: fmt.Sprintf("state/%s/%s/%d", from, to, since), eventReason: v1alpha1.EventStateChanged, eventType: "Normal"}
	switch {
	case from == "":
		// The declaration happened at creation, which may be well before we saw it.
		if !inc.CreationTimestamp.IsZero() {
			at = inc.CreationTimestamp
		}
		st.OpenedAt = &at
		f.entry = entry(at, v1alpha1.TimelineDeclared, "Incident declared ("+string(to)+")", by)
	case from == v1alpha1.StateResolved:
		st.ResolvedAt = nil
		st.ReopenedAt = &at
		f.entry = entry(at, v1alpha1.TimelineReopened, "Incident reopened", by)
	default:
		f.entry = entry(at, v1alpha1.TimelineStateChanged, stateMessage(from, to), by)
	}
	st.StateChangedAt = &at
	switch to {
	case v1alpha1.StateConfirmed:
		if st.ConfirmedAt == nil {
			st.ConfirmedAt = &at
		}
	case v1alpha1.StateMajor:
		if st.MajorAt == nil {
			st.MajorAt = &at
		}
	case v1alpha1.StateResolved:
		st.ResolvedAt = &at
	}
	return f
}

// stateMessage words a state change between two known states.
func stateMessage(from, to v1alpha1.IncidentState) string {
	switch {
	case to == v1alpha1.StateMajor:
		return "Incident escalated to Major"
	case to == v1alpha1.StateConfirmed && from == v1alpha1.StateMajor:
		return "Incident downgraded to Confirmed"
	default:
		return "Incident " + string(to)
	}
}

// handoffFacts records each role whose holder differs from the recorded one, and updates the
// record: "IC -> ricardo", "Comms -> keiko", "Ops/postgres -> noah".
func handoffFacts(rec *v1alpha1.RecordedRoles, roles v1alpha1.Roles, at metav1.Time, by map[string]string) []fact {
	var facts []fact
	handoff := func(role string, from, to v1alpha1.Person, fromSince *metav1.Time, who string) {
		var since int64
		if fromSince != nil {
			since = fromSince.Unix()
		}
		facts = append(facts, fact{
			key:         fmt.Sprintf("handoff/%s/%s/%s/%d", role, from, to, since),
			entry:       entry(at, v1alpha1.TimelineHandoff, role+" -> "+holder(to), who),
			eventReason: v1alpha1.EventHandoff,
			eventType:   "Normal",
		})
	}
	since := func(p v1alpha1.Person) *metav1.Time {
		if p == "" {
			return nil
		}
		return &at
	}
	if rec.Commander != roles.Commander {
		handoff("IC", rec.Commander, roles.Commander, rec.CommanderSince, by["commander"])
		rec.Commander, rec.CommanderSince = roles.Commander, since(roles.Commander)
	}
	if rec.Communications != roles.Communications {
		handoff("Comms", rec.Communications, roles.Communications, rec.CommunicationsSince, by["communications"])
		rec.Communications, rec.CommunicationsSince = roles.Communications, since(roles.Communications)
	}
	recorded := map[string]v1alpha1.RecordedGroup{}
	for _, g := range rec.Operations {
		recorded[g.Name] = g
	}
	groups := make([]v1alpha1.RecordedGroup, 0, len(roles.Operations))
	for _, g := range roles.Operations {
		old, ok := recorded[g.Name]
		cur := v1alpha1.RecordedGroup{Name: g.Name, Supervisor: g.Supervisor, Since: old.Since}
		if !ok && g.Supervisor != "" || ok && old.Supervisor != g.Supervisor {
			handoff("Ops/"+g.Name, old.Supervisor, g.Supervisor, old.Since, by["ops/"+g.Name])
			cur.Since = since(g.Supervisor)
		}
		delete(recorded, g.Name)
		groups = append(groups, cur)
	}
	// A group removed from the spec stood down; its supervisor no longer holds the role.
	for _, g := range rec.Operations {
		if _, gone := recorded[g.Name]; gone && g.Supervisor != "" {
			handoff("Ops/"+g.Name, g.Supervisor, "", g.Since, by["ops/"+g.Name])
		}
	}
	rec.Operations = groups
	if len(groups) == 0 {
		rec.Operations = nil
	}
	return facts
}

// holder names the person holding a role, or says nobody does.
func holder(p v1alpha1.Person) string {
	if p == "" {
		return "(unassigned)"
	}
	return string(p)
}

// sitrepFacts records the sitreps appended since the last record, and the latest sitrep time.
// A sitrep's at is believed only up to now: one from the future (written while the webhook,
// which refuses it, was down) would silence the reminders. Its author is the one it claims;
// the entry's by is who really posted it, and the message names both when they differ.
func sitrepFacts(inc *v1alpha1.Incident, rec *v1alpha1.Recorded, at metav1.Time, by map[string]string) []fact {
	var facts []fact
	for i := int(rec.Sitreps); i < len(inc.Spec.Sitreps); i++ {
		s := inc.Spec.Sitreps[i]
		when := at
		if s.At != nil && !s.At.After(at.Time) {
			when = *s.At
		}
		poster := cmp.Or(by[attribution.SitrepKey(i+1)], by["sitreps"])
		author := cmp.Or(string(s.Author), poster, "unknown")
		switch {
		case poster == "" && s.Author != "":
			author += " (not verified)"
		case poster != "" && poster != author:
			author += " (posted by " + poster + ")"
		}
		msg := fmt.Sprintf("Sitrep %d from %s: %s", i+1, author, truncate(oneLine(s.Summary), maxEventSummary))
		facts = append(facts, fact{
			key:         fmt.Sprintf("sitrep/%d", i+1),
			sitrep:      int32(i + 1),
			entry:       entry(when, v1alpha1.TimelineSitrep, msg, poster),
			eventReason: v1alpha1.EventSitrepPosted,
			eventType:   "Normal",
		})
		if last := inc.Status.LastSitrepAt; last == nil || last.Before(&when) {
			inc.Status.LastSitrepAt = &when
		}
	}
	rec.Sitreps = int32(len(inc.Spec.Sitreps))
	return facts
}

// alertFacts records the Alertmanager notifications not recorded yet, as one fact: several
// that arrived between two reconciles are counted in one entry. A resolved group is a hint to
// the IC (the AlertsResolved Event), never a state change.
func alertFacts(inc *v1alpha1.Incident, rec *v1alpha1.Recorded, at metav1.Time) []fact {
	a := inc.Spec.Alerts
	if a == nil || a.Notifications <= rec.AlertNotifications {
		return nil
	}
	when := at
	if !a.LastNotifiedAt.IsZero() && !a.LastNotifiedAt.After(at.Time) {
		when = a.LastNotifiedAt
	}
	msg := "Alertmanager: " + cmp.Or(a.Summary, string(a.Status))
	if n := a.Notifications - rec.AlertNotifications; n > 1 && rec.AlertNotifications > 0 {
		msg += fmt.Sprintf(" (%d notifications)", n)
	}
	f := fact{key: fmt.Sprintf("alert/%d", a.Notifications), eventReason: v1alpha1.EventAlertFiring, eventType: "Normal"}
	if a.Status == v1alpha1.AlertsResolved {
		f.eventReason = v1alpha1.EventAlertsResolved
		msg += "; the IC decides whether the incident is resolved"
	}
	f.entry = entry(when, v1alpha1.TimelineAlert, msg, AlertsBy)
	rec.AlertNotifications = a.Notifications
	return []fact{f}
}

// AlertsBy is who the timeline says reported an alert notification.
const AlertsBy = "alertmanager"

func entry(at metav1.Time, t v1alpha1.TimelineEntryType, msg, by string) v1alpha1.TimelineEntry {
	return v1alpha1.TimelineEntry{At: at, Type: t, Message: truncate(msg, 512), By: truncate(by, 253)}
}

// CompactTimeline bounds the timeline to max entries. State changes, declarations, reopens and
// hand-offs are the record of command and are kept; reminders go first, then alert
// notifications (the latest stays in the spec), then sitrep entries (the sitreps themselves
// stay in the spec), then status updates. Only if the timeline still
// holds too many does it drop its oldest entries.
func CompactTimeline(tl []v1alpha1.TimelineEntry, max int) []v1alpha1.TimelineEntry {
	for _, t := range []v1alpha1.TimelineEntryType{v1alpha1.TimelineReminder, v1alpha1.TimelineAlert, v1alpha1.TimelineSitrep, v1alpha1.TimelineStatusUpdate} {
		excess := len(tl) - max
		if excess <= 0 {
			return tl
		}
		kept := tl[:0:0]
		for _, e := range tl {
			if e.Type == t && excess > 0 {
				excess--
				continue
			}
			kept = append(kept, e)
		}
		tl = kept
	}
	if len(tl) > max {
		tl = tl[len(tl)-max:]
	}
	return tl
}

// sitrepDue returns when the next sitrep is due, and false when none is (Resolved). The clock
// runs from the latest of the last sitrep, the declaration and the last reopen; the cadence is
// that of the current state, so an escalation to Major shortens it at once.
func sitrepDue(inc *v1alpha1.Incident, cadence map[v1alpha1.IncidentState]time.Duration) (time.Time, bool) {
	every, ok := cadence[inc.Spec.State]
	if !ok || !inc.Spec.State.IsOpen() {
		return time.Time{}, false
	}
	var base time.Time
	for _, t := range []*metav1.Time{inc.Status.OpenedAt, inc.Status.ReopenedAt, inc.Status.LastSitrepAt} {
		if t != nil && t.After(base) {
			base = t.Time
		}
	}
	return base.Add(every), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the result stays valid UTF-8.
	if n < len("…") {
		for n > 0 && !utf8RuneStart(s[n]) {
			n--
		}
		return s[:n]
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
