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
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

const testToken = "s3cret-token-0123456789"

// syncBuffer collects log output from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*httptest.Server
	page      *Page
	clock     *fakeClock
	logs      *syncBuffer
	transport *http.Transport
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	p, clock := newTestPage(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(NewHandler(p, testToken, log))
	t.Cleanup(srv.Close)
	// No transparent gzip: the tests look at exactly what the server sends.
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{Server: srv, page: p, clock: clock, logs: logs, transport: tr}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *testServer) do(t *testing.T, method, path, token string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, data}
}

func (s *testServer) put(t *testing.T, path, body string) response {
	t.Helper()
	return s.do(t, http.MethodPut, path, testToken, []byte(body))
}

func (s *testServer) get(t *testing.T, path string, header ...string) response {
	t.Helper()
	return s.do(t, http.MethodGet, path, "", nil, header...)
}

func (s *testServer) mustPut(t *testing.T, path, body string) {
	t.Helper()
	if r := s.put(t, path, body); r.status >= 300 {
		t.Fatalf("PUT %s = %d %s", path, r.status, r.body)
	}
}

// wantError checks an error response: status, JSON content type and code.
func wantError(t *testing.T, r response, status int, code string) api.ErrorDetail {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d (%s), want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil {
		t.Fatalf("error body %s is not JSON: %v", r.body, err)
	}
	if eb.Error.Code != code || eb.Error.Message == "" {
		t.Errorf("error = %+v, want code %s with a message", eb.Error, code)
	}
	return eb.Error
}

func TestWriteAPIRefusesMissingOrWrongTokens(t *testing.T) {
	s := newTestServer(t)
	body := []byte(`{"name":"API"}`)
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no header", nil},
		{"wrong token", []string{"Authorization", "Bearer wrong-token-0123456789"}},
		{"token prefix", []string{"Authorization", "Bearer " + testToken[:10]}},
		{"basic scheme", []string{"Authorization", "Basic " + testToken}},
		{"no scheme", []string{"Authorization", testToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, http.MethodPut, "/api/v1/components/api", "", body, tc.header...)
			wantError(t, r, http.StatusUnauthorized, api.CodeUnauthorized)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// Reads of the write API and unknown endpoints are behind the token too.
	wantError(t, s.do(t, http.MethodGet, "/api/v1/components", "", nil), http.StatusUnauthorized, api.CodeUnauthorized)
	wantError(t, s.do(t, http.MethodGet, "/api/v1/nothing", "", nil), http.StatusUnauthorized, api.CodeUnauthorized)
	if n := len(s.page.Components()); n != 0 {
		t.Errorf("%d components written without a valid token", n)
	}
}

func TestWriteAPIRefusesBadBodies(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"major"}`)
	huge := `{"name":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"malformed JSON", "/api/v1/components/api", `{"name":`, 400, api.CodeMalformedJSON, ""},
		{"not an object", "/api/v1/components/api", `["API"]`, 400, api.CodeMalformedJSON, ""},
		{"wrong type", "/api/v1/components/api", `{"name":42}`, 400, api.CodeMalformedJSON, ""},
		{"empty body", "/api/v1/components/api", ``, 400, api.CodeMalformedJSON, ""},
		{"unknown field", "/api/v1/components/api", `{"name":"API","colour":"red"}`, 400, api.CodeMalformedJSON, ""},
		{"trailing data", "/api/v1/components/api", `{"name":"API"} {"name":"B"}`, 400, api.CodeMalformedJSON, ""},
		{"invalid UTF-8", "/api/v1/incidents/i1/updates/u1", "{\"status\":\"investigating\",\"body\":\"bad \xff\xfe bytes\"}", 400, api.CodeInvalidUTF8, ""},
		{"oversized body", "/api/v1/components/api", huge, 413, api.CodeBodyTooLarge, ""},
		{"unknown component", "/api/v1/incidents/i1/updates/u1", `{"status":"investigating","body":"x","components":[{"id":"ghost","status":"major_outage"}]}`, 422, api.CodeUnknownComponent, "components[0].id"},
		{"invalid status", "/api/v1/incidents/i1/updates/u1", `{"status":"on fire","body":"x"}`, 422, api.CodeInvalid, "status"},
		{"invalid component status", "/api/v1/components/api", `{"name":"API","status":"down"}`, 422, api.CodeInvalid, "status"},
		{"invalid id", "/api/v1/components/-api", `{"name":"API"}`, 422, api.CodeInvalid, "id"},
		{"invalid created_at", "/api/v1/incidents/i1/updates/u1", `{"status":"investigating","body":"x","created_at":"yesterday"}`, 400, api.CodeMalformedJSON, ""},
		{"update of an unknown incident", "/api/v1/incidents/nope/updates/u1", `{"status":"investigating","body":"x"}`, 404, api.CodeNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, s.put(t, tc.path, tc.body), tc.status, tc.code)
			if e.Field != tc.field {
				t.Errorf("field = %q, want %q", e.Field, tc.field)
			}
		})
	}
	if r := s.get(t, "/api/v2/summary.json"); bytes.Contains(r.body, []byte("ghost")) || bytes.Contains(r.body, []byte(`"u1"`)) {
		t.Errorf("a refused write reached the page: %s", r.body)
	}
}

func TestWriteAPIIsIdempotentAndReportsConflicts(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	body := `{"name":"Errors","impact":"major","update":{"id":"u1","status":"investigating","body":"Looking.","components":[{"id":"api","status":"major_outage"}]}}`
	first := s.put(t, "/api/v1/incidents/i1", body)
	if first.status != http.StatusCreated || first.header.Get("Location") != "/api/v1/incidents/i1" {
		t.Fatalf("first PUT = %d, Location %q; want 201 with a Location", first.status, first.header.Get("Location"))
	}
	s.clock.Advance(time.Minute)
	again := s.put(t, "/api/v1/incidents/i1", body)
	if again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
		t.Errorf("retried PUT = %d %s\nwant 200 %s", again.status, again.body, first.body)
	}

	upd := `{"status":"identified","body":"Found it."}`
	if r := s.put(t, "/api/v1/incidents/i1/updates/u2", upd); r.status != http.StatusCreated {
		t.Fatalf("new update = %d %s", r.status, r.body)
	}
	if r := s.put(t, "/api/v1/incidents/i1/updates/u2", upd); r.status != http.StatusOK {
		t.Errorf("retried update = %d %s, want 200", r.status, r.body)
	}
	e := wantError(t, s.put(t, "/api/v1/incidents/i1/updates/u2", `{"status":"identified","body":"Found something else."}`), http.StatusConflict, api.CodeConflict)
	if !strings.Contains(e.Message, "body") {
		t.Errorf("conflict message %q does not name the body", e.Message)
	}

	r := s.do(t, http.MethodGet, "/api/v1/incidents/i1", testToken, nil)
	var inc api.Incident
	if err := json.Unmarshal(r.body, &inc); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET incident = %d %s", r.status, r.body)
	}
	if len(inc.Updates) != 2 || inc.Updates[0].ID != "u2" || inc.Status != api.Identified {
		t.Errorf("incident = %+v, want two updates, u2 first, status identified", inc)
	}
}

func TestWriteAPIRoutesAndMethods(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	r := s.do(t, http.MethodPost, "/api/v1/components/api", testToken, []byte(`{}`))
	wantError(t, r, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, PUT, DELETE" {
		t.Errorf("Allow = %q", got)
	}
	r = s.do(t, http.MethodPost, "/api/v1/incidents/x", testToken, nil)
	wantError(t, r, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, PUT, DELETE" {
		t.Errorf("incident Allow = %q", got)
	}
	r = s.do(t, http.MethodGet, "/api/v1/incidents/x/updates/u", testToken, nil)
	wantError(t, r, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "PUT, PATCH" {
		t.Errorf("update Allow = %q", got)
	}
	wantError(t, s.do(t, http.MethodGet, "/api/v1/widgets", testToken, nil), http.StatusNotFound, api.CodeNotFound)
	wantError(t, s.do(t, http.MethodGet, "/api/v1/incidents/none", testToken, nil), http.StatusNotFound, api.CodeNotFound)
	wantError(t, s.do(t, http.MethodGet, "/api/v1/components/none", testToken, nil), http.StatusNotFound, api.CodeNotFound)

	if r := s.do(t, http.MethodGet, "/api/v1/components/api", testToken, nil); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"name":"API"`)) {
		t.Errorf("GET component = %d %s", r.status, r.body)
	}
	if r := s.do(t, http.MethodDelete, "/api/v1/components/api", testToken, nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE = %d %s, want 204", r.status, r.body)
	}
	if r := s.do(t, http.MethodDelete, "/api/v1/components/api", testToken, nil); r.status != http.StatusNoContent {
		t.Errorf("second DELETE = %d %s, want 204", r.status, r.body)
	}
	if r := s.do(t, http.MethodGet, "/api/v1/components", testToken, nil); strings.TrimSpace(string(r.body)) != "null" && strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("components after delete = %s", r.body)
	}
}

func TestTheTokenNeverReachesTheLogs(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	s.do(t, http.MethodPut, "/api/v1/components/api", "", []byte(`{}`), "Authorization", "Bearer "+testToken+"x")
	s.put(t, "/api/v1/components/api", `{"name":`)
	logs := s.logs.String()
	if !strings.Contains(logs, "/api/v1/components/api") {
		t.Fatalf("write requests were not logged: %s", logs)
	}
	if strings.Contains(logs, testToken[:12]) {
		t.Errorf("the token appears in the logs: %s", logs)
	}
}

func TestPublicReadsAreCacheable(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/", "/history", "/api/v2/status.json", "/api/v2/summary.json", "/api/v2/components.json",
		"/api/v2/incidents.json", "/api/v2/incidents/unresolved.json", "/history.atom"} {
		t.Run(path, func(t *testing.T) {
			r := s.get(t, path)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d", path, r.status)
			}
			etag := r.header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || r.header.Get("Cache-Control") != "public, max-age=10" {
				t.Errorf("ETag %q, Cache-Control %q: want a strong ETag and a short public max-age", etag, r.header.Get("Cache-Control"))
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				nm := s.get(t, path, "If-None-Match", inm)
				if nm.status != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("ETag") != etag {
					t.Errorf("If-None-Match %s = %d, ETag %q, %d bytes; want 304 with the ETag and no body", inm, nm.status, nm.header.Get("ETag"), len(nm.body))
				}
			}
			if r := s.get(t, path, "If-None-Match", `"stale"`); r.status != http.StatusOK {
				t.Errorf("stale If-None-Match = %d, want 200", r.status)
			}
			head := s.do(t, http.MethodHead, path, "", nil)
			if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != r.header.Get("Content-Length") {
				t.Errorf("HEAD = %d with %d bytes, Content-Length %q", head.status, len(head.body), head.header.Get("Content-Length"))
			}
		})
	}
}

func TestAWriteChangesTheETag(t *testing.T) {
	s := newTestServer(t)
	before := s.get(t, "/api/v2/summary.json").header.Get("ETag")
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	after := s.get(t, "/api/v2/summary.json", "If-None-Match", before)
	if after.status != http.StatusOK || after.header.Get("ETag") == before {
		t.Errorf("after a write: %d, ETag %q (was %q); want 200 with a new ETag", after.status, after.header.Get("ETag"), before)
	}
}

func TestPublicReadsAreGzippedForClientsThatAskForIt(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	plain := s.get(t, "/")
	gz := s.get(t, "/", "Accept-Encoding", "br, gzip;q=0.8")
	if gz.header.Get("Content-Encoding") != "gzip" || gz.header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Content-Encoding %q, Vary %q; want gzip and Vary", gz.header.Get("Content-Encoding"), gz.header.Get("Vary"))
	}
	if gz.header.Get("ETag") == plain.header.Get("ETag") {
		t.Error("the gzip and identity variants share an ETag")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.body) {
		t.Errorf("gunzipped body differs from the plain one (%v)", err)
	}
	if r := s.get(t, "/", "Accept-Encoding", "gzip;q=0"); r.header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
}

func TestThePageEscapesHostileMessages(t *testing.T) {
	s := newTestServer(t)
	hostile := `<script>alert("pwned")</script><img src=x onerror=alert(1)>`
	s.mustPut(t, "/api/v1/components/api", `{"name":"API <b>bold</b>"}`)
	b, _ := json.Marshal(api.IncidentRequest{Name: "Outage " + hostile, Impact: api.ImpactCritical, Update: &api.UpdateRequest{
		ID: "u1", Status: api.Investigating, Body: "We see " + hostile, Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}})
	s.mustPut(t, "/api/v1/incidents/i1", string(b))
	for _, path := range []string{"/", "/incidents/i1", "/history"} {
		r := s.get(t, path)
		page := string(r.body)
		if strings.Contains(page, "<script") || strings.Contains(page, "<img") || strings.Contains(page, "<b>") {
			t.Errorf("%s contains live markup from a message:\n%s", path, page)
		}
		if !strings.Contains(page, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
			t.Errorf("%s does not show the message as text", path)
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s Content-Security-Policy = %q", path, csp)
		}
	}
	feed := s.get(t, "/history.atom")
	if bytes.Contains(feed.body, []byte("<script")) {
		t.Errorf("the feed contains live markup: %s", feed.body)
	}
}

func TestTheStylesheetMatchesTheContentSecurityPolicy(t *testing.T) {
	s := newTestServer(t)
	page := string(s.get(t, "/").body)
	start := strings.Index(page, "<style>") + len("<style>")
	end := strings.Index(page, "</style>")
	if start < len("<style>") || end < start || page[start:end] != styleCSS {
		t.Fatal("the inline stylesheet is not served byte for byte, so its CSP hash would not match")
	}
}

func TestThePageIsSelfContainedAndAccessible(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"minor","update":{"id":"u1","status":"investigating","body":"Looking."}}`)
	for _, path := range []string{"/", "/incidents/i1", "/history", "/no-such-page"} {
		page := string(s.get(t, path).body)
		for _, want := range []string{`<html lang="en">`, `<meta name="viewport" content="width=device-width, initial-scale=1">`, "<main", "<h1", "<header", "<footer"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
		for _, external := range []string{"http://", "https://", "<script", "<link rel=\"stylesheet", "@import", "url("} {
			if strings.Contains(page, external) {
				t.Errorf("%s refers to something outside itself: %s", path, external)
			}
		}
	}
}

func TestTheIncidentPageShowsUpdatesNewestFirst(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"major","update":{"id":"u1","status":"investigating","body":"First words."}}`)
	s.clock.Advance(time.Minute)
	s.mustPut(t, "/api/v1/incidents/i1/updates/u2", `{"status":"monitoring","body":"Second words."}`)
	for _, path := range []string{"/", "/incidents/i1"} {
		page := string(s.get(t, path).body)
		first, second := strings.Index(page, "First words."), strings.Index(page, "Second words.")
		if first < 0 || second < 0 || second > first {
			t.Errorf("%s: updates not newest first (first at %d, second at %d)", path, first, second)
		}
	}
	if r := s.get(t, "/incidents/nope"); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "Page not found") {
		t.Errorf("unknown incident page = %d", r.status)
	}
}

func TestPastIncidentsMoveOffTheActiveList(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Slow pushes","impact":"minor","update":{"id":"u1","status":"investigating","body":"Slow."}}`)
	s.clock.Advance(83 * time.Minute)
	s.mustPut(t, "/api/v1/incidents/i1/updates/u2", `{"status":"resolved","body":"All good."}`)
	page := string(s.get(t, "/").body)
	if strings.Contains(page, "Active incidents") {
		t.Error("a resolved incident is still listed as active")
	}
	if !strings.Contains(page, "Past incidents") || !strings.Contains(page, "Slow pushes") || !strings.Contains(page, "after 1 hour 23 minutes") {
		t.Errorf("the resolved incident is not under past incidents with its duration:\n%s", page)
	}
	if !strings.Contains(page, "All Systems Operational") {
		t.Error("the banner does not say all systems are operational")
	}
}

func TestSummaryJSONFollowsTheStatuspageFormat(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API","description":"REST API"}`)
	s.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"major","update":{"id":"u1","status":"identified","body":"Found it.","components":[{"id":"api","status":"partial_outage"}]}}`)
	s.mustPut(t, "/api/v1/incidents/old", `{"name":"Old","impact":"minor","update":{"id":"u1","status":"resolved","body":"Done."}}`)

	r := s.get(t, "/api/v2/summary.json")
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("summary.json is not readable from other origins")
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "summary", doc, "page", "components", "incidents", "scheduled_maintenances", "status")
	wantKeys(t, "page", doc["page"], "id", "name", "url", "time_zone", "updated_at")
	wantKeys(t, "status", doc["status"], "indicator", "description")
	comps := doc["components"].([]any)
	wantKeys(t, "component", comps[0], "id", "name", "status", "created_at", "updated_at", "position", "description",
		"showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded")
	incs := doc["incidents"].([]any)
	if len(incs) != 1 {
		t.Fatalf("incidents = %v, want only the unresolved one", incs)
	}
	wantKeys(t, "incident", incs[0], "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
		"impact", "shortlink", "started_at", "page_id", "incident_updates", "components")
	upd := incs[0].(map[string]any)["incident_updates"].([]any)[0]
	wantKeys(t, "incident update", upd, "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
		"affected_components", "deliver_notifications", "custom_tweet", "tweet_id")
	wantKeys(t, "affected component", upd.(map[string]any)["affected_components"].([]any)[0], "code", "name", "old_status", "new_status")

	for _, ts := range []any{doc["page"].(map[string]any)["updated_at"], incs[0].(map[string]any)["started_at"], upd.(map[string]any)["created_at"]} {
		if s, _ := ts.(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(s) {
			t.Errorf("time %v is not written as Statuspage writes times (2026-11-25T09:30:00.000Z)", ts)
		}
	}

	var summary v2SummaryDoc
	if err := json.Unmarshal(r.body, &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Status != (v2Status{"major", "Partial System Outage"}) {
		t.Errorf("status = %+v", summary.Status)
	}
	if summary.Page.URL != "https://status.example.com" || summary.Incidents[0].Shortlink != "https://status.example.com/incidents/i1" {
		t.Errorf("page URL %q, shortlink %q", summary.Page.URL, summary.Incidents[0].Shortlink)
	}
	if summary.ScheduledMaintenances == nil || len(summary.ScheduledMaintenances) != 0 {
		t.Error("scheduled_maintenances should be an empty list")
	}

	var status v2StatusDoc
	if err := json.Unmarshal(s.get(t, "/api/v2/status.json").body, &status); err != nil || status.Status != summary.Status {
		t.Errorf("status.json = %+v (%v), want the summary's status", status, err)
	}
}

func wantKeys(t *testing.T, what string, v any, keys ...string) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", what, v)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s keys = %v, want %v", what, got, keys)
	}
}

func TestTheAtomFeedCarriesEachUpdate(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"major","update":{"id":"u1","status":"investigating","body":"Looking & hoping."}}`)
	s.clock.Advance(time.Minute)
	s.mustPut(t, "/api/v1/incidents/i1/updates/u2", `{"status":"resolved","body":"Fixed."}`)
	r := s.get(t, "/history.atom")
	if ct := r.header.Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	var feed atomFeed
	if err := xml.Unmarshal(r.body, &feed); err != nil {
		t.Fatalf("feed is not XML: %v\n%s", err, r.body)
	}
	if len(feed.Entries) != 2 || feed.Entries[0].Title != "Errors: Resolved" || feed.Entries[1].Content.Body != "Looking & hoping." {
		t.Errorf("entries = %+v", feed.Entries)
	}
	if feed.Entries[0].Link.Href != "https://status.example.com/incidents/i1#update-u2" || feed.ID == "" || feed.Updated == "" {
		t.Errorf("feed %+v lacks ids or links", feed)
	}
}

func TestPublicPathsRefuseOtherMethodsAndHealthzAnswers(t *testing.T) {
	s := newTestServer(t)
	r := s.do(t, http.MethodPost, "/", "", []byte("x"))
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := s.get(t, "/healthz"); r.status != http.StatusOK || string(r.body) != "ok\n" {
		t.Errorf("/healthz = %d %q", r.status, r.body)
	}
}

func TestAWriteThatCannotBeStoredIsA500AndChangesNothing(t *testing.T) {
	s := newTestServer(t)
	before := s.get(t, "/api/v2/summary.json")
	if err := s.page.store.close(); err != nil { // the disk goes away
		t.Fatal(err)
	}
	e := wantError(t, s.put(t, "/api/v1/components/api", `{"name":"API"}`), http.StatusInternalServerError, api.CodeInternal)
	if !strings.Contains(e.Message, "cannot store") {
		t.Errorf("message = %q", e.Message)
	}
	if n := len(s.page.Components()); n != 0 {
		t.Errorf("%d components in memory after a failed write", n)
	}
	if after := s.get(t, "/api/v2/summary.json"); !bytes.Equal(after.body, before.body) {
		t.Error("the public page changed after a failed write")
	}
	if !strings.Contains(s.logs.String(), "level=ERROR") {
		t.Error("the failed write was not logged as an error")
	}
}
