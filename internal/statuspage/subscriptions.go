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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Subscriptions: people subscribe with an address (double opt-in), for the whole page or
// chosen components, and receive every published update and post-mortem that has
// notifications on, by mail or by a signed webhook. subscriber_store.go keeps them,
// delivery.go sends, subscribe_http.go serves the forms.

const (
	// maxSubscribers bounds what the subscribe form can make the page store.
	maxSubscribers = 100_000
	// unconfirmedFor is how long an unconfirmed subscription waits for its confirmation.
	unconfirmedFor = 7 * 24 * time.Hour
	// noticeInterval spaces the confirmation requests and reminders sent to one address, so
	// that the form cannot be used to flood someone's inbox.
	noticeInterval = 10 * time.Minute
	// maxEmailLength is RFC 5321's limit of a forward path.
	maxEmailLength = 254
)

// subscriptions is the subscription service of one page.
type subscriptions struct {
	page   *Page
	store  SubscriberStore
	secret []byte
	log    *slog.Logger
	now    func() time.Time
	// clients limits subscribe requests per client.
	clients *rateLimiter
	out     *dispatcher
	// writing serialises the read-then-write of the subscription changes, so that two
	// requests at once cannot subscribe one address twice (lockChanges).
	writing sync.Mutex
}

// changeLocker is a SubscriberStore that other processes change too (PostgreSQL): its lock
// serialises the subscription changes of all of them.
type changeLocker interface {
	lockChanges() (unlock func(), err error)
}

// lockChanges takes the lock of the subscription changes, in this process and, on a shared
// store, across processes.
func (s *subscriptions) lockChanges() (func(), error) {
	s.writing.Lock()
	l, ok := s.store.(changeLocker)
	if !ok {
		return s.writing.Unlock, nil
	}
	unlock, err := l.lockChanges()
	if err != nil {
		s.writing.Unlock()
		return nil, err
	}
	return func() { unlock(); s.writing.Unlock() }, nil
}

// newSubscriptions attaches a subscription service to page: from now on every published
// update and post-mortem with notifications on is fanned out to the subscribers, and so is
// every such one of the last recoverFor that a stop cut off before it was.
func newSubscriptions(page *Page, store SubscriberStore, out *dispatcher, log *slog.Logger) (*subscriptions, error) {
	secret, err := store.Secret()
	if err != nil {
		return nil, err
	}
	s := &subscriptions{page: page, store: store, secret: secret, log: log, now: page.now, out: out,
		clients: newRateLimiter(5, 10*time.Minute, 10_000)}
	out.subs = s
	if _, err := store.ExpireUnconfirmed(s.now().Add(-unconfirmedFor)); err != nil {
		return nil, err
	}
	if err := out.load(); err != nil {
		return nil, err
	}
	page.mu.Lock()
	defer page.mu.Unlock()
	pending := page.notifiableEvents(s.now().Add(-recoverFor))
	keys := make([]string, len(pending))
	for i, ev := range pending {
		keys[i] = ev.Key
	}
	done, err := store.FannedOut(keys)
	if err != nil {
		return nil, err
	}
	pending = slices.DeleteFunc(pending, func(ev *eventRecord) bool { return done[ev.Key] })
	page.announce = out.enqueue
	out.enqueue(pending)
	return s, nil
}

// recoverFor is how far back, at start, published events are checked for a fan-out that a
// stop cut off. Older ones are left alone: telling subscribers of them now would be news of
// the past.
const recoverFor = 24 * time.Hour

// Tokens. A subscriber's link carries its id and a MAC of it under the page's secret, so it
// cannot be guessed or forged, and nothing but the secret needs storing.

func (s *subscriptions) mac(purpose, id string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(purpose + "\x00" + id))
	return m.Sum(nil)
}

// token is the subscriber's management token: its links to confirm, manage and unsubscribe.
func (s *subscriptions) token(id string) string {
	raw, _ := hex.DecodeString(id)
	return base64.RawURLEncoding.EncodeToString(append(raw, s.mac("manage", id)[:16]...))
}

// parseToken returns the subscriber id a token names, if the token is genuine.
func (s *subscriptions) parseToken(tok string) (string, bool) {
	// Strict: the last character of 32 bytes has two unused bits, and a token is genuine
	// in its own spelling only.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(raw) != 32 {
		return "", false
	}
	id := hex.EncodeToString(raw[:16])
	return id, hmac.Equal(raw[16:], s.mac("manage", id)[:16])
}

// webhookSecret is the key that signs a subscriber's webhook deliveries.
func (s *subscriptions) webhookSecret(id string) string {
	return "whsec_" + hex.EncodeToString(s.mac("webhook", id))
}

func (s *subscriptions) link(id, action string) string {
	u := s.page.info.URL + "/subscriptions/" + s.token(id)
	if action != "" {
		u += "/" + action
	}
	return u
}

// subscribeRequest is what the subscribe form sends.
type subscribeRequest struct {
	Email      string
	WebhookURL string
	Components []string
}

// formError is a refusal of a form's input, said to the person who sent it.
type formError struct {
	status int
	msg    string
}

func (e *formError) Error() string { return e.msg }

// parseEmail accepts one bare address, such as jane@example.com.
func parseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &formError{http.StatusUnprocessableEntity, "Enter your e-mail address."}
	}
	if len(s) > maxEmailLength || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return "", &formError{http.StatusUnprocessableEntity, "That is not an e-mail address: enter one such as jane@example.com."}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", &formError{http.StatusUnprocessableEntity, "That is not an e-mail address: enter one such as jane@example.com."}
	}
	return s, nil
}

// checkComponents refuses component ids the page does not have; it returns them sorted and
// unique.
func (s *subscriptions) checkComponents(ids []string) ([]string, error) {
	s.page.mu.Lock()
	defer s.page.mu.Unlock()
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, id := range out {
		if s.page.components[id] == nil {
			return nil, &formError{http.StatusUnprocessableEntity, "One of the chosen components is no longer on the page: choose again."}
		}
	}
	return out, nil
}

// subscribe handles the form: a new address gets a pending subscription and a request to
// confirm it; an address already subscribed gets a reminder with its management link, and
// the subscription is left as it is. Either way the answer is the same, so that the form
// tells nobody who is subscribed.
func (s *subscriptions) subscribe(req subscribeRequest) error {
	email, err := parseEmail(req.Email)
	if err != nil {
		return err
	}
	hook := strings.TrimSpace(req.WebhookURL)
	if hook != "" {
		if err := checkWebhookURL(hook); err != nil {
			return err
		}
	}
	comps, err := s.checkComponents(req.Components)
	if err != nil {
		return err
	}
	unlock, err := s.lockChanges()
	if err != nil {
		return err
	}
	defer unlock()
	now := s.now().UTC()
	sub, err := s.store.SubscriberByEmail(email)
	if err != nil {
		return err
	}
	kind := deliverConfirm
	switch {
	case sub == nil:
		n, err := s.store.Subscribers()
		if err != nil {
			return err
		}
		if n >= maxSubscribers {
			return &formError{http.StatusServiceUnavailable, "The page cannot take more subscriptions right now: try again later, or follow the Atom feed."}
		}
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		sub = &subscriberRecord{ID: hex.EncodeToString(id), Email: email, WebhookURL: hook, Components: comps, CreatedAt: now}
	case now.Sub(sub.NoticeAt) < noticeInterval:
		// A message went to this address moments ago: sending another would only help to
		// flood it. The answer is still the same.
		return nil
	case sub.confirmed():
		kind = deliverReminder
	default:
		// Still unconfirmed: the latest choices win, and the request goes out again.
		sub.WebhookURL, sub.Components = hook, comps
	}
	rec := *sub
	rec.NoticeAt, rec.UpdatedAt = now, now
	d := &deliveryRecord{Key: kind + "/" + rec.ID + "/" + now.Format(time.RFC3339Nano), Kind: kind, SubscriberID: rec.ID, NextAt: now, CreatedAt: now}
	if err := s.store.PutSubscriber(&rec, d); err != nil {
		return err
	}
	s.out.add(d)
	return nil
}

// confirm confirms a subscription; confirming again changes nothing.
func (s *subscriptions) confirm(id string) (*subscriberRecord, error) {
	unlock, err := s.lockChanges()
	if err != nil {
		return nil, err
	}
	defer unlock()
	sub, err := s.store.Subscriber(id)
	if err != nil || sub == nil || sub.confirmed() {
		return sub, err
	}
	rec := *sub
	now := s.now().UTC()
	rec.ConfirmedAt, rec.UpdatedAt = now, now
	if err := s.store.PutSubscriber(&rec); err != nil {
		return nil, err
	}
	s.log.Info("subscription confirmed", "subscriber", id, "webhook", rec.WebhookURL != "", "components", len(rec.Components))
	return &rec, nil
}

// change replaces a confirmed subscription's components and webhook.
func (s *subscriptions) change(id, webhookURL string, components []string) (*subscriberRecord, error) {
	sub, err := s.store.Subscriber(id)
	if err != nil || sub == nil {
		return sub, err
	}
	hook := strings.TrimSpace(webhookURL)
	if hook != "" {
		if err := checkWebhookURL(hook); err != nil {
			return nil, err
		}
	}
	comps, err := s.checkComponents(components)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lockChanges()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if sub, err = s.store.Subscriber(id); err != nil || sub == nil {
		return sub, err
	}
	rec := *sub
	rec.WebhookURL, rec.Components, rec.UpdatedAt = hook, comps, s.now().UTC()
	if err := s.store.PutSubscriber(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// unsubscribe removes a subscription with whatever it still had to receive; unsubscribing
// again is not an error.
func (s *subscriptions) unsubscribe(id string) error {
	// Under the lock that subscribe, confirm and change read and write a record under, so
	// none of them can write back a subscription deleted meanwhile.
	unlock, err := s.lockChanges()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.store.DeleteSubscriber(id); err != nil {
		return err
	}
	s.out.drop(id)
	s.log.Info("unsubscribed", "subscriber", id)
	return nil
}

// wants reports whether a subscriber is told of ev: a subscriber of the whole page of every
// event, one of chosen components of events of incidents that affect one of them.
func wants(sub *subscriberRecord, ev *eventRecord) bool {
	if len(sub.Components) == 0 {
		return true
	}
	for _, id := range ev.Affects {
		if slices.Contains(sub.Components, id) {
			return true
		}
	}
	return false
}

// Events. The page calls announce (set here, under its lock) after each write that
// published an update or a post-mortem with notifications on.

func updateEventKey(incidentID, updateID string) string {
	return "update/" + incidentID + "/" + updateID
}
func postmortemEventKey(incidentID string) string { return "postmortem/" + incidentID }

// updateEvent is the event of a published update. Callers hold p.mu.
func (p *Page) updateEvent(inc *incidentState, u *updateRecord) *eventRecord {
	return &eventRecord{Key: updateEventKey(inc.rec.ID, u.ID), Kind: "incident.update", IncidentID: inc.rec.ID, Incident: inc.rec.Name,
		Impact: inc.rec.Impact, Status: u.Status, UpdateID: u.ID, Body: u.Body, URL: p.incidentURL(inc.rec.ID), At: u.CreatedAt,
		Components: u.Components, Affects: incidentComponents(inc)}
}

// postmortemEvent is the event of a post-mortem's first publication. Callers hold p.mu.
func (p *Page) postmortemEvent(inc *incidentState, pm *postmortemRecord) *eventRecord {
	return &eventRecord{Key: postmortemEventKey(inc.rec.ID), Kind: "incident.postmortem", IncidentID: inc.rec.ID, Incident: inc.rec.Name,
		Impact: inc.rec.Impact, Body: pm.PublishedBody, URL: p.incidentURL(inc.rec.ID) + "#postmortem", At: pm.PublishedAt,
		Affects: incidentComponents(inc)}
}

func incidentComponents(inc *incidentState) []string {
	var out []string
	for _, u := range inc.updates {
		for _, c := range u.Components {
			out = append(out, c.ID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// notifiableEvents are the events published since t with notifications on. Callers hold
// p.mu.
func (p *Page) notifiableEvents(since time.Time) []*eventRecord {
	var out []*eventRecord
	for _, inc := range p.incidents {
		for _, u := range inc.updates {
			if u.Notify && !u.CreatedAt.Before(since) {
				out = append(out, p.updateEvent(inc, u))
			}
		}
		if pm := inc.postmortem; pm != nil && pm.Notify && pm.published() && !pm.PublishedAt.Before(since) {
			out = append(out, p.postmortemEvent(inc, pm))
		}
	}
	out = append(out, p.maintenanceEvents(since)...)
	slices.SortFunc(out, func(a, b *eventRecord) int { return a.At.Compare(b.At) })
	return out
}

// announceBatch tells the subscriptions of the updates a committed batch published. Callers
// hold p.mu; the batch is applied.
func (p *Page) announceBatch(b batch) {
	if p.announce == nil {
		return
	}
	var evs []*eventRecord
	for _, u := range b.updates {
		if u.Notify {
			evs = append(evs, p.updateEvent(p.incidents[u.IncidentID], u))
		}
	}
	if len(evs) > 0 {
		p.announce(evs)
	}
}

// announcePostmortem tells the subscriptions of a post-mortem's first publication. Callers
// hold p.mu.
func (p *Page) announcePostmortem(inc *incidentState, old *postmortemRecord) {
	pm := inc.postmortem
	if p.announce == nil || !pm.Notify || !pm.published() || (old != nil && old.published()) {
		return
	}
	p.announce([]*eventRecord{p.postmortemEvent(inc, pm)})
}

// rateLimiter allows each key n requests per window, for at most size keys at once (a
// flood of new keys then shares one allowance rather than growing the map).
type rateLimiter struct {
	n      int
	window time.Duration
	size   int
	mu     sync.Mutex
	seen   map[string][]time.Time
}

func newRateLimiter(n int, window time.Duration, size int) *rateLimiter {
	return &rateLimiter{n: n, window: window, size: size, seen: map[string][]time.Time{}}
}

func (l *rateLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[key]; !ok && len(l.seen) >= l.size {
		for k, ts := range l.seen {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= l.window {
				delete(l.seen, k)
			}
		}
		if len(l.seen) >= l.size {
			key = "\x00overflow"
		}
	}
	ts := slices.DeleteFunc(l.seen[key], func(t time.Time) bool { return now.Sub(t) >= l.window })
	if len(ts) >= l.n {
		l.seen[key] = ts
		return false
	}
	l.seen[key] = append(ts, now)
	return true
}

// subscriptionScope describes what a subscriber receives, in words: maintenance notices
// too, or a maintenance's would say it came for an incident.
func (s *subscriptions) subscriptionScope(sub *subscriberRecord) string {
	if len(sub.Components) == 0 {
		return "every incident and maintenance on " + s.page.info.Name
	}
	s.page.mu.Lock()
	defer s.page.mu.Unlock()
	names := make([]string, 0, len(sub.Components))
	for _, id := range sub.Components {
		if c := s.page.components[id]; c != nil {
			names = append(names, c.Name)
		}
	}
	return fmt.Sprintf("maintenances and incidents affecting %s on %s", strings.Join(names, ", "), s.page.info.Name)
}

// componentChoices are the page's components for the forms, in page order.
func (s *subscriptions) componentChoices(chosen []string) []componentChoice {
	s.page.mu.Lock()
	defer s.page.mu.Unlock()
	var out []componentChoice
	for _, g := range groupComponents(s.page.sortedComponents()) {
		for i, c := range g.Members {
			choice := componentChoice{ID: c.ID, Name: c.Name, Checked: slices.Contains(chosen, c.ID)}
			if i == 0 {
				choice.Group = g.Name
			}
			out = append(out, choice)
		}
	}
	return out
}

type componentChoice struct {
	ID, Name string
	// Group is set on the first component of a group, to head it.
	Group   string
	Checked bool
}
