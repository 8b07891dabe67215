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

package maintenance

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/once"
)

// step is what to do next with a maintenance's publication.
type step int

const (
	// stepDone: the page shows the current phase and text.
	stepDone step = iota
	// stepHeld: the page refused the current phase and text; nothing is sent until they
	// change or a person asks for a retry.
	stepHeld
	// stepWait: nothing may be sent before the wait has passed.
	stepWait
	// stepFind: the outcome of the call recorded in sendingSince is unknown: ask the page.
	stepFind
	// stepSend: record the intent, then send the current phase and text.
	stepSend
)

func (s step) String() string { return [...]string{"Done", "Held", "Wait", "Find", "Send"}[s] }

// revision names what is published: a phase and the generation whose text it carries.
func revision(phase v1alpha1.MaintenancePhase, gen int64) string {
	return fmt.Sprintf("%s/%d", phase, gen)
}

// decide says what to do with m's publication at now, when its phase is phase. A completed
// maintenance is done once its completion is on the page: later edits are history.
func decide(m *v1alpha1.Maintenance, phase v1alpha1.MaintenancePhase, now time.Time) (step, time.Duration) {
	st := &m.Status
	if st.SendingSince != nil {
		// An unknown outcome is settled first: until then nobody knows what the page shows.
		at := st.SendingSince.Add(once.Settle)
		if st.NextAttemptAt != nil && st.NextAttemptAt.After(at) {
			at = st.NextAttemptAt.Time
		}
		if wait := at.Sub(now); wait > 0 {
			return stepWait, wait
		}
		return stepFind, 0
	}
	switch {
	case st.PublishedPhase == v1alpha1.MaintenanceCompleted,
		st.PublishedPhase == phase && st.PublishedGeneration >= m.Generation:
		return stepDone, 0
	case st.Rejected == revision(phase, m.Generation):
		return stepHeld, 0
	}
	if st.NextAttemptAt != nil {
		if wait := st.NextAttemptAt.Sub(now); wait > 0 {
			return stepWait, wait
		}
	}
	return stepSend, 0
}

// intend records, before the call, what it sends.
func intend(m *v1alpha1.Maintenance, phase v1alpha1.MaintenancePhase, now time.Time) {
	t := metav1.NewTime(now)
	m.Status.SendingSince, m.Status.SendingPhase, m.Status.SendingGeneration = &t, phase, m.Generation
}

// landed records that phase and generation gen are on the page.
func landed(m *v1alpha1.Maintenance, phase v1alpha1.MaintenancePhase, gen int64) {
	st := &m.Status
	st.PublishedPhase, st.PublishedGeneration = phase, gen
	st.SendingSince, st.SendingPhase, st.SendingGeneration = nil, "", 0
	st.Attempts, st.NextAttemptAt, st.Rejected = 0, nil, ""
}

// lost records that the intended call did not land, so sending again is safe.
func lost(m *v1alpha1.Maintenance) {
	m.Status.SendingSince, m.Status.SendingPhase, m.Status.SendingGeneration = nil, "", 0
}

// failed records a failed call, as delivery.Assess judges err, and reports whether it is
// tried again and after how long: a refusal is held until the maintenance changes; a call
// known to have had no effect is sent again after the backoff; any other outcome is unknown,
// and the intent is kept so that the page is asked before anything is sent again.
func failed(m *v1alpha1.Maintenance, phase v1alpha1.MaintenancePhase, now time.Time, err error) (retry bool, wait time.Duration) {
	f := delivery.Assess(err)
	if f.Terminal {
		lost(m)
		m.Status.Rejected, m.Status.Attempts, m.Status.NextAttemptAt = revision(phase, m.Generation), 0, nil
		return false, 0
	}
	if f.NotApplied {
		lost(m)
	}
	return true, backoff(m, now, f.After)
}

// backoff counts a failed attempt and returns the wait before the next: the page's own
// delay when it gave one, a growing backoff otherwise.
func backoff(m *v1alpha1.Maintenance, now time.Time, pageAfter time.Duration) time.Duration {
	m.Status.Attempts++
	wait := pageAfter
	if wait <= 0 {
		wait = delivery.Backoff(int(min(m.Status.Attempts, 10)), time.Second, 5*time.Minute)
	}
	t := metav1.NewTime(now.Add(wait))
	m.Status.NextAttemptAt = &t
	return wait
}

// honourRetry honours a new value of the retry annotation: a refused phase may be sent
// again and the backoff starts afresh.
func honourRetry(m *v1alpha1.Maintenance) bool {
	v := m.Annotations[once.RetryAnnotation]
	if v == "" || v == m.Status.RetryHonoured {
		return false
	}
	m.Status.RetryHonoured = v[:min(len(v), 253)]
	m.Status.Rejected, m.Status.Attempts, m.Status.NextAttemptAt = "", 0, nil
	return true
}

// providerStatus is a phase in the status page vocabulary.
var providerStatus = map[v1alpha1.MaintenancePhase]string{
	v1alpha1.MaintenanceScheduled:  publish.MaintenanceScheduled,
	v1alpha1.MaintenanceInProgress: publish.MaintenanceInProgress,
	v1alpha1.MaintenanceCompleted:  publish.MaintenanceCompleted,
}

// body is what customers read at each phase.
func body(m *v1alpha1.Maintenance, phase v1alpha1.MaintenancePhase) string {
	switch phase {
	case v1alpha1.MaintenanceInProgress:
		return "The scheduled maintenance is in progress.\n\n" + m.Spec.Message
	case v1alpha1.MaintenanceCompleted:
		if !m.DeletionTimestamp.IsZero() && m.Status.PublishedPhase == v1alpha1.MaintenanceScheduled {
			return "The scheduled maintenance has been cancelled."
		}
		return "The scheduled maintenance has been completed."
	}
	return m.Spec.Message
}

// setPublished sets the Published condition.
func setPublished(m *v1alpha1.Maintenance, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionPublished, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: m.Generation})
}

// setNotPublished says why the current phase is not on the page.
func setNotPublished(m *v1alpha1.Maintenance, reason, msg string) {
	setPublished(m, metav1.ConditionFalse, reason, msg)
}
