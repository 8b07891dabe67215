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
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"firescope.dev/firescope/internal/statuspage/api"
)

// Component history: every change of a component's status is recorded with its time (the
// update's created_at, or the time of the write that set it), and the front page shows each
// component's last historyDays days as daily bars, with the day's incidents on hover and the
// uptime over the period. The records live in a bucket of their own, or on PostgreSQL in a
// table written in the transaction of the write that changed the statuses
// (store_postgres_history.go); a file or database from before them starts its history with
// each component's status at open. Both keep about historyDays days of it: a running page
// prunes what is older but the status the bars start with (keepHistoryBounded).

const (
	historyDays = 90
	// maxChangesPerComponent bounds the history a component keeps, the latest: far more
	// than the changes of 90 days of real incidents.
	maxChangesPerComponent = 5000
	// historyPruneInterval is how often a running page deletes the stored history that no
	// bar reads, and historyPruneTimeout bounds one pass; historyPruneBatch is how many
	// records one transaction of it deletes, so that a write waits for at most one batch.
	historyPruneInterval = time.Hour
	historyPruneTimeout  = 5 * time.Minute
	historyPruneBatch    = 1000
)

var bucketStatusHistory = []byte("component_status_history")

// statusChange is a component's status from At on.
type statusChange struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
}

// downWeight is how much of a period in each status counts as downtime: a major outage all of
// it, a partial outage half; degraded performance and maintenance count as up.
var downWeight = map[string]float64{string(api.MajorOutage): 1, string(api.PartialOutage): 0.5}

func historyKey(componentID string, at time.Time, n int) []byte {
	k := make([]byte, 0, len(componentID)+13)
	k = append(k, componentID...)
	k = append(k, '/')
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	return binary.BigEndian.AppendUint32(k, uint32(n))
}

// loadHistory reads the recorded changes of the page's components, drops those of
// components that are gone and those past the window, and starts the history of a
// component that has none (or whose last recorded status is not its status) with its
// status now. Callers hold p.mu, or own p.
func (p *Page) loadHistory() error {
	p.history = map[string][]statusChange{}
	switch s := p.store.(type) {
	case *boltStore:
		if err := p.readHistory(s.db); err != nil {
			return err
		}
	case *postgresStore:
		p.history = s.takeHistory()
		for id := range p.history {
			if p.components[id] == nil {
				delete(p.history, id)
			}
		}
	}
	p.trimHistory(historyHorizon(p.clock()))
	if p.boltDB() != nil {
		// PostgreSQL's replicas must agree on it: OpenPostgresPage records it in a write.
		p.recordStatuses(p.unrecordedStatuses())
	}
	return nil
}

// historyHorizon is the time at and before which the bars read only the status the history
// starts with: a day before the first bar's day, in any time zone and with the clocks of
// replicas a little apart.
func historyHorizon(now time.Time) time.Time { return now.AddDate(0, 0, -historyDays-1) }

// trimHistory drops each component's changes at or before horizon but the last, which is the
// status the first bar starts with. Callers hold p.mu, or own p.
func (p *Page) trimHistory(horizon time.Time) {
	for id, hist := range p.history {
		i := slices.IndexFunc(hist, func(c statusChange) bool { return c.At.After(horizon) })
		if i < 0 {
			i = len(hist)
		}
		if i > 1 {
			// A copy, so that the dropped changes are freed.
			p.history[id] = slices.Clone(hist[i-1:])
		}
	}
}

// keepHistoryBounded prunes the stored history (pruneHistory) at once and then every
// historyPruneInterval until ctx is done, so that a page running for years keeps about
// historyDays days of it; the log has the counts.
func (p *Page) keepHistoryBounded(ctx context.Context, log *slog.Logger) {
	for {
		pctx, cancel := context.WithTimeout(ctx, historyPruneTimeout)
		n, err := p.pruneHistory(pctx, historyPruneBatch)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("pruning the component history", "deleted", n, "err", err)
		case n > 0:
			log.Info("pruned the component history", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(historyPruneInterval):
		}
	}
}

// pruneHistory deletes the stored changes at or before the horizon but each component's
// last, batch records a transaction, and drops them from memory. It reports how many records
// it deleted. It holds p.mu only for the memory: the stores delete alongside the page's
// writes, and nothing they delete changes what the page shows.
func (p *Page) pruneHistory(ctx context.Context, batch int) (int, error) {
	horizon := historyHorizon(p.clock())
	n, err := p.store.pruneHistory(ctx, horizon, batch)
	p.mu.Lock()
	p.trimHistory(horizon)
	p.mu.Unlock()
	return n, err
}

// pruneHistory deletes the history records at or before horizon but each component's last,
// in transactions of batch deletions: bbolt has one writer, and a page write waits for at
// most one of them.
func (s *boltStore) pruneHistory(ctx context.Context, horizon time.Time, batch int) (int, error) {
	var doomed [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStatusHistory)
		if b == nil {
			return nil
		}
		// The keys sort by component, then time: a key at or before horizon is doomed when
		// the next one is the same component's, also at or before it.
		var prev []byte
		return b.ForEach(func(k, _ []byte) error {
			old := len(k) >= 13 && int64(binary.BigEndian.Uint64(k[len(k)-12:])) <= horizon.UnixNano()
			if old && prev != nil && bytes.Equal(prev[:len(prev)-13], k[:len(k)-13]) {
				doomed = append(doomed, prev)
			}
			prev = nil
			if old {
				prev = slices.Clone(k)
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("component history: %w", err)
	}
	n := 0
	for len(doomed) > 0 {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		keys := doomed[:min(batch, len(doomed))]
		if err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketStatusHistory)
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return n, fmt.Errorf("component history: %w", err)
		}
		n += len(keys)
		doomed = doomed[len(keys):]
	}
	return n, nil
}

// unrecordedStatuses are the components without a history, or whose last recorded status is
// not their status. Callers hold p.mu.
func (p *Page) unrecordedStatuses() []*componentRecord {
	var out []*componentRecord
	for _, c := range p.components {
		if h := p.history[c.ID]; len(h) == 0 || h[len(h)-1].Status != c.Status {
			out = append(out, c)
		}
	}
	return out
}

// readHistory reads the recorded changes from the bbolt file and deletes those of components
// that are gone.
func (p *Page) readHistory(db *bolt.DB) error {
	var stale [][]byte
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketStatusHistory)
		if err != nil {
			return err
		}
		if err := b.ForEach(func(k, v []byte) error {
			id := string(k[:max(0, len(k)-13)])
			var ch statusChange
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("record %s/%q: %w", bucketStatusHistory, k, err)
			}
			if p.components[id] == nil {
				stale = append(stale, k)
				return nil
			}
			p.history[id] = append(p.history[id], ch)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("component history: %w", err)
	}
	return nil
}

// boltDB is the page's bbolt file, or nil on PostgreSQL.
func (p *Page) boltDB() *bolt.DB {
	if b, ok := p.store.(*boltStore); ok {
		return b.db
	}
	return nil
}

// recordStatuses records the components whose status differs from the one recorded for the
// time it was decided (statusChanges). Callers hold p.mu, after the write that changed them
// is committed: on PostgreSQL the commit stored the same changes; in the file a failure to
// store them loses nothing of the page, since the next open records the status again.
func (p *Page) recordStatuses(comps []*componentRecord) {
	now := p.clock()
	changes := p.statusChanges(comps)
	if len(changes) == 0 {
		return
	}
	if db := p.boltDB(); db != nil {
		storeStatuses(db, changes, now)
	}
	for _, c := range changes {
		p.addStatusChange(c.ID, statusChange{At: changeTime(c, now), Status: c.Status})
	}
}

// statusChanges are those of comps whose status differs from the one recorded for the time
// it was decided (an update published late is placed at its own time). Callers hold p.mu.
func (p *Page) statusChanges(comps []*componentRecord) []*componentRecord {
	now := p.clock()
	var changes []*componentRecord
	for _, c := range comps {
		h := p.history[c.ID]
		if i := historyIndex(h, changeTime(c, now)); i > 0 && h[i-1].Status == c.Status {
			continue
		}
		changes = append(changes, c)
	}
	return changes
}

// addStatusChange puts a change in a component's history, after every change at or before
// its time. Callers hold p.mu.
func (p *Page) addStatusChange(id string, ch statusChange) {
	h := p.history[id]
	h = slices.Insert(h, historyIndex(h, ch.At), ch)
	if len(h) > maxChangesPerComponent {
		h = h[len(h)-maxChangesPerComponent:]
	}
	p.history[id] = h
}

// storeStatuses writes the changes to the bbolt file, best effort (see recordStatuses).
func storeStatuses(db *bolt.DB, changes []*componentRecord, now time.Time) {
	_ = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketStatusHistory)
		if err != nil {
			return err
		}
		for i, c := range changes {
			at := changeTime(c, now)
			v, _ := json.Marshal(statusChange{At: at, Status: c.Status})
			if err := b.Put(historyKey(c.ID, at, i), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// historyIndex is where a change at t goes: after every change at or before t.
func historyIndex(h []statusChange, t time.Time) int {
	i, _ := slices.BinarySearchFunc(h, t, func(c statusChange, t time.Time) int {
		if c.At.After(t) {
			return 1
		}
		return -1
	})
	return i
}

// changeTime is when a component's current status was decided: the update's time, or the
// write's for a status set directly or at creation.
func changeTime(c *componentRecord, now time.Time) time.Time {
	if !c.StatusAt.IsZero() {
		return c.StatusAt
	}
	if c.UpdatedAt.IsZero() {
		return now
	}
	return c.UpdatedAt
}

// uptimeView is a component's history on the front page.
type uptimeView struct {
	Days []dayBar
	// Percent is the uptime over the days with history, "" when there is none yet.
	Percent string
	// Summary says it in words, for screen readers.
	Summary string
	// Bars is Days rendered (the index template's "bars").
	Bars template.HTML
}

type dayBar struct {
	// Class is the day's worst status, or "none" before the history starts.
	Class, Date, Uptime string
	Incidents           []string
}

// dayIncidents is how many incidents a day's bar names, each in at most maxBarNameLength
// characters; the rest are counted. They bound what the bars add to the front page.
const (
	dayIncidents     = 3
	maxBarNameLength = 60
)

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

// uptime builds a component's bars for the historyDays days up to today, in the page's
// zone. Callers hold p.mu.
func (p *Page) uptime(c *componentRecord, incs []*publicIncident, now time.Time) *uptimeView {
	loc := p.info.Location
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// The bars run to the end of the current minute, not to this instant, so that replicas
	// rendering in the same minute serve the same bytes; rerender moves them on each minute.
	now = now.Truncate(time.Minute).Add(time.Minute)
	hist := p.history[c.ID]
	var affecting []*publicIncident
	for _, inc := range incs {
		if slices.ContainsFunc(inc.affected, func(a affectedComponent) bool { return a.ID == c.ID }) {
			affecting = append(affecting, inc)
		}
	}
	v := &uptimeView{}
	var covered, down float64
	badDays := 0
	for i := historyDays - 1; i >= 0; i-- {
		start := today.AddDate(0, 0, -i)
		end := minTime(start.AddDate(0, 0, 1), now)
		bar := dayBar{Date: start.Format("Jan 2, 2006"), Class: "none"}
		dayCovered, dayDown, worst := statusTime(hist, start, end)
		if dayCovered > 0 {
			bar.Class = worst
			bar.Uptime = formatUptime(dayCovered, dayDown) + " uptime"
			covered, down = covered+dayCovered, down+dayDown
		} else {
			bar.Uptime = "No data"
		}
		for _, inc := range affecting {
			resolved := now
			if r := inc.resolvedAt(); r != nil {
				resolved = *r
			}
			if inc.startedAt().Before(start.AddDate(0, 0, 1)) && !resolved.Before(start) {
				bar.Incidents = append(bar.Incidents, shorten(inc.rec.Name, maxBarNameLength))
			}
		}
		if len(bar.Incidents) == 0 && bar.Class != "none" {
			bar.Incidents = []string{"No incidents"}
		}
		if n := len(bar.Incidents); n > dayIncidents {
			bar.Incidents = append(bar.Incidents[:dayIncidents], fmt.Sprintf("and %d more", n-dayIncidents))
		}
		if bar.Class != "none" && bar.Class != string(api.Operational) || len(bar.Incidents) > 0 && bar.Incidents[0] != "No incidents" {
			badDays++
		}
		v.Days = append(v.Days, bar)
	}
	if covered > 0 {
		v.Percent = formatUptime(covered, down)
		v.Summary = fmt.Sprintf("%s uptime over the last %d days; %d days with incidents or degraded service.", v.Percent, historyDays, badDays)
	} else {
		v.Summary = "No history yet."
	}
	p.renderBars(c.ID, v)
	return v
}

// renderBars renders v's bars, or takes them from the last render of the component's when
// they are the same: most writes change one component's bars, if any, and rendering all of
// them again would take most of a write's time. Callers hold p.mu.
func (p *Page) renderBars(id string, v *uptimeView) {
	if p.bars == nil || len(p.bars) > 2*len(p.components) {
		// Start afresh rather than keep the bars of deleted components.
		p.bars = map[string]*uptimeView{}
	}
	if old := p.bars[id]; old != nil && slices.EqualFunc(old.Days, v.Days, func(a, b dayBar) bool {
		return a.Class == b.Class && a.Date == b.Date && a.Uptime == b.Uptime && slices.Equal(a.Incidents, b.Incidents)
	}) {
		v.Bars = old.Bars
	} else {
		var buf bytes.Buffer
		// The template is fixed and covered by tests; an error here is a bug.
		if err := templates["index"].ExecuteTemplate(&buf, "bars", v); err != nil {
			panic(fmt.Sprintf("render the uptime bars: %v", err))
		}
		v.Bars = template.HTML(buf.String()) // escaped by html/template as it rendered
	}
	p.bars[id] = v
}

// statusTime is how long within [start, end) the history covers, the downtime in it, and the
// worst status in it.
func statusTime(hist []statusChange, start, end time.Time) (covered, down float64, worst string) {
	worst = string(api.Operational)
	for i, ch := range hist {
		from, to := ch.At, end
		if i+1 < len(hist) {
			to = hist[i+1].At
		}
		from, to = maxTime(from, start), minTime(to, end)
		if !to.After(from) {
			continue
		}
		d := to.Sub(from).Seconds()
		covered += d
		down += d * downWeight[ch.Status]
		if statusRank[ch.Status] > statusRank[worst] {
			worst = ch.Status
		}
	}
	return covered, down, worst
}

// statusRank orders the statuses from best to worst, for a day's colour.
var statusRank = map[string]int{string(api.Operational): 0, string(api.UnderMaintenance): 1, string(api.DegradedPerformance): 2,
	string(api.PartialOutage): 3, string(api.MajorOutage): 4}

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

// formatUptime prints the uptime to two decimals, rounded down, so that any downtime shows
// as less than 100%.
func formatUptime(covered, down float64) string {
	pct := math.Floor((1-down/covered)*10000) / 100
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", pct), "0"), ".0") + "%"
}

// rerender renders the page again a second into each minute, so that the bars move on
// even without writes (rendering unchanged bytes keeps their ETags).
func (p *Page) rerender(ctx context.Context) {
	for {
		now := p.now()
		next := now.Truncate(time.Minute).Add(time.Minute + time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(next.Sub(now)):
		}
		p.mu.Lock()
		p.render(nil, false)
		p.mu.Unlock()
	}
}
