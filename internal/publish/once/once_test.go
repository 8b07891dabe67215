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

package once

import (
	"errors"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    State
		now  time.Time
		want Decision
	}{
		{"a new object is sent", State{Generation: 1}, t0, Decision{Action: Send}},
		{"the current generation is on the page", State{Generation: 2, PublishedGeneration: 2}, t0, Decision{Action: Done}},
		{"an edit of a published object is sent as an edit", State{Generation: 3, PublishedGeneration: 2}, t0, Decision{Action: Edit}},
		{"an unknown outcome waits for the call to settle", State{Generation: 1, SendingSince: t0, SendingGeneration: 1}, t0.Add(5 * time.Second), Decision{Action: Wait, After: 10 * time.Second}},
		{"a settled unknown outcome asks the page", State{Generation: 1, SendingSince: t0, SendingGeneration: 1}, t0.Add(Settle), Decision{Action: Find}},
		{"an unknown outcome is asked about before an edit is sent", State{Generation: 2, SendingSince: t0, SendingGeneration: 1}, t0.Add(time.Minute), Decision{Action: Find}},
		{"asking waits out the backoff too", State{Generation: 1, SendingSince: t0, SendingGeneration: 1, Attempts: 3, NextAttemptAt: t0.Add(time.Minute)}, t0.Add(Settle), Decision{Action: Wait, After: time.Minute - Settle}},
		{"a refused generation is never sent again", State{Generation: 2, RejectedGeneration: 2}, t0, Decision{Action: Held}},
		{"a refused generation is held even after a restart long after", State{Generation: 2, RejectedGeneration: 2, PublishedGeneration: 1}, t0.Add(24 * time.Hour), Decision{Action: Held}},
		{"an edit after a refusal is sent", State{Generation: 3, RejectedGeneration: 2}, t0, Decision{Action: Send}},
		{"a backoff holds whatever wakes the controller", State{Generation: 1, Attempts: 2, NextAttemptAt: t0.Add(4 * time.Second)}, t0, Decision{Action: Wait, After: 4 * time.Second}},
		{"a backoff that has passed sends", State{Generation: 1, Attempts: 2, NextAttemptAt: t0}, t0, Decision{Action: Send}},
		{"an edit waits out its backoff", State{Generation: 2, PublishedGeneration: 1, Attempts: 1, NextAttemptAt: t0.Add(time.Second)}, t0, Decision{Action: Wait, After: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.s, tc.now); got != tc.want {
				t.Errorf("Decide(%+v) = %v %s, want %v %s", tc.s, got.Action, got.After, tc.want.Action, tc.want.After)
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	throttled := &delivery.RetryableError{Err: errors.New("429"), After: 7 * time.Second}
	refused := errors.New("422 component unknown")
	for _, tc := range []struct {
		name  string
		s     State
		apply func(*State)
		want  State
	}{
		{name: "the intent names the generation sent", s: State{Generation: 4, PublishedGeneration: 0},
			apply: func(s *State) { Intend(s, t0) }, want: State{Generation: 4, SendingSince: t0, SendingGeneration: 4}},
		{name: "adopting after an edit records the generation sent, not the edit",
			s:     State{Generation: 5, SendingSince: t0, SendingGeneration: 4, Attempts: 2, NextAttemptAt: t0},
			apply: func(s *State) { Landed(s, s.SendingGeneration) }, want: State{Generation: 5, PublishedGeneration: 4}},
		{name: "a lost call clears the intent and keeps the backoff", s: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, Attempts: 1, NextAttemptAt: t0},
			apply: Lost, want: State{Generation: 1, Attempts: 1, NextAttemptAt: t0}},
		{name: "a throttled call waits the page's delay and keeps the intent", s: State{Generation: 1, SendingSince: t0, SendingGeneration: 1},
			apply: func(s *State) { Failed(s, t0, 1, throttled) }, want: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, Attempts: 1, NextAttemptAt: t0.Add(7 * time.Second)}},
		{name: "a refusal holds the generation and clears the intent", s: State{Generation: 2, SendingSince: t0, SendingGeneration: 2, Attempts: 3, NextAttemptAt: t0},
			apply: func(s *State) { Failed(s, t0, 2, refused) }, want: State{Generation: 2, RejectedGeneration: 2}},
		{name: "an outcome that cannot be told keeps the intent and asks again later", s: State{Generation: 1, SendingSince: t0, SendingGeneration: 1},
			apply: func(s *State) { Unknowable(s, t0) }, want: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, NextAttemptAt: t0.Add(Recheck)}},
		{name: "a new retry value releases a refused generation", s: State{Generation: 2, RejectedGeneration: 2, Retry: "b", RetryHonoured: "a"},
			apply: func(s *State) { HonourRetry(s) }, want: State{Generation: 2, Retry: "b", RetryHonoured: "b"}},
		{name: "a retry value is honoured once", s: State{Generation: 2, RejectedGeneration: 2, Retry: "a", RetryHonoured: "a"},
			apply: func(s *State) { HonourRetry(s) }, want: State{Generation: 2, RejectedGeneration: 2, Retry: "a", RetryHonoured: "a"}},
		{name: "a retry asks again at once about an outcome that cannot be told", s: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, NextAttemptAt: t0.Add(Recheck), Retry: "x"},
			apply: func(s *State) { HonourRetry(s) }, want: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, Retry: "x", RetryHonoured: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			tc.apply(&s)
			if s != tc.want {
				t.Errorf("got  %+v\nwant %+v", s, tc.want)
			}
		})
	}
}

func TestRetryBacksOffByTheStoredCount(t *testing.T) {
	s := State{Generation: 1}
	for n := int32(1); n <= 12; n++ {
		retryable, wait := Failed(&s, t0, 1, &delivery.RetryableError{Err: errors.New("timeout")})
		if !retryable || s.Attempts != n {
			t.Fatalf("attempt %d: retryable %v, attempts %d", n, retryable, s.Attempts)
		}
		// Full jitter: at most base * 2^(n-1), capped.
		limit := min(time.Second<<min(n-1, 10), 5*time.Minute)
		if wait < 0 || wait > limit || !s.NextAttemptAt.Equal(t0.Add(wait)) {
			t.Fatalf("attempt %d waits %s (next %s), want at most %s", n, wait, s.NextAttemptAt, limit)
		}
	}
}
