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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish/once"
)

var t0 = time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func TestDecideSendsEachPhaseOnceAndSettlesUnknownOutcomesFirst(t *testing.T) {
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
		want   step
		wait   time.Duration
	}{
		{"nothing published yet", 1, v1alpha1.MaintenanceStatus{}, sched, stepSend, 0},
		{"this phase and text are on the page", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 2}, sched, stepDone, 0},
		{"the window started", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 2}, run, stepSend, 0},
		{"an edit within the phase", 3, v1alpha1.MaintenanceStatus{PublishedPhase: run, PublishedGeneration: 2}, run, stepSend, 0},
		{"an edit after completion is history", 4, v1alpha1.MaintenanceStatus{PublishedPhase: done, PublishedGeneration: 3}, done, stepDone, 0},
		{"refused as it is", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 1, Rejected: "Scheduled/2"}, sched, stepHeld, 0},
		{"refused, but the phase moved on", 2, v1alpha1.MaintenanceStatus{PublishedPhase: sched, PublishedGeneration: 2, Rejected: "InProgress/1"}, run, stepSend, 0},
		{"backing off", 1, v1alpha1.MaintenanceStatus{NextAttemptAt: at(3 * time.Second)}, sched, stepWait, 3 * time.Second},
		{"backoff over", 1, v1alpha1.MaintenanceStatus{NextAttemptAt: at(-time.Second)}, sched, stepSend, 0},
		{"a call in flight settles", 1, v1alpha1.MaintenanceStatus{SendingSince: at(-5 * time.Second), SendingPhase: sched, SendingGeneration: 1}, sched, stepWait, once.Settle - 5*time.Second},
		{"an unknown outcome is asked about", 1, v1alpha1.MaintenanceStatus{SendingSince: at(-once.Settle), SendingPhase: sched, SendingGeneration: 1}, sched, stepFind, 0},
		{"an unknown outcome first, whatever the phase", 1, v1alpha1.MaintenanceStatus{PublishedPhase: done, SendingSince: at(-time.Minute), SendingPhase: run}, done, stepFind, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}, Status: tc.status}
			got, wait := decide(m, tc.phase, t0)
			if got != tc.want || wait != tc.wait {
				t.Errorf("decide = %s after %s, want %s after %s", got, wait, tc.want, tc.wait)
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
			intend(m, v1alpha1.MaintenanceInProgress, t0)
			retry, wait := failed(m, v1alpha1.MaintenanceInProgress, t0, tc.err)
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
	if !honourRetry(m) || m.Status.Rejected != "" || m.Status.Attempts != 0 {
		t.Fatalf("first value not honoured: %+v", m.Status)
	}
	m.Status.Rejected = "Scheduled/1"
	if honourRetry(m) || m.Status.Rejected == "" {
		t.Fatal("the same value was honoured twice")
	}
}
