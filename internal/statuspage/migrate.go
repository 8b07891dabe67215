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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// `statuspage migrate` copies a page from its bbolt file into PostgreSQL: the records, the
// components' history, the subscribers with the key of their links, and the notifications
// still to send. It writes in one transaction, under the replicas' write lock, and
// announces the write as a replica does, so replicas already running pick it up. Copying
// the same file again writes the same rows; a database that holds anything the file does
// not (another page) is refused.

// fileCopy is what migrate reads from the file.
type fileCopy struct {
	recs       records
	history    []statusRow
	secret     []byte
	subs       []*subscriberRecord
	events     []*eventRecord
	fannedOut  map[string]string
	deliveries []*deliveryRecord
}

// readFile reads the page's file, opened read-only so that it is left as it was.
func readFile(path string) (*fileCopy, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the file is in use by a status page process: stop it first", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() { _ = db.Close() }()
	var fc fileCopy
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || string(meta.Get(keyVersion)) != schemaVersion {
			return fmt.Errorf("not a status page file of schema version %s", schemaVersion)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if fc.recs, err = (&boltStore{db: db}).load(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fc.fannedOut = map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		// Buckets a file from before subscriptions or history lacks.
		each := func(bucket []byte, f func(k, v []byte) error) error {
			if b := tx.Bucket(bucket); b != nil {
				return b.ForEach(f)
			}
			return nil
		}
		if err := each(bucketStatusHistory, func(k, v []byte) error {
			var ch statusChange
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("record %s/%q: %w", bucketStatusHistory, k, err)
			}
			fc.history = append(fc.history, statusRow{string(k[:max(0, len(k)-13)]), ch})
			return nil
		}); err != nil {
			return err
		}
		if b := tx.Bucket(bucketSubMeta); b != nil {
			fc.secret = append([]byte(nil), b.Get(keySubscribeToken)...)
		}
		decodeInto := func(bucket []byte, add func([]byte) error) error {
			return each(bucket, func(k, v []byte) error {
				if err := add(v); err != nil {
					return fmt.Errorf("record %s/%q: %w", bucket, k, err)
				}
				return nil
			})
		}
		if err := decodeInto(bucketSubscribers, func(v []byte) error { return appendJSON(&fc.subs, v) }); err != nil {
			return err
		}
		if err := decodeInto(bucketEvents, func(v []byte) error { return appendJSON(&fc.events, v) }); err != nil {
			return err
		}
		if err := decodeInto(bucketDeliveries, func(v []byte) error { return appendJSON(&fc.deliveries, v) }); err != nil {
			return err
		}
		return each(bucketFannedOut, func(k, v []byte) error {
			fc.fannedOut[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &fc, nil
}

func appendJSON[T any](out *[]*T, data []byte) error {
	r := new(T)
	if err := json.Unmarshal(data, r); err != nil {
		return err
	}
	*out = append(*out, r)
	return nil
}

// keys are the record keys of the file by kind, as statuspage_records keys them.
func (fc *fileCopy) keys() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	add := func(kind []byte, key string) {
		if out[string(kind)] == nil {
			out[string(kind)] = map[string]bool{}
		}
		out[string(kind)][key] = true
	}
	for _, c := range fc.recs.components {
		add(bucketComponents, c.ID)
	}
	for _, i := range fc.recs.incidents {
		add(bucketIncidents, i.ID)
	}
	for _, u := range fc.recs.updates {
		add(bucketUpdates, string(updateKey(u.IncidentID, u.ID)))
	}
	for _, pm := range fc.recs.postmortems {
		add(bucketPostmortems, pm.IncidentID)
	}
	for _, m := range fc.recs.metrics {
		add(bucketMetrics, m.ID)
	}
	for _, m := range fc.recs.maintenances {
		add(bucketMaintenances, m.ID)
	}
	for _, s := range fc.subs {
		add(bucketSubscribers, s.ID)
	}
	return out
}

// checkTarget refuses a database that holds records or subscribers the file does not, or a
// key of the links other than the file's while it has subscribers.
func (fc *fileCopy) checkTarget(ctx context.Context, tx pgx.Tx) error {
	keys := fc.keys()
	rows, err := tx.Query(ctx, `SELECT kind, key FROM statuspage_records UNION ALL SELECT 'subscribers', id FROM statuspage_subscribers`)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Kind, Key string }])
	if err != nil {
		return err
	}
	for _, r := range found {
		if !keys[r.Kind][r.Key] {
			return fmt.Errorf("the database already holds a page with %s %q, which the file does not have: migrate into an empty database", strings.TrimSuffix(r.Kind, "s"), r.Key)
		}
	}
	var secret []byte
	err = tx.QueryRow(ctx, `SELECT value FROM statuspage_subscriber_meta WHERE key = 'secret'`).Scan(&secret)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if len(found) > 0 && secret != nil && fc.secret != nil && string(secret) != string(fc.secret) {
		return errors.New("the database's subscription links are signed with another key than the file's: migrate into an empty database")
	}
	return nil
}

// copyInto writes the file's rows in one transaction at the next revision.
func (fc *fileCopy) copyInto(ctx context.Context, tx pgx.Tx) (int64, error) {
	var rev int64
	if err := tx.QueryRow(ctx, `UPDATE statuspage_meta SET rev = rev + 1 WHERE id = 1 RETURNING rev`).Scan(&rev); err != nil {
		return 0, err
	}
	if err := fc.checkTarget(ctx, tx); err != nil {
		return 0, err
	}
	q := &pgx.Batch{}
	put := func(kind []byte, key string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		q.Queue(`INSERT INTO statuspage_records (kind, key, data, rev) VALUES ($1, $2, $3, $4)
			ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, rev = excluded.rev`, string(kind), key, data, rev)
		// A tombstone of an id deleted from the database before would undo the copy on
		// replicas that catch up.
		q.Queue(`DELETE FROM statuspage_deleted WHERE kind = $1 AND key = $2`, string(kind), key)
		return nil
	}
	var errs []error
	keys := fc.keys()
	for _, c := range fc.recs.components {
		errs = append(errs, put(bucketComponents, c.ID, c))
		q.Queue(`DELETE FROM statuspage_component_history WHERE component = $1`, c.ID)
	}
	for _, i := range fc.recs.incidents {
		errs = append(errs, put(bucketIncidents, i.ID, i))
	}
	for _, u := range fc.recs.updates {
		errs = append(errs, put(bucketUpdates, string(updateKey(u.IncidentID, u.ID)), u))
	}
	for _, pm := range fc.recs.postmortems {
		errs = append(errs, put(bucketPostmortems, pm.IncidentID, pm))
	}
	for _, m := range fc.recs.metrics {
		errs = append(errs, put(bucketMetrics, m.ID, m))
	}
	for _, m := range fc.recs.maintenances {
		errs = append(errs, put(bucketMaintenances, m.ID, m))
	}
	for _, r := range fc.history {
		if !keys[string(bucketComponents)][r.component] {
			continue // a deleted component's, which the file drops at its next open
		}
		q.Queue(`INSERT INTO statuspage_component_history (component, at_ns, status, rev) VALUES ($1, $2, $3, $4)`,
			r.component, r.change.At.UnixNano(), r.change.Status, rev)
	}
	if fc.secret != nil {
		q.Queue(`INSERT INTO statuspage_subscriber_meta (key, value) VALUES ('secret', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, fc.secret)
	}
	for _, s := range fc.subs {
		data, err := json.Marshal(s)
		errs = append(errs, err)
		q.Queue(`INSERT INTO statuspage_subscribers (id, email, confirmed, created_at, data) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET email = excluded.email, confirmed = excluded.confirmed, data = excluded.data`,
			s.ID, strings.ToLower(s.Email), s.confirmed(), s.CreatedAt, data)
	}
	for _, ev := range fc.events {
		data, err := json.Marshal(ev)
		errs = append(errs, err)
		q.Queue(`INSERT INTO statuspage_notify_events (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = excluded.data`, ev.Key, data)
	}
	for key, at := range fc.fannedOut {
		t, err := time.Parse(time.RFC3339Nano, at)
		errs = append(errs, err)
		q.Queue(`INSERT INTO statuspage_notify_fanned_out (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, t)
	}
	for _, d := range fc.deliveries {
		errs = append(errs, putDelivery(q, d))
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	q.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, strconv.FormatInt(rev, 10))
	return rev, tx.SendBatch(ctx, q).Close()
}

// Migrate copies the page in the bbolt file at from into the PostgreSQL database of cfg.
func Migrate(ctx context.Context, from string, cfg PostgresConfig, log *slog.Logger) error {
	fc, err := readFile(from)
	if err != nil {
		return err
	}
	s, err := openPostgresStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = s.close() }()
	if _, err := newPostgresSubscribers(s); err != nil {
		return err
	}
	var rev int64
	if err := s.withTx(ctx, fanOutTimeout, func(ctx context.Context, tx pgx.Tx) (err error) {
		rev, err = fc.copyInto(ctx, tx)
		return err
	}); err != nil {
		return fmt.Errorf("copy %s into PostgreSQL: %w", from, err)
	}
	log.Info("copied the page into PostgreSQL", "from", from, "revision", rev, "components", len(fc.recs.components),
		"incidents", len(fc.recs.incidents), "updates", len(fc.recs.updates), "postmortems", len(fc.recs.postmortems),
		"historyRows", len(fc.history), "subscribers", len(fc.subs), "deliveries", len(fc.deliveries))
	return nil
}

func (s *postgresStore) withTx(ctx context.Context, d time.Duration, f func(context.Context, pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return f(ctx, tx) })
}

// mainMigrate is `statuspage migrate --from FILE`, into the database named as the server's.
func mainMigrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var from, urlFile string
	cfg := PostgresConfig{Timeout: 5 * time.Second}
	fs := flag.NewFlagSet("statuspage migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&from, "from", "", "The page's bbolt file (stop the server using it first).")
	fs.StringVar(&urlFile, "postgres-url-file", "", "File holding the PostgreSQL connection string (else $"+EnvPostgresURL+").")
	fs.DurationVar(&cfg.Timeout, "postgres-timeout", cfg.Timeout, "Bound on connecting to PostgreSQL.")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: statuspage migrate --from FILE.db [--postgres-url-file FILE]\n\n"+
			"Copies the page in a bbolt file (records, history, subscribers, notifications still to\n"+
			"send) into PostgreSQL, named by --postgres-url-file or $%s as for the server.\n"+
			"Copying the same file again changes nothing; a database holding another page is refused.\n\n", EnvPostgresURL)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if from == "" {
		return errors.New("migrate needs --from FILE.db, the page's bbolt file")
	}
	var err error
	if cfg.URL, err = readPostgresURL(urlFile, getenv(EnvPostgresURL)); err != nil {
		return err
	}
	if cfg.URL == "" {
		return fmt.Errorf("migrate needs the PostgreSQL connection string: --postgres-url-file or $%s", EnvPostgresURL)
	}
	return Migrate(ctx, from, cfg, slog.New(slog.NewTextHandler(stderr, nil)))
}
