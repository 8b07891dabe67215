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
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/once"
)

// The publication bookkeeping in a Maintenance's status is read and written through
// internal/publish/once, as a StatusUpdate's and a Postmortem's are. What is published is a
// phase and the generation whose text it carries; as one number (rev) it only grows, since the
// phase never goes back, so once's comparisons of generations hold for it.

// genBits is how many low bits of a rev hold the generation.
const genBits = 40

// phases in the order a maintenance moves through them, from rank 1.
var phases = []v1alpha1.MaintenancePhase{v1alpha1.MaintenanceScheduled, v1alpha1.MaintenanceInProgress, v1alpha1.MaintenanceCompleted}

// rev is phase at generation gen as one number; 0 for no phase.
func rev(phase v1alpha1.MaintenancePhase, gen int64) int64 {
	rank := slices.Index(phases, phase) + 1
	if rank == 0 {
		return 0
	}
	return int64(rank)<<genBits | gen&(1<<genBits-1)
}

// unrev is the phase and generation of a rev.
func unrev(r int64) (v1alpha1.MaintenancePhase, int64) {
	rank := int(r >> genBits)
	if rank < 1 || rank > len(phases) {
		return "", 0
	}
	return phases[rank-1], r & (1<<genBits - 1)
}

// revision names a rev as the status (rejected) and the provider (the revision it stores)
// show it: "InProgress/3".
func revision(phase v1alpha1.MaintenancePhase, gen int64) string {
	return fmt.Sprintf("%s/%d", phase, gen)
}

// parseRevision reads a revision; 0 when s is not one.
func parseRevision(s string) int64 {
	p, g, ok := strings.Cut(s, "/")
	gen, err := strconv.ParseInt(g, 10, 64)
	if !ok || err != nil {
		return 0
	}
	return rev(v1alpha1.MaintenancePhase(p), gen)
}

// pubState is m's publication bookkeeping as once reads it, when m's phase is phase. A
// completed maintenance is done once its completion is on the page: later edits are history.
func pubState(m *v1alpha1.Maintenance, phase v1alpha1.MaintenancePhase) once.State {
	st := &m.Status
	s := once.State{Generation: rev(phase, m.Generation), PublishedGeneration: rev(st.PublishedPhase, st.PublishedGeneration),
		RejectedGeneration: parseRevision(st.Rejected), Attempts: st.Attempts, RetryHonoured: st.RetryHonoured}
	if st.PublishedPhase == v1alpha1.MaintenanceCompleted {
		s.Generation = s.PublishedGeneration
	}
	if st.SendingSince != nil {
		s.SendingSince, s.SendingGeneration = st.SendingSince.Time, rev(st.SendingPhase, st.SendingGeneration)
	}
	if st.NextAttemptAt != nil {
		s.NextAttemptAt = st.NextAttemptAt.Time
	}
	if v := m.Annotations[once.RetryAnnotation]; v != "" {
		s.Retry = v[:min(len(v), 253)]
	}
	return s
}

// setPubState writes s back into m's status.
func setPubState(m *v1alpha1.Maintenance, s once.State) {
	st := &m.Status
	st.PublishedPhase, st.PublishedGeneration = unrev(s.PublishedGeneration)
	st.SendingSince = timeOrNil(s.SendingSince)
	st.SendingPhase, st.SendingGeneration = unrev(s.SendingGeneration)
	st.Rejected = ""
	if p, g := unrev(s.RejectedGeneration); p != "" {
		st.Rejected = revision(p, g)
	}
	st.Attempts, st.NextAttemptAt, st.RetryHonoured = s.Attempts, timeOrNil(s.NextAttemptAt), s.RetryHonoured
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
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
