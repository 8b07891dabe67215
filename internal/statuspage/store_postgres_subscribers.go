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
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The subscribers on PostgreSQL: the same records as in the bbolt file (subscriber_store.go),
// as JSON in tables of their own, with the columns the queries select on beside them (a
// delivery's key is bytea: an event's deliveries have a NUL in theirs). Every
// replica sends: a delivery is sent by the replica that claims its attempt (ClaimDelivery,
// a compare-and-set on the attempt count that also sets when another replica may take it
// over), and each replica looks for due deliveries it does not hold (DueDeliveries), such as
// those of a replica killed mid-send once their lease is over.

var postgresSubscriberSchema = []string{
	`CREATE TABLE IF NOT EXISTS statuspage_subscriber_meta (
		key text PRIMARY KEY,
		value bytea NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS statuspage_subscribers (
		id text COLLATE "C" PRIMARY KEY,
		email text COLLATE "C" NOT NULL UNIQUE,
		confirmed boolean NOT NULL,
		created_at timestamptz NOT NULL,
		data bytea NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS statuspage_notify_events (
		key text COLLATE "C" PRIMARY KEY,
		data bytea NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS statuspage_notify_fanned_out (
		key text COLLATE "C" PRIMARY KEY,
		at timestamptz NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS statuspage_notify_deliveries (
		key bytea PRIMARY KEY,
		subscriber_id text COLLATE "C" NOT NULL,
		event_key text COLLATE "C" NOT NULL,
		attempts int NOT NULL,
		next_at timestamptz NOT NULL,
		data bytea NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS statuspage_notify_deliveries_next_at ON statuspage_notify_deliveries (next_at)`,
	`CREATE INDEX IF NOT EXISTS statuspage_notify_deliveries_subscriber ON statuspage_notify_deliveries (subscriber_id)`,
	`CREATE INDEX IF NOT EXISTS statuspage_notify_deliveries_event ON statuspage_notify_deliveries (event_key)`,
}

// subscriptionLockKey is the advisory lock under which one subscription change at a time
// reads and writes, across replicas.
const subscriptionLockKey = 7_303_101_101

// fanOutTimeout bounds the transaction that queues an event's deliveries, up to
// maxSubscribers rows.
const fanOutTimeout = time.Minute

type postgresSubscribers struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// newPostgresSubscribers creates the subscribers' tables if they are missing.
func newPostgresSubscribers(s *postgresStore) (*postgresSubscribers, error) {
	ps := &postgresSubscribers{pool: s.pool, timeout: s.timeout}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	// Not ps.tx, which takes the key shared: two replicas holding it shared and both asking
	// for it alone would deadlock.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLockKey)); err != nil {
			return err
		}
		for _, stmt := range postgresSubscriberSchema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: prepare the subscribers' tables: %w", err)
	}
	return ps, nil
}

// tx runs f in one transaction, within the store's timeout.
func (s *postgresSubscribers) tx(f func(context.Context, pgx.Tx) error) error {
	return s.txWithin(s.timeout, f)
}

func (s *postgresSubscribers) txWithin(d time.Duration, f func(context.Context, pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := schemaShared(ctx, tx); err != nil {
			return err
		}
		return f(ctx, tx)
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// lockChanges takes the lock that serialises subscription changes across replicas: a
// session's advisory lock, which PostgreSQL also frees when the replica holding it dies.
func (s *postgresSubscribers) lockChanges() (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(subscriptionLockKey)); err != nil {
		conn.Release()
		return nil, unavailable(err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(subscriptionLockKey)); err != nil {
			// The lock must not stay with a pooled connection: closing it frees the lock.
			_ = conn.Hijack().Close(ctx)
			return
		}
		conn.Release()
	}, nil
}

// Secret is made by the first replica to ask and read by every other one, so that the links
// one replica mails work on all of them.
func (s *postgresSubscribers) Secret() (key []byte, err error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	err = s.tx(func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO statuspage_subscriber_meta (key, value) VALUES ('secret', $1) ON CONFLICT (key) DO NOTHING`, fresh); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM statuspage_subscriber_meta WHERE key = 'secret'`).Scan(&key)
	})
	return key, err
}

// queryJSON decodes the data column of every row of query.
func queryJSON[T any](ctx context.Context, tx pgx.Tx, table, query string, args ...any) ([]*T, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		r := new(T)
		if err := json.Unmarshal(data, r); err != nil {
			return nil, fmt.Errorf("record %s: %w", table, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func queryOne[T any](s *postgresSubscribers, table, query string, args ...any) (r *T, err error) {
	err = s.tx(func(ctx context.Context, tx pgx.Tx) error {
		rs, err := queryJSON[T](ctx, tx, table, query, args...)
		if len(rs) > 0 {
			r = rs[0]
		}
		return err
	})
	return r, err
}

func (s *postgresSubscribers) Subscriber(id string) (*subscriberRecord, error) {
	return queryOne[subscriberRecord](s, "statuspage_subscribers", `SELECT data FROM statuspage_subscribers WHERE id = $1`, id)
}

func (s *postgresSubscribers) SubscriberByEmail(email string) (*subscriberRecord, error) {
	return queryOne[subscriberRecord](s, "statuspage_subscribers", `SELECT data FROM statuspage_subscribers WHERE email = $1`, strings.ToLower(email))
}

func (s *postgresSubscribers) Subscribers() (n int, err error) {
	err = s.tx(func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM statuspage_subscribers`).Scan(&n)
	})
	return n, err
}

func putDelivery(q *pgx.Batch, d *deliveryRecord) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	q.Queue(`INSERT INTO statuspage_notify_deliveries (key, subscriber_id, event_key, attempts, next_at, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, next_at = excluded.next_at, data = excluded.data`,
		[]byte(d.Key), d.SubscriberID, d.EventKey, d.Attempts, d.NextAt, data)
	return nil
}

func (s *postgresSubscribers) PutSubscriber(r *subscriberRecord, queue ...*deliveryRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	q := &pgx.Batch{}
	q.Queue(`INSERT INTO statuspage_subscribers (id, email, confirmed, created_at, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, confirmed = excluded.confirmed, data = excluded.data`,
		r.ID, strings.ToLower(r.Email), r.confirmed(), r.CreatedAt, data)
	for _, d := range queue {
		if err := putDelivery(q, d); err != nil {
			return err
		}
	}
	return s.tx(func(ctx context.Context, tx pgx.Tx) error { return tx.SendBatch(ctx, q).Close() })
}

// deleteSubscribers removes the subscribers that match where, with their deliveries and the
// events that no delivery needs any more.
func deleteSubscribers(ctx context.Context, tx pgx.Tx, where string, args ...any) (int, error) {
	rows, err := tx.Query(ctx, `DELETE FROM statuspage_subscribers WHERE `+where+` RETURNING id`, args...)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	rows, err = tx.Query(ctx, `DELETE FROM statuspage_notify_deliveries WHERE subscriber_id = ANY($1) RETURNING event_key`, ids)
	if err != nil {
		return 0, err
	}
	events, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	return len(ids), dropFinishedEvents(ctx, tx, slices.DeleteFunc(events, func(k string) bool { return k == "" }))
}

// dropFinishedEvents removes those of the events that no queued delivery needs.
func dropFinishedEvents(ctx context.Context, tx pgx.Tx, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM statuspage_notify_events e WHERE e.key = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM statuspage_notify_deliveries d WHERE d.event_key = e.key)`, keys)
	return err
}

func (s *postgresSubscribers) DeleteSubscriber(id string) error {
	return s.tx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := deleteSubscribers(ctx, tx, `id = $1`, id)
		return err
	})
}

func (s *postgresSubscribers) ExpireUnconfirmed(t time.Time) (n int, err error) {
	err = s.tx(func(ctx context.Context, tx pgx.Tx) (err error) {
		n, err = deleteSubscribers(ctx, tx, `NOT confirmed AND created_at < $1`, t)
		return err
	})
	return n, err
}

// FanOut marks the event fanned out first: a replica fanning out the same event at the same
// time waits for that row, and then finds it and does nothing.
func (s *postgresSubscribers) FanOut(ev *eventRecord, wants func(*subscriberRecord) bool, now time.Time) (queue []*deliveryRecord, err error) {
	err = s.txWithin(fanOutTimeout, func(ctx context.Context, tx pgx.Tx) error {
		queue = nil
		tag, err := tx.Exec(ctx, `INSERT INTO statuspage_notify_fanned_out (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, ev.Key, now)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		subs, err := queryJSON[subscriberRecord](ctx, tx, "statuspage_subscribers", `SELECT data FROM statuspage_subscribers WHERE confirmed`)
		if err != nil {
			return err
		}
		var rows [][]any
		for _, r := range subs {
			if !wants(r) {
				continue
			}
			d := &deliveryRecord{Key: eventDeliveryKey(ev.Key, r.ID), Kind: deliverEvent, SubscriberID: r.ID,
				EventKey: ev.Key, NextAt: now, CreatedAt: now}
			data, err := json.Marshal(d)
			if err != nil {
				return err
			}
			queue = append(queue, d)
			rows = append(rows, []any{[]byte(d.Key), d.SubscriberID, d.EventKey, d.Attempts, d.NextAt, data})
		}
		if len(queue) == 0 {
			return nil
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO statuspage_notify_events (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = excluded.data`, ev.Key, data); err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"statuspage_notify_deliveries"},
			[]string{"key", "subscriber_id", "event_key", "attempts", "next_at", "data"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return nil, err
	}
	return queue, nil
}

func (s *postgresSubscribers) FannedOut(keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.tx(func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT key FROM statuspage_notify_fanned_out WHERE key = ANY($1)`, keys)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, k := range found {
			out[k] = true
		}
		return err
	})
	return out, err
}

func (s *postgresSubscribers) Deliveries() (out []*deliveryRecord, err error) {
	err = s.tx(func(ctx context.Context, tx pgx.Tx) (err error) {
		out, err = queryJSON[deliveryRecord](ctx, tx, "statuspage_notify_deliveries", `SELECT data FROM statuspage_notify_deliveries`)
		return err
	})
	return out, err
}

// DueDeliveries returns up to n deliveries due at now, the longest waiting first.
func (s *postgresSubscribers) DueDeliveries(now time.Time, n int) (out []*deliveryRecord, err error) {
	err = s.tx(func(ctx context.Context, tx pgx.Tx) (err error) {
		out, err = queryJSON[deliveryRecord](ctx, tx, "statuspage_notify_deliveries",
			`SELECT data FROM statuspage_notify_deliveries WHERE next_at <= $1 ORDER BY next_at LIMIT $2`, now, n)
		return err
	})
	return out, err
}

func (s *postgresSubscribers) Event(key string) (*eventRecord, error) {
	return queryOne[eventRecord](s, "statuspage_notify_events", `SELECT data FROM statuspage_notify_events WHERE key = $1`, key)
}

// saveIf writes d if the stored delivery has attempts attempts, and reports whether it did.
func (s *postgresSubscribers) saveIf(d *deliveryRecord, attempts int) (saved bool, err error) {
	data, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	err = s.tx(func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE statuspage_notify_deliveries SET attempts = $2, next_at = $3, data = $4 WHERE key = $1 AND attempts = $5`,
			[]byte(d.Key), d.Attempts, d.NextAt, data, attempts)
		saved = tag.RowsAffected() == 1
		return err
	})
	return saved, err
}

// ClaimDelivery starts the attempt only if no replica started another since the delivery was
// read.
func (s *postgresSubscribers) ClaimDelivery(attempt *deliveryRecord) (bool, error) {
	return s.saveIf(attempt, attempt.Attempts-1)
}

// SaveDelivery writes the outcome of an attempt only while no other replica took the delivery
// over.
func (s *postgresSubscribers) SaveDelivery(d *deliveryRecord) (bool, error) {
	return s.saveIf(d, d.Attempts)
}

func (s *postgresSubscribers) FinishDelivery(d *deliveryRecord) error {
	return s.tx(func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM statuspage_notify_deliveries WHERE key = $1`, []byte(d.Key)); err != nil {
			return err
		}
		if d.EventKey == "" {
			return nil
		}
		return dropFinishedEvents(ctx, tx, []string{d.EventKey})
	})
}

// openSubscriberStore is the SubscriberStore beside the page's records: tables in its
// PostgreSQL database, or buckets in its bbolt file.
func openSubscriberStore(p *Page) (SubscriberStore, error) {
	switch s := p.store.(type) {
	case *postgresStore:
		return newPostgresSubscribers(s)
	case *boltStore:
		return newBoltSubscribers(s.db)
	}
	return nil, errors.New("subscriptions: the page's store keeps no subscribers")
}
