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
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"firescope.dev/firescope/internal/safehttp"
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
		checkMailHeaders(t, ms[1], addr, "[Example Status] Database upgrade: Maintenance scheduled")
		checkMailHeaders(t, ms[2], addr, "[Example Status] Database upgrade: Maintenance in progress")
		if !strings.Contains(ms[1].body, "Writes may be slow.") || !strings.Contains(ms[1].body, "/#maintenance-mw-1") {
			t.Errorf("the notice to %s:\n%s", addr, ms[1].body)
		}
	}
	if n := len(mailsTo(t, sink, "api@example.com")); n != 1 {
		t.Errorf("the API subscriber got %d mails, want only its confirmation", n)
	}
}

// maintenanceNotice is a notice mail's text up to its footer, which holds the subscriber's
// links, with the lines ended as they were written.
func maintenanceNotice(t *testing.T, m sentMail) string {
	t.Helper()
	text, _, ok := strings.Cut(strings.ReplaceAll(m.body, "\r\n", "\n"), "\n-- \n")
	if !ok {
		t.Fatalf("the mail has no footer:\n%s", m.body)
	}
	return text
}

func TestMaintenanceNoticesSpeakOfTheMaintenanceAndItsWindowInThePagesTimeZone(t *testing.T) {
	sink := newSink(t)
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(t time.Time) { mu.Lock(); defer mu.Unlock(); now = t }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	page, err := OpenPage(filepath.Join(t.TempDir(), "sp.db"), PageInfo{ID: "example", Name: "Example Status", URL: base,
		Subscriptions: true, Location: time.FixedZone("EST", -5*3600)}, clock)
	if err != nil {
		t.Fatal(err)
	}
	f := serveSubscriptions(t, page, ln, sink, safehttp.Loopback(), nil)
	f.run()

	hooks := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- b
	}))
	defer hook.Close()
	for _, c := range []string{"db", "api"} {
		if _, _, err := page.PutComponent(c, api.ComponentRequest{Name: strings.ToUpper(c)}); err != nil {
			t.Fatal(err)
		}
	}
	f.subscribeAndConfirm("ops@example.com")
	if code, body := f.post("/subscribe", url.Values{"email": {"hook@example.com"}, "webhook_url": {hook.URL}}); code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	f.idle()
	if code, _ := f.post(mailsTo(t, sink, "hook@example.com")[0].link(t, "confirm"), nil); code != http.StatusOK {
		t.Fatal(code)
	}

	from := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	put := func(id, name string, from time.Time, at time.Time, status api.MaintenanceStatus, body string, components ...string) {
		t.Helper()
		setClock(at)
		if _, _, err := page.PutMaintenance(id, api.MaintenanceRequest{Name: name, Body: body, Status: status, ScheduledFor: from,
			ScheduledUntil: from.Add(time.Hour), Components: components, Notify: true}); err != nil {
			t.Fatal(err)
		}
		f.idle()
	}
	put("mw-1", "Database upgrade", from, now, api.MaintenanceScheduled, "Writes may be slow.", "db", "api")
	put("mw-1", "Database upgrade", from, from, api.MaintenanceInProgress, "The upgrade is under way.", "db", "api")
	put("mw-1", "Database upgrade", from, from.Add(time.Hour), api.MaintenanceCompleted, "The upgrade is done.", "db", "api")
	tomorrow := from.Add(24 * time.Hour)
	put("mw-2", "Network change", tomorrow, from.Add(2*time.Hour), api.MaintenanceScheduled, "Routers will be moved.", "db", "api")
	// Called off before its window, as the Maintenance controller does when one is deleted.
	put("mw-2", "Network change", tomorrow, from.Add(3*time.Hour), api.MaintenanceCompleted, "The scheduled maintenance has been cancelled.", "db")

	ms := mailsTo(t, sink, "ops@example.com")
	if len(ms) != 6 {
		t.Fatalf("ops got %d mails, want the confirmation and five notices", len(ms))
	}
	for i, want := range []struct{ subject, text string }{
		{"[Example Status] Database upgrade: Maintenance scheduled", "Database upgrade\n" +
			"Maintenance scheduled · Dec 3, 2026 17:00 EST to Dec 3, 2026 18:00 EST\n\n" +
			"Writes may be slow.\n\n" +
			"Components: DB, API\n\n" +
			"Posted Dec 3, 2026 10:00 EST. Follow the maintenance: " + base + "/#maintenance-mw-1\n"},
		{"[Example Status] Database upgrade: Maintenance in progress", "Database upgrade\n" +
			"Maintenance in progress · Dec 3, 2026 17:00 EST to Dec 3, 2026 18:00 EST\n\n" +
			"The upgrade is under way.\n\n" +
			"Components: DB, API\n\n" +
			"Posted Dec 3, 2026 17:00 EST. Follow the maintenance: " + base + "/#maintenance-mw-1\n"},
		{"[Example Status] Database upgrade: Maintenance completed", "Database upgrade\n" +
			"Maintenance completed · Dec 3, 2026 17:00 EST to Dec 3, 2026 18:00 EST\n\n" +
			"The upgrade is done.\n\n" +
			"Components: DB, API\n\n" +
			"Posted Dec 3, 2026 18:00 EST. Current status: " + base + "\n"},
		{"[Example Status] Network change: Maintenance scheduled", "Network change\n" +
			"Maintenance scheduled · Dec 4, 2026 17:00 EST to Dec 4, 2026 18:00 EST\n\n" +
			"Routers will be moved.\n\n" +
			"Components: DB, API\n\n" +
			"Posted Dec 3, 2026 19:00 EST. Follow the maintenance: " + base + "/#maintenance-mw-2\n"},
		{"[Example Status] Network change: Maintenance cancelled", "Network change\n" +
			"Maintenance cancelled · Dec 4, 2026 17:00 EST to Dec 4, 2026 18:00 EST\n\n" +
			"The scheduled maintenance has been cancelled.\n\n" +
			"Components: DB\n\n" +
			"Posted Dec 3, 2026 20:00 EST. Current status: " + base + "\n"},
	} {
		m := ms[i+1]
		checkMailHeaders(t, m, "ops@example.com", want.subject)
		if got := maintenanceNotice(t, m); got != want.text {
			t.Errorf("notice %d:\n%s\nwant:\n%s", i, got, want.text)
		}
		if !strings.Contains(m.body, "\nYou receive this because you subscribed to every incident and maintenance on Example Status.") {
			t.Errorf("notice %d does not say the subscription covers maintenances:\n%s", i, m.body)
		}
	}

	var got []string
	for range 5 {
		var pl struct {
			Type     string
			Incident struct {
				ID, Impact     string
				ScheduledFor   time.Time `json:"scheduled_for"`
				ScheduledUntil time.Time `json:"scheduled_until"`
			}
			Update struct {
				ID, Status string
				Components []struct {
					Code, Name string
					Old        string `json:"old_status"`
					New        string `json:"new_status"`
				} `json:"affected_components"`
			}
		}
		if err := json.Unmarshal(<-hooks, &pl); err != nil {
			t.Fatal(err)
		}
		line := []string{pl.Type, pl.Incident.ID, pl.Incident.Impact, pl.Incident.ScheduledFor.Format(time.RFC3339),
			pl.Incident.ScheduledUntil.Format(time.RFC3339), pl.Update.ID, pl.Update.Status}
		for _, c := range pl.Update.Components {
			line = append(line, c.Code+"="+c.Name+":"+c.Old+">"+c.New)
		}
		got = append(got, strings.Join(line, " "))
	}
	want := []string{
		"maintenance.scheduled mw-1 maintenance 2026-12-03T22:00:00Z 2026-12-03T23:00:00Z mw-1-scheduled scheduled",
		"maintenance.in_progress mw-1 maintenance 2026-12-03T22:00:00Z 2026-12-03T23:00:00Z mw-1-in_progress in_progress" +
			" db=DB:operational>under_maintenance api=API:operational>under_maintenance",
		"maintenance.completed mw-1 maintenance 2026-12-03T22:00:00Z 2026-12-03T23:00:00Z mw-1-completed completed" +
			" db=DB:under_maintenance>operational api=API:under_maintenance>operational",
		"maintenance.scheduled mw-2 maintenance 2026-12-04T22:00:00Z 2026-12-04T23:00:00Z mw-2-scheduled scheduled",
		"maintenance.cancelled mw-2 maintenance 2026-12-04T22:00:00Z 2026-12-04T23:00:00Z mw-2-completed completed",
	}
	if !slices.Equal(got, want) {
		t.Errorf("webhook deliveries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAMaintenanceNoticeQueuedWithoutItsWindowStillSpeaksOfTheMaintenance(t *testing.T) {
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), newSink(t), nil)
	// As an event queued by a release that did not record the window reads back.
	ev := &eventRecord{Key: "maintenance/mw-1/in_progress", Kind: "maintenance.in_progress", IncidentID: "mw-1", Incident: "Database upgrade",
		Impact: "maintenance", Status: "in_progress", Body: "The upgrade is under way.", URL: f.srv.URL + "/#maintenance-mw-1",
		At: time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)}
	c := f.subs.mailContent(&subscriberRecord{ID: "sub-1", Email: "ops@example.com"}, ev, deliverEvent)
	if c.Subject != "[Example Status] Database upgrade: Maintenance in progress" {
		t.Errorf("Subject = %q", c.Subject)
	}
	text, _, _ := strings.Cut(c.Text, "\n-- \n")
	if want := "Database upgrade\nMaintenance in progress\n\nThe upgrade is under way.\n\n" +
		"Posted Dec 3, 2026 22:00 UTC. Follow the maintenance: " + f.srv.URL + "/#maintenance-mw-1\n"; text != want {
		t.Errorf("the notice:\n%s\nwant:\n%s", text, want)
	}
}
