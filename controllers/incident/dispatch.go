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
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/ratelimit"
)

// Deliveries run off the reconcile workers. A reconcile that claimed outbox items (stored
// Sending by its status write) hands their delivery to a goroutine and returns, so that no
// worker sleeps on a vendor's rate limit or a channel that hangs, and the reminders of other
// incidents are not queued behind them. While an incident's delivery runs, its own reconciles
// return at once, and the delivery brings the incident back when it ends: so, as when the
// reconcile delivered itself, nothing of the controller's is written between the status
// write that claimed the items and the one that stores their outcome, which can therefore
// go without an optimistic lock; and the outbox rules (internal/outbox) are unchanged.

// The deliveries of one namespace take turns, as many at once as the namespace may have
// outbound calls in flight (internal/ratelimit): more would only be refused by its slots and
// stored as failures to retry, a status write each. For the same reason a delivery waits for
// its credential's turn up to deliveryMaxWait, not only the limiter's MaxWait, and gives its
// place to the namespace's next delivery while it waits beyond MaxWait: a page is not held
// up by other incidents' announcements waiting for their chat's rate limit (and within one
// delivery pages go first, outbox.Deliver).

// maxDeliveries bounds the deliveries in flight at once, those waiting for their
// namespace's turn included. A reconcile that finds them all taken delivers itself, as
// every reconcile did before, outside its namespace's turns, so that its calls are often
// refused by the namespace's slots and retried, two status writes each. An incident has at
// most one delivery in flight, and one waiting for its turn holds little (its goroutine and
// the incident): at a channel's rate limit every incident of the namespace may be waiting,
// which with 50 namespaces of ten drills each (Slack's limit, test/bench/scale) took more
// than the 256 this once was.
const maxDeliveries = 1024

// deliveryMaxWait bounds the wait of one call of a delivery for its credential's turn. A
// channel whose backlog is longer than that is oversubscribed rather than busy: its calls are
// refused and retried with backoff, a status write each. It is short because the incident's
// next reconcile, which may have a page to send (an escalation), waits for the delivery.
const deliveryMaxWait = 15 * time.Second

// deliveryTimeout bounds one delivery of claimed items, as the manager's reconcile timeout
// bounded them when the reconcile made them; the vendor calls end ratelimit.DefaultReserve
// before it, so the outcome is always stored.
const deliveryTimeout = 2 * time.Minute

var errStopping = errors.New("the manager is stopping")

// dispatcher runs the deliveries of claimed outbox items, at most one per incident.
type dispatcher struct {
	slots chan struct{}
	// perNamespace is how many deliveries of one namespace run at once.
	perNamespace int
	// wake brings an incident back to its controller.
	wake chan event.GenericEvent

	// inFlight counts the deliveries running, for Start to wait for; stopped is closed once
	// the manager stops, when nobody reads wake any more.
	inFlight sync.WaitGroup
	stopped  chan struct{}

	mu sync.Mutex
	// running holds the incidents with a delivery in flight, and whether a reconcile came
	// for one meanwhile and returned without doing anything.
	running map[types.NamespacedName]bool
	// turns holds the namespaces with deliveries, running or waiting.
	turns map[string]*turns
}

// turns are a namespace's places for running deliveries; users counts those that hold or
// wait for one, so that an idle namespace is forgotten.
type turns struct {
	places chan struct{}
	users  int
}

func newDispatcher(perNamespace int) *dispatcher {
	return &dispatcher{
		slots:        make(chan struct{}, maxDeliveries),
		perNamespace: max(perNamespace, 1),
		turns:        map[string]*turns{},
		// Wakes are sent from deliveries, never from a worker, so a full buffer only slows
		// the deliveries down until the controller reads.
		wake:    make(chan event.GenericEvent, maxDeliveries),
		stopped: make(chan struct{}),
		running: map[types.NamespacedName]bool{},
	}
}

// Start implements manager.Runnable: when the manager stops, it waits for the deliveries in
// flight (up to the manager's graceful shutdown timeout), so that what they delivered is
// stored as delivered rather than found Sending, of unknown outcome, by the next leader.
func (d *dispatcher) Start(ctx context.Context) error {
	<-ctx.Done()
	d.mu.Lock()
	close(d.stopped)
	d.mu.Unlock()
	d.inFlight.Wait()
	return nil
}

// busy reports whether key has a delivery in flight; if so it notes that a reconcile came,
// so that the delivery brings the incident back once it ends.
func (d *dispatcher) busy(key types.NamespacedName) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.running[key]; ok {
		d.running[key] = true
		return true
	}
	return false
}

// start runs deliver for key off the caller's worker, and reports false, doing nothing, when
// every slot is taken or the manager is stopping. deliver reports whether it stored the
// outcome in status (a failure); then, or when it fails, or when a reconcile came meanwhile,
// the incident is reconciled again once it ends: to compute the next attempt's timer, retry,
// or do what that reconcile could not.
func (d *dispatcher) start(ctx context.Context, key types.NamespacedName, deliver func(context.Context) (stored bool, err error)) bool {
	select {
	case d.slots <- struct{}{}:
	default:
		return false
	}
	d.mu.Lock()
	select {
	case <-d.stopped:
		d.mu.Unlock()
		<-d.slots
		return false
	default:
	}
	d.running[key] = false
	t := d.turns[key.Namespace]
	if t == nil {
		t = &turns{places: make(chan struct{}, d.perNamespace)}
		d.turns[key.Namespace] = t
	}
	t.users++
	d.inFlight.Add(1)
	d.mu.Unlock()
	// The reconcile's context ends when it returns; the delivery keeps its values (the
	// logger) and has a deadline of its own.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout)
	go func() {
		defer d.inFlight.Done()
		defer cancel()
		// Waiting goroutines take their turns in order. One still waiting when only the time
		// to store the outcome is left makes no call: its items are refused as not sent,
		// stored, and retried.
		turn, cancelTurn := context.WithTimeout(dctx, deliveryTimeout-ratelimit.DefaultReserve)
		holding := false
		select {
		case t.places <- struct{}{}:
			holding = true
		case <-turn.Done():
		case <-d.stopped:
			// The manager is stopping before this delivery's turn: it makes no call, and
			// stores its items as not sent (its calls find only the time to store left), so
			// that the next leader sends them instead of taking them for sent.
			var cancelStop context.CancelFunc
			dctx, cancelStop = context.WithDeadline(dctx, time.Now().Add(ratelimit.DefaultReserve))
			defer cancelStop()
		}
		cancelTurn()
		// The calls run on this goroutine, so Away and its back run here too.
		stored, err := deliver(ratelimit.WithPatience(dctx, ratelimit.Patience{MaxWait: deliveryMaxWait, Stop: d.stopped,
			Away: func() func(context.Context) error {
				if holding {
					<-t.places
					holding = false
				}
				return func(ctx context.Context) error {
					select {
					case t.places <- struct{}{}:
						holding = true
						return nil
					case <-ctx.Done():
						return context.Cause(ctx)
					case <-d.stopped:
						return errStopping
					}
				}
			}}))
		if holding {
			<-t.places
		}
		if err != nil {
			log.FromContext(dctx).Error(err, "could not store the outcome of a delivery; reconciling the incident again")
		}
		d.mu.Lock()
		again := d.running[key]
		delete(d.running, key)
		if t.users--; t.users == 0 {
			delete(d.turns, key.Namespace)
		}
		d.mu.Unlock()
		<-d.slots
		if again || stored || err != nil {
			select {
			case d.wake <- event.GenericEvent{Object: &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
			case <-d.stopped:
			}
		}
	}()
	return true
}
