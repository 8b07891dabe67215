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
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request with the fake's key and checks that a successful answer matches the
// OpenAPI document's response schema for the operation.
func call(t *testing.T, s *Server, key, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "OAuth "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	a := answer{resp.StatusCode, resp.Header, b}
	if resp.StatusCode < 300 {
		checkAnswer(t, req, a)
	}
	return a
}

func checkAnswer(t *testing.T, req *http.Request, a answer) {
	t.Helper()
	rt, params, err := route(req)
	if err != nil {
		t.Fatalf("no route for %s %s: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt},
		Status:                 a.status,
		Header:                 a.header,
		Body:                   io.NopCloser(bytes.NewReader(a.body)),
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, which does not match the document: %v", req.Method, req.URL.Path, a.status, err)
	}
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("answer %d %q is not the expected JSON: %v", a.status, a.body, err)
	}
	return v
}

const incidents = "/v1/pages/" + PageID + "/incidents"

func TestTheFakeCreatesUpdatesEditsAndListsIncidentsWithAnswersThatMatchTheDocument(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddComponent("db0000000001", "Database")
	s.AddComponent("api000000001", "API")

	created := call(t, s, APIKey, http.MethodPost, incidents, `{"incident":{"name":"Elevated errors","status":"investigating","body":"We are looking into errors.",
		"components":{"db0000000001":"partial_outage"},"component_ids":["db0000000001"],"deliver_notifications":true,
		"metadata":{"firescope":{"incident":"ns/inc/uid-1"}}}}`)
	if created.status != http.StatusCreated {
		t.Fatalf("create answered %d %s", created.status, created.body)
	}
	inc := decode[map[string]any](t, created)
	id, _ := inc["id"].(string)
	if len(id) != 12 || inc["impact"] != "major" || inc["status"] != "investigating" {
		t.Errorf("created incident = %v", inc)
	}

	patched := call(t, s, APIKey, http.MethodPatch, incidents+"/"+id, `{"incident":{"status":"identified","body":"The database is failing over.",
		"components":{"db0000000001":"major_outage","api000000001":"degraded_performance"},"deliver_notifications":false}}`)
	if patched.status != http.StatusOK {
		t.Fatalf("update answered %d %s", patched.status, patched.body)
	}
	ups := decode[map[string]any](t, patched)["incident_updates"].([]any)
	if len(ups) != 2 || ups[0].(map[string]any)["status"] != "identified" {
		t.Errorf("incident_updates should list the new update first: %v", ups)
	}
	firstID := ups[1].(map[string]any)["id"].(string)

	edited := call(t, s, APIKey, http.MethodPatch, incidents+"/"+id+"/incident_updates/"+firstID, `{"incident_update":{"body":"We are looking into elevated errors."}}`)
	if edited.status != http.StatusOK || decode[map[string]any](t, edited)["body"] != "We are looking into elevated errors." {
		t.Fatalf("edit answered %d %s", edited.status, edited.body)
	}

	got := s.Incidents()
	if len(got) != 1 {
		t.Fatalf("%d incidents, want 1", len(got))
	}
	g := got[0]
	if g.ID != id || g.Name != "Elevated errors" || g.Status != "identified" || g.Impact != "critical" ||
		g.Metadata["firescope"].(map[string]any)["incident"] != "ns/inc/uid-1" ||
		g.Components["db0000000001"] != "major_outage" || g.Components["api000000001"] != "degraded_performance" {
		t.Errorf("incident = %+v", g)
	}
	if len(g.Updates) != 2 || g.Updates[0].Body != "We are looking into elevated errors." || g.Updates[0].Edits != 1 ||
		!g.Updates[0].DeliverNotifications || g.Updates[1].DeliverNotifications || g.Updates[1].Status != "identified" {
		t.Errorf("updates = %+v", g.Updates)
	}
	if c := s.Components(); c[0].Status != "major_outage" || c[1].Status != "degraded_performance" {
		t.Errorf("components = %+v", c)
	}

	for _, path := range []string{incidents, incidents + "?q=failing", incidents + "/unresolved", incidents + "/" + id} {
		if a := call(t, s, APIKey, http.MethodGet, path, ""); a.status != http.StatusOK || !bytes.Contains(a.body, []byte(id)) {
			t.Errorf("GET %s answered %d %s", path, a.status, a.body)
		}
	}
	if a := call(t, s, APIKey, http.MethodGet, incidents+"?q=nothing-like-this", ""); string(bytes.TrimSpace(a.body)) != "[]" {
		t.Errorf("a search that matches nothing answered %s", a.body)
	}
	if inv := s.Invalid(); len(inv) != 0 {
		t.Errorf("valid requests were taken as invalid: %+v", inv)
	}
}

func TestTheFakeListsIncidentsNewestFirstInPagesOfAtMost100(t *testing.T) {
	s := New()
	defer s.Close()
	for i := range 105 {
		a := call(t, s, APIKey, http.MethodPost, incidents, `{"incident":{"name":"incident `+strconv.Itoa(i)+`","body":"b"}}`)
		if a.status != http.StatusCreated {
			t.Fatalf("create %d answered %d %s", i, a.status, a.body)
		}
	}
	first := decode[[]map[string]any](t, call(t, s, APIKey, http.MethodGet, incidents+"?limit=500", ""))
	second := decode[[]map[string]any](t, call(t, s, APIKey, http.MethodGet, incidents+"?limit=100&page=2", ""))
	if len(first) != 100 || len(second) != 5 || first[0]["name"] != "incident 104" || second[4]["name"] != "incident 0" {
		t.Errorf("pages of %d and %d, first %v, last %v", len(first), len(second), first[0]["name"], second[len(second)-1]["name"])
	}
}

func TestTheFakeRefusesAMissingOrUnknownKeyWith401(t *testing.T) {
	s := New()
	defer s.Close()
	for _, key := range []string{"", "not-the-key"} {
		a := call(t, s, key, http.MethodGet, incidents, "")
		if a.status != http.StatusUnauthorized || decode[errorEntity](t, a).Message != "Could not authenticate" {
			t.Errorf("key %q: answered %d %s", key, a.status, a.body)
		}
	}
	s.AllowKey("another-key")
	if a := call(t, s, "another-key", http.MethodGet, incidents, ""); a.status != http.StatusOK {
		t.Errorf("an allowed key answered %d", a.status)
	}
	resp, err := http.Get(s.URL + incidents + "?api_key=" + APIKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the documented api_key query parameter answered %d", resp.StatusCode)
	}
}

func TestTheFakeRefusesRequestsThatDoNotMatchTheDocumentWith400(t *testing.T) {
	cases := []struct {
		name, method, path, body, want string
	}{
		{"unknown incident status", http.MethodPost, incidents, `{"incident":{"name":"x","status":"on-fire"}}`, "'incident.status'"},
		{"unknown component status", http.MethodPost, incidents, `{"incident":{"name":"x","components":{"c1":"broken"}}}`, "'incident.components.c1'"},
		{"wrong type", http.MethodPost, incidents, `{"incident":{"name":"x","deliver_notifications":"yes"}}`, "'incident.deliver_notifications'"},
		{"no body", http.MethodPost, incidents, "", "request body"},
		{"limit not a number", http.MethodGet, incidents + "?limit=ten", "", "parameter 'limit' in query"},
		{"unknown update field type", http.MethodPatch, incidents + "/abc/incident_updates/def", `{"incident_update":{"body":5}}`, "'incident_update.body'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			defer s.Close()
			a := call(t, s, APIKey, tc.method, tc.path, tc.body)
			if a.status != http.StatusBadRequest || !strings.Contains(decode[errorEntity](t, a).Message, tc.want) {
				t.Errorf("answered %d %s, want 400 naming %s", a.status, a.body, tc.want)
			}
			if inv := s.Invalid(); len(inv) != 1 || inv[0].Method != tc.method {
				t.Errorf("Invalid() = %+v, want this request", inv)
			}
			if len(s.Incidents()) != 0 {
				t.Error("an invalid request changed the page")
			}
		})
	}
}

func TestTheFakeRefusesWhatTheDocumentForbidsInProseWith422(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown component", `{"incident":{"name":"x","components":{"nope00000001":"major_outage"}}}`, "Components not found: nope00000001"},
		{"unknown component id", `{"incident":{"name":"x","component_ids":["nope00000002"]}}`, "Components not found: nope00000002"},
		{"blank name", `{"incident":{"name":" "}}`, "Name can't be blank"},
		{"long name", `{"incident":{"name":"` + strings.Repeat("n", 256) + `"}}`, "Name is too long"},
		{"long body", `{"incident":{"name":"x","body":"` + strings.Repeat("b", 25001) + `"}}`, "Body is too long"},
		{"flat metadata", `{"incident":{"name":"x","metadata":{"firescope":"ns/inc/uid"}}}`, "Metadata values at the top level must be objects"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			defer s.Close()
			s.AddComponent("db0000000001", "Database")
			a := call(t, s, APIKey, http.MethodPost, incidents, tc.body)
			if a.status != http.StatusUnprocessableEntity || !strings.Contains(decode[errorEntity](t, a).Message, tc.want) {
				t.Errorf("answered %d %s, want 422 with %q", a.status, a.body, tc.want)
			}
			if len(s.Incidents()) != 0 || len(s.Invalid()) != 0 {
				t.Errorf("incidents %v, invalid %v; want neither", s.Incidents(), s.Invalid())
			}
		})
	}
}

func TestTheFakeAnswers404ForAnotherPageOrAnUnknownIncident(t *testing.T) {
	s := New()
	defer s.Close()
	for _, path := range []string{"/v1/pages/otherpage001/incidents", incidents + "/nosuchincide", "/v1/nothing"} {
		if a := call(t, s, APIKey, http.MethodGet, path, ""); a.status != http.StatusNotFound {
			t.Errorf("GET %s answered %d", path, a.status)
		}
	}
	if a := call(t, s, APIKey, http.MethodPatch, incidents+"/nosuchincide", `{"incident":{"status":"resolved"}}`); a.status != http.StatusNotFound {
		t.Errorf("PATCH of an unknown incident answered %d", a.status)
	}
}

func TestTheFakeRateLimitsEachKeyOnARollingWindowWithRetryAfter(t *testing.T) {
	s := New()
	defer s.Close()
	s.AllowKey("second-key")
	s.RateLimitWindow(2, time.Minute)
	for i := range 2 {
		if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusOK {
			t.Fatalf("request %d answered %d", i, a.status)
		}
	}
	a := call(t, s, APIKey, http.MethodGet, incidents, "")
	secs, _ := strconv.Atoi(a.header.Get("Retry-After"))
	if a.status != http.StatusTooManyRequests || secs < 1 || secs > 60 || !strings.Contains(decode[errorEntity](t, a).Message, "Rate limit") {
		t.Errorf("third request answered %d, Retry-After %q, %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if a := call(t, s, "second-key", http.MethodGet, incidents, ""); a.status != http.StatusOK {
		t.Errorf("another key answered %d; the limit is per key", a.status)
	}

	s.RateLimit(1) // Statuspage's own: 60 requests in any 60 seconds.
	for i := range 60 {
		if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusOK {
			t.Fatalf("request %d of 60 answered %d", i, a.status)
		}
	}
	if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusTooManyRequests {
		t.Errorf("request 61 answered %d, want 429", a.status)
	}
	s.RateLimit(0)
	if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusOK {
		t.Errorf("with the limit off, answered %d", a.status)
	}
}

func TestMinGapRefusesARequestTooSoonAfterTheLastOfItsKey(t *testing.T) {
	s := New()
	defer s.Close()
	s.AllowKey("second-key")
	s.MinGap(time.Hour)
	if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusOK {
		t.Fatalf("first request answered %d", a.status)
	}
	a := call(t, s, APIKey, http.MethodPost, incidents, `{"incident":{"name":"x","status":"investigating","body":"y"}}`)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "3600" {
		t.Errorf("a write right after a lookup answered %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if len(s.Incidents()) != 0 {
		t.Error("the refused write took effect")
	}
	if a := call(t, s, "second-key", http.MethodGet, incidents, ""); a.status != http.StatusOK {
		t.Errorf("another key answered %d; the gap is per key", a.status)
	}
	s.MinGap(0)
	if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusOK {
		t.Errorf("with the gap off, answered %d", a.status)
	}
}

func TestFailWritesFailsASeededFractionOfWritesWithNoEffect(t *testing.T) {
	statuses := func() []int {
		s := New()
		defer s.Close()
		s.FailWrites(0.3, 7)
		var out []int
		created := 0
		for range 200 {
			a := call(t, s, APIKey, http.MethodPost, incidents, `{"incident":{"name":"Errors","status":"investigating","body":"We are looking."}}`)
			out = append(out, a.status)
			if a.status == http.StatusCreated {
				created++
			}
			if a.status != http.StatusCreated && (a.status != http.StatusServiceUnavailable || decode[errorEntity](t, a).Message == "") {
				t.Fatalf("a write answered %d %s", a.status, a.body)
			}
		}
		if got := len(s.Incidents()); got != created {
			t.Errorf("%d incidents after %d successful creates: a failed write took effect", got, created)
		}
		for range 20 {
			if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != http.StatusOK {
				t.Fatalf("a read answered %d; only writes fail", a.status)
			}
		}
		return out
	}
	first := statuses()
	failed := 0
	for _, st := range first {
		if st == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed < 40 || failed > 80 {
		t.Errorf("%d of 200 writes failed, want about 60", failed)
	}
	if second := statuses(); !slices.Equal(first, second) {
		t.Error("the same seed failed other writes")
	}
}

func TestInjectedFailuresAnswerInStatuspagesErrorShape(t *testing.T) {
	s := New()
	defer s.Close()
	s.FailNext(1, http.StatusTooManyRequests, 3*time.Second)
	s.FailNext(1, http.StatusInternalServerError, 0)
	a := call(t, s, APIKey, http.MethodGet, incidents, "")
	if a.status != 429 || a.header.Get("Retry-After") != "3" || !strings.Contains(decode[errorEntity](t, a).Message, "Rate limit") {
		t.Errorf("first answered %d %v %s", a.status, a.header, a.body)
	}
	if a := call(t, s, APIKey, http.MethodGet, incidents, ""); a.status != 500 || decode[errorEntity](t, a).Message == "" {
		t.Errorf("second answered %d %s", a.status, a.body)
	}
}

func createIncident(t *testing.T, s *Server) string {
	t.Helper()
	a := call(t, s, APIKey, http.MethodPost, incidents, `{"incident":{"name":"Elevated errors","status":"resolved","body":"Fixed."}}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create answered %d %s", a.status, a.body)
	}
	return decode[map[string]any](t, a)["id"].(string)
}

func TestTheFakeDraftsPublishesRevertsAndDeletesAPostmortemWithAnswersThatMatchTheDocument(t *testing.T) {
	s := New()
	defer s.Close()
	id := createIncident(t, s)
	pm := incidents + "/" + id + "/postmortem"

	if a := call(t, s, APIKey, http.MethodGet, pm, ""); a.status != http.StatusNotFound {
		t.Errorf("GET of a post-mortem never drafted answered %d %s, want 404", a.status, a.body)
	}
	drafted := call(t, s, APIKey, http.MethodPut, pm, `{"postmortem":{"body_draft":"We are sorry.\n\n- Add a replica"}}`)
	if got := decode[map[string]any](t, drafted); drafted.status != http.StatusOK || got["body_draft"] != "We are sorry.\n\n- Add a replica" || got["body"] != nil || got["published_at"] != nil {
		t.Fatalf("draft answered %d %s", drafted.status, drafted.body)
	}
	if inc := decode[map[string]any](t, call(t, s, APIKey, http.MethodGet, incidents+"/"+id, "")); inc["postmortem_body"] != nil {
		t.Errorf("a draft shows on the incident: %v", inc["postmortem_body"])
	}

	published := call(t, s, APIKey, http.MethodPut, pm+"/publish", `{"postmortem":{"notify_subscribers":true,"notify_twitter":false}}`)
	got := decode[map[string]any](t, published)
	if published.status != http.StatusOK || got["body"] != "We are sorry.\n\n- Add a replica" || got["published_at"] == nil || got["notify_subscribers"] != true {
		t.Fatalf("publish answered %d %s", published.status, published.body)
	}
	inc := decode[map[string]any](t, call(t, s, APIKey, http.MethodGet, incidents+"/"+id, ""))
	if inc["postmortem_body"] != "We are sorry.\n\n- Add a replica" || inc["postmortem_published_at"] != got["published_at"] {
		t.Errorf("incident after publishing: postmortem_body %v, postmortem_published_at %v", inc["postmortem_body"], inc["postmortem_published_at"])
	}
	if a := call(t, s, APIKey, http.MethodGet, incidents+"?q=replica", ""); !bytes.Contains(a.body, []byte(id)) {
		t.Errorf("q does not search the published post-mortem: %s", a.body)
	}

	// A new draft leaves the published text alone until the next publish.
	redrafted := decode[map[string]any](t, call(t, s, APIKey, http.MethodPut, pm, `{"postmortem":{"body_draft":"We are very sorry."}}`))
	if redrafted["body"] != "We are sorry.\n\n- Add a replica" || redrafted["body_draft"] != "We are very sorry." {
		t.Errorf("after a new draft: %v", redrafted)
	}
	p := s.Incidents()[0].Postmortem
	if p == nil || p.Publishes != 1 || !p.NotifySubscribers || p.Body != "We are sorry.\n\n- Add a replica" || p.BodyDraft != "We are very sorry." || p.PublishedAt.IsZero() {
		t.Errorf("held post-mortem = %+v", p)
	}

	reverted := decode[map[string]any](t, call(t, s, APIKey, http.MethodPut, pm+"/revert", ""))
	if reverted["body"] != nil || reverted["published_at"] != nil || reverted["body_draft"] != "We are very sorry." {
		t.Errorf("after revert: %v", reverted)
	}
	if a := call(t, s, APIKey, http.MethodPut, pm+"/revert", ""); a.status != http.StatusBadRequest {
		t.Errorf("reverting an unpublished post-mortem answered %d %s, want 400", a.status, a.body)
	}
	if a := call(t, s, APIKey, http.MethodDelete, pm, ""); a.status != http.StatusNoContent {
		t.Errorf("DELETE answered %d %s", a.status, a.body)
	}
	if a := call(t, s, APIKey, http.MethodGet, pm, ""); a.status != http.StatusNotFound || s.Incidents()[0].Postmortem != nil {
		t.Errorf("GET after DELETE answered %d %s", a.status, a.body)
	}
	if a := call(t, s, APIKey, http.MethodDelete, pm, ""); a.status != http.StatusNotFound {
		t.Errorf("a second DELETE answered %d, want 404", a.status)
	}

	var n int
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, pm) {
			n++
		}
	}
	if n != 9 {
		t.Errorf("the request log holds %d post-mortem requests, want 9", n)
	}
	if inv := s.Invalid(); len(inv) != 0 {
		t.Errorf("valid requests were taken as invalid: %+v", inv)
	}
}

func TestTheFakeRefusesToPublishAPostmortemWithoutADraftWith400(t *testing.T) {
	s := New()
	defer s.Close()
	id := createIncident(t, s)
	pm := incidents + "/" + id + "/postmortem"
	a := call(t, s, APIKey, http.MethodPut, pm+"/publish", `{"postmortem":{"notify_subscribers":false}}`)
	if a.status != http.StatusBadRequest || !strings.Contains(decode[errorEntity](t, a).Message, "draft can't be blank") {
		t.Errorf("publishing with no post-mortem answered %d %s", a.status, a.body)
	}
	call(t, s, APIKey, http.MethodPut, pm, `{"postmortem":{"body_draft":"  "}}`)
	if a := call(t, s, APIKey, http.MethodPut, pm+"/publish", `{"postmortem":{}}`); a.status != http.StatusBadRequest {
		t.Errorf("publishing a blank draft answered %d %s", a.status, a.body)
	}
	if p := s.Incidents()[0].Postmortem; p == nil || p.Publishes != 0 || !p.PublishedAt.IsZero() {
		t.Errorf("a refused publish changed the post-mortem: %+v", p)
	}
	if inv := s.Invalid(); len(inv) != 0 {
		t.Errorf("a refusal for the page's state was recorded as a request that does not match the document: %+v", inv)
	}
}

func TestTheFakesPostmortemEndpointsAnswer404ForAnUnknownIncidentAnd400ForABadBody(t *testing.T) {
	s := New()
	defer s.Close()
	pm := incidents + "/nosuchincide/postmortem"
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, pm, ""},
		{http.MethodPut, pm, `{"postmortem":{"body_draft":"x"}}`},
		{http.MethodPut, pm + "/publish", `{"postmortem":{"notify_subscribers":true}}`},
		{http.MethodPut, pm + "/revert", ""},
		{http.MethodDelete, pm, ""},
	} {
		if a := call(t, s, APIKey, c.method, c.path, c.body); a.status != http.StatusNotFound {
			t.Errorf("%s %s answered %d %s, want 404", c.method, c.path, a.status, a.body)
		}
	}
	id := createIncident(t, s)
	for _, c := range []struct{ path, body, want string }{
		{incidents + "/" + id + "/postmortem", `{"postmortem":{}}`, "body_draft"},
		{incidents + "/" + id + "/postmortem", `{"postmortem":{"body_draft":7}}`, "'postmortem.body_draft'"},
		{incidents + "/" + id + "/postmortem", "", "request body"},
		{incidents + "/" + id + "/postmortem/publish", `{"postmortem":{"notify_subscribers":"yes"}}`, "'postmortem.notify_subscribers'"},
	} {
		a := call(t, s, APIKey, http.MethodPut, c.path, c.body)
		if a.status != http.StatusBadRequest || !strings.Contains(decode[errorEntity](t, a).Message, c.want) {
			t.Errorf("PUT %s %s answered %d %s, want 400 naming %s", c.path, c.body, a.status, a.body, c.want)
		}
	}
	if n := len(s.Invalid()); n != 4 {
		t.Errorf("Invalid() holds %d requests, want the 4 bad bodies", n)
	}
	if s.Incidents()[0].Postmortem != nil {
		t.Error("a refused request created a post-mortem")
	}
}
