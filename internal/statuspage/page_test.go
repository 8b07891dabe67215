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
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// fakeClock is the time source of the tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testInfo = PageInfo{ID: "testpage", Name: "Example Status", URL: "https://status.example.com", CacheMaxAge: 10 * time.Second}

func openTestPage(t *testing.T, path string, clock *fakeClock) *Page {
	t.Helper()
	p, err := OpenPage(path, testInfo, clock.Now)
	if err != nil {
		t.Fatalf("OpenPage: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newTestPage(t *testing.T) (*Page, *fakeClock) {
	t.Helper()
	clock := newClock()
	return openTestPage(t, filepath.Join(t.TempDir(), "page.db"), clock), clock
}

func mustPutComponent(t *testing.T, p *Page, id, name string) {
	t.Helper()
	if _, _, err := p.PutComponent(id, api.ComponentRequest{Name: name}); err != nil {
		t.Fatalf("PutComponent(%s): %v", id, err)
	}
}

func ptr[T any](v T) *T { return &v }

// incidentHTML is an incident's own page as a read renders it, nil for an unknown incident.
func incidentHTML(p *Page, id string) []byte {
	inc := p.snap.Load().incidents[id]
	if inc == nil {
		return nil
	}
	rec := httptest.NewRecorder()
	p.serveIncident(rec, httptest.NewRequest(http.MethodGet, "/incidents/"+id, nil), inc)
	return rec.Body.Bytes()
}

// wantAPIError checks that err is an API error with the given status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *apiError {
	t.Helper()
	var e *apiError
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want an API error %d %s", err, status, code)
	}
	if e.status != status || e.code != code {
		t.Fatalf("error = %d %s (%s), want %d %s", e.status, e.code, e.message, status, code)
	}
	return e
}

func TestANewComponentIsOperationalAndGoesLast(t *testing.T) {
	p, _ := newTestPage(t)
	mustPutComponent(t, p, "api", "API")
	c, created, err := p.PutComponent("git", api.ComponentRequest{Name: "Git"})
	if err != nil || !created {
		t.Fatalf("PutComponent = %v, created %v", err, created)
	}
	if c.Status != api.Operational || c.Position != 1 {
		t.Errorf("new component = %+v, want operational at position 1", c)
	}
	// "Aardvark" sorts first by name, but position keeps creation order.
	mustPutComponent(t, p, "aardvark", "Aardvark")
	var ids []string
	for _, c := range p.Components() {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ","); got != "api,git,aardvark" {
		t.Errorf("components in page order = %s, want api,git,aardvark", got)
	}
}

func TestAnIdenticalComponentPutChangesNothing(t *testing.T) {
	p, clock := newTestPage(t)
	req := api.ComponentRequest{Name: "API", Description: "REST API", Position: ptr(3), Status: api.DegradedPerformance}
	first, created, err := p.PutComponent("api", req)
	if err != nil || !created {
		t.Fatalf("first PutComponent = %v, created %v", err, created)
	}
	clock.Advance(time.Minute)
	again, created, err := p.PutComponent("api", req)
	if err != nil || created {
		t.Fatalf("replayed PutComponent = %v, created %v; want no error, not created", err, created)
	}
	if again != first {
		t.Errorf("replay returned %+v, want the stored %+v", again, first)
	}
}

func TestAComponentPutWithoutStatusKeepsTheStatus(t *testing.T) {
	p, _ := newTestPage(t)
	if _, _, err := p.PutComponent("api", api.ComponentRequest{Name: "API", Status: api.MajorOutage}); err != nil {
		t.Fatal(err)
	}
	c, _, err := p.PutComponent("api", api.ComponentRequest{Name: "Public API"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != api.MajorOutage || c.Name != "Public API" {
		t.Errorf("after a rename = %+v, want the name changed and major_outage kept", c)
	}
}

func TestDeletingAComponentKeepsItsNameInPastUpdates(t *testing.T) {
	p, _ := newTestPage(t)
	mustPutComponent(t, p, "api", "API")
	_, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMinor, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Investigating, Body: "Looking.", Components: []api.ComponentChange{{ID: "api", Status: api.PartialOutage}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteComponent("api"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteComponent("api"); err != nil {
		t.Errorf("deleting a deleted component again = %v, want success", err)
	}
	if n := len(p.Components()); n != 0 {
		t.Errorf("%d components left, want 0", n)
	}
	inc, _ := p.Incident("i1")
	if got := inc.Updates[0].Components; len(got) != 1 || got[0].Name != "API" {
		t.Errorf("update components = %+v, want API kept", got)
	}
}

func TestAnUpdateSetsComponentStatusesAndRecordsTheOldOnes(t *testing.T) {
	p, _ := newTestPage(t)
	mustPutComponent(t, p, "api", "API")
	mustPutComponent(t, p, "db", "Database")
	inc, created, err := p.PutIncident("i1", api.IncidentRequest{Name: "API errors", Impact: api.ImpactMajor, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Investigating, Body: "We are investigating.",
		Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}, {ID: "db", Status: api.DegradedPerformance}}}})
	if err != nil || !created {
		t.Fatalf("PutIncident = %v, created %v", err, created)
	}
	want := []api.AffectedComponent{
		{ID: "api", Name: "API", OldStatus: api.Operational, NewStatus: api.MajorOutage},
		{ID: "db", Name: "Database", OldStatus: api.Operational, NewStatus: api.DegradedPerformance},
	}
	if got := inc.Updates[0].Components; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("affected components = %+v, want %+v", got, want)
	}
	comps := p.Components()
	if comps[0].Status != api.MajorOutage || comps[1].Status != api.DegradedPerformance {
		t.Errorf("components after the update = %+v", comps)
	}
}

func TestAnIncidentTakesTheStatusOfItsLatestUpdateAndCanReopen(t *testing.T) {
	p, clock := newTestPage(t)
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMinor}); err != nil {
		t.Fatal(err)
	}
	if inc, _ := p.Incident("i1"); inc.Status != api.Investigating || inc.ResolvedAt != nil {
		t.Errorf("incident without updates = %s, resolved %v; want investigating, unresolved", inc.Status, inc.ResolvedAt)
	}
	for i, status := range []api.IncidentStatus{api.Identified, api.Resolved} {
		clock.Advance(10 * time.Minute)
		if _, _, err := p.PutUpdate("i1", fmt.Sprint("u", i), api.UpdateRequest{Status: status, Body: string(status)}); err != nil {
			t.Fatal(err)
		}
	}
	inc, _ := p.Incident("i1")
	if inc.Status != api.Resolved || inc.ResolvedAt == nil || !inc.ResolvedAt.Equal(clock.Now()) {
		t.Errorf("resolved incident = %s at %v, want resolved at %v", inc.Status, inc.ResolvedAt, clock.Now())
	}
	if inc.Updates[0].Status != api.Resolved {
		t.Errorf("updates are not newest first: %+v", inc.Updates)
	}
	clock.Advance(time.Hour)
	if _, _, err := p.PutUpdate("i1", "reopen", api.UpdateRequest{Status: api.Investigating, Body: "It is back."}); err != nil {
		t.Fatal(err)
	}
	if inc, _ := p.Incident("i1"); inc.Status != api.Investigating || inc.ResolvedAt != nil {
		t.Errorf("reopened incident = %s, resolved %v; want investigating, unresolved", inc.Status, inc.ResolvedAt)
	}
}

func TestAReplayedUpdateWritesNothingAndReturnsTheStoredUpdate(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	p := openTestPage(t, filepath.Join(dir, "page.db"), clock)
	mustPutComponent(t, p, "api", "API")
	incReq := api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Investigating, Body: "Looking.", Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}}
	first, _, err := p.PutIncident("i1", incReq)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	seq := p.seq
	again, created, err := p.PutIncident("i1", incReq)
	if err != nil || created {
		t.Fatalf("replayed PutIncident = %v, created %v; want no error, not created", err, created)
	}
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("replay = %+v\nwant   %+v", again, first)
	}
	u, created, err := p.PutUpdate("i1", "u1", *incReq.Update)
	if err != nil || created {
		t.Fatalf("replayed PutUpdate = %v, created %v", err, created)
	}
	if !u.CreatedAt.Equal(first.Updates[0].CreatedAt) || p.seq != seq {
		t.Errorf("replay stored something new: created_at %v (want %v), seq %d (want %d)", u.CreatedAt, first.Updates[0].CreatedAt, p.seq, seq)
	}
}

func TestAnUpdateIDReusedWithOtherContentIsAConflictNamingTheFields(t *testing.T) {
	p, _ := newTestPage(t)
	mustPutComponent(t, p, "api", "API")
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	orig := api.UpdateRequest{Status: api.Investigating, Body: "Looking.", CreatedAt: &at}
	if _, _, err := p.PutUpdate("i1", "u1", orig); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*api.UpdateRequest)
		field  string
	}{
		{"status", func(r *api.UpdateRequest) { r.Status = api.Identified }, "status"},
		{"body", func(r *api.UpdateRequest) { r.Body = "Something else." }, "body"},
		{"created_at", func(r *api.UpdateRequest) { r.CreatedAt = ptr(at.Add(time.Second)) }, "created_at"},
		{"components", func(r *api.UpdateRequest) { r.Components = []api.ComponentChange{{ID: "api", Status: api.MajorOutage}} }, "components"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := orig
			tc.change(&req)
			_, _, err := p.PutUpdate("i1", "u1", req)
			e := wantAPIError(t, err, http.StatusConflict, api.CodeConflict)
			if !strings.Contains(e.message, tc.field) || !strings.Contains(e.message, "new id") {
				t.Errorf("message %q should name %s and the way out", e.message, tc.field)
			}
		})
	}
	// Leaving out created_at matches whatever time the server recorded.
	orig.CreatedAt = nil
	if _, created, err := p.PutUpdate("i1", "u1", orig); err != nil || created {
		t.Errorf("replay without created_at = %v, created %v; want a no-op", err, created)
	}
}

func TestALateUpdateDoesNotTurnBackAComponentStatus(t *testing.T) {
	p, clock := newTestPage(t)
	mustPutComponent(t, p, "api", "API")
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor}); err != nil {
		t.Fatal(err)
	}
	early := clock.Now()
	clock.Advance(time.Minute)
	if _, _, err := p.PutUpdate("i1", "fixed", api.UpdateRequest{Status: api.Resolved, Body: "Fixed.",
		Components: []api.ComponentChange{{ID: "api", Status: api.Operational}}}); err != nil {
		t.Fatal(err)
	}
	// A publisher retries an update written before the fix.
	if _, _, err := p.PutUpdate("i1", "broken", api.UpdateRequest{Status: api.Investigating, Body: "Broken.", CreatedAt: &early,
		Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}); err != nil {
		t.Fatal(err)
	}
	if got := p.Components()[0].Status; got != api.Operational {
		t.Errorf("component = %s after a late retry, want operational kept", got)
	}
	if inc, _ := p.Incident("i1"); inc.Status != api.Resolved {
		t.Errorf("incident = %s, want resolved: the late update is older than the resolution", inc.Status)
	}
}

func TestAnUpdateWrittenBeforeTheComponentExistedStillSetsItsStatus(t *testing.T) {
	p, clock := newTestPage(t)
	written := clock.Now()
	clock.Advance(time.Hour) // the page was unreachable; components are synced first
	mustPutComponent(t, p, "api", "API")
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Investigating, Body: "Looking.", CreatedAt: &written,
		Components: []api.ComponentChange{{ID: "api", Status: api.PartialOutage}}}}); err != nil {
		t.Fatal(err)
	}
	if got := p.Components()[0].Status; got != api.PartialOutage {
		t.Errorf("component = %s, want partial_outage from the late-published update", got)
	}
}

func TestEachInvalidWriteIsRefusedWithItsOwnCode(t *testing.T) {
	p, clock := newTestPage(t)
	mustPutComponent(t, p, "api", "API")
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor}); err != nil {
		t.Fatal(err)
	}
	update := func(mod func(*api.UpdateRequest)) error {
		req := api.UpdateRequest{Status: api.Investigating, Body: "Looking."}
		mod(&req)
		_, _, err := p.PutUpdate("i1", "u-new", req)
		return err
	}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unknown component", update(func(r *api.UpdateRequest) {
			r.Components = []api.ComponentChange{{ID: "nope", Status: api.MajorOutage}}
		}), 422, api.CodeUnknownComponent},
		{"unknown incident", func() error {
			_, _, err := p.PutUpdate("missing", "u1", api.UpdateRequest{Status: api.Investigating, Body: "x"})
			return err
		}(), 404, api.CodeNotFound},
		{"bad update status", update(func(r *api.UpdateRequest) { r.Status = "fixed" }), 422, api.CodeInvalid},
		{"empty body", update(func(r *api.UpdateRequest) { r.Body = "  \n" }), 422, api.CodeInvalid},
		{"body too long", update(func(r *api.UpdateRequest) { r.Body = strings.Repeat("é", api.MaxUpdateBodyLength+1) }), 422, api.CodeInvalid},
		{"control character", update(func(r *api.UpdateRequest) { r.Body = "bell\a" }), 422, api.CodeInvalid},
		{"replacement character", update(func(r *api.UpdateRequest) { r.Body = "broken \uFFFD" }), 422, api.CodeInvalid},
		{"created_at in the future", update(func(r *api.UpdateRequest) { r.CreatedAt = ptr(clock.Now().Add(time.Hour)) }), 422, api.CodeInvalid},
		{"created_at zero", update(func(r *api.UpdateRequest) { r.CreatedAt = &time.Time{} }), 422, api.CodeInvalid},
		{"component twice", update(func(r *api.UpdateRequest) {
			r.Components = []api.ComponentChange{{ID: "api", Status: api.MajorOutage}, {ID: "api", Status: api.Operational}}
		}), 422, api.CodeInvalid},
		{"bad component status", update(func(r *api.UpdateRequest) { r.Components = []api.ComponentChange{{ID: "api", Status: "down"}} }), 422, api.CodeInvalid},
		{"body id differs from path", update(func(r *api.UpdateRequest) { r.ID = "other" }), 422, api.CodeInvalid},
		{"bad incident id", func() error {
			_, _, err := p.PutIncident("a/b", api.IncidentRequest{Name: "x", Impact: api.ImpactNone})
			return err
		}(), 422, api.CodeInvalid},
		{"bad impact", func() error {
			_, _, err := p.PutIncident("i2", api.IncidentRequest{Name: "x", Impact: "huge"})
			return err
		}(), 422, api.CodeInvalid},
		{"missing name", func() error {
			_, _, err := p.PutIncident("i2", api.IncidentRequest{Impact: api.ImpactMinor})
			return err
		}(), 422, api.CodeInvalid},
		{"name with a newline", func() error {
			_, _, err := p.PutIncident("i2", api.IncidentRequest{Name: "a\nb", Impact: api.ImpactMinor})
			return err
		}(), 422, api.CodeInvalid},
		{"inline update without id", func() error {
			_, _, err := p.PutIncident("i2", api.IncidentRequest{Name: "x", Impact: api.ImpactMinor, Update: &api.UpdateRequest{Status: api.Investigating, Body: "x"}})
			return err
		}(), 422, api.CodeInvalid},
		{"component position out of range", func() error {
			_, _, err := p.PutComponent("c", api.ComponentRequest{Name: "x", Position: ptr(-1)})
			return err
		}(), 422, api.CodeInvalid},
		{"component id too long", func() error {
			_, _, err := p.PutComponent(strings.Repeat("a", api.MaxIDLength+1), api.ComponentRequest{Name: "x"})
			return err
		}(), 422, api.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.err, tc.status, tc.code) })
	}
	if _, ok := p.Incident("i2"); ok {
		t.Error("a refused PutIncident created the incident")
	}
}

func TestARefusedInlineUpdateCreatesNoIncident(t *testing.T) {
	p, _ := newTestPage(t)
	_, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Investigating, Body: "x", Components: []api.ComponentChange{{ID: "ghost", Status: api.MajorOutage}}}})
	wantAPIError(t, err, http.StatusUnprocessableEntity, api.CodeUnknownComponent)
	if _, ok := p.Incident("i1"); ok {
		t.Error("the incident exists although its write was refused")
	}
}

func TestComponentAndUpdateLimitsAreEnforced(t *testing.T) {
	p, _ := newTestPage(t)
	for i := range api.MaxComponents {
		mustPutComponent(t, p, fmt.Sprint("c", i), fmt.Sprint("Component ", i))
	}
	_, _, err := p.PutComponent("one-too-many", api.ComponentRequest{Name: "x"})
	wantAPIError(t, err, http.StatusUnprocessableEntity, api.CodeLimitExceeded)

	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Long one", Impact: api.ImpactMinor}); err != nil {
		t.Fatal(err)
	}
	for i := range api.MaxUpdatesPerIncident {
		if _, _, err := p.PutUpdate("i1", fmt.Sprint("u", i), api.UpdateRequest{Status: api.Monitoring, Body: "Still watching."}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = p.PutUpdate("i1", "one-too-many", api.UpdateRequest{Status: api.Monitoring, Body: "x"})
	wantAPIError(t, err, http.StatusUnprocessableEntity, api.CodeLimitExceeded)
}

func TestEverythingSurvivesReopeningTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p, err := OpenPage(path, testInfo, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	mustPutComponent(t, p, "api", "API")
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactCritical, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Identified, Body: "Found it.", Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, _, err := p.PutUpdate("i1", "u2", api.UpdateRequest{Status: api.Monitoring, Body: "Fix deployed."}); err != nil {
		t.Fatal(err)
	}
	before, _ := p.Incident("i1")
	summary := p.snap.Load().routes["/api/v2/summary.json"].plain.body
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	p = openTestPage(t, path, clock)
	after, ok := p.Incident("i1")
	if !ok || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after reopening:\n got %+v\nwant %+v", after, before)
	}
	if got := p.snap.Load().routes["/api/v2/summary.json"].plain.body; string(got) != string(summary) {
		t.Errorf("summary.json changed across a reopen:\n got %s\nwant %s", got, summary)
	}
	// The sequence continues, so a new update sorts after the old ones at the same time.
	if _, _, err := p.PutUpdate("i1", "u3", api.UpdateRequest{Status: api.Resolved, Body: "Done."}); err != nil {
		t.Fatal(err)
	}
	if inc, _ := p.Incident("i1"); inc.Status != api.Resolved {
		t.Errorf("status = %s after an update at the same instant as the last one, want resolved", inc.Status)
	}
}

func TestASecondProcessCannotOpenTheSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	openTestPage(t, path, newClock())
	_, err := OpenPage(path, testInfo, time.Now)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("second OpenPage = %v, want a lock error", err)
	}
}

func TestOverallStatusRollsUpComponentsAndOpenIncidents(t *testing.T) {
	comp := func(status api.ComponentStatus) *componentRecord { return &componentRecord{Status: string(status)} }
	inc := func(impact api.Impact) *publicIncident {
		return &publicIncident{incidentPage: incidentPage{rec: &incidentRecord{Impact: string(impact)}}}
	}
	for _, tc := range []struct {
		name  string
		comps []*componentRecord
		open  []*publicIncident
		want  overall
	}{
		{"nothing", nil, nil, overall{"none", "All Systems Operational"}},
		{"all operational", []*componentRecord{comp(api.Operational)}, nil, overall{"none", "All Systems Operational"}},
		{"maintenance", []*componentRecord{comp(api.UnderMaintenance)}, nil, overall{"none", "Service Under Maintenance"}},
		{"degraded", []*componentRecord{comp(api.DegradedPerformance)}, nil, overall{"minor", "Minor Service Outage"}},
		{"partial outage", []*componentRecord{comp(api.DegradedPerformance), comp(api.PartialOutage)}, nil, overall{"major", "Partial System Outage"}},
		{"major outage", []*componentRecord{comp(api.MajorOutage), comp(api.UnderMaintenance)}, nil, overall{"critical", "Major System Outage"}},
		{"open minor incident", []*componentRecord{comp(api.Operational)}, []*publicIncident{inc(api.ImpactMinor)}, overall{"minor", "Minor Service Outage"}},
		{"incident worse than components", []*componentRecord{comp(api.DegradedPerformance)}, []*publicIncident{inc(api.ImpactCritical)}, overall{"critical", "Major System Outage"}},
		{"incident without impact", nil, []*publicIncident{inc(api.ImpactNone)}, overall{"none", "All Systems Operational"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rollUp(tc.comps, tc.open); got != tc.want {
				t.Errorf("rollUp = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDurationsReadAsWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20 * time.Second:                "less than a minute",
		time.Minute:                     "1 minute",
		83 * time.Minute:                "1 hour 23 minutes",
		2 * time.Hour:                   "2 hours",
		26*time.Hour + 5*time.Minute:    "1 day 2 hours",
		72*time.Hour + 30*time.Second:   "3 days",
		59*time.Minute + 31*time.Second: "1 hour",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestAnEditCorrectsAnUpdateInPlaceAndSurvivesReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p, err := OpenPage(path, testInfo, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Identified, Body: "Postgres provisoning is failing."}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, _, err := p.PutUpdate("i1", "u2", api.UpdateRequest{Status: api.Monitoring, Body: "Fix deployed."}); err != nil {
		t.Fatal(err)
	}
	before, _ := p.Incident("i1")
	u, err := p.EditUpdate("i1", "u1", api.UpdateEdit{Body: "Postgres provisioning is failing."})
	if err != nil || u.Body != "Postgres provisioning is failing." || !u.CreatedAt.Equal(before.Updates[1].CreatedAt) {
		t.Fatalf("edit = %+v, %v", u, err)
	}
	if _, err := p.EditUpdate("i1", "u1", api.UpdateEdit{Body: "Postgres provisioning is failing."}); err != nil {
		t.Fatalf("editing to the same text again: %v", err)
	}
	_, err = p.EditUpdate("i1", "nope", api.UpdateEdit{Body: "x"})
	wantAPIError(t, err, http.StatusNotFound, api.CodeNotFound)
	_, err = p.EditUpdate("i1", "u1", api.UpdateEdit{Body: ""})
	if err == nil {
		t.Fatal("an empty body was accepted")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTestPage(t, path, clock)
	after, _ := p.Incident("i1")
	// Updates are listed newest first: the edit changed the older one's text and nothing else.
	if len(after.Updates) != 2 || after.Updates[1].Body != "Postgres provisioning is failing." || after.Updates[0].Body != "Fix deployed." ||
		after.Status != api.Monitoring {
		t.Fatalf("after the edit and a reopen: %+v", after)
	}
	if page := string(p.snap.Load().routes["/"].plain.body); !strings.Contains(page, "Postgres provisioning is failing.") || strings.Contains(page, "provisoning") {
		t.Fatal("the page does not show the corrected text")
	}
}
