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
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"firescope.dev/firescope/internal/pgtest"
)

// These tests run the page on a real PostgreSQL server (internal/pgtest), as replicas
// behind a load balancer run it: several pages on one database, each with its own handler.

// eventually bounds how long a replica may take to show another's write; it only bounds a
// hang, nothing here measures speed.
const eventually = 30 * time.Second

func startPostgres(t *testing.T) *pgtest.Server {
	t.Helper()
	pg, err := pgtest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Close(); err != nil {
			t.Error(err)
		}
	})
	return pg
}

func testPostgresConfig(url string) PostgresConfig {
	return PostgresConfig{URL: url, MaxConns: 4, Timeout: 5 * time.Second}
}

// newReplica opens a page on the database at url and serves it, with the time from now.
func newReplica(t *testing.T, url string, now func() time.Time) *testServer {
	t.Helper()
	s, err := openReplica(t, url, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openReplica is newReplica for a goroutine other than the test's, which must not call
// t.Fatal: it returns the error instead.
func openReplica(t *testing.T, url string, now func() time.Time) (*testServer, error) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := OpenPostgresPage(context.Background(), testPostgresConfig(url), PageInfo{Name: "Example Status", URL: "https://status.example.com"}, now, log)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(NewHandler(p, testToken, log))
	t.Cleanup(srv.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{Server: srv, page: p, logs: logs, transport: tr}, nil
}

// waitFor polls s's path until its body contains want (or, with absent, no longer does).
func waitServed(t *testing.T, s *testServer, path, want string, absent bool) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for {
		r := s.get(t, path)
		if r.status == http.StatusOK && bytes.Contains(r.body, []byte(want)) != absent {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, GET %s = %d %s; want it to %s %q", eventually, path, r.status, r.body, map[bool]string{false: "contain", true: "lack"}[absent], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countRows(t *testing.T, url, kind string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM statuspage_records WHERE kind = $1`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// storedBytes is what a page counts against its limits.
func storedBytes(p *Page) (int64, map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byIncident := map[string]int64{}
	for id, n := range p.incidentBytes {
		byIncident[id] = n
	}
	return p.storedBytes, byIncident
}

func TestReplicasOnPostgresServeEachOthersWritesAndStoreAnIDOnce(t *testing.T) {
	pg := startPostgres(t)
	// One clock for every replica, as if they were in step: the uptime bars run to the end of
	// the current minute, and so are the same on replicas rendering within one.
	clock := newClock()
	a, b := newReplica(t, pg.URL(), clock.Now), newReplica(t, pg.URL(), clock.Now)

	a.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	b.mustPut(t, "/api/v1/components/db", `{"name":"Database","status":"degraded_performance"}`)
	clock.Advance(26 * time.Hour)
	a.mustPut(t, "/api/v1/incidents/inc-1", `{"name":"Elevated errors","impact":"major",
		"update":{"id":"u1","status":"investigating","body":"We are looking into errors on the API.","components":[{"id":"api","status":"major_outage"}]}}`)
	waitServed(t, b, "/api/v2/summary.json", "We are looking into errors on the API.", false)
	waitServed(t, b, "/api/v2/components.json", `"major_outage"`, false)
	waitServed(t, b, "/incidents/inc-1", "We are looking into errors on the API.", false)

	// The same incident and update from the other replica is a replay there, not a second
	// record; a different body under the same id is a conflict there too.
	r := b.put(t, "/api/v1/incidents/inc-1", `{"name":"Elevated errors","impact":"major",
		"update":{"id":"u1","status":"investigating","body":"We are looking into errors on the API.","components":[{"id":"api","status":"major_outage"}]}}`)
	if r.status != http.StatusOK {
		t.Fatalf("replay on the other replica = %d %s, want 200", r.status, r.body)
	}
	wantError(t, b.put(t, "/api/v1/incidents/inc-1/updates/u1", `{"status":"identified","body":"Another text."}`), http.StatusConflict, "conflict")

	// The same new update sent to both replicas at once lands once.
	const body = `{"status":"identified","body":"A bad deploy; we are rolling it back."}`
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, s := range []*testServer{a, b} {
		wg.Go(func() { statuses[i] = s.put(t, "/api/v1/incidents/inc-1/updates/u2", body).status })
	}
	wg.Wait()
	if !(statuses[0] == http.StatusCreated && statuses[1] == http.StatusOK || statuses[0] == http.StatusOK && statuses[1] == http.StatusCreated) {
		t.Errorf("the same update on both replicas answered %v, want one 201 and one 200", statuses)
	}
	if n := countRows(t, pg.URL(), "updates"); n != 2 {
		t.Errorf("the database holds %d updates, want 2", n)
	}
	waitServed(t, a, "/incidents/inc-1", "A bad deploy", false)
	waitServed(t, b, "/incidents/inc-1", "A bad deploy", false)
	clock.Advance(90 * time.Minute)
	b.mustPut(t, "/api/v1/incidents/inc-1/updates/u3", `{"status":"resolved","body":"Fixed.","components":[{"id":"api","status":"operational"}]}`)
	b.mustPut(t, "/api/v1/components/db", `{"name":"Database","status":"operational"}`)
	waitServed(t, a, "/", "Fixed.", false)
	waitServed(t, a, "/api/v2/components.json", `"degraded_performance"`, true)
	// Behind a load balancer, both replicas serve the same page, the uptime bars with it;
	// and so does a replica that reads the history afresh.
	fresh := newReplica(t, pg.URL(), clock.Now)
	front := a.get(t, "/").body
	for _, want := range []string{`<li class="u-major_outage"><span><strong>Nov 26, 2026</strong><br>88.47% uptime<br>Elevated errors</span></li>`,
		`<li class="u-degraded_performance"><span><strong>Nov 25, 2026</strong><br>100% uptime<br>No incidents</span></li>`} {
		if !bytes.Contains(front, []byte(want)) {
			t.Errorf("the front page lacks the bar %s:\n%s", want, front)
		}
	}
	for _, path := range []string{"/", "/api/v2/summary.json", "/history"} {
		ra := a.get(t, path)
		for name, s := range map[string]*testServer{"b": b, "a new replica": fresh} {
			if rs := s.get(t, path); !bytes.Equal(ra.body, rs.body) {
				t.Errorf("GET %s differs between replica a and %s:\n%s\n---\n%s", path, name, ra.body, rs.body)
			}
		}
	}

	// A deletion reaches the other replica, and so does an incident created again under
	// the same id.
	if r := b.do(t, http.MethodDelete, "/api/v1/incidents/inc-1", testToken, nil); r.status != http.StatusNoContent && r.status != http.StatusOK {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	clock.Advance(time.Minute)
	waitServed(t, a, "/api/v2/incidents.json", "inc-1", true)
	// The page's updated_at is the deletion's, on every replica and on one opened since,
	// whatever their clocks say as they hear of it.
	opened := newReplica(t, pg.URL(), clock.Now)
	for _, path := range []string{"/api/v2/summary.json", "/history"} {
		rb := b.get(t, path)
		for name, s := range map[string]*testServer{"a": a, "a new replica": opened} {
			if rs := s.get(t, path); !bytes.Equal(rs.body, rb.body) {
				t.Errorf("after a deletion, GET %s differs between replica b and %s:\n%s\n---\n%s", path, name, rb.body, rs.body)
			}
		}
	}
	a.mustPut(t, "/api/v1/incidents/inc-1", `{"name":"Slow logins","impact":"minor","update":{"id":"v1","status":"investigating","body":"Logins are slow."}}`)
	waitServed(t, b, "/api/v2/incidents.json", "Slow logins", false)
	if n := countRows(t, pg.URL(), "updates"); n != 1 {
		t.Errorf("after the deletion and a new incident, the database holds %d updates, want 1", n)
	}

	// Both replicas, and one started now, count the same bytes against the limits.
	c := newReplica(t, pg.URL(), clock.Now)
	wantTotal, wantByIncident := storedBytes(c.page)
	for name, s := range map[string]*testServer{"a": a, "b": b} {
		deadline := time.Now().Add(eventually)
		for {
			total, byIncident := storedBytes(s.page)
			if total == wantTotal && fmt.Sprint(byIncident) == fmt.Sprint(wantByIncident) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s counts %d bytes (%v), a new replica %d (%v)", name, total, byIncident, wantTotal, wantByIncident)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestAPostgresRestartKeepsReadsAndAnswersWrites503(t *testing.T) {
	pg := startPostgres(t)
	a, b := newReplica(t, pg.URL(), time.Now), newReplica(t, pg.URL(), time.Now)
	a.mustPut(t, "/api/v1/incidents/inc-1", `{"name":"Elevated errors","impact":"major","update":{"id":"u1","status":"investigating","body":"We are looking into it."}}`)
	waitServed(t, b, "/incidents/inc-1", "We are looking into it.", false)
	before := map[string][]byte{}
	for _, path := range []string{"/", "/api/v2/summary.json", "/incidents/inc-1"} {
		before[path] = b.get(t, path).body
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for path, want := range before {
		if r := b.get(t, path); r.status != http.StatusOK || !bytes.Equal(r.body, want) {
			t.Errorf("with PostgreSQL down, GET %s = %d, and a different body: want the last good copy", path, r.status)
		}
	}
	// Every write, on either replica, is refused the same way, and reads of the write API
	// still answer from memory.
	for _, s := range []*testServer{a, b} {
		for _, w := range []struct{ method, path, body string }{
			{http.MethodPut, "/api/v1/incidents/inc-1/updates/u2", `{"status":"identified","body":"Found it."}`},
			{http.MethodPut, "/api/v1/incidents/inc-2", `{"name":"Slow logins","impact":"minor"}`},
			{http.MethodPatch, "/api/v1/incidents/inc-1/updates/u1", `{"body":"We are looking into it, still."}`},
			{http.MethodPut, "/api/v1/incidents/inc-1/postmortem", `{"body":"What happened."}`},
			{http.MethodDelete, "/api/v1/incidents/inc-1", ""},
			{http.MethodPut, "/api/v1/components/api", `{"name":"API"}`},
			{http.MethodDelete, "/api/v1/components/api", ""},
		} {
			r := s.do(t, w.method, w.path, testToken, []byte(w.body))
			e := wantError(t, r, http.StatusServiceUnavailable, "unavailable")
			if got := r.header.Get("Retry-After"); got != "5" {
				t.Errorf("%s %s: Retry-After = %q, want 5", w.method, w.path, got)
			}
			if !strings.Contains(e.Message, "nothing was changed") {
				t.Errorf("%s %s: message %q does not say that nothing was changed", w.method, w.path, e.Message)
			}
			if strings.Contains(string(r.body), "postgres://") {
				t.Errorf("%s %s: the answer shows the connection string: %s", w.method, w.path, r.body)
			}
		}
		if r := s.get(t, "/api/v2/incidents.json"); !bytes.Contains(r.body, []byte("inc-1")) {
			t.Error("a refused delete removed the incident from the page")
		}
		if r := s.do(t, http.MethodGet, "/api/v1/incidents/inc-1", testToken, nil); r.status != http.StatusOK {
			t.Errorf("GET /api/v1/incidents/inc-1 with PostgreSQL down = %d, want 200 from memory", r.status)
		}
	}
	if r := a.get(t, "/incidents/inc-1"); bytes.Contains(r.body, []byte("Found it.")) {
		t.Error("a write refused with 503 shows on the page")
	}

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	// The client retries after Retry-After; the pool connects again on the next write.
	deadline := time.Now().Add(eventually)
	for {
		r := a.put(t, "/api/v1/incidents/inc-1/updates/u2", `{"status":"identified","body":"Found it."}`)
		if r.status == http.StatusCreated {
			break
		}
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the restart, the write = %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The other replica hears of it once its listener has reconnected.
	waitServed(t, b, "/incidents/inc-1", "Found it.", false)
}

func TestPostgresConfigurationErrorsAreClear(t *testing.T) {
	pg := startPostgres(t)
	log := slog.New(slog.DiscardHandler)
	info := PageInfo{Name: "Example Status", URL: "https://status.example.com"}

	_, err := OpenPostgresPage(context.Background(), testPostgresConfig("postgres://u:hunter2hunter2@127.0.0.1:notaport/db"), info, time.Now, log)
	if err == nil || !strings.Contains(err.Error(), "connection string") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed connection string: error %v, want one naming the connection string without its password", err)
	}

	conn, err := pgx.Connect(context.Background(), pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	p, err := OpenPostgresPage(context.Background(), testPostgresConfig(pg.URL()), info, time.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `UPDATE statuspage_meta SET schema_version = '99'`); err != nil {
		t.Fatal(err)
	}
	_, err = OpenPostgresPage(context.Background(), testPostgresConfig(pg.URL()), info, time.Now, log)
	if err == nil || !strings.Contains(err.Error(), `schema version "99"`) {
		t.Errorf("tables of another schema version: error %v, want one naming the version", err)
	}
}

func TestReplicasOpeningADatabaseWithoutHistoryStartItOnceAndAlike(t *testing.T) {
	pg := startPostgres(t)
	clock := newClock()
	old := newReplica(t, pg.URL(), clock.Now)
	old.mustPut(t, "/api/v1/components/api", `{"name":"API","status":"degraded_performance"}`)
	old.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	if err := old.page.Close(); err != nil {
		t.Fatal(err)
	}
	// As a database written before the history was kept leaves it.
	conn, err := pgx.Connect(context.Background(), pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(context.Background(), `DELETE FROM statuspage_component_history`); err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Hour)
	replicas := make([]*testServer, 2)
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { replicas[i], errs[i] = openReplica(t, pg.URL(), clock.Now) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM statuspage_component_history`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("two replicas opening at once recorded %d history rows, want one per component", n)
	}
	a, b := replicas[0], replicas[1]
	waitServed(t, a, "/", `<li class="u-degraded_performance"><span><strong>Nov 25, 2026</strong><br>100% uptime<br>No incidents</span></li>`, false)
	waitServed(t, b, "/", `<li class="u-degraded_performance"><span><strong>Nov 25, 2026</strong><br>100% uptime<br>No incidents</span></li>`, false)
	if ra, rb := a.get(t, "/"), b.get(t, "/"); !bytes.Equal(ra.body, rb.body) {
		t.Errorf("the replicas' front pages differ:\n%s\n---\n%s", ra.body, rb.body)
	}
}
