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

// Package once decides how an object is published to a status page exactly once: a
// StatusUpdate as an update of the page's incident, a Postmortem as its post-mortem. It holds
// no client: Decide reads the bookkeeping an object keeps in its status and says what to do
// next, and the functions below it record what came of it. The controllers make the calls.
//
// The rules, shared by every object published this way:
//   - the intent (SendingSince, SendingGeneration) is written to the API server before the one
//     call that is not safe to repeat, so a crash or a lost answer after it is found again;
//   - an unknown outcome is settled by asking the page (Find), only Settle after the call
//     started, so a call still in flight on the page's side is not taken for lost. A failure
//     the page's answer shows had no effect (delivery.Failure.NotApplied: a 429 or 503, or a
//     call the client-side rate limit never let out) is not unknown: it is sent again after
//     its backoff, with no settle and no lookup;
//   - what the page holds is adopted only by the object's own identity, and what is adopted is
//     the generation that was sent, never a later edit;
//   - failed calls back off, counted in Attempts and held until NextAttemptAt, whatever wakes
//     the controller meanwhile;
//   - a generation the page refused is never sent again: only an edit or a person's retry
//     (the firescope.dev/retry annotation, honoured once per new value) sends it again.
package once

import (
	"time"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
)

// RetryAnnotation asks the controller to try again what it stopped trying: a refused
// generation, or an outcome it cannot tell. Each new value is honoured once.
const RetryAnnotation = v1alpha1.AnnotationRetry

const (
	// Settle is how long after a call whose outcome is unknown started the page is asked what
	// landed: longer than the providers' 10-second request timeout.
	Settle = 15 * time.Second
	// Recheck is how often an outcome that cannot be told is asked about again, so that a
	// person fixing the page (keeping one incident, say) is noticed without a retry.
	Recheck = 10 * time.Minute
	// backoffBase and backoffMax bound the wait between failed attempts.
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
)

// State is the publication bookkeeping an object keeps in its status. Zero times mean unset.
type State struct {
	// Generation is the object's current generation: the text that should be on the page.
	Generation int64
	// PublishedGeneration is the generation whose text is on the page; 0 while unpublished.
	PublishedGeneration int64
	// SendingSince is when a call that is not safe to repeat started; set until its outcome
	// is known.
	SendingSince time.Time
	// SendingGeneration is the generation that call sent.
	SendingGeneration int64
	// RejectedGeneration is the generation the page refused for good.
	RejectedGeneration int64
	// Attempts counts the failed attempts since the last success.
	Attempts int32
	// NextAttemptAt is when the page may be called again.
	NextAttemptAt time.Time
	// Retry is the value of the retry annotation; RetryHonoured the last value honoured.
	Retry, RetryHonoured string
}

// Action is what to do next.
type Action int

const (
	// Done: the current generation is on the page.
	Done Action = iota
	// Held: the page refused the current generation; nothing is sent until it changes or a
	// person asks for a retry.
	Held
	// Wait: nothing may be called before Decision.After has passed.
	Wait
	// Find: the outcome of the call recorded in SendingSince is unknown: ask the page whether
	// SendingGeneration landed, then call Landed or Lost.
	Find
	// Send: publish the current generation for the first time: call Intend, write the status,
	// then make the call.
	Send
	// Edit: the object is published and has changed since: send the change. Edits replace
	// text and are safe to repeat, so they need no intent.
	Edit
)

func (a Action) String() string {
	return [...]string{"Done", "Held", "Wait", "Find", "Send", "Edit"}[a]
}

// Decision is Decide's answer.
type Decision struct {
	Action Action
	// After is how long to wait, for Wait.
	After time.Duration
}

// Decide says what to do next with an object in state s at now.
func Decide(s State, now time.Time) Decision {
	if !s.SendingSince.IsZero() {
		// An unknown outcome is settled first, whatever else changed: until then nobody knows
		// what is on the page.
		at := s.SendingSince.Add(Settle)
		if s.NextAttemptAt.After(at) {
			at = s.NextAttemptAt
		}
		if wait := at.Sub(now); wait > 0 {
			return Decision{Action: Wait, After: wait}
		}
		return Decision{Action: Find}
	}
	switch {
	case s.PublishedGeneration != 0 && s.PublishedGeneration >= s.Generation:
		return Decision{Action: Done}
	case s.RejectedGeneration != 0 && s.RejectedGeneration >= s.Generation:
		return Decision{Action: Held}
	}
	if wait := s.NextAttemptAt.Sub(now); !s.NextAttemptAt.IsZero() && wait > 0 {
		return Decision{Action: Wait, After: wait}
	}
	if s.PublishedGeneration != 0 {
		return Decision{Action: Edit}
	}
	return Decision{Action: Send}
}

// HonourRetry honours a new value of the retry annotation: the refused generation may be
// sent again and the backoff starts afresh. It reports whether it did, so that a caller
// whose outcome could not be told may now act on what a person checked.
func HonourRetry(s *State) bool {
	if s.Retry == "" || s.Retry == s.RetryHonoured {
		return false
	}
	s.RetryHonoured = s.Retry
	s.RejectedGeneration, s.Attempts, s.NextAttemptAt = 0, 0, time.Time{}
	return true
}

// Intend records, before a Send, that the current generation is being sent.
func Intend(s *State, now time.Time) {
	s.SendingSince, s.SendingGeneration = now, s.Generation
}

// Landed records that generation gen is on the page: after a successful call (gen is what
// was sent) or after Find showed the intended call landed (gen is SendingGeneration, never a
// later edit, which still has to be sent).
func Landed(s *State, gen int64) {
	s.PublishedGeneration = max(s.PublishedGeneration, gen)
	s.SendingSince, s.SendingGeneration = time.Time{}, 0
	s.Attempts, s.NextAttemptAt = 0, time.Time{}
}

// Lost records that Find showed the intended call did not land: sending again is safe.
func Lost(s *State) {
	s.SendingSince, s.SendingGeneration = time.Time{}, 0
}

// Retry records a failed attempt whose outcome may be unknown (any intent is kept, so the
// page is asked before anything is sent again) and returns how long to wait: the page's own
// delay when it gave one, a growing backoff otherwise.
func Retry(s *State, now time.Time, pageAfter time.Duration) time.Duration {
	s.Attempts++
	wait := pageAfter
	if wait <= 0 {
		wait = delivery.Backoff(int(min(s.Attempts, 10)), backoffBase, backoffMax)
	}
	s.NextAttemptAt = now.Add(wait)
	return wait
}

// Reject records that the page refused the call for good: nothing changed on the page, and
// the refused generation is not sent again.
func Reject(s *State, gen int64) {
	s.RejectedGeneration = gen
	s.SendingSince, s.SendingGeneration = time.Time{}, 0
	s.Attempts, s.NextAttemptAt = 0, time.Time{}
}

// Unknowable records that the outcome cannot be told (the page holds two incidents of one
// identity, say): the intent is kept and the page is asked again after Recheck, or at once
// when a person asks for a retry.
func Unknowable(s *State, now time.Time) time.Duration {
	s.NextAttemptAt = now.Add(Recheck)
	return Recheck
}

// Failed records a failed call, as delivery.Assess judges err, and returns whether it is
// tried again and after how long:
//   - terminal: Reject of gen, never sent again as it is;
//   - known to have had no effect (the call never left Firescope, or the page answered that it
//     did not act on it, such as 429 or 503): the intent is cleared, so the next attempt,
//     after the backoff, sends again without waiting for Settle and asking the page;
//   - any other outcome is unknown: Retry, which keeps the intent, so the page is asked
//     after Settle before anything is sent again.
func Failed(s *State, now time.Time, gen int64, err error) (retry bool, wait time.Duration) {
	f := delivery.Assess(err)
	if f.Terminal {
		Reject(s, gen)
		return false, 0
	}
	if f.NotApplied {
		Lost(s)
	}
	return true, Retry(s, now, f.After)
}
