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

// Package ratelimit paces Firescope's outbound calls, so that vendor rate limits are honoured
// by construction rather than discovered through 429s, and so that one namespace cannot hold
// every worker of a controller.
//
// The manager makes one Registry and hands it to everything that builds vendor clients. Each
// client asks it for a Gate (its namespace, the vendor's Limit and the credential) and passes
// the Gate before every request:
//   - one token bucket per credential, shared by every controller that uses the credential,
//     so a lookup by one and a write by another are spaced as the vendor asks. Buckets are
//     keyed by an HMAC of the credential under a key made at start, never by the credential;
//   - at most PerNamespace calls of one namespace in flight at once, and as many waiting for
//     one of them; a call that finds them all taken for a second, or every waiting place
//     taken, is not made, so a slow or saturated vendor holds at most twice PerNamespace
//     workers, and the other namespaces' work goes on;
//   - a wait bounded by MaxWait and by the caller's context deadline, less Reserve, so that
//     the caller always has time left to record the outcome. A call that would wait longer
//     is not made: it fails with a retryable error (delivery.ErrNotSent) carrying the delay.
//     A caller that holds no worker while it waits (WithPatience) may wait longer, holding
//     none of its namespace's slots meanwhile;
//   - a server's Retry-After holds every caller of that credential until it has passed.
package ratelimit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/clock"

	"firescope.dev/firescope/internal/delivery"
)

// Limit is a vendor's rate limit for one credential.
type Limit struct {
	// Name names the vendor in errors, such as "Statuspage".
	Name string
	// Every is the interval between requests once the burst is spent.
	Every time.Duration
	// Burst is how many requests may go back to back.
	Burst int
}

// The vendors' limits, per credential. Each is a little under what the vendor documents, so
// that the jitter between leaving Firescope and arriving at the vendor does not cross it.
var (
	// Statuspage documents "1 request / second as measured on a 60 second rolling window"
	// per API token, answering 420 or 429 beyond.
	Statuspage = Limit{Name: "Statuspage", Every: 1050 * time.Millisecond, Burst: 1}
	// Slack allows "no more than one message per second" per incoming webhook, with bursts
	// over that for short periods, answering 429 with Retry-After beyond.
	Slack = Limit{Name: "Slack", Every: time.Second, Burst: 3}
	// Teams throttled its channel webhooks beyond four requests a second; a Workflows trigger
	// answers 429 with Retry-After when its flow is throttled.
	Teams = Limit{Name: "Teams", Every: 300 * time.Millisecond, Burst: 3}
	// Mattermost's rate limit, when its administrator turns it on, defaults to ten requests a
	// second per client, answering 429 with Retry-After beyond.
	Mattermost = Limit{Name: "Mattermost", Every: 110 * time.Millisecond, Burst: 10}
	// PagerDuty's Events API v2 accepts 120 events a minute per integration (routing) key and
	// answers 429 beyond; it adjusts the limit under load, so the burst stays small.
	PagerDuty = Limit{Name: "PagerDuty", Every: 500 * time.Millisecond, Burst: 4}
	// Webhook is for receivers Firescope knows nothing about: ten a second.
	Webhook = Limit{Name: "webhook", Every: 100 * time.Millisecond, Burst: 10}
	// FirescopePage is the Firescope status page's write API, per write token.
	FirescopePage = Limit{Name: "Firescope status page", Every: 100 * time.Millisecond, Burst: 10}
)

// Defaults for the Options left zero.
const (
	DefaultPerNamespace = 2
	DefaultMaxWait      = 5 * time.Second
	DefaultReserve      = 10 * time.Second
	// slotWait bounds the wait for one of a namespace's slots.
	slotWait = time.Second
	// busyRetry is when a call refused for a busy namespace may try again.
	busyRetry = time.Second
	// idleAfter is how long a credential's bucket is kept unused; by then it is full again
	// and any Retry-After (at most delivery.MaxRetryAfter) has passed.
	idleAfter = 10 * time.Minute
)

// Options tune a Registry.
type Options struct {
	// PerNamespace bounds the outbound calls one namespace has in flight at once, across
	// every controller and vendor. 0 means DefaultPerNamespace.
	PerNamespace int
	// MaxWait bounds how long a call waits for its credential's turn. 0 means DefaultMaxWait.
	MaxWait time.Duration
	// Reserve is the part of the caller's context deadline kept for recording the outcome:
	// the call's own deadline ends that much earlier. 0 means DefaultReserve.
	Reserve time.Duration
	// Clock tells the time and sleeps; nil means the real clock.
	Clock clock.WithTicker
}

// Registry holds the buckets of every credential and the slots of every namespace.
type Registry struct {
	opts Options
	key  []byte

	mu         sync.Mutex
	buckets    map[string]*bucket
	namespaces map[string]*slots
}

// slots are a namespace's places for calls in flight, and for calls waiting for one.
type slots struct {
	inFlight, waiting chan struct{}
}

type bucket struct {
	lim *rate.Limiter
	// heldUntil is when the server's last Retry-After ends.
	heldUntil time.Time
	lastUsed  time.Time
}

// NewRegistry returns an empty Registry.
func NewRegistry(opts Options) *Registry {
	if opts.PerNamespace <= 0 {
		opts.PerNamespace = DefaultPerNamespace
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Reserve <= 0 {
		opts.Reserve = DefaultReserve
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Registry{opts: opts, key: key, buckets: map[string]*bucket{}, namespaces: map[string]*slots{}}
}

// Gate returns what a client of namespace passes before each request made with credential
// (its parts, such as a URL and a signing key) to a vendor with limit l. A nil Registry
// returns a nil Gate, which lets every call through at once.
func (r *Registry) Gate(namespace string, l Limit, credential ...string) *Gate {
	if r == nil {
		return nil
	}
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(l.Name))
	for _, p := range credential {
		mac.Write([]byte{0})
		mac.Write([]byte(p))
	}
	id := hex.EncodeToString(mac.Sum(nil))
	now := r.opts.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.buckets[id]
	if !ok {
		r.sweep(now)
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.Every), max(l.Burst, 1)), lastUsed: now}
		r.buckets[id] = b
	}
	ns, ok := r.namespaces[namespace]
	if !ok {
		ns = &slots{inFlight: make(chan struct{}, r.opts.PerNamespace), waiting: make(chan struct{}, r.opts.PerNamespace)}
		r.namespaces[namespace] = ns
	}
	return &Gate{r: r, b: b, slots: ns, limit: l, namespace: namespace}
}

// sweep forgets the buckets of credentials unused for idleAfter (rotated keys, deleted
// pages). The caller holds r.mu.
func (r *Registry) sweep(now time.Time) {
	for id, b := range r.buckets {
		if now.Sub(b.lastUsed) > idleAfter {
			delete(r.buckets, id)
		}
	}
}

// Patience lets the calls made with a context wait longer for their credential's turn than
// the Registry's MaxWait, for a caller that holds no worker while it waits (a delivery off the
// workers), to which a call refused costs a write to store the refusal and another to try
// again.
type Patience struct {
	// MaxWait bounds the wait for the credential's turn instead of the Registry's MaxWait; the
	// context's deadline less Reserve still bounds it.
	MaxWait time.Duration
	// Stop, once closed (the manager is stopping), ends the waits beyond the Registry's
	// MaxWait: their calls are not made.
	Stop <-chan struct{}
	// Away, when set, is called before a wait beyond the Registry's MaxWait to give back what
	// the caller holds for its calls, and returns the function that takes it again before the
	// turn, which fails when its context ends. When the wait ends without the turn, that
	// function is not called.
	Away func() (back func(context.Context) error)
}

type patienceKey struct{}

// WithPatience returns a context whose calls wait for their credential's turn with p.
func WithPatience(ctx context.Context, p Patience) context.Context {
	return context.WithValue(ctx, patienceKey{}, p)
}

// Gate paces the requests of one client. A nil Gate lets every request through at once.
type Gate struct {
	r         *Registry
	b         *bucket
	slots     *slots
	limit     Limit
	namespace string
}

// Wait returns when the request may be sent: with one of its namespace's slots taken and its
// credential's turn come. ctx is the context to send it with, whose deadline ends Reserve
// before the caller's; done must be called with the request's outcome once it has one: it
// frees the slot, and a retryable error with a server's delay holds the credential for every
// caller until then.
//
// When the namespace has all its calls in flight for a second (or as many calls already
// waiting for them), or the turn would come after MaxWait (the context's Patience.MaxWait when
// longer) or past the caller's deadline less Reserve, Wait sends nothing and returns a
// *delivery.RetryableError wrapping delivery.ErrNotSent, with the delay after which to try
// again. A patient call whose turn comes after MaxWait gives its namespace's slot back while
// it waits, so that the namespace's other calls are not kept waiting, and takes one again
// for its turn.
func (g *Gate) Wait(ctx context.Context) (_ context.Context, done func(error), err error) {
	if g == nil {
		return ctx, func(error) {}, nil
	}
	clk := g.r.opts.Clock
	now := clk.Now()
	latest := now.Add(g.r.opts.MaxWait)
	patience, _ := ctx.Value(patienceKey{}).(Patience)
	longest := now.Add(max(patience.MaxWait, g.r.opts.MaxWait))
	callDeadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		callDeadline = callDeadline.Add(-g.r.opts.Reserve)
		if !callDeadline.After(now) {
			return nil, nil, notSent(busyRetry, "the reconcile's time for outbound calls is spent")
		}
		latest, longest = minTime(latest, callDeadline), minTime(longest, callDeadline)
	}
	if err := g.takeSlot(ctx, minTime(latest, now.Add(slotWait))); err != nil {
		return nil, nil, err
	}
	release := func() { <-g.slots.inFlight }

	now = clk.Now()
	g.r.mu.Lock()
	held := g.b.heldUntil.After(now)
	start := maxTime(now, g.b.heldUntil)
	res := g.b.lim.ReserveN(start, 1)
	at := start.Add(res.DelayFrom(start))
	if at.After(longest) {
		res.CancelAt(now)
		g.r.mu.Unlock()
		release()
		why := fmt.Sprintf("%s allows one request per %s with this credential, and it is busy", g.limit.Name, g.limit.Every)
		if held {
			why = fmt.Sprintf("%s asked to wait before the next request with this credential (Retry-After)", g.limit.Name)
		}
		return nil, nil, notSent(at.Sub(now), why)
	}
	g.b.lastUsed = at
	g.r.mu.Unlock()
	unreserve := func() {
		g.r.mu.Lock()
		res.CancelAt(clk.Now())
		g.r.mu.Unlock()
	}
	if at.After(latest) {
		release()
		if err := g.waitAway(ctx, patience, at); err != nil {
			unreserve()
			return nil, nil, err
		}
	}

	if wait := at.Sub(clk.Now()); wait > 0 {
		t := clk.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			unreserve()
			release()
			return nil, nil, &delivery.RetryableError{Err: fmt.Errorf("%w: %w", delivery.ErrNotSent, context.Cause(ctx))}
		}
	}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if hasDeadline {
		callCtx, cancel = context.WithDeadline(ctx, callDeadline)
	}
	return callCtx, func(err error) {
		cancel()
		if after := delivery.Assess(err).After; err != nil && after > 0 {
			g.r.mu.Lock()
			g.b.heldUntil = maxTime(g.b.heldUntil, clk.Now().Add(min(after, delivery.MaxRetryAfter)))
			g.r.mu.Unlock()
		}
		release()
	}, nil
}

// waitAway waits for a turn (at) beyond MaxWait holding none of the namespace's slots: until
// a moment before it; then it takes back what patience.Away gave back, and a slot by the turn.
func (g *Gate) waitAway(ctx context.Context, patience Patience, at time.Time) error {
	back := func(context.Context) error { return nil }
	if patience.Away != nil {
		back = patience.Away()
	}
	clk := g.r.opts.Clock
	t := clk.NewTimer(at.Sub(clk.Now()) - slotWait)
	defer t.Stop()
	select {
	case <-t.C():
	case <-patience.Stop:
		return notSent(busyRetry, "the manager is stopping")
	case <-ctx.Done():
		return &delivery.RetryableError{Err: fmt.Errorf("%w: %w", delivery.ErrNotSent, context.Cause(ctx))}
	}
	if err := back(ctx); err != nil {
		return &delivery.RetryableError{Err: fmt.Errorf("%w: %w", delivery.ErrNotSent, err)}
	}
	return g.takeSlot(ctx, at)
}

// takeSlot takes one of the namespace's slots, waiting until latest at most: a moment, so
// that calls of a busy team queue briefly, but not so long that calls to a slow vendor hold
// the workers waiting for them. Only as many calls as there are slots wait at once; more
// would take the workers that every other namespace needs, so they are refused at once.
func (g *Gate) takeSlot(ctx context.Context, latest time.Time) error {
	select {
	case g.slots.inFlight <- struct{}{}:
		return nil
	default:
	}
	busy := notSent(busyRetry, fmt.Sprintf("namespace %s already has %d outbound calls in flight", g.namespace, cap(g.slots.inFlight)))
	wait := latest.Sub(g.r.opts.Clock.Now())
	if wait <= 0 {
		return busy
	}
	select {
	case g.slots.waiting <- struct{}{}:
		defer func() { <-g.slots.waiting }()
	default:
		return notSent(busyRetry, fmt.Sprintf("namespace %s already has %d outbound calls in flight and %d waiting for them", g.namespace, cap(g.slots.inFlight), cap(g.slots.waiting)))
	}
	t := g.r.opts.Clock.NewTimer(wait)
	defer t.Stop()
	select {
	case g.slots.inFlight <- struct{}{}:
		return nil
	case <-t.C():
		return busy
	case <-ctx.Done():
		return &delivery.RetryableError{Err: fmt.Errorf("%w: %w", delivery.ErrNotSent, context.Cause(ctx))}
	}
}

// Do waits at the gate, calls f with the call's context and reports f's outcome to the gate.
// A nil Gate calls f at once.
func (g *Gate) Do(ctx context.Context, f func(context.Context) error) error {
	ctx, done, err := g.Wait(ctx)
	if err != nil {
		return err
	}
	err = f(ctx)
	done(err)
	return err
}

func notSent(after time.Duration, why string) error {
	return &delivery.RetryableError{Err: fmt.Errorf("%w: %s", delivery.ErrNotSent, why), After: after}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
