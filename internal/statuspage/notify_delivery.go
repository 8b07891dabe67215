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

package statuspage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// senders is how many messages go out at once.
	senders = 4
	// maxAttempts is how often a delivery is tried before it is given up: with the backoff
	// below, over about seven hours.
	maxAttempts = 15
	// sendTimeout bounds one message: the SMTP conversation or the webhook's request.
	sendTimeout = 30 * time.Second
)

// retryBase is the first wait before a retry.
const retryBase = 10 * time.Second

// Where other processes send from the same store (PostgreSQL), an attempt is claimed for
// claimLease, past the longest a message may take, so that no other replica starts it
// again unless this one died; and each replica looks in the store every pollInterval for
// due deliveries it does not hold.
const (
	claimLease   = sendTimeout + 10*time.Second
	pollInterval = 5 * time.Second
)

// sharedDeliveries is a SubscriberStore that several processes send from.
type sharedDeliveries interface {
	// DueDeliveries returns up to n deliveries due at now, the longest waiting first.
	DueDeliveries(now time.Time, n int) ([]*deliveryRecord, error)
}

// backoff is the wait before attempt n+1: base doubling to an hour, with a tenth of jitter so
// that a relay's recovery is not met by every retry at once.
func backoff(base time.Duration, n int) time.Duration {
	d := base << min(n-1, 9)
	d = min(d, time.Hour)
	return d + rand.N(d/10+1)
}

// dispatcher sends the queued deliveries. It holds them in memory (their durable copies are
// in the store) and starts each when it is due, at most senders at once. Each attempt is
// written to the store before the message leaves, and a delivery is removed from the store
// only once the relay or the webhook accepted it.
type dispatcher struct {
	store SubscriberStore
	subs  *subscriptions
	mail  mailer
	from  string
	hooks *http.Client
	log   *slog.Logger
	now   func() time.Time
	// retryBase is the first backoff (tests shorten it).
	retryBase time.Duration
	// lease is how long an attempt is claimed for, and pollEvery how often the store is
	// looked in for due deliveries; both zero for a store that this process alone sends
	// from (tests shorten them).
	lease, pollEvery time.Duration
	polled           time.Time

	mu       sync.Mutex
	queue    map[string]*deliveryRecord
	inFlight map[string]bool
	// events waits for fan-out, which the page's writes must not wait for.
	events []*eventRecord
	kick   chan struct{}
}

func newDispatcher(store SubscriberStore, m mailer, from string, hooks *http.Client, log *slog.Logger, now func() time.Time) *dispatcher {
	d := &dispatcher{store: store, mail: m, from: from, hooks: hooks, log: log, now: now, retryBase: retryBase,
		queue: map[string]*deliveryRecord{}, inFlight: map[string]bool{}, kick: make(chan struct{}, 1)}
	if _, ok := store.(sharedDeliveries); ok {
		d.lease, d.pollEvery = claimLease, pollInterval
	}
	return d
}

// load reads the queued deliveries, those a stop left unsent among them.
func (d *dispatcher) load() error {
	ds, err := d.store.Deliveries()
	if err != nil {
		return err
	}
	d.mu.Lock()
	for _, r := range ds {
		d.queue[r.Key] = r
	}
	d.mu.Unlock()
	d.wake()
	return nil
}

func (d *dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// enqueue takes published events for fan-out. It is called under the page's lock, so it
// only queues them.
func (d *dispatcher) enqueue(evs []*eventRecord) {
	if len(evs) == 0 {
		return
	}
	d.mu.Lock()
	d.events = append(d.events, evs...)
	d.mu.Unlock()
	d.wake()
}

// add queues a delivery already in the store.
func (d *dispatcher) add(r *deliveryRecord) {
	d.mu.Lock()
	d.queue[r.Key] = r
	d.mu.Unlock()
	d.wake()
}

// drop forgets the deliveries to a subscriber who left; the store has removed them.
func (d *dispatcher) drop(subscriberID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, r := range d.queue {
		if r.SubscriberID == subscriberID {
			delete(d.queue, k)
		}
	}
}

// run sends until ctx is done, then waits for the messages in flight: a stop never cuts a
// message off between the relay's acceptance and the record of it.
func (d *dispatcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		d.fanOut()
		d.poll()
		due, next := d.due()
		for _, r := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.deliver(context.WithoutCancel(ctx), r)
				d.mu.Lock()
				delete(d.inFlight, r.Key)
				d.mu.Unlock()
				d.wake()
			}()
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-timer.C:
		}
	}
}

// fanOut turns the published events into deliveries. An event stays queued until it is
// fanned out, so that the store failing only delays it.
func (d *dispatcher) fanOut() {
	d.mu.Lock()
	evs := slices.Clone(d.events)
	d.mu.Unlock()
	for _, ev := range evs {
		queued, err := d.store.FanOut(ev, func(s *subscriberRecord) bool { return wants(s, ev) }, d.now().UTC())
		if err != nil {
			d.log.Error("queueing notifications", "event", ev.Key, "err", err)
			return
		}
		if len(queued) > 0 {
			d.log.Info("notifying subscribers", "event", ev.Key, "subscribers", len(queued))
		}
		d.mu.Lock()
		for _, r := range queued {
			d.queue[r.Key] = r
		}
		// Only fanOut removes events, from the front; enqueue appends.
		d.events = d.events[1:]
		d.mu.Unlock()
	}
}

// poll takes from a shared store the due deliveries that this process does not hold: those
// another replica queued, or left when it stopped.
func (d *dispatcher) poll() {
	shared, ok := d.store.(sharedDeliveries)
	if !ok || d.now().Sub(d.polled) < d.pollEvery {
		return
	}
	d.polled = d.now()
	found, err := shared.DueDeliveries(d.polled, 10*senders)
	if err != nil {
		d.log.Error("looking for due deliveries", "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range found {
		// A copy with fewer attempts is stale: another replica tried it since.
		if q := d.queue[r.Key]; q == nil || !d.inFlight[r.Key] && q.Attempts < r.Attempts {
			d.queue[r.Key] = r
		}
	}
}

// due picks the deliveries to start now, and how long to wait before looking again.
func (d *dispatcher) due() ([]*deliveryRecord, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	next := time.Hour
	if len(d.events) > 0 {
		next = time.Second
	}
	if d.pollEvery > 0 {
		next = min(next, d.pollEvery)
	}
	// A subscriber's messages go out one at a time, oldest first, so that nobody reads "In
	// progress" before "Scheduled", or an update before the confirmation; a retry holds back
	// the messages queued after it.
	busy := map[string]bool{}
	heads := map[string]*deliveryRecord{}
	for _, r := range d.queue {
		if d.inFlight[r.Key] {
			busy[r.SubscriberID] = true
			continue
		}
		if h := heads[r.SubscriberID]; h == nil || queuedBefore(r, h) {
			heads[r.SubscriberID] = r
		}
	}
	var out []*deliveryRecord
	for id, r := range heads {
		if busy[id] {
			continue // its end wakes the dispatcher
		}
		if wait := r.NextAt.Sub(now); wait > 0 {
			next = min(next, wait)
			continue
		}
		if len(d.inFlight) >= senders {
			continue
		}
		d.inFlight[r.Key] = true
		out = append(out, r)
	}
	return out, next
}

// queuedBefore orders a subscriber's deliveries by when they were queued.
func queuedBefore(a, b *deliveryRecord) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Key < b.Key
}

// deliver makes one attempt of a delivery: it records the attempt, sends, and then removes
// the delivery, or records when to try again.
func (d *dispatcher) deliver(ctx context.Context, r *deliveryRecord) {
	sub, err := d.store.Subscriber(r.SubscriberID)
	if err != nil {
		d.retryLater(r, err)
		return
	}
	var ev *eventRecord
	if r.Kind == deliverEvent {
		if ev, err = d.store.Event(r.EventKey); err != nil {
			d.retryLater(r, err)
			return
		}
	}
	if sub == nil || (r.Kind == deliverEvent && ev == nil) {
		d.finish(r) // unsubscribed since
		return
	}
	attempt := *r
	attempt.Attempts++
	now := d.now()
	retryAt := now.Add(backoff(d.retryBase, attempt.Attempts))
	attempt.NextAt = maxTime(retryAt, now.Add(d.lease))
	if claimed, err := d.store.ClaimDelivery(&attempt); err != nil || !claimed {
		if err != nil {
			d.retryLater(r, err)
		} else {
			d.forget(r)
		}
		return
	}
	d.mu.Lock()
	if d.queue[r.Key] != nil {
		d.queue[r.Key] = &attempt
	}
	d.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if r.Kind == deliverEvent && sub.WebhookURL != "" {
		err = d.postWebhook(ctx, sub, ev, r)
	} else {
		err = d.sendMail(ctx, sub, ev, r)
	}
	log := d.log.With("subscriber", sub.ID, "kind", r.Kind, "event", r.EventKey, "attempt", attempt.Attempts)
	switch {
	case err == nil:
		log.Debug("delivered")
		d.finish(r)
	case isPermanent(err) || attempt.Attempts >= maxAttempts:
		log.Warn("giving up a delivery", "err", err)
		d.finish(r)
	default:
		log.Info("delivery failed; retrying", "err", err, "at", retryAt)
		d.mu.Lock()
		attempt.LastError, attempt.NextAt = err.Error(), retryAt
		d.mu.Unlock()
		if _, err := d.store.SaveDelivery(&attempt); err != nil {
			log.Error("recording a failed delivery", "err", err)
		}
	}
}

// retryLater leaves a delivery queued after the store failed before it was sent.
func (d *dispatcher) retryLater(r *deliveryRecord, err error) {
	d.log.Error("reading a delivery", "delivery", r.Key, "err", err)
	d.mu.Lock()
	defer d.mu.Unlock()
	if q := d.queue[r.Key]; q != nil {
		next := *q
		next.NextAt = d.now().Add(backoff(d.retryBase, 1))
		d.queue[r.Key] = &next
	}
}

func (d *dispatcher) finish(r *deliveryRecord) {
	if err := d.store.FinishDelivery(r); err != nil {
		// It stays queued: sending it again is the lesser harm than losing it.
		d.log.Error("recording a delivery", "delivery", r.Key, "err", err)
		return
	}
	d.forget(r)
}

func (d *dispatcher) forget(r *deliveryRecord) {
	d.mu.Lock()
	delete(d.queue, r.Key)
	d.mu.Unlock()
}

// pending counts the events and deliveries still queued (for tests).
func (d *dispatcher) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue) + len(d.events)
}

// permanentError is a refusal that retrying cannot change.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || permanentMailError(err)
}

// messageID is a delivery's Message-ID: the same for every attempt.
func (d *dispatcher) messageID(r *deliveryRecord) string {
	sum := sha256.Sum256([]byte(r.Key))
	host := d.subs.page.info.URL
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	host, _, _ = strings.Cut(host, ":")
	return hex.EncodeToString(sum[:16]) + "@" + host
}

func (d *dispatcher) sendMail(ctx context.Context, sub *subscriberRecord, ev *eventRecord, r *deliveryRecord) error {
	c := d.subs.mailContent(sub, ev, r.Kind)
	c.MessageID = d.messageID(r)
	m, err := buildMail(d.from, c, d.now())
	if err != nil {
		return permanentError{err}
	}
	if err := d.mail.send(ctx, m); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return nil
}
