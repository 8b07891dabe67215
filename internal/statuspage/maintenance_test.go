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
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// maintenanceBody is a PUT /api/v1/maintenances body for the window starting at from.
func maintenanceBody(status, body string, from time.Time, components ...string) string {
	comps, _ := json.Marshal(components)
	return fmt.Sprintf(`{"name":"Database upgrade","body":%q,"status":%q,"scheduled_for":%q,"scheduled_until":%q,"components":%s}`,
		body, status, from.Format(time.RFC3339), from.Add(time.Hour).Format(time.RFC3339), comps)
}

type summaryMaintenances struct {
	Components []struct {
		ID, Status string
	} `json:"components"`
	Status struct {
		Description string `json:"description"`
	} `json:"status"`
	ScheduledMaintenances []struct {
		ID, Name, Status, Impact string
		ScheduledFor             string                          `json:"scheduled_for"`
		ScheduledUntil           string                          `json:"scheduled_until"`
		ResolvedAt               *string                         `json:"resolved_at"`
		IncidentUpdates          []struct{ Status, Body string } `json:"incident_updates"`
		Components               []struct{ ID, Status string }   `json:"components"`
	} `json:"scheduled_maintenances"`
}

func getSummary(t *testing.T, s *testServer, path string) summaryMaintenances {
	t.Helper()
	r := s.get(t, path)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d", path, r.status)
	}
	var out summaryMaintenances
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func componentStatus(sum summaryMaintenances, id string) string {
	for _, c := range sum.Components {
		if c.ID == id {
			return c.Status
		}
	}
	return ""
}

func TestAMaintenanceIsAnnouncedStartsAndCompletesOnThePage(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	from := s.clock.Now().Add(5 * time.Minute)

	r := s.put(t, "/api/v1/maintenances/mw-1", maintenanceBody("scheduled", "Writes may be slow for a few minutes.", from, "db"))
	if r.status != http.StatusCreated || r.header.Get("Location") != "/api/v1/maintenances/mw-1" {
		t.Fatalf("announce = %d %s (Location %q)", r.status, r.body, r.header.Get("Location"))
	}
	sum := getSummary(t, s, "/api/v2/summary.json")
	if len(sum.ScheduledMaintenances) != 1 || sum.ScheduledMaintenances[0].Status != "scheduled" || sum.ScheduledMaintenances[0].Impact != "maintenance" ||
		sum.ScheduledMaintenances[0].ScheduledFor != from.UTC().Format("2006-01-02T15:04:05.000Z07:00") {
		t.Fatalf("summary.json scheduled_maintenances = %+v", sum.ScheduledMaintenances)
	}
	if st := componentStatus(sum, "db"); st != "operational" {
		t.Errorf("before the window the database is %s, want operational", st)
	}
	page := string(s.get(t, "/").body)
	for _, want := range []string{"Scheduled maintenance", "Database upgrade", "Writes may be slow for a few minutes.", "Affects: Database", `id="maintenance-mw-1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the front page lacks %q", want)
		}
	}
	if got := getSummary(t, s, "/api/v2/scheduled-maintenances/upcoming.json"); len(got.ScheduledMaintenances) != 1 {
		t.Errorf("upcoming.json = %+v, want the maintenance", got.ScheduledMaintenances)
	}

	// The same request again is a replay.
	if r := s.put(t, "/api/v1/maintenances/mw-1", maintenanceBody("scheduled", "Writes may be slow for a few minutes.", from, "db")); r.status != http.StatusOK {
		t.Fatalf("replay = %d %s, want 200", r.status, r.body)
	}

	s.clock.Advance(5 * time.Minute)
	s.mustPut(t, "/api/v1/maintenances/mw-1", maintenanceBody("in_progress", "The upgrade is under way.", from, "db"))
	sum = getSummary(t, s, "/api/v2/summary.json")
	if st := componentStatus(sum, "db"); st != "under_maintenance" {
		t.Errorf("during the window the database is %s, want under_maintenance", st)
	}
	if st := componentStatus(sum, "api"); st != "operational" {
		t.Errorf("during the window the API is %s, want operational", st)
	}
	if sum.Status.Description != "Service Under Maintenance" {
		t.Errorf("status = %q, want Service Under Maintenance", sum.Status.Description)
	}
	if m := sum.ScheduledMaintenances; len(m) != 1 || m[0].Status != "in_progress" || len(m[0].IncidentUpdates) != 2 ||
		m[0].IncidentUpdates[0].Body != "The upgrade is under way." || m[0].Components[0].Status != "under_maintenance" {
		t.Fatalf("in progress: scheduled_maintenances = %+v", m)
	}
	if got := getSummary(t, s, "/api/v2/scheduled-maintenances/active.json"); len(got.ScheduledMaintenances) != 1 {
		t.Errorf("active.json = %+v, want the maintenance", got.ScheduledMaintenances)
	}
	if !strings.Contains(string(s.get(t, "/").body), "In progress") {
		t.Error("the notice does not say the maintenance is in progress")
	}

	s.clock.Advance(time.Hour)
	s.mustPut(t, "/api/v1/maintenances/mw-1", maintenanceBody("completed", "The upgrade is complete.", from, "db"))
	sum = getSummary(t, s, "/api/v2/summary.json")
	if len(sum.ScheduledMaintenances) != 0 || componentStatus(sum, "db") != "operational" {
		t.Errorf("after completion: scheduled_maintenances = %+v, database %s", sum.ScheduledMaintenances, componentStatus(sum, "db"))
	}
	if strings.Contains(string(s.get(t, "/").body), "Database upgrade") {
		t.Error("the front page still shows the completed maintenance")
	}
	all := getSummary(t, s, "/api/v2/scheduled-maintenances.json").ScheduledMaintenances
	if len(all) != 1 || all[0].Status != "completed" || all[0].ResolvedAt == nil || len(all[0].IncidentUpdates) != 3 {
		t.Errorf("scheduled-maintenances.json = %+v, want the completed maintenance with three updates", all)
	}
}

func TestAnOutageDuringMaintenanceStillShowsAsAnOutage(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	s.mustPut(t, "/api/v1/maintenances/mw-1", maintenanceBody("in_progress", "The upgrade is under way.", s.clock.Now(), "db"))
	s.mustPut(t, "/api/v1/incidents/inc-1", `{"name":"Database down","impact":"critical",
		"update":{"id":"u1","status":"investigating","body":"The database does not answer.","components":[{"id":"db","status":"major_outage"}]}}`)
	if st := componentStatus(getSummary(t, s, "/api/v2/summary.json"), "db"); st != "major_outage" {
		t.Errorf("database = %s, want major_outage", st)
	}
}

func TestMaintenanceWritesAreRefusedWithTheirOwnCode(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	from := s.clock.Now().Add(time.Hour)
	s.mustPut(t, "/api/v1/maintenances/done", maintenanceBody("completed", "Done.", from, "db"))
	valid := maintenanceBody("scheduled", "Writes may be slow.", from, "db")
	cases := []struct {
		name, method, path, body, token string
		status                          int
		code, field                     string
	}{
		{"no token", http.MethodPut, "/api/v1/maintenances/m", valid, "-", 401, api.CodeUnauthorized, ""},
		{"bad id", http.MethodPut, "/api/v1/maintenances/-bad", valid, "", 422, api.CodeInvalid, "id"},
		{"malformed JSON", http.MethodPut, "/api/v1/maintenances/m", `{"name":`, "", 400, api.CodeMalformedJSON, ""},
		{"no name", http.MethodPut, "/api/v1/maintenances/m", strings.Replace(valid, `"Database upgrade"`, `""`, 1), "", 422, api.CodeInvalid, "name"},
		{"no body", http.MethodPut, "/api/v1/maintenances/m", maintenanceBody("scheduled", " ", from, "db"), "", 422, api.CodeInvalid, "body"},
		{"a realtime status", http.MethodPut, "/api/v1/maintenances/m", maintenanceBody("investigating", "x", from, "db"), "", 422, api.CodeInvalid, "status"},
		{"no window", http.MethodPut, "/api/v1/maintenances/m", `{"name":"n","body":"b","status":"scheduled","components":["db"]}`, "", 422, api.CodeInvalid, "scheduled_for"},
		{"window ends before it starts", http.MethodPut, "/api/v1/maintenances/m", strings.Replace(valid, from.Add(time.Hour).Format(time.RFC3339), from.Add(-time.Hour).Format(time.RFC3339), 1), "", 422, api.CodeInvalid, "scheduled_until"},
		{"no components", http.MethodPut, "/api/v1/maintenances/m", maintenanceBody("scheduled", "x", from), "", 422, api.CodeInvalid, "components"},
		{"a component twice", http.MethodPut, "/api/v1/maintenances/m", maintenanceBody("scheduled", "x", from, "db", "db"), "", 422, api.CodeInvalid, "components[1]"},
		{"an unknown component", http.MethodPut, "/api/v1/maintenances/m", maintenanceBody("scheduled", "x", from, "db", "ghost"), "", 422, api.CodeUnknownComponent, "components[1]"},
		{"status going back", http.MethodPut, "/api/v1/maintenances/done", maintenanceBody("in_progress", "x", from, "db"), "", 409, api.CodeConflict, "status"},
		{"unknown maintenance", http.MethodGet, "/api/v1/maintenances/nope", "", "", 404, api.CodeNotFound, ""},
		{"delete", http.MethodDelete, "/api/v1/maintenances/done", "", "", 405, api.CodeMethodNotAllowed, ""},
		{"a path below it", http.MethodPut, "/api/v1/maintenances/done/updates", valid, "", 404, api.CodeNotFound, ""},
	}
	before := s.get(t, "/api/v2/scheduled-maintenances.json").body
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := testToken
			if tc.token == "-" {
				token = ""
			}
			e := wantError(t, s.do(t, tc.method, tc.path, token, []byte(tc.body)), tc.status, tc.code)
			if e.Field != tc.field {
				t.Errorf("field = %q, want %q", e.Field, tc.field)
			}
		})
	}
	if after := s.get(t, "/api/v2/scheduled-maintenances.json").body; string(after) != string(before) {
		t.Errorf("a refused write changed the page:\n%s\n%s", before, after)
	}
}

func TestANamespacesTokenCannotTouchAnotherNamespacesMaintenance(t *testing.T) {
	p, clock := newTestPage(t)
	s := newScopedServer(t, p)
	s.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	body := maintenanceBody("scheduled", "Writes may be slow.", clock.Now().Add(time.Hour), "db")
	if r := s.do(t, http.MethodPut, "/api/v1/maintenances/pay-mw", paymentsToken, []byte(body)); r.status != http.StatusCreated {
		t.Fatalf("payments announcing its maintenance = %d %s", r.status, r.body)
	}
	wantError(t, s.do(t, http.MethodPut, "/api/v1/maintenances/pay-mw", searchToken, []byte(strings.Replace(body, "slow", "down", 1))), 403, api.CodeForbidden)
	wantError(t, s.do(t, http.MethodGet, "/api/v1/maintenances/pay-mw", searchToken, nil), 403, api.CodeForbidden)
	if r := s.do(t, http.MethodGet, "/api/v1/maintenances/pay-mw", paymentsToken, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "Writes may be slow.") {
		t.Errorf("payments reading its maintenance = %d %s", r.status, r.body)
	}
}

func TestAMaintenanceSurvivesReopeningTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p := openTestPage(t, path, clock)
	mustPutComponent(t, p, "db", "Database")
	req := api.MaintenanceRequest{Name: "Database upgrade", Body: "Under way.", Status: api.MaintenanceInProgress,
		ScheduledFor: clock.Now(), ScheduledUntil: clock.Now().Add(time.Hour), Components: []string{"db"}}
	if _, _, err := p.PutMaintenance("mw-1", req); err != nil {
		t.Fatal(err)
	}
	want, _ := p.Maintenance("mw-1")
	before := p.snap.Load().routes["/api/v2/summary.json"].plain.body
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	q := openTestPage(t, path, clock)
	got, err := q.Maintenance("mw-1")
	if err != nil || got.Status != want.Status || !got.UpdatedAt.Equal(want.UpdatedAt) || len(got.Updates) != 1 {
		t.Fatalf("after reopening: %+v, %v; want %+v", got, err, want)
	}
	if after := q.snap.Load().routes["/api/v2/summary.json"].plain.body; string(after) != string(before) {
		t.Errorf("summary.json changed across the reopen:\n%s\n%s", before, after)
	}
	if _, created, err := q.PutMaintenance("mw-1", req); err != nil || created {
		t.Errorf("replay after reopening: created %v, %v", created, err)
	}
}

func TestTheExportHoldsTheMaintenanceNoticeAndDocuments(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	s.mustPut(t, "/api/v1/maintenances/mw-1", maintenanceBody("in_progress", "The upgrade is under way.", s.clock.Now(), "db"))
	dir := t.TempDir()
	if _, err := s.page.Export(dir); err != nil {
		t.Fatal(err)
	}
	for file, path := range map[string]string{"index.html": "/", "api/v2/summary.json": "/api/v2/summary.json",
		"api/v2/scheduled-maintenances.json":          "/api/v2/scheduled-maintenances.json",
		"api/v2/scheduled-maintenances/upcoming.json": "/api/v2/scheduled-maintenances/upcoming.json",
		"api/v2/scheduled-maintenances/active.json":   "/api/v2/scheduled-maintenances/active.json"} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || !bytes.Equal(got, s.get(t, path).body) {
			t.Errorf("%s is not what the server answers at %s: %v", file, path, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "api/v2/scheduled-maintenances/active.json")); !bytes.Contains(got, []byte("The upgrade is under way.")) {
		t.Errorf("active.json lacks the maintenance: %s", got)
	}
}
