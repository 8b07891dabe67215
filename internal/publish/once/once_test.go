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
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	throttled := answer(http.StatusTooManyRequests, "7")
	refused := answer(http.StatusUnprocessableEntity, "")
	unavailable := answer(http.StatusServiceUnavailable, "")
	timeout := delivery.Classify(nil, &url.Error{Op: "Patch", URL: "https://page.example", Err: context.DeadlineExceeded})
	held := &delivery.RetryableError{Err: fmt.Errorf("%w: the credential is busy", delivery.ErrNotSent), After: 2 * time.Second}
	sending := State{Generation: 1, SendingSince: t0, SendingGeneration: 1}
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
		{name: "a throttled call did nothing: it waits the page's delay and sends again without asking", s: sending,
			apply: func(s *State) { Failed(s, t0, 1, throttled) }, want: State{Generation: 1, Attempts: 1, NextAttemptAt: t0.Add(7 * time.Second)}},
		{name: "a call the rate limit kept back did nothing: it is sent again without asking", s: sending,
			apply: func(s *State) { Failed(s, t0, 1, held) }, want: State{Generation: 1, Attempts: 1, NextAttemptAt: t0.Add(2 * time.Second)}},
		{name: "a 503 did nothing: the intent is cleared and the backoff counted", s: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, Attempts: 2},
			apply: func(s *State) { Failed(s, t0, 1, unavailable); s.NextAttemptAt = time.Time{} /* jittered */ }, want: State{Generation: 1, Attempts: 3}},
		{name: "a timeout may have acted: the intent is kept", s: sending,
			apply: func(s *State) { Failed(s, t0, 1, timeout); s.NextAttemptAt = time.Time{} /* jittered */ }, want: State{Generation: 1, SendingSince: t0, SendingGeneration: 1, Attempts: 1}},
		{name: "a refusal holds the generation and clears the intent", s: State{Generation: 2, SendingSince: t0, SendingGeneration: 2, Attempts: 3, NextAttemptAt: t0},
			apply: func(s *State) { Failed(s, t0, 2, refused) }, want: State{Generation: 2, RejectedGeneration: 2}},
		{name: "a failure marked terminal is a refusal", s: sending,
			apply: func(s *State) { Failed(s, t0, 1, delivery.Terminal("Invalid", errors.New("the title is empty"))) }, want: State{Generation: 1, RejectedGeneration: 1}},
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

// A failed send either did nothing, and is sent again after its backoff, or has an unknown
// outcome, and keeps its intent so that the page is asked after Settle.
func TestFailedSendsAgainOnlyWhatDidNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantNext Action
	}{
		{"503 Service Unavailable did nothing", answer(http.StatusServiceUnavailable, ""), Send},
		{"429 Too Many Requests did nothing", answer(http.StatusTooManyRequests, ""), Send},
		{"408 Request Timeout did nothing", answer(http.StatusRequestTimeout, ""), Send},
		{"a call the rate limit kept back did nothing", &delivery.RetryableError{Err: delivery.ErrNotSent}, Send},
		{"500 Internal Server Error may have acted", answer(http.StatusInternalServerError, ""), Find},
		{"502 Bad Gateway may have acted", answer(http.StatusBadGateway, ""), Find},
		{"504 Gateway Timeout may have acted", answer(http.StatusGatewayTimeout, ""), Find},
		{"a timeout may have acted", delivery.Classify(nil, &url.Error{Op: "Post", URL: "https://page.example", Err: context.DeadlineExceeded}), Find},
		{"an error nobody classified may have acted, and is retried", errors.New("something odd"), Find},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := State{Generation: 1}
			Intend(&s, t0)
			retry, wait := Failed(&s, t0, 1, tc.err)
			if !retry {
				t.Fatalf("Failed(%v) gives up", tc.err)
			}
			// Past the backoff and past Settle, what comes next?
			if got := Decide(s, t0.Add(wait).Add(Settle)).Action; got != tc.wantNext {
				t.Errorf("after %v: %s, want %s", tc.err, got, tc.wantNext)
			}
		})
	}
}

// answer is how a client classifies an HTTP answer with status and Retry-After.
func answer(status int, retryAfter string) error {
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}
	if retryAfter != "" {
		resp.Header.Set("Retry-After", retryAfter)
	}
	return delivery.Classify(resp, nil)
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
