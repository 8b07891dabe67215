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
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestTheFakeSchedulesAMaintenanceAndMovesItOnlyWhenTold(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	s.AddComponent("db0000000001", "Database")
	base := "/v1/pages/" + PageID + "/incidents"
	a := call(t, s, APIKey, http.MethodPost, base, `{"incident":{"name":"Database upgrade","status":"scheduled",
		"body":"Writes may be slow.","scheduled_for":"2026-12-03T22:00:00Z","scheduled_until":"2026-12-03T23:00:00Z",
		"scheduled_auto_in_progress":false,"scheduled_auto_completed":false,"component_ids":["db0000000001"],
		"metadata":{"firescope":{"maintenance":"ns/mw/uid"}}}}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create = %d %s", a.status, a.body)
	}
	var inc struct {
		ID, Status     string
		ScheduledFor   string `json:"scheduled_for"`
		AutoInProgress *bool  `json:"scheduled_auto_in_progress"`
	}
	if err := json.Unmarshal(a.body, &inc); err != nil {
		t.Fatal(err)
	}
	if inc.Status != "scheduled" || inc.ScheduledFor != "2026-12-03T22:00:00.000Z" || inc.AutoInProgress == nil || *inc.AutoInProgress {
		t.Fatalf("created %s", a.body)
	}
	for _, op := range []struct{ path, want string }{{"/scheduled", inc.ID}, {"/upcoming", inc.ID}, {"/active_maintenance", "[]"}, {"/unresolved", "[]"}} {
		if a := call(t, s, APIKey, http.MethodGet, base+op.path, ""); a.status != http.StatusOK || !strings.Contains(string(a.body), op.want) {
			t.Errorf("GET %s = %d %s, want %s", op.path, a.status, a.body, op.want)
		}
	}

	a = call(t, s, APIKey, http.MethodPatch, base+"/"+inc.ID, `{"incident":{"status":"in_progress","body":"Under way.",
		"components":{"db0000000001":"under_maintenance"}}}`)
	if a.status != http.StatusOK {
		t.Fatalf("start = %d %s", a.status, a.body)
	}
	if c := s.Components()[0]; c.Status != "under_maintenance" {
		t.Errorf("component %s, want under_maintenance", c.Status)
	}
	if a := call(t, s, APIKey, http.MethodGet, base+"/active_maintenance", ""); !strings.Contains(string(a.body), inc.ID) {
		t.Errorf("active_maintenance = %s", a.body)
	}
	a = call(t, s, APIKey, http.MethodPatch, base+"/"+inc.ID, `{"incident":{"status":"completed","body":"Done.","components":{"db0000000001":"operational"}}}`)
	if a.status != http.StatusOK {
		t.Fatalf("complete = %d %s", a.status, a.body)
	}
	got := s.Incidents()[0]
	if got.Status != "completed" || got.ResolvedAt.IsZero() || len(got.Updates) != 3 || got.Schedule == nil || got.Schedule.AutoCompleted {
		t.Errorf("after completion: %+v", got)
	}
	if len(s.Invalid()) != 0 {
		t.Errorf("requests the document refuses: %+v", s.Invalid())
	}
}

func TestTheFakeKeepsMaintenancesAndRealtimeIncidentsApart(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	base := "/v1/pages/" + PageID + "/incidents"
	for _, tc := range []struct{ name, body, want string }{
		{"no window", `{"incident":{"name":"n","status":"scheduled","body":"b"}}`, "Scheduled for can't be blank"},
		{"no end", `{"incident":{"name":"n","status":"scheduled","body":"b","scheduled_for":"2026-12-03T22:00:00Z"}}`, "Scheduled until can't be blank"},
		{"end before start", `{"incident":{"name":"n","status":"scheduled","body":"b","scheduled_for":"2026-12-03T22:00:00Z","scheduled_until":"2026-12-03T21:00:00Z"}}`, "Scheduled until must be after scheduled for"},
		{"window on a realtime incident", `{"incident":{"name":"n","status":"investigating","body":"b","scheduled_for":"2026-12-03T22:00:00Z"}}`, "for scheduled maintenances only"},
	} {
		if a := call(t, s, APIKey, http.MethodPost, base, tc.body); a.status != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), tc.want) {
			t.Errorf("%s: %d %s, want 422 %q", tc.name, a.status, a.body, tc.want)
		}
	}
	a := call(t, s, APIKey, http.MethodPost, base, `{"incident":{"name":"Errors","status":"investigating","body":"b"}}`)
	var inc struct{ ID string }
	_ = json.Unmarshal(a.body, &inc)
	if a := call(t, s, APIKey, http.MethodPatch, base+"/"+inc.ID, `{"incident":{"status":"in_progress"}}`); a.status != http.StatusUnprocessableEntity {
		t.Errorf("a realtime incident taking in_progress = %d %s, want 422", a.status, a.body)
	}
	if a := call(t, s, APIKey, http.MethodPost, base, `{"incident":{"name":"n","status":"postponed","body":"b"}}`); a.status != http.StatusBadRequest {
		t.Errorf("a status the document does not list = %d %s, want 400", a.status, a.body)
	}
}
