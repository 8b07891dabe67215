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
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

func putIncident(t *testing.T, p *Page, id, body string) error {
	t.Helper()
	_, _, err := p.PutIncident(id, api.IncidentRequest{Name: "Incident " + id, Impact: api.ImpactMinor,
		Update: &api.UpdateRequest{ID: "u0", Status: api.Investigating, Body: body}})
	return err
}

func TestAPageRefusesANewIncidentPastTheLimitUntilOneIsDeleted(t *testing.T) {
	p, _ := newTestPage(t)
	p.limits.incidents = 3
	for i := range 3 {
		if err := putIncident(t, p, fmt.Sprint("i", i), "Looking."); err != nil {
			t.Fatal(err)
		}
	}
	e := wantAPIError(t, putIncident(t, p, "i3", "Looking."), http.StatusUnprocessableEntity, api.CodeLimitExceeded)
	if !strings.Contains(e.message, "DELETE /api/v1/incidents/") {
		t.Errorf("message %q does not say how to make room", e.message)
	}
	// An existing incident still takes updates.
	if _, _, err := p.PutUpdate("i0", "u1", api.UpdateRequest{Status: api.Resolved, Body: "Fixed."}); err != nil {
		t.Errorf("an update to an existing incident at the limit = %v", err)
	}
	if err := p.DeleteIncident("i1"); err != nil {
		t.Fatal(err)
	}
	if err := putIncident(t, p, "i3", "Looking."); err != nil {
		t.Errorf("after a delete, a new incident = %v", err)
	}
}

func TestAPageRefusesWritesPastItsStoredBytesUntilIncidentsAreDeleted(t *testing.T) {
	p, _ := newTestPage(t)
	p.limits.storedBytes = 20 << 10
	body := strings.Repeat("Still looking. ", 400) // 6 KB
	var err error
	n := 0
	for ; err == nil; n++ {
		err = putIncident(t, p, fmt.Sprint("i", n), body)
	}
	e := wantAPIError(t, err, http.StatusRequestEntityTooLarge, api.CodeStorageFull)
	if !strings.Contains(e.message, "delete old incidents") {
		t.Errorf("message %q does not say how to make room", e.message)
	}
	if p.storedBytes > p.limits.storedBytes || n < 3 {
		t.Errorf("stored %d bytes in %d incidents with a limit of %d", p.storedBytes, n-1, p.limits.storedBytes)
	}
	refused := fmt.Sprint("i", n-1)
	if _, ok := p.Incident(refused); ok {
		t.Errorf("the refused incident %s was created", refused)
	}
	if _, _, err := p.PutUpdate("i0", "u1", api.UpdateRequest{Status: api.Monitoring, Body: body}); err == nil {
		t.Error("an update past the limit was accepted")
	}
	if err := p.DeleteIncident("i0"); err != nil {
		t.Fatal(err)
	}
	if err := putIncident(t, p, refused, body); err != nil {
		t.Errorf("after a delete, the incident = %v", err)
	}
}

func TestAnIncidentRefusesUpdatesPastItsBytes(t *testing.T) {
	p, _ := newTestPage(t)
	p.limits.incidentBytes = 16 << 10
	body := strings.Repeat("Still looking. ", 400)
	if err := putIncident(t, p, "i0", body); err != nil {
		t.Fatal(err)
	}
	var err error
	for u := 1; err == nil; u++ {
		_, _, err = p.PutUpdate("i0", fmt.Sprint("u", u), api.UpdateRequest{Status: api.Monitoring, Body: body})
	}
	wantAPIError(t, err, http.StatusRequestEntityTooLarge, api.CodeStorageFull)
	if err := putIncident(t, p, "i1", body); err != nil {
		t.Errorf("another incident = %v, want it accepted: the limit is per incident", err)
	}
	// A correction that makes the text shorter is always accepted.
	if _, err := p.EditUpdate("i0", "u1", api.UpdateEdit{Body: "Looking."}); err != nil {
		t.Errorf("a shorter correction = %v", err)
	}
}

// The sizes the page counts as it writes are those it finds when it reads the file again, so
// that the limits hold across restarts.
func TestTheStoredBytesCountedByWritesMatchTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p := openTestPage(t, path, clock)
	mustPutComponent(t, p, "api", "API")
	for i := range 3 {
		if err := putIncident(t, p, fmt.Sprint("i", i), "Looking & <checking>."); err != nil {
			t.Fatal(err)
		}
	}
	steps := []func() error{
		func() error {
			_, _, err := p.PutUpdate("i0", "u1", api.UpdateRequest{Status: api.Identified, Body: "Found it.",
				Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}})
			return err
		},
		func() error {
			_, err := p.EditUpdate("i0", "u1", api.UpdateEdit{Body: "Found it: a bad deploy."})
			return err
		},
		func() error {
			_, _, err := p.PutIncident("i1", api.IncidentRequest{Name: "A longer name for incident i1", Impact: api.ImpactMajor})
			return err
		},
		func() error {
			_, _, err := p.PutPostmortem("i0", api.PostmortemRequest{Body: "What happened.", Published: true})
			return err
		},
		func() error {
			_, _, err := p.PutPostmortem("i0", api.PostmortemRequest{Body: "What happened, in more words."})
			return err
		},
		func() error { _, _, err := p.PutComponent("api", api.ComponentRequest{Name: "Public API"}); return err },
		func() error { return p.DeleteIncident("i2") },
	}
	for i, step := range steps {
		clock.Advance(time.Second)
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	stored, byIncident := p.storedBytes, p.incidentBytes
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTestPage(t, path, clock)
	if p.storedBytes != stored || fmt.Sprint(p.incidentBytes) != fmt.Sprint(byIncident) {
		t.Errorf("counted %d bytes, %v; the file has %d, %v", stored, byIncident, p.storedBytes, p.incidentBytes)
	}
	if _, ok := byIncident["i2"]; ok {
		t.Error("the deleted incident still counts")
	}
}

func TestADeletedIncidentLeavesThePageAndTheFile(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Gone soon","impact":"major","update":{"id":"u1","status":"investigating","body":"Looking."}}`)
	s.mustPut(t, "/api/v1/incidents/i1/postmortem", `{"body":"Sorry.","published":true}`)
	s.mustPut(t, "/api/v1/incidents/i2", `{"name":"Stays","impact":"minor","update":{"id":"u1","status":"investigating","body":"Looking."}}`)
	for range 2 { // the second delete is a retry
		if r := s.do(t, http.MethodDelete, "/api/v1/incidents/i1", testToken, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE = %d %s, want 204", r.status, r.body)
		}
	}
	for _, path := range []string{"/", "/history", "/api/v2/summary.json", "/api/v2/incidents.json", "/history.atom"} {
		if body := s.get(t, path).body; bytes.Contains(body, []byte("Gone soon")) || !bytes.Contains(body, []byte("Stays")) {
			t.Errorf("%s after the delete: shows the deleted incident, or not the other one", path)
		}
	}
	if r := s.get(t, "/incidents/i1"); r.status != http.StatusNotFound {
		t.Errorf("the deleted incident's page = %d, want 404", r.status)
	}
	wantError(t, s.do(t, http.MethodGet, "/api/v1/incidents/i1", testToken, nil), http.StatusNotFound, api.CodeNotFound)
	wantError(t, s.do(t, http.MethodGet, "/api/v1/incidents/i1/postmortem", testToken, nil), http.StatusNotFound, api.CodeNotFound)

	// The id is free again, with none of the old updates.
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"New","impact":"minor","update":{"id":"u1","status":"identified","body":"Other words."}}`)
	var inc api.Incident
	if err := json.Unmarshal(s.do(t, http.MethodGet, "/api/v1/incidents/i1", testToken, nil).body, &inc); err != nil {
		t.Fatal(err)
	}
	if len(inc.Updates) != 1 || inc.Updates[0].Body != "Other words." {
		t.Errorf("the new incident under the deleted one's id = %+v", inc)
	}
	if _, err := s.page.Postmortem("i1"); err == nil {
		t.Error("the new incident has the deleted one's post-mortem")
	}
}

func TestADeleteSurvivesReopeningTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p := openTestPage(t, path, clock)
	for _, id := range []string{"i1", "i10", "i2"} { // "i1/" must not match "i10/"
		if err := putIncident(t, p, id, "Looking."); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := p.PutPostmortem("i1", api.PostmortemRequest{Body: "Draft."}); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteIncident("i1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTestPage(t, path, clock)
	if _, ok := p.Incident("i1"); ok {
		t.Error("the deleted incident is back after a restart")
	}
	for _, id := range []string{"i10", "i2"} {
		if inc, ok := p.Incident(id); !ok || len(inc.Updates) != 1 {
			t.Errorf("incident %s after the restart = %+v, %v; want it with its update", id, inc, ok)
		}
	}
}

func TestListsShowTheLatestUpdatesAndTheIncidentPageAllOfThem(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Long one","impact":"major","update":{"id":"u0","status":"investigating","body":"Update number 0."}}`)
	const n = updatesInLists + 7
	for u := 1; u < n; u++ {
		s.clock.Advance(time.Minute)
		s.mustPut(t, fmt.Sprintf("/api/v1/incidents/i1/updates/u%d", u), fmt.Sprintf(`{"status":"identified","body":"Update number %d."}`, u))
	}
	shown := func(body []byte) (count int) {
		for u := range n {
			if bytes.Contains(body, fmt.Appendf(nil, "Update number %d.", u)) {
				count++
			}
		}
		return count
	}
	front := s.get(t, "/").body
	if got := shown(front); got != updatesInLists || !bytes.Contains(front, fmt.Appendf(nil, "Update number %d.", n-1)) {
		t.Errorf("the front page shows %d updates, want the latest %d", got, updatesInLists)
	}
	if !bytes.Contains(front, []byte(`<a href="/incidents/i1">7 earlier updates</a>`)) {
		t.Error("the front page does not link to the earlier updates")
	}
	var summary struct {
		Incidents []struct {
			IncidentUpdates []struct{ Body string } `json:"incident_updates"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(s.get(t, "/api/v2/summary.json").body, &summary); err != nil {
		t.Fatal(err)
	}
	if len(summary.Incidents) != 1 || len(summary.Incidents[0].IncidentUpdates) != updatesInLists ||
		summary.Incidents[0].IncidentUpdates[0].Body != fmt.Sprintf("Update number %d.", n-1) {
		t.Errorf("summary.json = %+v, want the latest %d updates, newest first", summary, updatesInLists)
	}
	if got := shown(s.get(t, "/incidents/i1").body); got != n {
		t.Errorf("the incident page shows %d updates, want all %d", got, n)
	}
}

// Open incidents full of texts at their limits do not make the lists grow without bound:
// each holds what fits in listBudget, and the front page says how many more there are.
func TestListsHoldWhatFitsInTheirBudget(t *testing.T) {
	s := newTestServer(t)
	body := strings.Repeat("&", api.MaxUpdateBodyLength)
	const incidents = 9
	for i := range incidents {
		s.mustPut(t, fmt.Sprintf("/api/v1/incidents/i%02d", i), fmt.Sprintf(`{"name":"Incident %02d","impact":"major","update":{"id":"u0","status":"investigating","body":%q}}`, i, body))
		for u := 1; u < updatesInLists; u++ {
			s.mustPut(t, fmt.Sprintf("/api/v1/incidents/i%02d/updates/u%d", i, u), fmt.Sprintf(`{"status":"identified","body":%q}`, body))
		}
		s.clock.Advance(time.Minute)
	}
	for _, path := range []string{"/", "/api/v2/summary.json", "/api/v2/incidents/unresolved.json", "/api/v2/incidents.json"} {
		r := s.get(t, path)
		if len(r.body) > listBudget+64<<10 {
			t.Errorf("%s is %d bytes, over the budget of %d", path, len(r.body), listBudget)
		}
		if !bytes.Contains(r.body, []byte("Incident 08")) || bytes.Contains(r.body, []byte("Incident 00")) {
			t.Errorf("%s: want the newest incident in the list and the oldest left out", path)
		}
	}
	if !regexpMatch(`<a href="/history">\d+ more active incidents in the history</a>`, s.get(t, "/").body) {
		t.Error("the front page does not say that more incidents are active")
	}
	if body := s.get(t, "/history").body; !bytes.Contains(body, []byte("Incident 00")) {
		t.Error("the history leaves out an incident")
	}
}

func TestTheIncidentPageIsCacheableAndGzipped(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"major","update":{"id":"u1","status":"investigating","body":"First words."}}`)
	r := s.get(t, "/incidents/i1")
	etag := r.header.Get("ETag")
	if r.status != http.StatusOK || !strings.HasPrefix(etag, `"`) || r.header.Get("Cache-Control") != "public, max-age=10" ||
		r.header.Get("Content-Security-Policy") != htmlCSP || !bytes.Contains(r.body, []byte("First words.")) {
		t.Fatalf("GET = %d, ETag %q, Cache-Control %q, CSP set %v", r.status, etag, r.header.Get("Cache-Control"), r.header.Get("Content-Security-Policy") != "")
	}
	if nm := s.get(t, "/incidents/i1", "If-None-Match", etag); nm.status != http.StatusNotModified || len(nm.body) != 0 {
		t.Errorf("If-None-Match = %d with %d bytes, want 304", nm.status, len(nm.body))
	}
	if head := s.do(t, http.MethodHead, "/incidents/i1", "", nil); head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("ETag") != etag {
		t.Errorf("HEAD = %d with %d bytes, ETag %q", head.status, len(head.body), head.header.Get("ETag"))
	}
	gz := s.get(t, "/incidents/i1", "Accept-Encoding", "gzip")
	zr, err := gzip.NewReader(bytes.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, r.body) || gz.header.Get("ETag") == etag {
		t.Errorf("gzip variant: %v, same body %v, ETag %q (identity %q)", err, bytes.Equal(unzipped, r.body), gz.header.Get("ETag"), etag)
	}
	// A post-mortem draft changes nothing public; an update changes the page and its ETag.
	s.mustPut(t, "/api/v1/incidents/i1/postmortem", `{"body":"Draft."}`)
	if nm := s.get(t, "/incidents/i1", "If-None-Match", etag); nm.status != http.StatusNotModified {
		t.Errorf("after a draft: %d, want 304", nm.status)
	}
	s.mustPut(t, "/api/v1/incidents/i1/updates/u2", `{"status":"monitoring","body":"Second words."}`)
	after := s.get(t, "/incidents/i1", "If-None-Match", etag)
	if after.status != http.StatusOK || after.header.Get("ETag") == etag || !bytes.Contains(after.body, []byte("Second words.")) {
		t.Errorf("after an update: %d, ETag %q (was %q)", after.status, after.header.Get("ETag"), etag)
	}
}

func regexpMatch(pattern string, b []byte) bool { return regexp.MustCompile(pattern).Match(b) }

// Incident pages render from frozen copies while writes change the incident (run with
// -race to see that they share nothing mutable).
func TestIncidentPagesRenderWhileWritesGoOn(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Busy","impact":"major","update":{"id":"u0","status":"investigating","body":"Update number 0."}}`)
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				resp, err := http.Get(s.URL + "/incidents/i1")
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Update number 0.")) {
					errs <- fmt.Errorf("GET = %d, %v, %d bytes", resp.StatusCode, err, len(body))
					return
				}
			}
		}()
	}
	for u := 1; u <= 20; u++ {
		s.mustPut(t, fmt.Sprintf("/api/v1/incidents/i1/updates/u%d", u), fmt.Sprintf(`{"status":"identified","body":"Update number %d."}`, u))
		if u%5 == 0 {
			s.mustPut(t, "/api/v1/incidents/i1/postmortem", fmt.Sprintf(`{"body":"Version %d.","published":true}`, u))
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
