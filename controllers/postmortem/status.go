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
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// Everything here is a pure function of the objects and the time, table-tested without a
// client.

// newPostmortem is the post-mortem the controller opens for a resolved incident: named after
// it, due by the policy's postmortemDue after resolution, its understanding section prefilled
// with the chronology. The owner stays empty: the IC is proposed in status, and a person
// confirms.
func newPostmortem(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, now time.Time) *v1alpha1.Postmortem {
	resolved := now
	if inc.Status.ResolvedAt != nil {
		resolved = inc.Status.ResolvedAt.Time
	}
	due := metav1.NewTime(resolved.Add(p.PostmortemDueAfter()).Truncate(time.Second))
	return &v1alpha1.Postmortem{
		ObjectMeta: metav1.ObjectMeta{Name: inc.Name, Namespace: inc.Namespace},
		Spec: v1alpha1.PostmortemSpec{
			IncidentRef:   v1alpha1.LocalReference{Name: inc.Name},
			State:         v1alpha1.PostmortemDraft,
			DueAt:         &due,
			Understanding: chronology(inc),
		},
	}
}

// maxChronology keeps the prefilled text within spec.understanding's bound, with room to edit.
const maxChronology = 15000

// chronology is the incident's timeline as text to edit into the narrative of what happened.
func chronology(inc *v1alpha1.Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "What happened (the incident's timeline, in UTC; rewrite it into the story of the events, their impact and their causes):\n")
	for _, e := range inc.Status.Timeline {
		if e.Type == v1alpha1.TimelineReminder {
			continue
		}
		line := fmt.Sprintf("- %s %s: %s", e.At.UTC().Format("2006-01-02 15:04"), e.Type, e.Message)
		if e.By != "" {
			line += " (by " + e.By + ")"
		}
		if b.Len()+len(line)+1 > maxChronology {
			b.WriteString("- (later entries are in status.incident.timeline)\n")
			break
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// recorded stands in for a deleted Incident with what the post-mortem recorded of it: enough
// to remind its people on its policy's channel and to publish on its status page incident.
// It is nil when nothing was recorded.
func recorded(pm *v1alpha1.Postmortem) *v1alpha1.Incident {
	r := pm.Status.Incident
	if r.UID == "" {
		return nil
	}
	inc := &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: pm.Namespace, Name: pm.Spec.IncidentRef.Name, UID: r.UID},
		Spec: v1alpha1.IncidentSpec{Title: r.Title, Drill: r.Drill, State: v1alpha1.StateResolved, Roles: *r.Roles.DeepCopy(),
			PolicyRef: &v1alpha1.PolicyReference{Name: r.Policy}},
	}
	if r.StatusPageIncident != "" {
		inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{ProviderRef: r.StatusPageIncident}
	}
	return inc
}

// record is what the post-mortem starts from: the incident's facts, roles, durations and the
// updates customers read.
func record(inc *v1alpha1.Incident, updates []v1alpha1.StatusUpdate) v1alpha1.IncidentRecord {
	s := inc.Status
	r := v1alpha1.IncidentRecord{
		UID:          inc.UID,
		Policy:       inc.PolicyName(),
		Title:        inc.Spec.Title,
		Drill:        inc.Spec.Drill,
		HighestState: highest(inc),
		OpenedAt:     s.OpenedAt,
		ConfirmedAt:  s.ConfirmedAt,
		MajorAt:      s.MajorAt,
		ResolvedAt:   s.ResolvedAt,
		Roles:        *inc.Spec.Roles.DeepCopy(),
		Timeline:     slices.Clone(s.Timeline),
	}
	if s.StatusUpdates != nil {
		r.StatusPageIncident = s.StatusUpdates.ProviderRef
	}
	for _, su := range updates {
		if !meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished) || su.Status.PublishedAt == nil {
			continue
		}
		r.StatusUpdates = append(r.StatusUpdates, v1alpha1.PublishedUpdate{
			Name: su.Name, Status: su.Spec.Status, Message: su.Spec.Message, PublishedAt: *su.Status.PublishedAt,
		})
	}
	slices.SortStableFunc(r.StatusUpdates, func(a, b v1alpha1.PublishedUpdate) int {
		return a.PublishedAt.Compare(b.PublishedAt.Time)
	})
	if n := len(r.StatusUpdates); n > 50 {
		r.StatusUpdates = r.StatusUpdates[n-50:]
	}
	if s.OpenedAt != nil {
		since := func(t *metav1.Time) *metav1.Duration {
			if t == nil || t.Before(s.OpenedAt) {
				return nil
			}
			return &metav1.Duration{Duration: t.Sub(s.OpenedAt.Time)}
		}
		// Confirmed, or Major if it went straight there: whichever came first.
		confirmed := s.ConfirmedAt
		if s.MajorAt != nil && (confirmed == nil || s.MajorAt.Before(confirmed)) {
			confirmed = s.MajorAt
		}
		r.Durations.ToConfirm = since(confirmed)
		if len(r.StatusUpdates) > 0 {
			r.Durations.ToFirstStatusUpdate = since(&r.StatusUpdates[0].PublishedAt)
		}
		r.Durations.ToResolve = since(s.ResolvedAt)
	}
	return r
}

// highest is the most severe state the incident reached.
func highest(inc *v1alpha1.Incident) v1alpha1.IncidentState {
	switch {
	case inc.Status.MajorAt != nil:
		return v1alpha1.StateMajor
	case inc.Status.ConfirmedAt != nil:
		return v1alpha1.StateConfirmed
	}
	return v1alpha1.StateInvestigating
}

// setConditions derives OwnerAssigned, RemediationOwned and OnSchedule.
func setConditions(pm *v1alpha1.Postmortem, now time.Time) {
	set := func(t string, ok bool, reason, msg string) {
		st := metav1.ConditionTrue
		if !ok {
			st = metav1.ConditionFalse
		}
		meta.SetStatusCondition(&pm.Status.Conditions, metav1.Condition{Type: t, Status: st, Reason: reason, Message: msg, ObservedGeneration: pm.Generation})
	}
	if pm.Spec.Owner != "" {
		set(v1alpha1.ConditionOwnerAssigned, true, v1alpha1.ReasonOwnerConfirmed, fmt.Sprintf("%s is accountable for the post-mortem", pm.Spec.Owner))
	} else {
		set(v1alpha1.ConditionOwnerAssigned, false, v1alpha1.ReasonOwnerMissing, ownerMissing(pm))
	}
	if un := unowned(pm); len(un) > 0 {
		set(v1alpha1.ConditionRemediationOwned, false, v1alpha1.ReasonUnowned, "Remediation items without an owner: "+strings.Join(un, "; "))
	} else {
		set(v1alpha1.ConditionRemediationOwned, true, v1alpha1.ReasonAllOwned, "Every open remediation item has an owner")
	}
	switch {
	case pm.Spec.State == v1alpha1.PostmortemPublished:
		set(v1alpha1.ConditionOnSchedule, true, v1alpha1.ReasonDone, "The post-mortem is Published")
	case overdue(pm, now):
		set(v1alpha1.ConditionOnSchedule, false, v1alpha1.ReasonPastDue, fmt.Sprintf("The post-mortem was due at %s and is %s", pm.Spec.DueAt.UTC().Format(time.RFC3339), pm.Spec.State))
	case pm.Spec.DueAt != nil:
		set(v1alpha1.ConditionOnSchedule, true, v1alpha1.ReasonNotDue, fmt.Sprintf("Due at %s", pm.Spec.DueAt.UTC().Format(time.RFC3339)))
	default:
		set(v1alpha1.ConditionOnSchedule, true, v1alpha1.ReasonNotDue, "No due date is set (spec.dueAt)")
	}
}

func ownerMissing(pm *v1alpha1.Postmortem) string {
	msg := "Nobody is accountable for the post-mortem yet: set spec.owner"
	if pm.Status.ProposedOwner != "" {
		msg += fmt.Sprintf(" (the IC, %s, is proposed)", pm.Status.ProposedOwner)
	}
	return msg
}

// unowned lists the titles of open remediation items without an owner.
func unowned(pm *v1alpha1.Postmortem) []string {
	var out []string
	for _, it := range pm.Spec.Remediation {
		if !it.Done && it.Owner == "" {
			out = append(out, it.Title)
		}
	}
	return out
}

func overdue(pm *v1alpha1.Postmortem, now time.Time) bool {
	return pm.Spec.State != v1alpha1.PostmortemPublished && pm.Spec.DueAt != nil && !now.Before(pm.Spec.DueAt.Time)
}

// reminder is one reminder to send now. keys are what status.remindersSent records: one for
// most reminders, one per item for unowned remediation, so that a new gap is reminded of at
// once while closing one is not.
type reminder struct {
	keys         []string
	reason, note string
}

// reminders returns the reminders due at now and not yet sent, and when the next one falls
// due (zero if none will). A gap is reminded of when it appears and again once every interval
// while it lasts; after downtime, one reminder covers the intervals missed, not a backlog.
func reminders(pm *v1alpha1.Postmortem, now time.Time, every time.Duration) (due []reminder, next time.Time) {
	created := pm.CreationTimestamp.Time
	slot := func(since time.Time) (int64, time.Time) {
		n := int64(now.Sub(since) / every)
		return n, since.Add(time.Duration(n+1) * every)
	}
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	add := func(keys []string, reason, note string) {
		if slices.ContainsFunc(keys, func(k string) bool { return !slices.Contains(pm.Status.RemindersSent, k) }) {
			due = append(due, reminder{keys: keys, reason: reason, note: note})
		}
	}
	if pm.Spec.Owner == "" {
		n, at := slot(created)
		add([]string{fmt.Sprintf("owner-missing/%d", n)}, v1alpha1.EventPostmortemOwnerMissing,
			fmt.Sprintf("Post-mortem %s has no owner. %s.", pm.Name, ownerMissing(pm)))
		later(at)
	}
	if un := unowned(pm); len(un) > 0 {
		n, at := slot(created)
		keys := make([]string, len(un))
		for i, title := range un {
			sum := sha256.Sum256([]byte(title))
			keys[i] = fmt.Sprintf("remediation-unowned/%d/%s", n, hex.EncodeToString(sum[:6]))
		}
		add(keys, v1alpha1.EventRemediationUnowned,
			fmt.Sprintf("Post-mortem %s has remediation items without an owner: %s", pm.Name, strings.Join(un, "; ")))
		later(at)
	}
	switch {
	case overdue(pm, now):
		n, at := slot(pm.Spec.DueAt.Time)
		owner := cmp.Or(string(pm.Spec.Owner), "nobody")
		// The due date is part of the key: moving it starts the reminders afresh.
		add([]string{fmt.Sprintf("overdue/%d/%d", pm.Spec.DueAt.Unix(), n)}, v1alpha1.EventPostmortemOverdue,
			fmt.Sprintf("Post-mortem %s was due at %s and is still %s (owner: %s)", pm.Name, pm.Spec.DueAt.UTC().Format(time.RFC3339), pm.Spec.State, owner))
		later(at)
	case pm.Spec.State != v1alpha1.PostmortemPublished && pm.Spec.DueAt != nil:
		later(pm.Spec.DueAt.Time)
	}
	return due, next
}

// maxRemindersSent bounds status.remindersSent, newest kept.
const maxRemindersSent = 128

// markSent records reminder keys, keeping the newest.
func markSent(pm *v1alpha1.Postmortem, rs []reminder) {
	for _, r := range rs {
		for _, k := range r.keys {
			if !slices.Contains(pm.Status.RemindersSent, k) {
				pm.Status.RemindersSent = append(pm.Status.RemindersSent, k)
			}
		}
	}
	if n := len(pm.Status.RemindersSent); n > maxRemindersSent {
		pm.Status.RemindersSent = slices.Clone(pm.Status.RemindersSent[n-maxRemindersSent:])
	}
}

// eventKey names the Event of a reminder.
func (r reminder) eventKey() string { return strings.Join(r.keys, "+") }

// body is the post-mortem as customers read it on the status page: the apology, the
// understanding and the remediation titles. Owners and trackers stay internal.
func body(pm *v1alpha1.Postmortem) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(pm.Spec.Apology))
	b.WriteString("\n\nWhat happened\n\n")
	b.WriteString(strings.TrimSpace(pm.Spec.Understanding))
	if len(pm.Spec.Remediation) > 0 {
		b.WriteString("\n\nWhat we are doing so that it does not happen again\n\n")
		for _, it := range pm.Spec.Remediation {
			line := "- " + it.Title
			if it.Done {
				line += " (done)"
			}
			b.WriteString(line + "\n")
		}
	}
	return strings.TrimSpace(b.String())
}
