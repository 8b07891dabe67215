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
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL store keeps the same records as the bbolt file, one row each in
// statuspage_records (kind is the bbolt bucket's name, key its key, data the same JSON), so
// that sizes count alike. Every write takes the row lock of statuspage_meta, which
// serialises the writers of every replica, and stamps the rows it writes with the next
// revision; deleted ids leave a row in statuspage_deleted. A replica brings its records up
// to date by reading the rows of revisions it has not seen: when it begins a write, and when
// a write's NOTIFY reaches it (LISTEN on one connection of its own).

// postgresSchemaVersion is the version of the tables; a database of another version is
// refused rather than misread.
const postgresSchemaVersion = "1"

// notifyChannel is the channel on which every commit announces its revision.
const notifyChannel = "firescope_statuspage"

// PostgresConfig is how the status page reaches PostgreSQL.
type PostgresConfig struct {
	// URL is the connection string (postgres://user:password@host:5432/db?sslmode=verify-full,
	// or key=value pairs); libpq's PG* environment variables fill in what it leaves out. It
	// holds a password, so it is never logged.
	URL string
	// MaxConns is the size of the connection pool, which serves writes (one at a time per
	// replica) and catching up; LISTEN has a connection of its own.
	MaxConns int32
	// Timeout bounds connecting and each write (its transaction, from begin to commit) or
	// catch-up; a write that takes longer is answered 503 and not applied.
	Timeout time.Duration
}

var postgresSchema = []string{
	`CREATE TABLE IF NOT EXISTS statuspage_meta (
		id int PRIMARY KEY CHECK (id = 1),
		schema_version text NOT NULL,
		rev bigint NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS statuspage_records (
		kind text NOT NULL,
		key text COLLATE "C" NOT NULL,
		data bytea NOT NULL,
		rev bigint NOT NULL,
		PRIMARY KEY (kind, key))`,
	`CREATE INDEX IF NOT EXISTS statuspage_records_rev ON statuspage_records (rev)`,
	`CREATE TABLE IF NOT EXISTS statuspage_deleted (
		kind text NOT NULL,
		key text COLLATE "C" NOT NULL,
		rev bigint NOT NULL,
		PRIMARY KEY (kind, key))`,
	`CREATE INDEX IF NOT EXISTS statuspage_deleted_rev ON statuspage_deleted (rev)`,
	`INSERT INTO statuspage_meta (id, schema_version, rev) VALUES (1, '` + postgresSchemaVersion + `', 0) ON CONFLICT (id) DO NOTHING`,
	// Tables added since version 1 was released, which a database of that version gains on
	// open (as a bbolt file gains buckets).
	postgresHistoryTable,
	postgresHistoryIndexes[0],
	postgresHistoryIndexes[1],
	postgresHistoryIndexes[2],
	// When each deletion was made, so that every replica's updated_at is the same.
	`ALTER TABLE statuspage_deleted ADD COLUMN IF NOT EXISTS at_ns bigint NOT NULL DEFAULT 0`,
}

// schemaLockKey is the advisory lock that keeps replicas starting together from creating
// the tables at the same time.
const schemaLockKey = 7_303_101_100

// schemaShared takes schemaLockKey shared for the rest of tx, before tx locks anything else.
// A replica that starts alters tables while it holds the key alone, and then waits for the
// write lock; a write that locked the write row first and a table second would deadlock with
// it.
func schemaShared(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, int64(schemaLockKey))
	return err
}

type postgresStore struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	log     *slog.Logger

	// rev is the revision of the records the page holds; it changes with p.mu held.
	rev int64
	// The write begun: its transaction, the revision it commits and its deadline.
	tx     pgx.Tx
	next   int64
	cancel context.CancelFunc
	ctx    context.Context

	stopListen context.CancelFunc
	listening  sync.WaitGroup

	// statusRows, set by the page, are the component history rows a write adds; loaded is
	// the history that load read, until the page takes it (store_postgres_history.go).
	statusRows func([]*componentRecord) []statusRow
	loaded     []statusRow
	// deletedAt is the time of the latest deletion that load read.
	deletedAt time.Time
}

// openPostgresStore connects, creates the tables if they are missing and checks their
// version.
func openPostgresStore(ctx context.Context, cfg PostgresConfig, log *slog.Logger) (*postgresStore, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx leaves the password out of its error.
		return nil, fmt.Errorf("the PostgreSQL connection string: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = cfg.Timeout
	}
	// A replica that stops answering in the middle of a write (a network partition, a
	// stopped process) must not hold the write lock of every other replica for long.
	if _, ok := pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt((2 * cfg.Timeout).Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	s := &postgresStore{pool: pool, timeout: cfg.Timeout, log: log}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *postgresStore) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLockKey)); err != nil {
			return err
		}
		for _, stmt := range postgresSchema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		var v string
		if err := tx.QueryRow(ctx, `SELECT schema_version FROM statuspage_meta WHERE id = 1`).Scan(&v); err != nil {
			return err
		}
		if v != postgresSchemaVersion {
			return fmt.Errorf("data schema version %q; this binary reads version %s", v, postgresSchemaVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("PostgreSQL: prepare the tables: %w", err)
	}
	return nil
}

// load reads every record, as of one revision.
func (s *postgresStore) load() (recs records, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	recs.incidentBytes = map[string]int64{}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT rev FROM statuspage_meta WHERE id = 1`).Scan(&s.rev); err != nil {
			return err
		}
		var err error
		if s.loaded, err = readStatusRows(ctx, tx, -1); err != nil {
			return err
		}
		if s.deletedAt, err = lastDeletion(ctx, tx, -1); err != nil {
			return err
		}
		return forEachRow(ctx, tx, `SELECT kind, key, data FROM statuspage_records`, nil, func(kind, key string, data []byte) error {
			n := recordSize([]byte(key), data)
			switch kind {
			case string(bucketComponents):
				r, err := decode[componentRecord](kind, key, data)
				recs.components = append(recs.components, r)
				recs.componentBytes += n
				return err
			case string(bucketIncidents):
				r, err := decode[incidentRecord](kind, key, data)
				recs.incidents = append(recs.incidents, r)
				recs.incidentBytes[r.ID] += n
				return err
			case string(bucketUpdates):
				r, err := decode[updateRecord](kind, key, data)
				recs.updates = append(recs.updates, r)
				recs.incidentBytes[r.IncidentID] += n
				return err
			case string(bucketPostmortems):
				r, err := decode[postmortemRecord](kind, key, data)
				recs.postmortems = append(recs.postmortems, r)
				recs.incidentBytes[r.IncidentID] += n
				return err
			case string(bucketMetrics):
				r, err := decode[metricRecord](kind, key, data)
				recs.metrics = append(recs.metrics, r)
				recs.metricBytes += n
				return err
			case string(bucketMaintenances):
				r, err := decode[maintenanceRecord](kind, key, data)
				recs.maintenances = append(recs.maintenances, r)
				recs.componentBytes += n
				return err
			}
			return fmt.Errorf("record %s/%s: unknown kind", kind, key)
		})
	})
	if err != nil {
		return records{}, unavailable(err)
	}
	return recs, nil
}

func decode[T any](kind, key string, data []byte) (*T, error) {
	r := new(T)
	if err := json.Unmarshal(data, r); err != nil {
		return r, fmt.Errorf("record %s/%s: %w", kind, key, err)
	}
	return r, nil
}

// forEachRow runs query and passes on each row's kind, key and data (nil if the query has
// only two columns).
func forEachRow(ctx context.Context, tx pgx.Tx, query string, args []any, f func(kind, key string, data []byte) error) error {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, key string
		var data []byte
		dest := []any{&kind, &key, &data}
		if len(rows.FieldDescriptions()) == 2 {
			dest = dest[:2]
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := f(kind, key, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// changesSince reads what was committed after revision rev, up to the revision that tx
// sees.
func changesSince(ctx context.Context, tx pgx.Tx, rev int64) (ch changes, err error) {
	err = forEachRow(ctx, tx, `SELECT kind, key FROM statuspage_deleted WHERE rev > $1`, []any{rev}, func(kind, key string, _ []byte) error {
		switch kind {
		case string(bucketComponents):
			ch.deletes.deleteComponents = append(ch.deletes.deleteComponents, key)
		case string(bucketIncidents):
			ch.deletes.deleteIncidents = append(ch.deletes.deleteIncidents, key)
		case string(bucketMetrics):
			ch.deletes.deleteMetrics = append(ch.deletes.deleteMetrics, key)
		}
		return nil
	})
	if err != nil {
		return ch, err
	}
	err = forEachRow(ctx, tx, `SELECT kind, key, data FROM statuspage_records WHERE rev > $1`, []any{rev}, func(kind, key string, data []byte) error {
		b := &ch.puts
		var err error
		switch kind {
		case string(bucketComponents):
			var r *componentRecord
			r, err = decode[componentRecord](kind, key, data)
			b.components = append(b.components, r)
		case string(bucketIncidents):
			var r *incidentRecord
			r, err = decode[incidentRecord](kind, key, data)
			b.incidents = append(b.incidents, r)
		case string(bucketUpdates):
			var r *updateRecord
			r, err = decode[updateRecord](kind, key, data)
			b.updates = append(b.updates, r)
		case string(bucketPostmortems):
			var r *postmortemRecord
			r, err = decode[postmortemRecord](kind, key, data)
			b.postmortems = append(b.postmortems, r)
		case string(bucketMetrics):
			var r *metricRecord
			r, err = decode[metricRecord](kind, key, data)
			b.metrics = append(b.metrics, r)
		case string(bucketMaintenances):
			var r *maintenanceRecord
			r, err = decode[maintenanceRecord](kind, key, data)
			b.maintenances = append(b.maintenances, r)
		}
		return err
	})
	if err != nil {
		return ch, err
	}
	if ch.deletes.deletedAt, err = lastDeletion(ctx, tx, rev); err != nil {
		return ch, err
	}
	ch.statuses, err = readStatusRows(ctx, tx, rev)
	return ch, err
}

// lastDeletion is the time of the latest deletion committed after revision rev (zero if
// none, or if only binaries that kept no time deleted since).
func lastDeletion(ctx context.Context, tx pgx.Tx, rev int64) (time.Time, error) {
	var ns int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(at_ns), 0) FROM statuspage_deleted WHERE rev > $1`, rev).Scan(&ns); err != nil || ns == 0 {
		return time.Time{}, err
	}
	return time.Unix(0, ns).UTC(), nil
}

// begin takes the write lock of every replica (the row lock of statuspage_meta, held until
// the write commits or ends) and reads what was committed since s.rev.
func (s *postgresStore) begin() (changes, error) {
	s.ctx, s.cancel = context.WithTimeout(context.Background(), s.timeout)
	tx, err := s.pool.Begin(s.ctx)
	if err != nil {
		return changes{}, unavailable(err)
	}
	s.tx = tx
	if err := schemaShared(s.ctx, tx); err != nil {
		return changes{}, unavailable(err)
	}
	if err := tx.QueryRow(s.ctx, `UPDATE statuspage_meta SET rev = rev + 1 WHERE id = 1 RETURNING rev`).Scan(&s.next); err != nil {
		return changes{}, unavailable(err)
	}
	ch, err := changesSince(s.ctx, tx, s.rev)
	if err != nil {
		return changes{}, unavailable(err)
	}
	s.rev = s.next - 1
	return ch, nil
}

// commit writes the batch at the next revision, announces it and commits.
func (s *postgresStore) commit(b batch) error {
	q := &pgx.Batch{}
	put := func(bucket []byte, key string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		q.Queue(`INSERT INTO statuspage_records (kind, key, data, rev) VALUES ($1, $2, $3, $4)
			ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, rev = excluded.rev`, string(bucket), key, data, s.next)
		return nil
	}
	tombstone := func(bucket []byte, key string) {
		q.Queue(`INSERT INTO statuspage_deleted (kind, key, rev, at_ns) VALUES ($1, $2, $3, $4)
			ON CONFLICT (kind, key) DO UPDATE SET rev = excluded.rev, at_ns = excluded.at_ns`, string(bucket), key, s.next, b.deletedAt.UnixNano())
	}
	for _, c := range b.components {
		if err := put(bucketComponents, c.ID, c); err != nil {
			return err
		}
	}
	for _, id := range b.deleteComponents {
		q.Queue(`DELETE FROM statuspage_records WHERE kind = $1 AND key = $2`, string(bucketComponents), id)
		tombstone(bucketComponents, id)
	}
	for _, i := range b.incidents {
		if err := put(bucketIncidents, i.ID, i); err != nil {
			return err
		}
	}
	for _, u := range b.updates {
		if err := put(bucketUpdates, string(updateKey(u.IncidentID, u.ID)), u); err != nil {
			return err
		}
	}
	for _, pm := range b.postmortems {
		if err := put(bucketPostmortems, pm.IncidentID, pm); err != nil {
			return err
		}
	}
	for _, m := range b.maintenances {
		if err := put(bucketMaintenances, m.ID, m); err != nil {
			return err
		}
	}
	for _, id := range b.deleteIncidents {
		q.Queue(`DELETE FROM statuspage_records WHERE kind IN ($1, $2) AND key = $3`, string(bucketIncidents), string(bucketPostmortems), id)
		// Ids cannot contain '/' (nor '0' sort before it), so this range is the incident's
		// updates and nothing else.
		prefix := string(updateKey(id, ""))
		q.Queue(`DELETE FROM statuspage_records WHERE kind = $1 AND key >= $2 AND key < $3`, string(bucketUpdates), prefix, id+"0")
		tombstone(bucketIncidents, id)
	}
	for _, m := range b.metrics {
		if err := put(bucketMetrics, m.ID, m); err != nil {
			return err
		}
	}
	for _, id := range b.deleteMetrics {
		q.Queue(`DELETE FROM statuspage_records WHERE kind = $1 AND key = $2`, string(bucketMetrics), id)
		tombstone(bucketMetrics, id)
	}
	s.queueStatusRows(q, b)
	q.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, strconv.FormatInt(s.next, 10))
	if err := s.tx.SendBatch(s.ctx, q).Close(); err != nil {
		return unavailable(err)
	}
	// An error here leaves it unknown whether the write landed: the client's retry is a
	// replay or a first write, and this page catches up either way.
	if err := s.tx.Commit(s.ctx); err != nil {
		return unavailable(err)
	}
	s.rev = s.next
	return nil
}

func (s *postgresStore) end() {
	if s.tx != nil {
		// After a commit this does nothing; otherwise it gives up the write and its lock.
		_ = s.tx.Rollback(s.ctx)
		s.tx = nil
	}
	s.cancel()
}

// catchUp reads what was committed since s.rev. Callers hold p.mu.
func (s *postgresStore) catchUp() (ch changes, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var rev int64
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT rev FROM statuspage_meta WHERE id = 1`).Scan(&rev); err != nil {
			return err
		}
		if rev == s.rev {
			return nil
		}
		ch, err = changesSince(ctx, tx, s.rev)
		return err
	})
	if err != nil {
		return changes{}, unavailable(err)
	}
	s.rev = rev
	return ch, nil
}

// listen calls changed with the revision of every commit announced, and with 0 (unknown)
// each time it starts listening, since commits may have been missed while it was not. It
// listens again, with backoff, after an error of its connection or of changed, until ctx is
// done.
func (s *postgresStore) listen(ctx context.Context, changed func(rev int64) error) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, changed, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("PostgreSQL: cannot follow other replicas' writes; the page serves what it has", "err", err, "retryIn", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *postgresStore) listenOnce(ctx context.Context, changed func(rev int64) error, connected func()) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	conn, err := s.pool.Acquire(cctx)
	if err == nil {
		_, err = conn.Exec(cctx, `LISTEN `+notifyChannel)
	}
	cancel()
	if err != nil {
		if conn != nil {
			conn.Release()
		}
		return err
	}
	// The connection now holds a LISTEN: it leaves the pool for good.
	c := conn.Hijack()
	defer func() { _ = c.Close(context.Background()) }()
	if err := changed(0); err != nil {
		return err
	}
	connected()
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		rev, _ := strconv.ParseInt(n.Payload, 10, 64)
		if err := changed(rev); err != nil {
			return err
		}
	}
}

func (s *postgresStore) close() error {
	if s.stopListen != nil {
		s.stopListen()
		s.listening.Wait()
	}
	s.pool.Close()
	return nil
}

// unavailable marks a PostgreSQL error as one a retry may get past: PostgreSQL is
// restarting, unreachable, or too slow. The records are checked before they are written,
// so no error of a write is the request's fault.
func unavailable(err error) error {
	if errors.Is(err, errUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", errUnavailable, err)
}
