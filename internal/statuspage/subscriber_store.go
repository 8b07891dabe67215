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
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// subscriberRecord is one subscription, identified by its e-mail address: notifications go
// to that address, or, when WebhookURL is set, to the webhook (the address still confirms
// the subscription and receives its management link).
type subscriberRecord struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	// WebhookURL, if set, receives the notifications as signed JSON instead of the address.
	WebhookURL string `json:"webhook_url,omitempty"`
	// Components are the component ids subscribed to; none means the whole page.
	Components []string `json:"components,omitempty"`
	// ConfirmedAt is zero until the address confirmed: nothing but the confirmation request
	// is ever sent to an unconfirmed address.
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	// NoticeAt is when the address was last sent a confirmation request or a reminder of its
	// subscription, which at most one a noticeInterval goes out.
	NoticeAt  time.Time `json:"notice_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *subscriberRecord) confirmed() bool { return !s.ConfirmedAt.IsZero() }

// eventRecord is a published fact that subscribers are told about, with the words of the
// notification fixed when it was published, so that every retry sends the same message.
type eventRecord struct {
	// Key names the fact: "update/<incident>/<update>", "postmortem/<incident>" or
	// "maintenance/<maintenance>/<status>".
	Key        string    `json:"key"`
	Kind       string    `json:"kind"`
	IncidentID string    `json:"incident_id"`
	Incident   string    `json:"incident"`
	Impact     string    `json:"impact"`
	Status     string    `json:"status,omitempty"`
	UpdateID   string    `json:"update_id,omitempty"`
	Body       string    `json:"body"`
	URL        string    `json:"url"`
	At         time.Time `json:"at"`
	// Components are what the update set (for the message; a maintenance's, the components
	// it moves into or out of under_maintenance, for webhooks); Affects is every component of
	// the incident, which decides who is told.
	Components []affectedComponent `json:"components,omitempty"`
	Affects    []string            `json:"affects,omitempty"`
	// Maintenance is set on a maintenance's notices (kind "maintenance.<status>", or
	// "maintenance.cancelled"); events queued before it existed lack it.
	Maintenance *eventMaintenance `json:"maintenance,omitempty"`
}

// eventMaintenance is what a maintenance notice says besides its status: the window and
// the components' names, as they were when it was published.
type eventMaintenance struct {
	ScheduledFor   time.Time `json:"scheduled_for"`
	ScheduledUntil time.Time `json:"scheduled_until"`
	Components     []string  `json:"components,omitempty"`
}

// Delivery kinds.
const (
	deliverEvent   = "event"
	deliverConfirm = "confirm"
	// deliverReminder answers a subscribe request for an address that is already
	// subscribed: the same answer on the page, and a mail only its owner reads.
	deliverReminder = "reminder"
)

// deliveryRecord is one message to one subscriber. It is stored before the message is
// sent and removed in the transaction that records its success, so that a restart neither
// skips it nor, except when the process dies between the relay's acceptance and that
// commit, sends it again; a resend then carries the same Message-ID.
type deliveryRecord struct {
	Key          string `json:"key"`
	Kind         string `json:"kind"`
	SubscriberID string `json:"subscriber_id"`
	// EventKey names the event of a deliverEvent.
	EventKey string `json:"event_key,omitempty"`
	// Attempts counts the attempts started; NextAt is when the next may start.
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// SubscriberStore keeps the subscribers, the events they are told about and the deliveries
// still to make. Each method is one transaction.
type SubscriberStore interface {
	// Secret is the key that signs subscription links and webhook secrets, made on first use.
	Secret() ([]byte, error)
	// Subscriber returns a subscriber by id, nil if there is none.
	Subscriber(id string) (*subscriberRecord, error)
	// SubscriberByEmail returns the subscriber of an address (compared without case), nil if
	// there is none.
	SubscriberByEmail(email string) (*subscriberRecord, error)
	// Subscribers counts the subscribers, confirmed or not.
	Subscribers() (int, error)
	// PutSubscriber writes a subscriber and queues deliveries to it, together.
	PutSubscriber(s *subscriberRecord, queue ...*deliveryRecord) error
	// DeleteSubscriber removes a subscriber and the deliveries queued to it.
	DeleteSubscriber(id string) error
	// ExpireUnconfirmed removes the unconfirmed subscribers created before t.
	ExpireUnconfirmed(t time.Time) (int, error)
	// FanOut stores ev and queues a delivery of it to every confirmed subscriber that wants
	// it, once: for an event already fanned out it does nothing. It returns the deliveries
	// it queued.
	FanOut(ev *eventRecord, wants func(*subscriberRecord) bool, now time.Time) ([]*deliveryRecord, error)
	// FannedOut returns those of keys that were fanned out.
	FannedOut(keys []string) (map[string]bool, error)
	// Deliveries returns every queued delivery.
	Deliveries() ([]*deliveryRecord, error)
	// Event returns a stored event, nil if there is none.
	Event(key string) (*eventRecord, error)
	// ClaimDelivery starts an attempt: it writes the delivery with one more attempt and the
	// time until which no other process may start one, if the delivery is still queued with
	// one attempt fewer, as read (false if not: it was sent, or another process started it).
	ClaimDelivery(attempt *deliveryRecord) (bool, error)
	// SaveDelivery writes the outcome of an attempt, if the delivery is still queued with as
	// many attempts (false if not).
	SaveDelivery(d *deliveryRecord) (bool, error)
	// FinishDelivery removes a delivery (sent, or given up), and its event once no delivery
	// needs it.
	FinishDelivery(d *deliveryRecord) error
}

var (
	bucketSubMeta     = []byte("subscriber_meta")
	bucketSubscribers = []byte("subscribers")
	// bucketSubEmails maps a lower-cased address to its subscriber's id.
	bucketSubEmails   = []byte("subscriber_emails")
	bucketEvents      = []byte("notify_events")
	bucketFannedOut   = []byte("notify_fanned_out")
	bucketDeliveries  = []byte("notify_deliveries")
	keySubscribeToken = []byte("secret")
)

// boltSubscribers is the SubscriberStore in the page's bbolt file, in buckets of its own (a
// file written before subscriptions existed opens unchanged).
type boltSubscribers struct{ db *bolt.DB }

func newBoltSubscribers(db *bolt.DB) (*boltSubscribers, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketSubMeta, bucketSubscribers, bucketSubEmails, bucketEvents, bucketFannedOut, bucketDeliveries} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketSubMeta)
		if meta.Get(keySubscribeToken) == nil {
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return err
			}
			return meta.Put(keySubscribeToken, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open the subscribers: %w", err)
	}
	return &boltSubscribers{db: db}, nil
}

func (s *boltSubscribers) Secret() (key []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		key = bytes.Clone(tx.Bucket(bucketSubMeta).Get(keySubscribeToken))
		return nil
	})
	return key, err
}

func getJSON[T any](tx *bolt.Tx, bucket []byte, key string) (*T, error) {
	v := tx.Bucket(bucket).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	r := new(T)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", bucket, key, err)
	}
	return r, nil
}

func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), data)
}

func (s *boltSubscribers) Subscriber(id string) (r *subscriberRecord, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		r, err = getJSON[subscriberRecord](tx, bucketSubscribers, id)
		return err
	})
	return r, err
}

func (s *boltSubscribers) SubscriberByEmail(email string) (r *subscriberRecord, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		id := tx.Bucket(bucketSubEmails).Get([]byte(strings.ToLower(email)))
		if id == nil {
			return nil
		}
		r, err = getJSON[subscriberRecord](tx, bucketSubscribers, string(id))
		return err
	})
	return r, err
}

func (s *boltSubscribers) Subscribers() (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSubscribers).Stats().KeyN
		return nil
	})
	return n, err
}

func (s *boltSubscribers) PutSubscriber(r *subscriberRecord, queue ...*deliveryRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx, bucketSubscribers, r.ID, r); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSubEmails).Put([]byte(strings.ToLower(r.Email)), []byte(r.ID)); err != nil {
			return err
		}
		for _, d := range queue {
			if err := putJSON(tx, bucketDeliveries, d.Key, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltSubscribers) DeleteSubscriber(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return deleteSubscriber(tx, id) })
}

func deleteSubscriber(tx *bolt.Tx, id string) error {
	r, err := getJSON[subscriberRecord](tx, bucketSubscribers, id)
	if err != nil || r == nil {
		return err
	}
	if err := tx.Bucket(bucketSubEmails).Delete([]byte(strings.ToLower(r.Email))); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSubscribers).Delete([]byte(id)); err != nil {
		return err
	}
	var queued []*deliveryRecord
	if err := tx.Bucket(bucketDeliveries).ForEach(func(_, v []byte) error {
		d := new(deliveryRecord)
		if err := json.Unmarshal(v, d); err != nil {
			return err
		}
		if d.SubscriberID == id {
			queued = append(queued, d)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, d := range queued {
		if err := finishDelivery(tx, d); err != nil {
			return err
		}
	}
	return nil
}

func (s *boltSubscribers) ExpireUnconfirmed(t time.Time) (n int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		var expired []string
		if err := tx.Bucket(bucketSubscribers).ForEach(func(k, v []byte) error {
			r := new(subscriberRecord)
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			if !r.confirmed() && r.CreatedAt.Before(t) {
				expired = append(expired, string(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range expired {
			if err := deleteSubscriber(tx, id); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}

// eventDeliveryKey keeps an event's deliveries together, so that finishing the last one
// finds that none is left with one seek.
func eventDeliveryKey(eventKey, subscriberID string) string {
	return eventKey + "\x00" + subscriberID
}

func (s *boltSubscribers) FanOut(ev *eventRecord, wants func(*subscriberRecord) bool, now time.Time) (queue []*deliveryRecord, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		fanned := tx.Bucket(bucketFannedOut)
		if fanned.Get([]byte(ev.Key)) != nil {
			return nil
		}
		if err := fanned.Put([]byte(ev.Key), []byte(now.UTC().Format(time.RFC3339Nano))); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSubscribers).ForEach(func(_, v []byte) error {
			r := new(subscriberRecord)
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			if r.confirmed() && wants(r) {
				queue = append(queue, &deliveryRecord{Key: eventDeliveryKey(ev.Key, r.ID), Kind: deliverEvent, SubscriberID: r.ID,
					EventKey: ev.Key, NextAt: now, CreatedAt: now})
			}
			return nil
		}); err != nil {
			return err
		}
		if len(queue) == 0 {
			return nil
		}
		if err := putJSON(tx, bucketEvents, ev.Key, ev); err != nil {
			return err
		}
		for _, d := range queue {
			if err := putJSON(tx, bucketDeliveries, d.Key, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return queue, nil
}

func (s *boltSubscribers) FannedOut(keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFannedOut)
		for _, k := range keys {
			if b.Get([]byte(k)) != nil {
				out[k] = true
			}
		}
		return nil
	})
	return out, err
}

func (s *boltSubscribers) Deliveries() (out []*deliveryRecord, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return forEach(tx, bucketDeliveries, func(d *deliveryRecord, _ int64) { out = append(out, d) })
	})
	return out, err
}

func (s *boltSubscribers) Event(key string) (ev *eventRecord, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		ev, err = getJSON[eventRecord](tx, bucketEvents, key)
		return err
	})
	return ev, err
}

func (s *boltSubscribers) ClaimDelivery(attempt *deliveryRecord) (bool, error) {
	return s.saveIf(attempt, attempt.Attempts-1)
}

func (s *boltSubscribers) SaveDelivery(d *deliveryRecord) (bool, error) {
	return s.saveIf(d, d.Attempts)
}

// saveIf writes d if the stored delivery has attempts attempts.
func (s *boltSubscribers) saveIf(d *deliveryRecord, attempts int) (saved bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		old, err := getJSON[deliveryRecord](tx, bucketDeliveries, d.Key)
		if err != nil || old == nil || old.Attempts != attempts {
			return err
		}
		saved = true
		return putJSON(tx, bucketDeliveries, d.Key, d)
	})
	return saved, err
}

func (s *boltSubscribers) FinishDelivery(d *deliveryRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error { return finishDelivery(tx, d) })
}

func finishDelivery(tx *bolt.Tx, d *deliveryRecord) error {
	b := tx.Bucket(bucketDeliveries)
	if err := b.Delete([]byte(d.Key)); err != nil {
		return err
	}
	if d.EventKey == "" {
		return nil
	}
	prefix := []byte(eventDeliveryKey(d.EventKey, ""))
	if k, _ := b.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		return nil
	}
	return tx.Bucket(bucketEvents).Delete([]byte(d.EventKey))
}
