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

package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"firescope.dev/firescope/internal/delivery"
)

var perSecond = Limit{Name: "Vendor", Every: time.Second, Burst: 1}

func registry(opts Options) (*Registry, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Now())
	opts.Clock = clk
	return NewRegistry(opts), clk
}

// pass waits at g and reports the call done at once.
func pass(t *testing.T, g *Gate) {
	t.Helper()
	_, done, err := g.Wait(context.Background())
	if err != nil {
		t.Fatalf("Wait = %v, want to pass", err)
	}
	done(nil)
}

// wantNotSent checks that err refuses the call before sending it, asking to come back after.
func wantNotSent(t *testing.T, err error, after time.Duration) {
	t.Helper()
	got, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
	if !retry || !errors.Is(err, delivery.ErrNotSent) || got != after {
		t.Fatalf("Wait = %v (retry after %s), want a retryable ErrNotSent after %s", err, got, after)
	}
}

// waitAsync waits at g in a goroutine and returns a channel that receives Wait's error.
func waitAsync(g *Gate) <-chan error {
	out := make(chan error, 1)
	go func() {
		_, done, err := g.Wait(context.Background())
		if err == nil {
			done(nil)
		}
		out <- err
	}()
	return out
}

func untilWaiting(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	for i := 0; !clk.HasWaiters(); i++ {
		if i > 5000 {
			t.Fatal("Wait never started waiting for its turn")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEveryClientOfACredentialSharesItsTurnsAndOtherCredentialsDoNotWait(t *testing.T) {
	r, clk := registry(Options{})
	statusUpdates := r.Gate("team-a", perSecond, "token-a")
	postmortems := r.Gate("team-a", perSecond, "token-a")
	pass(t, statusUpdates)

	second := waitAsync(postmortems)
	untilWaiting(t, clk)
	select {
	case err := <-second:
		t.Fatalf("a second request with the same token went at once (%v)", err)
	default:
	}
	// Another token, in another namespace, is not held up by the first.
	pass(t, r.Gate("team-b", perSecond, "token-b"))
	clk.Step(time.Second)
	if err := <-second; err != nil {
		t.Fatalf("Wait = %v after its turn came", err)
	}
}

func TestATurnBeyondMaxWaitIsNotSentAndGivesItsPlaceBack(t *testing.T) {
	r, clk := registry(Options{MaxWait: 2 * time.Second})
	slow := Limit{Name: "Vendor", Every: 10 * time.Second, Burst: 1}
	g := r.Gate("team-a", slow, "token")
	pass(t, g)
	_, _, err := g.Wait(context.Background())
	wantNotSent(t, err, 10*time.Second)
	if !strings.Contains(err.Error(), "Vendor allows one request per 10s") {
		t.Errorf("error %q should say which limit", err)
	}
	// The refused call took no turn: the next one goes as soon as the first's interval ends.
	clk.Step(10 * time.Second)
	pass(t, g)
}

func TestTheCallersDeadlineBoundsTheWaitAndTheCallEndsReserveBeforeIt(t *testing.T) {
	r, _ := registry(Options{MaxWait: time.Minute, Reserve: 10 * time.Second})
	slow := Limit{Name: "Vendor", Every: 5 * time.Second, Burst: 1}
	g := r.Gate("team-a", slow, "token")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callCtx, done, err := g.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ctx.Deadline()
	if got, ok := callCtx.Deadline(); !ok || !got.Equal(want.Add(-10*time.Second)) {
		t.Errorf("call deadline = %s, want %s: the reserve before the caller's", got, want.Add(-10*time.Second))
	}
	done(nil)

	short, cancelShort := context.WithTimeout(context.Background(), 13*time.Second)
	defer cancelShort()
	// 3 seconds are left for calls, and the next turn is in 5.
	_, _, err = g.Wait(short)
	wantNotSent(t, err, 5*time.Second)

	spent, cancelSpent := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelSpent()
	_, _, err = r.Gate("team-a", slow, "other").Wait(spent)
	wantNotSent(t, err, busyRetry)
}

func TestARetryAfterHoldsEveryCallerOfTheCredential(t *testing.T) {
	r, clk := registry(Options{MaxWait: time.Second})
	g := r.Gate("team-a", perSecond, "token")
	_, done, err := g.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done(&delivery.RetryableError{Err: errors.New("HTTP 429"), After: 30 * time.Second})
	_, _, err = r.Gate("team-b", perSecond, "token").Wait(context.Background())
	wantNotSent(t, err, 30*time.Second)
	if !strings.Contains(err.Error(), "Vendor asked to wait before the next request with this credential (Retry-After)") {
		t.Errorf("error %q should say the vendor asked to wait", err)
	}
	clk.Step(30 * time.Second)
	pass(t, g)

	// An error without a delay holds nothing; a year's Retry-After holds the cap.
	clk.Step(time.Second)
	_, done, err = g.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Second)
	done(&delivery.RetryableError{Err: errors.New("HTTP 503")})
	_, done, err = g.Wait(context.Background())
	if err != nil {
		t.Fatalf("Wait = %v after a 503 without Retry-After", err)
	}
	done(&delivery.RetryableError{Err: errors.New("HTTP 429"), After: 365 * 24 * time.Hour})
	_, _, err = g.Wait(context.Background())
	wantNotSent(t, err, delivery.MaxRetryAfter)
}

func TestANamespaceHasAtMostPerNamespaceCallsInFlight(t *testing.T) {
	r, clk := registry(Options{PerNamespace: 2})
	var dones []func(error)
	for i := range 2 {
		_, done, err := r.Gate("slow-team", perSecond, fmt.Sprint("token-", i)).Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	// A third call waits a moment for a slot, then gives up without sending.
	third := make(chan error, 1)
	go func() {
		_, _, err := r.Gate("slow-team", perSecond, "token-2").Wait(context.Background())
		third <- err
	}()
	untilWaiting(t, clk)
	// Another team is not held up by the slow one.
	pass(t, r.Gate("other-team", perSecond, "token-3"))
	clk.Step(slotWait)
	err := <-third
	wantNotSent(t, err, busyRetry)
	if !strings.Contains(err.Error(), "namespace slow-team already has 2 outbound calls in flight") {
		t.Errorf("error %q should name the namespace", err)
	}
	// A call that waits for a slot gets the one freed meanwhile.
	fourth := make(chan error, 1)
	go func() {
		_, done, err := r.Gate("slow-team", perSecond, "token-4").Wait(context.Background())
		if err == nil {
			done(nil)
		}
		fourth <- err
	}()
	untilWaiting(t, clk)
	dones[0](nil)
	if err := <-fourth; err != nil {
		t.Fatalf("Wait = %v after a slot was freed", err)
	}
}

func TestACancelledWaitIsNotSentAndGivesItsPlaceBack(t *testing.T) {
	r, clk := registry(Options{})
	g := r.Gate("team-a", perSecond, "token")
	pass(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan error, 1)
	go func() {
		_, _, err := g.Wait(ctx)
		out <- err
	}()
	untilWaiting(t, clk)
	cancel()
	err := <-out
	if delivery.Assess(err).Terminal || !errors.Is(err, delivery.ErrNotSent) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want a retryable ErrNotSent caused by the cancellation", err)
	}
	// Neither its turn nor its namespace slot is kept.
	clk.Step(time.Second)
	for range DefaultPerNamespace {
		_, _, err := g.Wait(context.Background())
		if err != nil {
			t.Fatalf("Wait = %v: the cancelled wait kept its slot", err)
		}
		clk.Step(time.Second)
	}
}

func TestBucketsAreKeyedByAKeyedHashNeverByTheCredential(t *testing.T) {
	r, clk := registry(Options{})
	const secret = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
	r.Gate("team-a", Slack, secret)
	for id := range r.buckets {
		if strings.Contains(id, secret) || strings.Contains(id, "XXXXXXXX") {
			t.Fatalf("bucket key %q holds the credential", id)
		}
	}
	// Another registry (another start of the manager) keys the same credential differently,
	// so a key that reached a log tells nothing about the credential.
	other := NewRegistry(Options{Clock: clk})
	other.Gate("team-a", Slack, secret)
	for id := range r.buckets {
		if _, same := other.buckets[id]; same {
			t.Fatal("two registries key a credential alike")
		}
	}
	// Credentials unused for a while are forgotten when a new one arrives.
	clk.Step(idleAfter + time.Second)
	r.Gate("team-a", Slack, "another")
	if len(r.buckets) != 1 {
		t.Errorf("%d buckets, want the idle one forgotten", len(r.buckets))
	}
}

func TestANilRegistryLetsEveryCallThrough(t *testing.T) {
	var r *Registry
	g := r.Gate("team-a", Statuspage, "token")
	for range 3 {
		pass(t, g)
	}
}

func TestOnlyAsManyCallsAsANamespaceHasSlotsWaitForOne(t *testing.T) {
	r, clk := registry(Options{PerNamespace: 2})
	for i := range 2 {
		if _, _, err := r.Gate("saturated-team", perSecond, fmt.Sprint("token-", i)).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Two more calls wait a moment for a slot ...
	waiting := []<-chan error{waitAsync(r.Gate("saturated-team", perSecond, "token-2")), waitAsync(r.Gate("saturated-team", perSecond, "token-3"))}
	for i := 0; clk.Waiters() < 2; i++ {
		if i > 5000 {
			t.Fatal("the two calls never started waiting")
		}
		time.Sleep(time.Millisecond)
	}
	// ... and a fifth is refused at once, without holding its worker for the second: on the
	// fake clock, one that waited would wait for ever.
	var err error
	select {
	case err = <-waitAsync(r.Gate("saturated-team", perSecond, "token-4")):
	case <-time.After(10 * time.Second):
		t.Fatal("a fifth call waits for a slot although two calls already do")
	}
	wantNotSent(t, err, busyRetry)
	if !strings.Contains(err.Error(), "namespace saturated-team already has 2 outbound calls in flight and 2 waiting for them") {
		t.Errorf("error %q should say the namespace's calls are all in flight or waiting", err)
	}
	// Another team is not held up by the saturated one.
	pass(t, r.Gate("other-team", perSecond, "token-5"))
	clk.Step(slotWait)
	for _, w := range waiting {
		wantNotSent(t, <-w, busyRetry)
	}
	// The waiting places are free again.
	third := waitAsync(r.Gate("saturated-team", perSecond, "token-6"))
	untilWaiting(t, clk)
	clk.Step(slotWait)
	wantNotSent(t, <-third, busyRetry)
}

func TestAPatientCallWaitsBeyondMaxWaitWithoutItsNamespacesSlot(t *testing.T) {
	r, clk := registry(Options{MaxWait: 2 * time.Second, PerNamespace: 1})
	slow := Limit{Name: "Vendor", Every: 10 * time.Second, Burst: 1}
	g := r.Gate("team-a", slow, "token")
	pass(t, g)
	var away, back int
	ctx := WithPatience(context.Background(), Patience{MaxWait: 30 * time.Second, Away: func() func(context.Context) error {
		away++
		return func(context.Context) error { back++; return nil }
	}})
	out := make(chan error, 1)
	go func() {
		_, done, err := g.Wait(ctx)
		if err == nil {
			done(nil)
		}
		out <- err
	}()
	untilWaiting(t, clk)
	// The namespace's only slot is free meanwhile: a call with another credential goes at once.
	pass(t, r.Gate("team-a", slow, "other-token"))
	if away != 1 || back != 0 {
		t.Fatalf("Away called %d times and its back %d times while waiting, want 1 and 0", away, back)
	}
	clk.Step(10*time.Second - slotWait)
	untilWaiting(t, clk)
	if back != 1 {
		t.Fatalf("what Away gave back was taken again %d times before the turn, want 1", back)
	}
	clk.Step(slotWait)
	if err := <-out; err != nil {
		t.Fatalf("Wait = %v, want the call let through at its turn", err)
	}
	// The patience is bounded: a turn beyond it is refused as before.
	_, _, err := g.Wait(WithPatience(context.Background(), Patience{MaxWait: 5 * time.Second}))
	wantNotSent(t, err, 10*time.Second)
}

func TestAPatientWaitEndsWhenTheManagerStopsAndGivesItsTurnBack(t *testing.T) {
	r, clk := registry(Options{MaxWait: 2 * time.Second})
	slow := Limit{Name: "Vendor", Every: 10 * time.Second, Burst: 1}
	g := r.Gate("team-a", slow, "token")
	pass(t, g)
	stop := make(chan struct{})
	out := make(chan error, 1)
	go func() {
		_, _, err := g.Wait(WithPatience(context.Background(), Patience{MaxWait: time.Minute, Stop: stop}))
		out <- err
	}()
	untilWaiting(t, clk)
	close(stop)
	err := <-out
	if delivery.Assess(err).Terminal || !errors.Is(err, delivery.ErrNotSent) {
		t.Fatalf("Wait = %v, want a retryable ErrNotSent", err)
	}
	// Its turn is given back: the next call goes at the first interval's end, not the second's.
	clk.Step(10 * time.Second)
	pass(t, g)
}
