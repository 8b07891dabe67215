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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

func TestSubscribersHearOfEachNotifiedMaintenanceStatusOnce(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	for _, c := range []string{"api", "db"} {
		if _, _, err := f.page.PutComponent(c, api.ComponentRequest{Name: strings.ToUpper(c)}); err != nil {
			t.Fatal(err)
		}
	}
	f.subscribeAndConfirm("all@example.com")
	f.subscribeAndConfirm("dba@example.com", "db")
	f.subscribeAndConfirm("api@example.com", "api")
	from := time.Now().Add(time.Hour)
	for _, req := range []api.MaintenanceRequest{
		{Status: api.MaintenanceScheduled, Body: "Writes may be slow.", Notify: true},
		{Status: api.MaintenanceScheduled, Body: "Writes may be slow. (Corrected.)", Notify: true}, // an edit notifies nobody
		{Status: api.MaintenanceInProgress, Body: "The upgrade is under way.", Notify: true},
		{Status: api.MaintenanceInProgress, Body: "The upgrade is under way.", Notify: true}, // a replay
		{Status: api.MaintenanceCompleted, Body: "Done."},                                    // without notify
	} {
		req.Name, req.ScheduledFor, req.ScheduledUntil, req.Components = "Database upgrade", from, from.Add(time.Hour), []string{"db"}
		if _, _, err := f.page.PutMaintenance("mw-1", req); err != nil {
			t.Fatal(err)
		}
	}
	f.idle()
	for _, addr := range []string{"all@example.com", "dba@example.com"} {
		ms := mailsTo(t, sink, addr)
		if len(ms) != 3 {
			t.Fatalf("%s got %d mails, want the confirmation and two notices", addr, len(ms))
		}
		checkMailHeaders(t, ms[1], addr, "[Example Status] Database upgrade: Scheduled")
		checkMailHeaders(t, ms[2], addr, "[Example Status] Database upgrade: In progress")
		if !strings.Contains(ms[1].body, "Writes may be slow.") || !strings.Contains(ms[1].body, "Planned maintenance") || !strings.Contains(ms[1].body, "/#maintenance-mw-1") {
			t.Errorf("the notice to %s:\n%s", addr, ms[1].body)
		}
	}
	if n := len(mailsTo(t, sink, "api@example.com")); n != 1 {
		t.Errorf("the API subscriber got %d mails, want only its confirmation", n)
	}
}
