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
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"firescope.dev/firescope/internal/ratelimit"
)

var (
	paged = types.NamespacedName{Namespace: "payments", Name: "ec2-api-errors"}
	other = types.NamespacedName{Namespace: "search", Name: "index-lag"}
)

// held starts a delivery for key that runs until release is closed, reporting stored and err.
func held(t *testing.T, d *dispatcher, key types.NamespacedName, stored bool, err error) (release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	if !d.start(context.Background(), key, func(context.Context) (bool, error) { <-release; return stored, err }) {
		t.Fatalf("the delivery of %s did not start", key)
	}
	return release
}

// woken returns the incidents the dispatcher brought back, once every delivery has ended.
func woken(d *dispatcher) []types.NamespacedName {
	d.inFlight.Wait()
	var keys []types.NamespacedName
	for len(d.wake) > 0 {
		ev := <-d.wake
		keys = append(keys, types.NamespacedName{Namespace: ev.Object.GetNamespace(), Name: ev.Object.GetName()})
	}
	return keys
}

func TestAReconcileDuringTheIncidentsDeliveryWaitsAndIsBroughtBackWhenItEnds(t *testing.T) {
	d := newDispatcher(2)
	release := held(t, d, paged, false, nil)
	if !d.busy(paged) {
		t.Fatal("a reconcile ran while the incident's delivery was in flight")
	}
	if d.busy(other) {
		t.Fatal("another incident waited for this one's delivery")
	}
	close(release)
	if got := woken(d); len(got) != 1 || got[0] != paged {
		t.Fatalf("brought back %v, want %v", got, paged)
	}
	if d.busy(paged) {
		t.Fatal("the incident is still busy after its delivery ended")
	}
}

func TestADeliveryBringsItsIncidentBackOnlyWhenThereIsSomethingToDo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored bool
		err    error
		want   int
	}{
		{name: "delivered, nothing came meanwhile: the reconcile's own timer stands", want: 0},
		{name: "a failure was stored: the next attempt's timer is computed", stored: true, want: 1},
		{name: "the outcome could not be stored: tried again", stored: true, err: errors.New("conflict"), want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDispatcher(2)
			close(held(t, d, paged, tc.stored, tc.err))
			if got := woken(d); len(got) != tc.want {
				t.Fatalf("brought back %v, want %d", got, tc.want)
			}
		})
	}
}

func TestWithEverySlotTakenTheReconcileDeliversItself(t *testing.T) {
	d := newDispatcher(2)
	var releases []chan struct{}
	for i := range maxDeliveries {
		releases = append(releases, held(t, d, types.NamespacedName{Namespace: "team", Name: fmt.Sprintf("inc-%d", i)}, false, nil))
	}
	if d.start(context.Background(), other, func(context.Context) (bool, error) { return false, nil }) {
		t.Fatal("a delivery started beyond maxDeliveries")
	}
	for _, r := range releases {
		close(r)
	}
	d.inFlight.Wait()
	if !d.start(context.Background(), other, func(context.Context) (bool, error) { return false, nil }) {
		t.Fatal("no slot came free once the deliveries ended")
	}
	d.inFlight.Wait()
}

func TestAStoppingManagerWaitsForTheDeliveriesInFlightAndStartsNoMore(t *testing.T) {
	d := newDispatcher(2)
	release := held(t, d, paged, true, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- d.Start(ctx) }()
	cancel()
	// Start closes stopped before it waits; start then refuses.
	<-d.stopped
	if d.start(context.Background(), other, func(context.Context) (bool, error) { return false, nil }) {
		t.Fatal("a delivery started while the manager was stopping")
	}
	select {
	case err := <-stopped:
		t.Fatalf("the dispatcher stopped (%v) with a delivery in flight", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// A delivery still waiting for its namespace's turn when the manager stops makes no call: its
// context leaves only the time to store the outcome, so the rate limiter refuses every call as
// not sent and the items are stored for the next leader to send.
func TestADeliveryWaitingForItsTurnWhenTheManagerStopsOnlyStoresItsItemsAsNotSent(t *testing.T) {
	d := newDispatcher(1)
	running, release := make(chan struct{}), make(chan struct{})
	if !d.start(context.Background(), paged, func(context.Context) (bool, error) { close(running); <-release; return false, nil }) {
		t.Fatal("the first delivery did not start")
	}
	<-running // it holds the namespace's one place
	left := make(chan time.Duration, 1)
	if !d.start(context.Background(), types.NamespacedName{Namespace: paged.Namespace, Name: "queued"}, func(ctx context.Context) (bool, error) {
		deadline, _ := ctx.Deadline()
		left <- time.Until(deadline)
		return true, nil
	}) {
		t.Fatal("the second delivery did not start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- d.Start(ctx) }()
	cancel()
	select {
	case l := <-left:
		if l > ratelimit.DefaultReserve {
			t.Errorf("the queued delivery ran with %s left, more than the %s kept for storing the outcome: its calls would be made", l, ratelimit.DefaultReserve)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the queued delivery still waits for its turn while the manager stops")
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestDeliveriesOfOneNamespaceTakeTurnsAndOtherNamespacesDoNotWait(t *testing.T) {
	d := newDispatcher(2)
	var mu sync.Mutex
	inside, most := 0, 0
	entered := make(chan types.NamespacedName, 8)
	release := make(chan struct{})
	deliver := func(key types.NamespacedName) func(context.Context) (bool, error) {
		return func(context.Context) (bool, error) {
			mu.Lock()
			if key.Namespace == "payments" {
				inside++
				most = max(most, inside)
			}
			mu.Unlock()
			entered <- key
			if key.Namespace == "payments" {
				<-release
			}
			mu.Lock()
			if key.Namespace == "payments" {
				inside--
			}
			mu.Unlock()
			return false, nil
		}
	}
	for i := range 3 {
		key := types.NamespacedName{Namespace: "payments", Name: fmt.Sprintf("inc-%d", i)}
		if !d.start(context.Background(), key, deliver(key)) {
			t.Fatal("not started")
		}
	}
	<-entered
	<-entered
	// Two of the namespace's deliveries are held; another namespace's goes out meanwhile.
	if !d.start(context.Background(), other, deliver(other)) {
		t.Fatal("not started")
	}
	for got := <-entered; got != other; got = <-entered {
		t.Fatalf("%v ran while the namespace's two places were held", got)
	}
	close(release)
	d.inFlight.Wait()
	if most != 2 {
		t.Fatalf("%d deliveries of one namespace ran at once, want 2", most)
	}
	if len(d.turns) != 0 {
		t.Fatalf("idle namespaces kept: %v", d.turns)
	}
}

func TestADeliveryWaitingForItsCredentialsTurnGivesItsPlaceToTheNamespacesNext(t *testing.T) {
	d := newDispatcher(1)
	clk := clocktesting.NewFakeClock(time.Now())
	limits := ratelimit.NewRegistry(ratelimit.Options{MaxWait: time.Second, Clock: clk})
	webhook := limits.Gate(paged.Namespace, ratelimit.Limit{Name: "Slack", Every: 10 * time.Second, Burst: 1}, "webhook")
	if _, done, err := webhook.Wait(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		done(nil)
	}
	waited := make(chan error, 1)
	if !d.start(context.Background(), paged, func(ctx context.Context) (bool, error) {
		_, done, err := webhook.Wait(ctx)
		if err == nil {
			done(nil)
		}
		waited <- err
		return err != nil, nil
	}) {
		t.Fatal("not started")
	}
	for i := 0; !clk.HasWaiters(); i++ {
		if i > 5000 {
			t.Fatal("the delivery never waited for its credential's turn")
		}
		time.Sleep(time.Millisecond)
	}
	// The namespace's only place is free while the first delivery waits: the next one runs.
	next := make(chan struct{})
	if !d.start(context.Background(), types.NamespacedName{Namespace: paged.Namespace, Name: "page"}, func(context.Context) (bool, error) {
		close(next)
		return false, nil
	}) {
		t.Fatal("not started")
	}
	select {
	case <-next:
	case <-time.After(10 * time.Second):
		t.Fatal("the namespace's next delivery waited for the place of one waiting for its credential's turn")
	}
	clk.Step(10 * time.Second)
	if err := <-waited; err != nil {
		t.Fatalf("the delivery's call = %v, want it sent at its turn, beyond the limiter's MaxWait", err)
	}
	d.inFlight.Wait()
}
