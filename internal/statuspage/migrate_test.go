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
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// routes is what a page serves from its snapshot, by path.
func routes(p *Page, paths ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, path := range paths {
		out[path] = p.snap.Load().routes[path].plain.body
	}
	return out
}

func TestMigrateCopiesAFileIntoPostgresOnceAndTheReplicasServeTheSamePage(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "page.db")
	info := PageInfo{Name: "Example Status", URL: "https://status.example.com"}
	p, err := OpenPage(path, info, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	mustPutComponent(t, p, "api", "API")
	if _, _, err := p.PutComponent("db", api.ComponentRequest{Name: "Database", Group: "Storage"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Hour)
	if _, _, err := p.PutIncident("outage", api.IncidentRequest{Name: "API outage", Impact: api.ImpactCritical,
		Update: &api.UpdateRequest{ID: "1", Status: api.Investigating, Body: "Down.", Notify: true, Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	if _, _, err := p.PutUpdate("outage", "2", api.UpdateRequest{Status: api.Resolved, Body: "Back.", Components: []api.ComponentChange{{ID: "api", Status: api.Operational}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.PutPostmortem("outage", api.PostmortemRequest{Body: "What happened.", Published: true}); err != nil {
		t.Fatal(err)
	}
	availability := metricBody(clock.Now().Add(-2*time.Hour), 99.9, 97.1, 93.4)
	availability.Incidents = []string{"outage"}
	if _, _, err := p.PutMetric("availability", availability); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.PutMaintenance("db-upgrade", api.MaintenanceRequest{Name: "Database upgrade", Body: "Writes pause for a minute.",
		Status: api.MaintenanceScheduled, ScheduledFor: clock.Now().Add(24 * time.Hour), ScheduledUntil: clock.Now().Add(25 * time.Hour), Components: []string{"db"}}); err != nil {
		t.Fatal(err)
	}
	subs, err := newBoltSubscribers(p.boltDB())
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	jane := &subscriberRecord{ID: "0123456789abcdef0123456789abcdef", Email: "Jane@example.com", ConfirmedAt: now, CreatedAt: now, UpdatedAt: now}
	bob := &subscriberRecord{ID: "fedcba9876543210fedcba9876543210", Email: "bob@example.com", CreatedAt: now, UpdatedAt: now, NoticeAt: now}
	pending := &deliveryRecord{Key: "confirm/" + bob.ID, Kind: deliverConfirm, SubscriberID: bob.ID, NextAt: now, CreatedAt: now}
	if err := subs.PutSubscriber(jane); err != nil {
		t.Fatal(err)
	}
	if err := subs.PutSubscriber(bob, pending); err != nil {
		t.Fatal(err)
	}
	secret, err := subs.Secret()
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/", "/api/v2/summary.json", "/history", "/history.atom", "/api/v2/metrics.json", "/api/v2/scheduled-maintenances.json"}
	want := routes(p, paths...)
	pg := startPostgres(t)
	log := slog.New(slog.DiscardHandler)
	if err := Migrate(context.Background(), path, testPostgresConfig(pg.URL()), log); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("copying a file a server has open: %v, want a refusal", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 { // the second copy changes nothing
		if err := Migrate(context.Background(), path, testPostgresConfig(pg.URL()), log); err != nil {
			t.Fatal(err)
		}
	}
	for kind, n := range map[string]int{"components": 2, "incidents": 1, "updates": 2, "postmortems": 1, "metrics": 1, "maintenances": 1} {
		if got := countRows(t, pg.URL(), kind); got != n {
			t.Errorf("after two copies the database holds %d %s, want %d", got, kind, n)
		}
	}

	r := newReplica(t, pg.URL(), clock.Now)
	got := routes(r.page, paths...)
	for _, path := range paths {
		if !bytes.Equal(got[path], want[path]) {
			t.Errorf("GET %s on PostgreSQL differs from the file's page:\n%s\n---\n%s", path, got[path], want[path])
		}
	}
	if m, ok := r.page.Metric("availability"); !ok || m.PointCount != 3 || !slices.Equal(m.Incidents, []string{"outage"}) {
		t.Errorf("the copied metric: %+v, %v", m, ok)
	}
	if !bytes.Contains(got["/"], []byte(`class="u-major_outage"`)) {
		t.Error("the copied page shows no outage bar")
	}
	ps, err := openSubscriberStore(r.page)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := ps.Secret(); err != nil || !bytes.Equal(key, secret) {
		t.Errorf("the links' key was not copied (%v): the file's mailed links would not open", err)
	}
	if s, err := ps.SubscriberByEmail("jane@example.com"); err != nil || s == nil || !s.confirmed() {
		t.Errorf("the confirmed subscriber: %+v, %v", s, err)
	}
	if ds, err := ps.Deliveries(); err != nil || len(ds) != 1 || ds[0].Key != pending.Key {
		t.Errorf("the deliveries still to make: %v, %v", ds, err)
	}
	if n, err := ps.Subscribers(); err != nil || n != 2 {
		t.Errorf("%d subscribers (%v), want 2", n, err)
	}

	// A file of another page is refused, and changes nothing.
	other := filepath.Join(t.TempDir(), "other.db")
	op, err := OpenPage(other, info, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	mustPutComponent(t, op, "web", "Web")
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
	err = Migrate(context.Background(), other, testPostgresConfig(pg.URL()), log)
	if err == nil || !strings.Contains(err.Error(), "already holds a page") {
		t.Errorf("copying another page's file: %v, want a refusal", err)
	}
	if n := countRows(t, pg.URL(), "components"); n != 2 {
		t.Errorf("the refused copy left %d components, want 2", n)
	}
}
