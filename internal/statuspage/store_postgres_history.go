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
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The component history on PostgreSQL: one row per status change, written in the
// transaction of the write that made it and stamped with its revision, so that every
// replica reads the same rows (when it opens, and when it catches up) and so draws the same
// bars. The writer decides which statuses are changes against the history it holds, which
// its write lock has brought up to date; rows at the same time keep the order they were
// written in (their id).

const postgresHistoryTable = `CREATE TABLE IF NOT EXISTS statuspage_component_history (
		id bigserial PRIMARY KEY,
		component text COLLATE "C" NOT NULL,
		at_ns bigint NOT NULL,
		status text NOT NULL,
		rev bigint NOT NULL)`

var postgresHistoryIndexes = []string{
	`CREATE INDEX IF NOT EXISTS statuspage_component_history_rev ON statuspage_component_history (rev)`,
	`CREATE INDEX IF NOT EXISTS statuspage_component_history_component ON statuspage_component_history (component)`,
	// For pruneHistory: a component's rows in the order they apply.
	`CREATE INDEX IF NOT EXISTS statuspage_component_history_component_at ON statuspage_component_history (component, at_ns, id)`,
}

// statusRow is one component's status change.
type statusRow struct {
	component string
	change    statusChange
}

// statusRows are the history rows that a write of comps adds. Callers hold p.mu, before the
// write is applied.
func (p *Page) statusRows(comps []*componentRecord) []statusRow {
	now := p.clock()
	var out []statusRow
	for _, c := range p.statusChanges(comps) {
		out = append(out, statusRow{c.ID, statusChange{At: changeTime(c, now), Status: c.Status}})
	}
	return out
}

// readStatusRows reads the history rows past revision rev, in the order they were written.
func readStatusRows(ctx context.Context, tx pgx.Tx, rev int64) ([]statusRow, error) {
	rows, err := tx.Query(ctx, `SELECT component, at_ns, status FROM statuspage_component_history WHERE rev > $1 ORDER BY id`, rev)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []statusRow
	for rows.Next() {
		var r statusRow
		var ns int64
		if err := rows.Scan(&r.component, &ns, &r.change.Status); err != nil {
			return nil, err
		}
		r.change.At = time.Unix(0, ns).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// queueStatusRows adds the history rows of b to the write's batch q.
func (s *postgresStore) queueStatusRows(q *pgx.Batch, b batch) {
	if s.statusRows != nil {
		for _, r := range s.statusRows(b.components) {
			q.Queue(`INSERT INTO statuspage_component_history (component, at_ns, status, rev) VALUES ($1, $2, $3, $4)`,
				r.component, r.change.At.UnixNano(), r.change.Status, s.next)
		}
	}
	for _, id := range b.deleteComponents {
		q.Queue(`DELETE FROM statuspage_component_history WHERE component = $1`, id)
	}
}

// pruneHistory deletes each component's rows at or before horizon but the last (in the
// order they apply: at_ns, then id), batch rows a statement, each its own transaction. It
// takes no write lock, since no replica reads those rows again but for the one kept, and it
// waits for nobody: it skips rows that another transaction holds (a write deleting the
// component, another replica pruning), which a later pass deletes. Deleting is idempotent,
// and the row kept is the same for every replica pruning at once.
func (s *postgresStore) pruneHistory(ctx context.Context, horizon time.Time, batch int) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT component FROM statuspage_component_history WHERE at_ns <= $1`, horizon.UnixNano())
	if err != nil {
		return 0, unavailable(err)
	}
	comps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, unavailable(err)
	}
	n := 0
	for _, c := range comps {
		for {
			tag, err := s.pool.Exec(ctx, `DELETE FROM statuspage_component_history WHERE id IN (
				SELECT h.id FROM statuspage_component_history h, (
					SELECT at_ns, id FROM statuspage_component_history WHERE component = $1 AND at_ns <= $2
					ORDER BY at_ns DESC, id DESC LIMIT 1) kept
				WHERE h.component = $1 AND (h.at_ns, h.id) < (kept.at_ns, kept.id)
				LIMIT $3 FOR UPDATE OF h SKIP LOCKED)`, c, horizon.UnixNano(), batch)
			if err != nil {
				return n, unavailable(err)
			}
			n += int(tag.RowsAffected())
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return n, nil
}

// takeHistory hands over the history that load read, oldest first.
func (s *postgresStore) takeHistory() map[string][]statusChange {
	out := map[string][]statusChange{}
	for _, r := range s.loaded {
		out[r.component] = append(out[r.component], r.change)
	}
	for _, h := range out {
		// Stable: rows at the same time stay in the order they were written.
		slices.SortStableFunc(h, func(a, b statusChange) int { return a.At.Compare(b.At) })
	}
	s.loaded = nil
	return out
}

// applyStatusRows adds other replicas' history rows, in the order they were written. Callers
// hold p.mu, after the components' changes are applied.
func (p *Page) applyStatusRows(rows []statusRow) {
	for _, r := range rows {
		if p.components[r.component] != nil {
			p.addStatusChange(r.component, r.change)
		}
	}
}

// recordHistoryStart records the status of the components without a history (a database
// from before it was kept) in a write, so that every replica starts their bars alike; a
// replica opening later finds them recorded.
func (p *Page) recordHistoryStart() error {
	if err := p.lockWrite(); err != nil {
		return err
	}
	defer p.unlockWrite()
	start := p.unrecordedStatuses()
	if len(start) == 0 {
		return nil
	}
	if err := p.commit(batch{components: start}); err != nil {
		return err
	}
	p.recordStatuses(start)
	p.render(nil, false)
	return nil
}
