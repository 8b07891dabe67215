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

package outbox

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	announce, page   = v1alpha1.OutboxAnnounce, v1alpha1.OutboxPage
	pending, sending = v1alpha1.OutboxPending, v1alpha1.OutboxSending
)

func item(kind v1alpha1.OutboxKind, state v1alpha1.OutboxState, id string) v1alpha1.OutboxItem {
	return v1alpha1.OutboxItem{ID: id, Kind: kind, Reason: "Handoff", State: state}
}

// shape is an item as the tests compare it.
func shape(items []v1alpha1.OutboxItem) []string {
	var out []string
	for _, it := range items {
		s := fmt.Sprintf("%s/%s/%s/%d", it.Kind, it.ID, it.State, it.Attempts)
		if it.NotBefore != nil {
			s += "/+" + it.NotBefore.Sub(t0).String()
		}
		out = append(out, s)
	}
	return out
}

func TestRecover(t *testing.T) {
	for _, tc := range []struct {
		name             string
		items            []v1alpha1.OutboxItem
		delivered        func(string) bool
		want             []string
		unknown, settled int
	}{
		{name: "an announcement left Sending by a stopped process is dropped",
			items: []v1alpha1.OutboxItem{item(announce, sending, "a"), item(announce, pending, "b")}, want: []string{"Announce/b/Pending/0"}, unknown: 1},
		{name: "a page left Sending is sent again",
			items: []v1alpha1.OutboxItem{item(page, sending, "p")}, want: []string{"Page/p/Pending/0"}},
		{name: "what this process delivered leaves, settled",
			items: []v1alpha1.OutboxItem{item(announce, sending, "a")}, delivered: func(id string) bool { return id == "a" }, settled: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := slices.Clone(tc.items)
			unknown, settled := Recover(&items, tc.delivered)
			if got := shape(items); !slices.Equal(got, tc.want) || len(unknown) != tc.unknown || len(settled) != tc.settled {
				t.Errorf("items %q unknown %d settled %d, want %q %d %d", got, len(unknown), len(settled), tc.want, tc.unknown, tc.settled)
			}
		})
	}
}

func TestBoundDropsTheOldestPendingAnnouncementsOnly(t *testing.T) {
	items := []v1alpha1.OutboxItem{item(page, pending, "p"), item(announce, sending, "s")}
	for i := range MaxItems {
		items = append(items, item(announce, pending, fmt.Sprint(i)))
	}
	dropped := Bound(&items)
	if len(items) != MaxItems || len(dropped) != 2 || dropped[0].ID != "0" || dropped[1].ID != "1" || items[0].ID != "p" || items[1].ID != "s" {
		t.Errorf("kept %q, dropped %q", shape(items), shape(dropped))
	}
}

func TestDeliver(t *testing.T) {
	throttled := &delivery.RetryableError{Err: errors.New("HTTP 429"), After: 7 * time.Second}
	refused := &delivery.StatusError{StatusCode: 404}
	for _, tc := range []struct {
		name     string
		items    []v1alpha1.OutboxItem
		attempts int32
		answers  []error
		want     []string
		outcomes []string
	}{
		{name: "delivered: stays Sending for the caller to remove",
			items: []v1alpha1.OutboxItem{item(announce, pending, "a")}, answers: []error{nil},
			want: []string{"Announce/a/Sending/1"}, outcomes: []string{"a delivered"}},
		{name: "throttled: back to Pending until Retry-After; the channel's later items wait as long, uncounted; the other channel goes on",
			items:    []v1alpha1.OutboxItem{item(announce, pending, "a"), item(announce, pending, "b"), item(page, pending, "p")},
			answers:  []error{nil, throttled},
			want:     []string{"Announce/a/Pending/1/+7s", "Announce/b/Pending/0/+7s", "Page/p/Sending/1"},
			outcomes: []string{"p delivered", "a retry", "b held"}},
		{name: "a page goes before the announcements claimed before it, which keep their order",
			items:    []v1alpha1.OutboxItem{item(announce, pending, "a"), item(announce, pending, "b"), item(page, pending, "p")},
			answers:  []error{nil, nil, nil},
			want:     []string{"Announce/a/Sending/1", "Announce/b/Sending/1", "Page/p/Sending/1"},
			outcomes: []string{"p delivered", "a delivered", "b delivered"}},
		{name: "an error nobody classified is retried",
			items: []v1alpha1.OutboxItem{item(announce, pending, "a")}, answers: []error{errors.New("something odd")},
			want: []string{"Announce/a/Pending/1"}, outcomes: []string{"a retry"}},
		{name: "a terminal failure is given up at once",
			items: []v1alpha1.OutboxItem{item(announce, pending, "a")}, answers: []error{refused},
			want: []string{"Announce/a/Sending/1"}, outcomes: []string{"a given up"}},
		{name: "the last attempt's failure is given up",
			items: []v1alpha1.OutboxItem{item(announce, pending, "a")}, attempts: MaxAttempts - 1, answers: []error{throttled},
			want: []string{fmt.Sprintf("Announce/a/Sending/%d", MaxAttempts)}, outcomes: []string{"a given up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := slices.Clone(tc.items)
			for i := range items {
				items[i].Attempts = tc.attempts
			}
			claimed, _ := ClaimDue(items, t0)
			answers := slices.Clone(tc.answers)
			outcomes := Deliver(items, claimed, func() time.Time { return t0 }, func(v1alpha1.OutboxItem) error {
				err := answers[0]
				answers = answers[1:]
				return err
			})
			got := shape(items)
			for i := range got {
				// Backoff is jittered; only Retry-After gives an exact time.
				if items[i].NotBefore != nil && items[i].NotBefore.Sub(t0) != 7*time.Second {
					got[i] = shape([]v1alpha1.OutboxItem{{ID: items[i].ID, Kind: items[i].Kind, State: items[i].State, Attempts: items[i].Attempts}})[0]
				}
			}
			var said []string
			for _, o := range outcomes {
				s := items[o.Index].ID
				switch {
				case o.Held:
					s += " held"
				case o.Err == nil:
					s += " delivered"
				case o.Retry:
					s += " retry"
				default:
					s += " given up"
				}
				said = append(said, s)
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(said, tc.outcomes) {
				t.Errorf("items %q outcomes %q\nwant  %q %q", got, said, tc.want, tc.outcomes)
			}
		})
	}
}

func TestWait(t *testing.T) {
	at := func(d time.Duration) *metav1.Time { m := metav1.NewTime(t0.Add(d)); return &m }
	later := item(announce, pending, "a")
	later.NotBefore = at(9 * time.Second)
	sooner := item(page, pending, "p")
	sooner.NotBefore = at(4 * time.Second)
	for _, tc := range []struct {
		name  string
		items []v1alpha1.OutboxItem
		want  time.Duration
	}{
		{"nothing waits", nil, 0},
		{"items being sent do not wait", []v1alpha1.OutboxItem{item(announce, sending, "s")}, 0},
		{"the soonest backoff", []v1alpha1.OutboxItem{later, sooner}, 4 * time.Second},
		{"an item due now comes back at once", []v1alpha1.OutboxItem{later, item(announce, pending, "b")}, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Wait(tc.items, t0); got != tc.want {
				t.Errorf("Wait = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRetryAtIsNeverEarlyAndHonoursRetryAfter(t *testing.T) {
	if got := RetryAt(t0.Add(300*time.Millisecond), 1, 2*time.Second); !got.Time.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("Retry-After 2s from +0.3s: %s, want +3s (rounded up to the second)", got.Sub(t0))
	}
	for n := int32(1); n <= 12; n++ {
		got := RetryAt(t0, n, 0).Sub(t0)
		if limit := min(time.Second<<min(n-1, 10), 5*time.Minute); got < 0 || got > limit {
			t.Errorf("attempt %d waits %s, want at most %s", n, got, limit)
		}
	}
}
