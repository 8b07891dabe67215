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
	"errors"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish/once"
)

var t0 = time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func TestPublicationSendsEachPhaseOnceAndSettlesUnknownOutcomesFirst(t *testing.T) {
	const (
		sched = v1alpha1.MaintenanceScheduled
		run   = v1alpha1.MaintenanceInProgress
		done  = v1alpha1.MaintenanceCompleted
	)
	cases := []struct {
		name   string
		gen    int64
		status v1alpha1.MaintenanceStatus
		phase  v1alpha1.MaintenancePhase
		want   once.Action
		wait   time.Duration
	}{
		{"nothing published yet", 1, v1alpha1.MaintenanceStatus{}, sched, once.Send, 0},
		{"this phase and text are on the page", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 2}, sched, once.Done, 0},
		{"the window started", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 2}, run, once.Edit, 0},
		{"an edit within the phase", 3, v1alpha1.MaintenanceStatus{PublishedPhase: run, PublishedGeneration: 2}, run, once.Edit, 0},
		{"an edit after completion is history", 4, v1alpha1.MaintenanceStatus{PublishedPhase: done, PublishedGeneration: 3}, done, once.Done, 0},
		{"refused as it is", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 1, Rejected: "Scheduled/2"}, sched, once.Held, 0},
		{"refused, but the phase moved on", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 1, Rejected: "Scheduled/2"}, run, once.Edit, 0},
		{"refused, but edited since", 3, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 1, Rejected: "Scheduled/2"}, sched, once.Edit, 0},
		{"a completion refused is held", 2, v1alpha1.MaintenanceStatus{PublishedPhase: run, PublishedGeneration: 2, Rejected: "Completed/2"}, done, once.Held, 0},
		{"backing off", 1, v1alpha1.MaintenanceStatus{NextAttemptAt: at(3 * time.Second)}, sched, once.Wait, 3 * time.Second},
		{"backoff over", 1, v1alpha1.MaintenanceStatus{NextAttemptAt: at(-time.Second)}, sched, once.Send, 0},
		{"a call in flight settles", 1, v1alpha1.MaintenanceStatus{SendingSince: at(-5 * time.Second), SendingPhase: sched, SendingGeneration: 1}, sched, once.Wait, once.Settle - 5*time.Second},
		{"an unknown outcome is asked about", 1, v1alpha1.MaintenanceStatus{SendingSince: at(-once.Settle), SendingPhase: sched, SendingGeneration: 1}, sched, once.Find, 0},
		{"an unknown outcome first, whatever the phase", 1, v1alpha1.MaintenanceStatus{PublishedPhase: done, SendingSince: at(-time.Minute), SendingPhase: run}, done, once.Find, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}, Status: tc.status}
			d := once.Decide(pubState(m, tc.phase), t0)
			if d.Action != tc.want || d.After != tc.wait {
				t.Errorf("Decide = %s after %s, want %s after %s", d.Action, d.After, tc.want, tc.wait)
			}
		})
	}
}

func TestFailedHoldsRefusalsAndKeepsTheIntentOfUnknownOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		retry      bool
		intentKept bool
		rejected   string
	}{
		{"refused", delivery.Terminal("Refused", errors.New("422")), false, false, "InProgress/2"},
		{"rate limited, not applied", &delivery.RetryableError{Err: errors.New("429"), After: 7 * time.Second, NotApplied: true}, true, false, ""},
		{"timed out", &delivery.RetryableError{Err: errors.New("timeout")}, true, true, ""},
		{"a 500, which may have landed", &delivery.RetryableError{Err: &delivery.StatusError{StatusCode: http.StatusInternalServerError}}, true, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
			s := pubState(m, v1alpha1.MaintenanceInProgress)
			once.Intend(&s, t0)
			retry, wait := once.Failed(&s, t0, s.Generation, tc.err)
			setPubState(m, s)
			if retry != tc.retry || (m.Status.SendingSince != nil) != tc.intentKept || m.Status.Rejected != tc.rejected {
				t.Fatalf("retry %v, intent kept %v, rejected %q; want %v, %v, %q", retry, m.Status.SendingSince != nil, m.Status.Rejected, tc.retry, tc.intentKept, tc.rejected)
			}
			if retry && (wait <= 0 || m.Status.NextAttemptAt == nil || !m.Status.NextAttemptAt.Time.Equal(t0.Add(wait)) || m.Status.Attempts != 1) {
				t.Errorf("wait %s, next attempt %v, attempts %d", wait, m.Status.NextAttemptAt, m.Status.Attempts)
			}
		})
	}
}

func TestARetryAnnotationIsHonouredOncePerValue(t *testing.T) {
	m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Generation: 1, Annotations: map[string]string{once.RetryAnnotation: "1"}},
		Status: v1alpha1.MaintenanceStatus{Rejected: "Scheduled/1", Attempts: 3}}
	honour := func() bool {
		s := pubState(m, v1alpha1.MaintenanceScheduled)
		ok := once.HonourRetry(&s)
		setPubState(m, s)
		return ok
	}
	if !honour() || m.Status.Rejected != "" || m.Status.Attempts != 0 || m.Status.RetryHonoured != "1" {
		t.Fatalf("first value not honoured: %+v", m.Status)
	}
	m.Status.Rejected = "Scheduled/1"
	if honour() || m.Status.Rejected == "" {
		t.Fatal("the same value was honoured twice")
	}
}

// Reading the bookkeeping and writing it back unchanged must change nothing, or every
// reconcile would write status.
func TestPublicationBookkeepingSurvivesTheRoundTripUnchanged(t *testing.T) {
	for _, st := range []v1alpha1.MaintenanceStatus{
		{},
		{PublishedPhase: v1alpha1.MaintenanceScheduled, PublishedGeneration: 3, Attempts: 2, NextAttemptAt: at(time.Minute), RetryHonoured: "x"},
		{PublishedPhase: v1alpha1.MaintenanceInProgress, PublishedGeneration: 1, SendingSince: at(-time.Second),
			SendingPhase: v1alpha1.MaintenanceCompleted, SendingGeneration: 4, Rejected: "Completed/2"},
		{PublishedPhase: v1alpha1.MaintenanceCompleted, PublishedGeneration: 7},
	} {
		m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Generation: 9}, Status: *st.DeepCopy()}
		setPubState(m, pubState(m, v1alpha1.MaintenanceCompleted))
		if !equality.Semantic.DeepEqual(m.Status, st) {
			t.Errorf("round trip of %+v gave %+v", st, m.Status)
		}
	}
}
