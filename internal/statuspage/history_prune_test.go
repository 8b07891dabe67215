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
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"

	"firescope.dev/firescope/internal/statuspage/api"
)

// writeLongHistory gives the page 200 days of component history: api changes every day
// (with an incident a week into the bars), db only at its creation, and legacy twice on its
// first days and then not until 40 days ago, so that the bars before that read the status
// it had since long before them; quiet changed twice on its first days and never since.
func writeLongHistory(t *testing.T, p *Page, clock *fakeClock) {
	t.Helper()
	put := func(id, name string, status api.ComponentStatus) {
		t.Helper()
		if _, _, err := p.PutComponent(id, api.ComponentRequest{Name: name, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	put("db", "Database", api.Operational)
	put("legacy", "Legacy", api.Operational)
	put("quiet", "Quiet", api.Operational)
	for day := range 200 {
		switch day {
		case 1:
			put("legacy", "Legacy", api.DegradedPerformance)
		case 2:
			put("legacy", "Legacy", api.MajorOutage)
			put("quiet", "Quiet", api.DegradedPerformance)
		case 160:
			put("legacy", "Legacy", api.Operational)
		case 200 - historyDays + 7:
			if _, _, err := p.PutIncident("outage", api.IncidentRequest{Name: "API outage", Impact: api.ImpactMajor,
				Update: &api.UpdateRequest{ID: "1", Status: api.Resolved, Body: "It was down for an hour."}}); err != nil {
				t.Fatal(err)
			}
		}
		put("api", "API", []api.ComponentStatus{api.Operational, api.PartialOutage}[day%2])
		clock.Advance(24*time.Hour + 17*time.Minute)
	}
}

// storedHistory is the component history in p's store, each component's oldest first.
func storedHistory(t *testing.T, p *Page, pgURL string) map[string][]statusChange {
	t.Helper()
	out := map[string][]statusChange{}
	if db := p.boltDB(); db != nil {
		if err := db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketStatusHistory).ForEach(func(k, v []byte) error {
				var ch statusChange
				if err := json.Unmarshal(v, &ch); err != nil {
					return err
				}
				id := string(k[:len(k)-13])
				if at := int64(binary.BigEndian.Uint64(k[len(k)-12:])); at != ch.At.UnixNano() {
					return fmt.Errorf("key %q is at %d, its record at %s", k, at, ch.At)
				}
				out[id] = append(out[id], ch)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	conn, err := pgx.Connect(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(context.Background(), `SELECT component, at_ns, status FROM statuspage_component_history ORDER BY component, at_ns, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var ns int64
		if err := rows.Scan(&id, &ns, &status); err != nil {
			t.Fatal(err)
		}
		out[id] = append(out[id], statusChange{At: time.Unix(0, ns).UTC(), Status: status})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// prunedHistory is what pruning at horizon must leave of hist: each component's changes
// after it, and the last at or before it, the status the first bar starts with.
func prunedHistory(hist map[string][]statusChange, horizon time.Time) (map[string][]statusChange, int) {
	out, deleted := map[string][]statusChange{}, 0
	for id, h := range hist {
		i := slices.IndexFunc(h, func(c statusChange) bool { return c.At.After(horizon) })
		if i < 0 {
			i = len(h)
		}
		if i > 1 {
			deleted += i - 1
			h = h[i-1:]
		}
		out[id] = h
	}
	return out, deleted
}

// shownPages are the rendered documents that the history or the incidents make.
func shownPages(p *Page) map[string][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.render(nil, false)
	out := map[string][]byte{}
	for _, path := range []string{"/", "/history", "/api/v2/summary.json", "/api/v2/components.json"} {
		out[path] = p.snap.Load().routes[path].plain.body
	}
	return out
}

func checkShownPages(t *testing.T, who string, got, want map[string][]byte) {
	t.Helper()
	for path, w := range want {
		if !bytes.Equal(got[path], w) {
			t.Errorf("%s: %s changed:\n%s\n--- was:\n%s", who, path, got[path], w)
		}
	}
}

func checkPrunedHistory(t *testing.T, got, want map[string][]statusChange) {
	t.Helper()
	for id := range want {
		if !slices.Equal(got[id], want[id]) {
			t.Errorf("the history of %s after pruning:\n%v\nwant:\n%v", id, got[id], want[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("the history holds %d components after pruning, want %d", len(got), len(want))
	}
}

func TestPruningTheFileKeepsTheHistoryTheBarsReadAndNothingOlder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p := openTestPage(t, path, clock)
	writeLongHistory(t, p, clock)
	before := storedHistory(t, p, "")
	want, deleted := prunedHistory(before, historyHorizon(clock.Now()))
	if deleted < 100 || len(want["db"]) != 1 || len(want["legacy"]) != 2 || len(want["quiet"]) != 1 {
		t.Fatalf("the history written does not reach past the bars: %d to delete, db %v, legacy %v, quiet %v", deleted, want["db"], want["legacy"], want["quiet"])
	}
	shown := shownPages(p)

	n, err := p.pruneHistory(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if n != deleted {
		t.Errorf("pruning deleted %d records, want %d", n, deleted)
	}
	checkPrunedHistory(t, storedHistory(t, p, ""), want)
	checkShownPages(t, "the running page", shownPages(p), shown)
	p.mu.Lock()
	for id, h := range p.history {
		if !slices.Equal(h, want[id]) {
			t.Errorf("the page holds %v of %s's history, want %v", h, id, want[id])
		}
	}
	p.mu.Unlock()
	if n, err := p.pruneHistory(context.Background(), 7); err != nil || n != 0 {
		t.Errorf("pruning again deleted %d records (%v), want none", n, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	checkShownPages(t, "the page read back from the file", shownPages(openTestPage(t, path, clock)), shown)
}

func TestReplicasPruningThePostgresHistoryAtOnceKeepWhatTheBarsRead(t *testing.T) {
	pg := startPostgres(t)
	clock := newClock()
	a, b := newReplica(t, pg.URL(), clock.Now), newReplica(t, pg.URL(), clock.Now)
	writeLongHistory(t, a.page, clock)
	shown := shownPages(a.page)
	for deadline := time.Now().Add(eventually); !bytes.Equal(shownPages(b.page)["/"], shown["/"]); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second replica never caught up with the first")
		}
	}
	before := storedHistory(t, a.page, pg.URL())
	want, deleted := prunedHistory(before, historyHorizon(clock.Now()))
	if deleted < 100 || len(want["db"]) != 1 || len(want["legacy"]) != 2 || len(want["quiet"]) != 1 {
		t.Fatalf("the history written does not reach past the bars: %d to delete, db %v, legacy %v, quiet %v", deleted, want["db"], want["legacy"], want["quiet"])
	}

	var wg sync.WaitGroup
	ns, errs := make([]int, 2), make([]error, 2)
	for i, r := range []*testServer{a, b} {
		wg.Go(func() { ns[i], errs[i] = r.page.pruneHistory(context.Background(), 7) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("pruning at once: %v, %v", errs[0], errs[1])
	}
	if ns[0]+ns[1] != deleted {
		t.Errorf("the replicas deleted %d and %d rows, want %d in all", ns[0], ns[1], deleted)
	}
	checkPrunedHistory(t, storedHistory(t, a.page, pg.URL()), want)
	checkShownPages(t, "the first replica", shownPages(a.page), shown)
	checkShownPages(t, "the second replica", shownPages(b.page), shown)
	checkShownPages(t, "a replica opened after the prune", shownPages(newReplica(t, pg.URL(), clock.Now).page), shown)
	if n, err := a.page.pruneHistory(context.Background(), 7); err != nil || n != 0 {
		t.Errorf("pruning again deleted %d rows (%v), want none", n, err)
	}
	// The replicas still write and agree after it.
	a.mustPut(t, "/api/v1/components/db", `{"name":"Database","status":"major_outage"}`)
	waitServed(t, b, "/", `<li class="u-major_outage">`, false)
}
