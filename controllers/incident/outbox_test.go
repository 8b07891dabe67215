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

package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/outbox"
	"firescope.dev/firescope/internal/paging"
)

// box is an outbox item in a comparable form: kind, state, message, attempts.
type box struct {
	Kind     v1alpha1.OutboxKind
	State    v1alpha1.OutboxState
	Message  string
	Attempts int32
}

func boxes(inc *v1alpha1.Incident) []box {
	var out []box
	for _, it := range inc.Status.Outbox {
		out = append(out, box{it.Kind, it.State, it.Message, it.Attempts})
	}
	return out
}

func item(kind v1alpha1.OutboxKind, state v1alpha1.OutboxState, msg string) v1alpha1.OutboxItem {
	return v1alpha1.OutboxItem{ID: string(kind) + "/" + msg, Kind: kind, Reason: v1alpha1.EventHandoff, Message: msg, State: state}
}

func factOf(reason, msg string) fact {
	return fact{key: msg, eventReason: reason, entry: v1alpha1.TimelineEntry{Message: msg}}
}

var (
	commsOnly = policyWith(func(s *v1alpha1.ResponsePolicySpec) {
		s.CommsChannel = &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{}}
	})
	pagesAll = policyWith(func(s *v1alpha1.ResponsePolicySpec) {
		s.CommsChannel = &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{}}
		s.Paging = &v1alpha1.Paging{}
	})
	pagesMajor = policyWith(func(s *v1alpha1.ResponsePolicySpec) {
		s.Paging = &v1alpha1.Paging{States: []v1alpha1.IncidentState{v1alpha1.StateMajor}}
	})
)

func TestEnqueue(t *testing.T) {
	const A, P, R = v1alpha1.OutboxAnnounce, v1alpha1.OutboxPage, v1alpha1.OutboxResolvePage
	const pending, sending = v1alpha1.OutboxPending, v1alpha1.OutboxSending
	state, handoff := factOf(v1alpha1.EventStateChanged, "Incident Confirmed"), factOf(v1alpha1.EventHandoff, "IC -> greg")
	full := func() []v1alpha1.OutboxItem {
		out := []v1alpha1.OutboxItem{item(P, sending, "page")}
		for i := range 19 {
			out = append(out, item(A, pending, fmt.Sprint("old ", i)))
		}
		return out
	}
	cases := []struct {
		name   string
		state  v1alpha1.IncidentState
		drill  bool
		policy *v1alpha1.ResponsePolicy
		outbox []v1alpha1.OutboxItem
		facts  []fact
		want   []box
	}{
		{name: "no policy: nothing to send", state: v1alpha1.StateConfirmed, facts: []fact{state, handoff}},
		{name: "comms channel: state changes, hand-offs, sitreps and overdue sitreps are announced; other reminders are not",
			state: v1alpha1.StateConfirmed, policy: commsOnly,
			facts: []fact{state, handoff, factOf(v1alpha1.EventSitrepPosted, "Sitrep 1"), factOf(v1alpha1.EventSitrepOverdue, "late"),
				factOf(v1alpha1.EventCustomersNotInformed, "tell them"), factOf(v1alpha1.EventHandoffSuggested, "a break?")},
			want: []box{{A, pending, "Incident Confirmed", 0}, {A, pending, "IC -> greg", 0}, {A, pending, "Sitrep 1", 0}, {A, pending, "late", 0}}},
		{name: "paging: a state change pages, a hand-off does not", state: v1alpha1.StateConfirmed, policy: pagesAll,
			facts: []fact{state, handoff},
			want:  []box{{A, pending, "Incident Confirmed", 0}, {P, pending, "Incident Confirmed", 0}, {A, pending, "IC -> greg", 0}}},
		{name: "a drill never pages", state: v1alpha1.StateMajor, drill: true, policy: pagesAll, facts: []fact{state},
			want: []box{{A, pending, "Incident Confirmed", 0}}},
		{name: "a state the policy does not page in does not page", state: v1alpha1.StateConfirmed, policy: pagesMajor, facts: []fact{state}},
		{name: "a resolution replaces the pending page with a resolve, and keeps one being sent",
			state: v1alpha1.StateResolved, policy: pagesMajor, facts: []fact{factOf(v1alpha1.EventStateChanged, "Incident Resolved")},
			outbox: []v1alpha1.OutboxItem{item(P, sending, "Major"), item(P, pending, "Major again")},
			want:   []box{{P, sending, "Major", 0}, {R, pending, "Incident Resolved", 0}}},
		{name: "full: the oldest pending announcements give way, pages never",
			state: v1alpha1.StateMajor, policy: pagesAll, outbox: full(), facts: []fact{factOf(v1alpha1.EventStateChanged, "Incident escalated to Major")},
			want: func() []box {
				out := []box{{P, sending, "page", 0}}
				for i := 2; i < 19; i++ {
					out = append(out, box{A, pending, fmt.Sprint("old ", i), 0})
				}
				return append(out, box{A, pending, "Incident escalated to Major", 0}, box{P, pending, "Incident escalated to Major", 0})
			}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(tc.state)
			inc.Spec.Drill, inc.Status.Outbox = tc.drill, tc.outbox
			enqueue(inc, tc.facts, tc.policy)
			if got := boxes(inc); !slices.Equal(got, tc.want) {
				t.Fatalf("outbox\n got %+v\nwant %+v", got, tc.want)
			}
			if n := len(inc.Status.Outbox); n > 20 {
				t.Fatalf("outbox holds %d items, more than its bound", n)
			}
		})
	}
}

func TestRecoverOutbox(t *testing.T) {
	const A, P, R = v1alpha1.OutboxAnnounce, v1alpha1.OutboxPage, v1alpha1.OutboxResolvePage
	const pending, sending = v1alpha1.OutboxPending, v1alpha1.OutboxSending
	cases := []struct {
		name          string
		outbox        []v1alpha1.OutboxItem
		delivered     []string
		want          []box
		wantUnknown   []string
		wantSettled   []string
		wantNilOutbox bool
	}{
		{name: "pending items stay as they are", outbox: []v1alpha1.OutboxItem{item(A, pending, "a"), item(P, pending, "p")},
			want: []box{{A, pending, "a", 0}, {P, pending, "p", 0}}},
		{name: "items this process delivered leave, with this write", outbox: []v1alpha1.OutboxItem{item(A, sending, "a"), item(P, sending, "p")},
			delivered: []string{"Announce/a", "Page/p"}, wantSettled: []string{"Announce/a", "Page/p"}, wantNilOutbox: true},
		{name: "an announcement left mid-call by a stopped process is dropped, never posted twice",
			outbox: []v1alpha1.OutboxItem{item(A, sending, "a"), item(A, pending, "b")}, wantUnknown: []string{"a"},
			want: []box{{A, pending, "b", 0}}},
		{name: "a page or resolve left mid-call is sent again: PagerDuty deduplicates it",
			outbox: []v1alpha1.OutboxItem{item(P, sending, "p"), item(R, sending, "r")},
			want:   []box{{P, pending, "p", 0}, {R, pending, "r", 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateMajor)
			inc.Status.Outbox = tc.outbox
			unknown, settled := recoverOutbox(inc, func(id string) bool { return slices.Contains(tc.delivered, id) })
			if got := boxes(inc); !slices.Equal(got, tc.want) {
				t.Fatalf("outbox\n got %+v\nwant %+v", got, tc.want)
			}
			var msgs []string
			for _, it := range unknown {
				msgs = append(msgs, it.Message)
			}
			if !slices.Equal(msgs, tc.wantUnknown) || !slices.Equal(settled, tc.wantSettled) {
				t.Fatalf("unknown %q settled %q, want %q and %q", msgs, settled, tc.wantUnknown, tc.wantSettled)
			}
			if tc.wantNilOutbox && inc.Status.Outbox != nil {
				t.Fatalf("an empty outbox is stored as %+v, not left out", inc.Status.Outbox)
			}
		})
	}
}

func TestClaimDue(t *testing.T) {
	const A, P = v1alpha1.OutboxAnnounce, v1alpha1.OutboxPage
	const pending, sending = v1alpha1.OutboxPending, v1alpha1.OutboxSending
	later := func(it v1alpha1.OutboxItem, d time.Duration) v1alpha1.OutboxItem {
		it.NotBefore, it.Attempts = mt(d), 1
		return it
	}
	many := func(n int) []v1alpha1.OutboxItem {
		var out []v1alpha1.OutboxItem
		for i := range n {
			out = append(out, item(A, pending, fmt.Sprint(i)))
		}
		return out
	}
	cases := []struct {
		name     string
		outbox   []v1alpha1.OutboxItem
		want     []box
		claimed  []int
		wantWait time.Duration
	}{
		{name: "due items are claimed, oldest first, with one more attempt",
			outbox:  []v1alpha1.OutboxItem{item(A, pending, "a"), item(P, pending, "p")},
			want:    []box{{A, sending, "a", 1}, {P, sending, "p", 1}},
			claimed: []int{0, 1}},
		{name: "an item waiting out its backoff holds the later ones of its channel, not the other channel",
			outbox:  []v1alpha1.OutboxItem{later(item(A, pending, "a"), 30*time.Second), item(A, pending, "b"), item(P, pending, "p")},
			want:    []box{{A, pending, "a", 1}, {A, pending, "b", 0}, {P, sending, "p", 1}},
			claimed: []int{2}, wantWait: 30 * time.Second},
		{name: "an item whose time has come is claimed again", outbox: []v1alpha1.OutboxItem{later(item(A, pending, "a"), -time.Second)},
			want: []box{{A, sending, "a", 2}}, claimed: []int{0}},
		{name: "items being sent are not claimed twice", outbox: []v1alpha1.OutboxItem{item(A, sending, "a"), item(A, pending, "b")},
			want: []box{{A, sending, "a", 0}, {A, sending, "b", 1}}, claimed: []int{1}},
		{name: "at most outbox.MaxPerReconcile, and the rest right after", outbox: many(outbox.MaxPerReconcile + 2),
			want: func() []box {
				var out []box
				for i := range outbox.MaxPerReconcile + 2 {
					b := box{A, sending, fmt.Sprint(i), 1}
					if i >= outbox.MaxPerReconcile {
						b.State, b.Attempts = pending, 0
					}
					out = append(out, b)
				}
				return out
			}(),
			claimed: []int{0, 1, 2, 3, 4}, wantWait: time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateMajor)
			inc.Status.Outbox = tc.outbox
			claimed, wait := claimDue(inc, t0)
			if got := boxes(inc); !slices.Equal(got, tc.want) {
				t.Fatalf("outbox\n got %+v\nwant %+v", got, tc.want)
			}
			if !slices.Equal(claimed, tc.claimed) || wait != tc.wantWait {
				t.Fatalf("claimed %v, wait %s; want %v, %s", claimed, wait, tc.claimed, tc.wantWait)
			}
		})
	}
}

// scripted is a comms channel and pager whose calls fail as told, in order; nil succeeds.
type scripted struct {
	answers []error
	sent    []string
}

func (s *scripted) Channel(context.Context, string, *v1alpha1.CommsChannel) (notify.Channel, error) {
	return s, nil
}
func (s *scripted) Pager(context.Context, string, *v1alpha1.Paging) (paging.Pager, error) {
	return s, nil
}
func (s *scripted) answer(what string) error {
	s.sent = append(s.sent, what)
	if len(s.answers) == 0 {
		return nil
	}
	err := s.answers[0]
	s.answers = s.answers[1:]
	return err
}
func (s *scripted) Announce(_ context.Context, a notify.Announcement) error {
	return s.answer(a.ID)
}
func (s *scripted) Trigger(context.Context, paging.Page) error { return s.answer("trigger") }
func (s *scripted) Resolve(context.Context, string) error      { return s.answer("resolve") }

func TestDeliverRetries(t *testing.T) {
	const A, P = v1alpha1.OutboxAnnounce, v1alpha1.OutboxPage
	const pending, sending = v1alpha1.OutboxPending, v1alpha1.OutboxSending
	throttled := &delivery.RetryableError{Err: errors.New("HTTP 429"), After: 7 * time.Second}
	unavailable := &delivery.RetryableError{Err: errors.New("HTTP 503")}
	refused := &delivery.StatusError{StatusCode: 404, Text: "no_service"}
	cases := []struct {
		name      string
		outbox    []v1alpha1.OutboxItem
		attempts  int32
		answers   []error
		want      []box
		wantSent  []string
		wantStore bool
		// failures are the NotificationFailed facts, as "(retrying)" or "(given up)".
		failures  []string
		notBefore time.Duration
	}{
		{name: "delivered: nothing to store now, the next write removes it",
			outbox: []v1alpha1.OutboxItem{item(A, pending, "a")}, wantSent: []string{"Announce/a"},
			want: []box{{A, sending, "a", 1}}},
		{name: "throttled: back to Pending until Retry-After, later items of the channel wait behind it, the page goes first",
			outbox:  []v1alpha1.OutboxItem{item(A, pending, "a"), item(A, pending, "b"), item(P, pending, "p")},
			answers: []error{nil, throttled}, wantSent: []string{"trigger", "Announce/a"}, wantStore: true,
			want:     []box{{A, pending, "a", 1}, {A, pending, "b", 0}},
			failures: []string{"(retrying)"}, notBefore: 7 * time.Second},
		{name: "unavailable on a later attempt: retried with backoff, without another Event",
			outbox: []v1alpha1.OutboxItem{item(A, pending, "a")}, attempts: 3,
			answers: []error{unavailable}, wantSent: []string{"Announce/a"}, wantStore: true,
			want: []box{{A, pending, "a", 4}}},
		{name: "an error nobody classified is retried, not dropped",
			outbox: []v1alpha1.OutboxItem{item(A, pending, "a")}, answers: []error{errors.New("something odd")},
			wantSent: []string{"Announce/a"}, wantStore: true, want: []box{{A, pending, "a", 1}}, failures: []string{"(retrying)"}},
		{name: "the policy no longer names the channel: removed, with a Warning",
			outbox: []v1alpha1.OutboxItem{item(A, pending, "a")}, answers: []error{delivery.Terminal("PolicyChanged", errors.New("no comms channel"))},
			wantSent: []string{"Announce/a"}, wantStore: true, failures: []string{"(given up)"}},
		{name: "refused for good: removed, with a Warning",
			outbox: []v1alpha1.OutboxItem{item(A, pending, "a")}, answers: []error{refused},
			wantSent: []string{"Announce/a"}, wantStore: true, failures: []string{"(given up)"}},
		{name: "the last attempt fails: given up, with a Warning",
			outbox: []v1alpha1.OutboxItem{item(A, pending, "a")}, attempts: outbox.MaxAttempts - 1, answers: []error{unavailable},
			wantSent: []string{"Announce/a"}, wantStore: true, failures: []string{"(given up)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateMajor)
			inc.UID = "u1"
			for _, it := range tc.outbox {
				it.Attempts = tc.attempts
				inc.Status.Outbox = append(inc.Status.Outbox, it)
			}
			out := &scripted{answers: tc.answers}
			r := &Reconciler{Notifiers: out, Clock: clocktesting.NewFakePassiveClock(t0)}
			claimed, _ := claimDue(inc, t0)
			facts, store, _ := r.deliver(context.Background(), inc, pagesAll, claimed)
			if got := boxes(inc); !slices.Equal(got, tc.want) || store != tc.wantStore {
				t.Fatalf("outbox %+v (store %v)\nwant   %+v (store %v)", got, store, tc.want, tc.wantStore)
			}
			if !slices.Equal(out.sent, tc.wantSent) {
				t.Fatalf("sent %q, want %q", out.sent, tc.wantSent)
			}
			var got []string
			for _, f := range facts {
				if f.eventReason != v1alpha1.EventNotificationFailed || f.eventType != "Warning" {
					t.Fatalf("failure fact %+v", f)
				}
				if strings.HasSuffix(f.entry.Message, "(retrying)") {
					got = append(got, "(retrying)")
				} else {
					got = append(got, "(given up)")
				}
			}
			if !slices.Equal(got, tc.failures) {
				t.Fatalf("failure facts %q, want %q", got, tc.failures)
			}
			if tc.notBefore > 0 {
				nb := inc.Status.Outbox[0].NotBefore
				if nb == nil || !nb.Time.Equal(t0.Add(tc.notBefore)) {
					t.Fatalf("notBefore %v, want %s", nb, t0.Add(tc.notBefore))
				}
				if b := inc.Status.Outbox[1]; b.NotBefore == nil || !b.NotBefore.Equal(nb) {
					t.Fatalf("the later item of the channel does not wait behind the first: %+v", b)
				}
			}
		})
	}
}
