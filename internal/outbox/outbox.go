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

// Package outbox keeps the notifications an object's controller owes in the object's status
// (v1alpha1.OutboxItem), so that a crash never loses one and never posts an announcement
// twice. The Incident and Postmortem controllers share it. The rules:
//   - an item is added in the same status write that records its fact;
//   - it is marked Sending (ClaimDue) in a status write before the call, and removed or put
//     back to Pending (Deliver) in the write after it;
//   - an item found Sending by a process that did not deliver it was left mid-call, and its
//     outcome is unknown (Recover): an announcement is dropped, so it is posted at most once;
//     a page goes back to Pending (PagerDuty deduplicates it by dedup key);
//   - failures are judged by delivery.Assess: terminal ones are given up at once, every other
//     one (any error nobody classified included) is retried after Retry-After or a backoff,
//     up to MaxAttempts; the later items of that channel wait behind it, to keep the order.
package outbox

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
)

const (
	// MaxItems bounds an outbox, as the API does.
	MaxItems = 20
	// MaxPerReconcile bounds the calls one reconcile makes, so that one object with a backlog
	// cannot hold a worker for long.
	MaxPerReconcile = 5
	// MaxAttempts bounds the tries of one item: with backoff capped at five minutes, about
	// half an hour of trying before it is given up.
	MaxAttempts = 12
)

// Channel names where items of kind k go: "comms" or "pagerduty".
func Channel(k v1alpha1.OutboxKind) string {
	if k == v1alpha1.OutboxAnnounce {
		return "comms"
	}
	return "pagerduty"
}

// Recover settles the items found Sending. Those this process delivered (delivered reports
// it) leave the outbox and are returned as settled. Any other was left mid-call by a process
// that stopped: an announcement is dropped and returned as unknown, a page goes back to
// Pending. delivered may be nil: then this process delivered none.
func Recover(items *[]v1alpha1.OutboxItem, delivered func(id string) bool) (unknown []v1alpha1.OutboxItem, settled []string) {
	kept := (*items)[:0:0]
	for _, it := range *items {
		if it.State == v1alpha1.OutboxSending {
			if delivered != nil && delivered(it.ID) {
				settled = append(settled, it.ID)
				continue
			}
			if it.Kind == v1alpha1.OutboxAnnounce {
				unknown = append(unknown, it)
				continue
			}
			it.State = v1alpha1.OutboxPending
		}
		kept = append(kept, it)
	}
	*items = nilIfEmpty(kept)
	return unknown, settled
}

// Bound drops the oldest pending announcements beyond MaxItems, under a flood (a channel
// down for hours), and returns them. Pages are never dropped.
func Bound(items *[]v1alpha1.OutboxItem) (dropped []v1alpha1.OutboxItem) {
	for len(*items) > MaxItems {
		i := slices.IndexFunc(*items, func(it v1alpha1.OutboxItem) bool {
			return it.Kind == v1alpha1.OutboxAnnounce && it.State == v1alpha1.OutboxPending
		})
		if i < 0 {
			break
		}
		dropped = append(dropped, (*items)[i])
		*items = slices.Delete(*items, i, i+1)
	}
	return dropped
}

// ClaimDue marks the items whose time has come as Sending, counting the attempt, and returns
// their indexes, at most MaxPerReconcile, oldest first. Items of one channel go out in
// order: once one of them must wait, the later ones wait too. It also returns how long until
// the next item that is not due yet (zero for none).
func ClaimDue(items []v1alpha1.OutboxItem, now time.Time) ([]int, time.Duration) {
	var due []int
	var wait time.Duration
	waiting := map[string]bool{}
	for i := range items {
		it := &items[i]
		ch := Channel(it.Kind)
		if waiting[ch] || it.State == v1alpha1.OutboxSending {
			continue
		}
		if it.NotBefore != nil && now.Before(it.NotBefore.Time) {
			wait = minPositive(wait, it.NotBefore.Sub(now))
			waiting[ch] = true
			continue
		}
		if len(due) == MaxPerReconcile {
			wait = minPositive(wait, time.Millisecond)
			break
		}
		it.State = v1alpha1.OutboxSending
		it.Attempts++
		due = append(due, i)
	}
	return due, wait
}

// Wait is how long until an item that is not Sending may be tried: zero when there is none,
// a moment when one is due now.
func Wait(items []v1alpha1.OutboxItem, now time.Time) time.Duration {
	var wait time.Duration
	for _, it := range items {
		if it.State == v1alpha1.OutboxSending {
			continue
		}
		d := time.Millisecond
		if it.NotBefore != nil && now.Before(it.NotBefore.Time) {
			d = it.NotBefore.Sub(now)
		}
		wait = minPositive(wait, d)
	}
	return wait
}

// Outcome is what came of one claimed item.
type Outcome struct {
	// Index is the item's index in the outbox.
	Index int
	// Err is why the item was not delivered; nil when it was.
	Err error
	// Retry is true when the item waits for its next attempt (Pending, with NotBefore);
	// false for a failed item given up, to be removed with Remove.
	Retry bool
	// Held is true when the item was not tried: an earlier item of its channel must be
	// retried first. It waits as long, and its attempt is not counted.
	Held bool
}

// Deliver sends the claimed items with send and settles each: a delivered item stays
// Sending for the caller to remove; a failed one goes back to Pending until its next
// attempt (Retry-After, or a backoff with full jitter), or is given up when the failure is
// terminal or its attempts are spent. now is read after each call. Pages go first, so that
// an announcement waiting for its chat's turn never holds up a page claimed with it; the
// items of one channel keep their order.
func Deliver(items []v1alpha1.OutboxItem, claimed []int, now func() time.Time, send func(v1alpha1.OutboxItem) error) []Outcome {
	held := map[string]*metav1.Time{}
	out := make([]Outcome, 0, len(claimed))
	order := slices.Clone(claimed)
	announcement := func(i int) int {
		if items[i].Kind == v1alpha1.OutboxAnnounce {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(announcement(a), announcement(b)) })
	for _, i := range order {
		it := &items[i]
		ch := Channel(it.Kind)
		if until, ok := held[ch]; ok {
			it.State, it.NotBefore, it.Attempts = v1alpha1.OutboxPending, until, it.Attempts-1
			out = append(out, Outcome{Index: i, Retry: true, Held: true})
			continue
		}
		err := send(*it)
		o := Outcome{Index: i, Err: err}
		if err != nil {
			f := delivery.Assess(err)
			if o.Retry = !f.Terminal && it.Attempts < MaxAttempts; o.Retry {
				it.State, it.NotBefore = v1alpha1.OutboxPending, RetryAt(now(), it.Attempts, f.After)
				held[ch] = it.NotBefore
			}
		}
		out = append(out, o)
	}
	return out
}

// Remove removes the items whose ids gone reports.
func Remove(items *[]v1alpha1.OutboxItem, gone func(id string) bool) {
	*items = nilIfEmpty(slices.DeleteFunc(*items, func(it v1alpha1.OutboxItem) bool { return gone(it.ID) }))
}

// RetryAt is when a failed item may be tried again: the server's Retry-After when it gave
// one, else exponential backoff with full jitter (up to 1s, 2s, 4s, ... capped at 5m).
func RetryAt(now time.Time, attempts int32, after time.Duration) *metav1.Time {
	wait := after
	if wait <= 0 {
		wait = delivery.Backoff(int(attempts), time.Second, 5*time.Minute)
	}
	// Status keeps whole seconds: round up, so the stored time is never early.
	at := now.Add(wait)
	if at.Truncate(time.Second) != at {
		at = at.Truncate(time.Second).Add(time.Second)
	}
	t := metav1.NewTime(at)
	return &t
}

func nilIfEmpty(items []v1alpha1.OutboxItem) []v1alpha1.OutboxItem {
	if len(items) == 0 {
		return nil
	}
	return items
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
