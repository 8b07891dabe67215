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
	"encoding/xml"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

const pmPath = "/api/v1/incidents/i1/postmortem"

func postmortemBody(t *testing.T, body string, published bool) string {
	t.Helper()
	b, err := json.Marshal(api.PostmortemRequest{Body: body, Published: published})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodePostmortem(t *testing.T, r response) api.Postmortem {
	t.Helper()
	var pm api.Postmortem
	if err := json.Unmarshal(r.body, &pm); err != nil {
		t.Fatalf("answer %d %s is not a post-mortem: %v", r.status, r.body, err)
	}
	return pm
}

func withResolvedIncident(t *testing.T) *testServer {
	t.Helper()
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/incidents/i1", `{"name":"Errors","impact":"major","update":{"id":"u1","status":"resolved","body":"Fixed."}}`)
	return s
}

func TestAPostmortemDraftStaysPrivateUntilItIsPublished(t *testing.T) {
	s := withResolvedIncident(t)
	page := s.get(t, "/incidents/i1")
	feed := s.get(t, "/history.atom")

	s.clock.Advance(time.Hour)
	draft := s.put(t, pmPath, postmortemBody(t, "Draft words we are not sure of.", false))
	if draft.status != http.StatusCreated || draft.header.Get("Location") != pmPath {
		t.Fatalf("first PUT = %d %s, Location %q; want 201 with a Location", draft.status, draft.body, draft.header.Get("Location"))
	}
	pm := decodePostmortem(t, draft)
	if pm.Draft != "Draft words we are not sure of." || pm.Published || pm.PublishedBody != "" || pm.PublishedAt != nil ||
		pm.URL != "https://status.example.com/incidents/i1#postmortem" {
		t.Errorf("drafted post-mortem = %+v", pm)
	}
	for path, before := range map[string]response{"/incidents/i1": page, "/history.atom": feed} {
		if after := s.get(t, path); !bytes.Equal(after.body, before.body) || after.header.Get("ETag") != before.header.Get("ETag") {
			t.Errorf("a draft changed the public %s", path)
		}
	}
	for _, path := range []string{"/", "/incidents/i1", "/history", "/history.atom", "/api/v2/summary.json", "/api/v2/incidents.json"} {
		if bytes.Contains(s.get(t, path).body, []byte("not sure of")) {
			t.Errorf("%s shows the draft", path)
		}
	}
	got := s.do(t, http.MethodGet, pmPath, testToken, nil)
	if got.status != http.StatusOK || decodePostmortem(t, got).Draft != "Draft words we are not sure of." {
		t.Errorf("GET = %d %s", got.status, got.body)
	}

	s.clock.Advance(time.Hour)
	body := "We are sorry.\n\nThe primary database lost its disk.\n\n- Alert on disk errors\n- Rehearse the fail-over"
	published := s.put(t, pmPath, postmortemBody(t, body, true))
	pm = decodePostmortem(t, published)
	if published.status != http.StatusOK || !pm.Published || pm.PublishedBody != body || pm.Draft != body ||
		pm.PublishedAt == nil || !pm.PublishedAt.Equal(s.clock.Now()) || !pm.RevisedAt.Equal(*pm.PublishedAt) {
		t.Fatalf("publishing PUT = %d %s", published.status, published.body)
	}
	html := string(s.get(t, "/incidents/i1").body)
	for _, want := range []string{`<section class="postmortem" id="postmortem"`, "<h2 id=\"postmortem-title\">Post-mortem</h2>",
		"<p>We are sorry.</p>", "<li>Alert on disk errors</li>", "<li>Rehearse the fail-over</li>", `datetime="2026-11-25T11:30:00Z"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the incident page lacks %s", want)
		}
	}
	if strings.Index(html, "Post-mortem</h2>") < strings.Index(html, "Fixed.") {
		t.Error("the post-mortem is not below the updates")
	}
	for _, path := range []string{"/", "/history"} {
		if !strings.Contains(string(s.get(t, path).body), `href="/incidents/i1#postmortem"`) {
			t.Errorf("%s does not link to the post-mortem", path)
		}
	}
	var f atomFeed
	if err := xml.Unmarshal(s.get(t, "/history.atom").body, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 2 || f.Entries[0].Title != "Errors: Post-mortem" || f.Entries[0].Content.Body != body ||
		f.Entries[0].ID != "https://status.example.com/incidents/i1#postmortem" || f.Entries[0].Published != "2026-11-25T11:30:00Z" {
		t.Errorf("feed entries = %+v", f.Entries)
	}
}

func TestTheSamePostmortemWriteAgainChangesNothing(t *testing.T) {
	s := withResolvedIncident(t)
	for _, published := range []bool{false, true} {
		req := postmortemBody(t, "We are sorry.", published)
		first := s.put(t, pmPath, req)
		page := s.get(t, "/incidents/i1")
		s.clock.Advance(time.Minute)
		again := s.put(t, pmPath, req)
		if first.status >= 300 || again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
			t.Errorf("published=%v: retried PUT = %d %s\nwant 200 %s", published, again.status, again.body, first.body)
		}
		if after := s.get(t, "/incidents/i1"); after.header.Get("ETag") != page.header.Get("ETag") {
			t.Errorf("published=%v: a retried PUT changed the page", published)
		}
	}
}

func TestADraftAfterPublishingKeepsThePostmortemPublishedWithItsText(t *testing.T) {
	s := withResolvedIncident(t)
	s.mustPut(t, pmPath, postmortemBody(t, "First text.", true))
	firstAt := s.clock.Now()
	page := s.get(t, "/incidents/i1")

	s.clock.Advance(time.Hour)
	pm := decodePostmortem(t, s.put(t, pmPath, postmortemBody(t, "A correction in progress.", false)))
	if !pm.Published || pm.PublishedBody != "First text." || pm.Draft != "A correction in progress." || !pm.PublishedAt.Equal(firstAt) {
		t.Fatalf("after a draft on a published post-mortem: %+v", pm)
	}
	if after := s.get(t, "/incidents/i1"); !bytes.Equal(after.body, page.body) {
		t.Error("a draft changed the published post-mortem's page")
	}

	s.clock.Advance(time.Hour)
	pm = decodePostmortem(t, s.put(t, pmPath, postmortemBody(t, "A corrected text.", true)))
	if !pm.Published || pm.PublishedBody != "A corrected text." || !pm.PublishedAt.Equal(firstAt) || !pm.RevisedAt.Equal(s.clock.Now()) {
		t.Fatalf("after publishing a correction: %+v", pm)
	}
	html := string(s.get(t, "/incidents/i1").body)
	if !strings.Contains(html, "A corrected text.") || strings.Contains(html, "First text.") || !strings.Contains(html, "Revised <time") {
		t.Errorf("the page does not show the corrected post-mortem as revised:\n%s", html)
	}
}

func TestPostmortemWritesRefuseWhatTheyCannotStore(t *testing.T) {
	s := withResolvedIncident(t)
	// Go's encoder writes '<' as \u003c: 6 bytes a character, 120,000 bytes in all, over
	// the general limit and within the post-mortem one.
	longest := postmortemBody(t, strings.Repeat("<", api.MaxPostmortemLength), false)
	if len(longest) <= api.MaxBodyBytes {
		t.Fatalf("the longest post-mortem takes only %d bytes; the test needs more than %d", len(longest), api.MaxBodyBytes)
	}
	if r := s.put(t, pmPath, longest); r.status != http.StatusCreated {
		t.Fatalf("a post-mortem of the largest length = %d %s", r.status, r.body)
	}
	before := s.do(t, http.MethodGet, pmPath, testToken, nil)

	for _, tc := range []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"malformed JSON", pmPath, `{"body":`, 400, api.CodeMalformedJSON, ""},
		{"wrong type", pmPath, `{"body":"x","published":"yes"}`, 400, api.CodeMalformedJSON, ""},
		{"unknown field", pmPath, `{"body":"x","publish":true}`, 400, api.CodeMalformedJSON, ""},
		{"empty request", pmPath, ``, 400, api.CodeMalformedJSON, ""},
		{"invalid UTF-8", pmPath, "{\"body\":\"bad \xff bytes\"}", 400, api.CodeInvalidUTF8, ""},
		{"no body", pmPath, `{"published":true}`, 422, api.CodeInvalid, "body"},
		{"blank body", pmPath, `{"body":" \n ","published":true}`, 422, api.CodeInvalid, "body"},
		{"too long", pmPath, postmortemBody(t, strings.Repeat("x", api.MaxPostmortemLength+1), true), 422, api.CodeInvalid, "body"},
		{"control character", pmPath, `{"body":"bell \u0007","published":true}`, 422, api.CodeInvalid, "body"},
		{"oversized request", pmPath, `{"body":"` + strings.Repeat("x", api.MaxPostmortemBodyBytes) + `"}`, 413, api.CodeBodyTooLarge, ""},
		{"invalid incident id", "/api/v1/incidents/-i1/postmortem", `{"body":"x"}`, 422, api.CodeInvalid, "incident id"},
		{"unknown incident", "/api/v1/incidents/nope/postmortem", `{"body":"x","published":true}`, 404, api.CodeNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, s.put(t, tc.path, tc.body), tc.status, tc.code)
			if e.Field != tc.field {
				t.Errorf("field = %q, want %q", e.Field, tc.field)
			}
		})
	}
	if after := s.do(t, http.MethodGet, pmPath, testToken, nil); !bytes.Equal(after.body, before.body) {
		t.Errorf("a refused write changed the post-mortem: %s", after.body)
	}
	if bytes.Contains(s.get(t, "/incidents/i1").body, []byte("Post-mortem")) {
		t.Error("a refused write published a post-mortem")
	}
}

func TestPostmortemReadsAndMethods(t *testing.T) {
	s := withResolvedIncident(t)
	e := wantError(t, s.do(t, http.MethodGet, pmPath, testToken, nil), http.StatusNotFound, api.CodeNotFound)
	if !strings.Contains(e.Message, "no post-mortem") {
		t.Errorf("404 for an incident without a post-mortem says %q", e.Message)
	}
	e = wantError(t, s.do(t, http.MethodGet, "/api/v1/incidents/nope/postmortem", testToken, nil), http.StatusNotFound, api.CodeNotFound)
	if !strings.Contains(e.Message, "does not exist") {
		t.Errorf("404 for an unknown incident says %q", e.Message)
	}
	r := s.do(t, http.MethodDelete, pmPath, testToken, nil)
	wantError(t, r, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, PUT" {
		t.Errorf("Allow = %q", got)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		wantError(t, s.do(t, method, pmPath, "", []byte(`{"body":"x","published":true}`)), http.StatusUnauthorized, api.CodeUnauthorized)
		wantError(t, s.do(t, method, pmPath, "wrong-token-0123456789", []byte(`{"body":"x","published":true}`)), http.StatusUnauthorized, api.CodeUnauthorized)
	}
	if _, err := s.page.Postmortem("i1"); err == nil {
		t.Error("a request without the token stored a post-mortem")
	}
}

func TestThePostmortemIsShownAsEscapedTextInParagraphsAndLists(t *testing.T) {
	s := withResolvedIncident(t)
	hostile := `<script>alert("pwned")</script><img src=x onerror=alert(1)>`
	body := "Line one " + hostile + "\r\nline two\n\n\n  - a <b>bold</b> item\n- [link](javascript:alert(1))\nafter the list"
	s.mustPut(t, pmPath, postmortemBody(t, body, true))
	html := string(s.get(t, "/incidents/i1").body)
	section := html[strings.Index(html, `<section class="postmortem"`):strings.Index(html, "</section>")]
	want := `<p>Line one &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;<br>
line two</p>
<ul>
<li>a &lt;b&gt;bold&lt;/b&gt; item</li>
<li>[link](javascript:alert(1))</li>
</ul>
<p>after the list</p>`
	if !strings.Contains(section, want) {
		t.Errorf("the post-mortem renders as\n%s\nwant it to contain\n%s", section, want)
	}
	for _, live := range []string{"<script", "<img", "<b>", "<a href=\"javascript"} {
		if strings.Contains(html, live) {
			t.Errorf("the page contains live markup %s", live)
		}
	}
	if feed := s.get(t, "/history.atom"); bytes.Contains(feed.body, []byte("<script")) {
		t.Error("the feed contains live markup")
	}
}

func TestTextBlocks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []textBlock
	}{
		{"", nil},
		{"one", []textBlock{{Lines: []string{"one"}}}},
		{"one\ntwo  \n\n \n three", []textBlock{{Lines: []string{"one", "two"}}, {Lines: []string{" three"}}}},
		{"intro\n- a\n  - b\nafter", []textBlock{{Lines: []string{"intro"}}, {List: true, Lines: []string{"a", "b"}}, {Lines: []string{"after"}}}},
		{"- a\n\n- b", []textBlock{{List: true, Lines: []string{"a"}}, {List: true, Lines: []string{"b"}}}},
		{"-not an item\n-\n- ", []textBlock{{Lines: []string{"-not an item", "-", "-"}}}},
		{"a\r\nb\rc", []textBlock{{Lines: []string{"a", "b", "c"}}}},
	} {
		if got := textBlocks(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("textBlocks(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestAPostmortemSurvivesReopeningTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p, err := OpenPage(path, testInfo, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"i1", "i2"} {
		if _, _, err := p.PutIncident(id, api.IncidentRequest{Name: "Errors " + id, Impact: api.ImpactMajor, Update: &api.UpdateRequest{
			ID: "u1", Status: api.Resolved, Body: "Fixed."}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := p.PutPostmortem("i1", api.PostmortemRequest{Body: "Published words.", Published: true}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, _, err := p.PutPostmortem("i1", api.PostmortemRequest{Body: "A later draft."}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.PutPostmortem("i2", api.PostmortemRequest{Body: "Only a draft."}); err != nil {
		t.Fatal(err)
	}
	before1, _ := p.Postmortem("i1")
	before2, _ := p.Postmortem("i2")
	page := incidentHTML(p, "i1")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	p = openTestPage(t, path, clock)
	after1, err1 := p.Postmortem("i1")
	after2, err2 := p.Postmortem("i2")
	if err1 != nil || err2 != nil || !reflect.DeepEqual(after1, before1) || !reflect.DeepEqual(after2, before2) {
		t.Errorf("after reopening:\n got %+v, %+v (%v, %v)\nwant %+v, %+v", after1, after2, err1, err2, before1, before2)
	}
	if got := incidentHTML(p, "i1"); !bytes.Equal(got, page) || !bytes.Contains(got, []byte("Published words.")) {
		t.Errorf("the incident page changed across a reopen or lost its post-mortem")
	}
	if bytes.Contains(incidentHTML(p, "i2"), []byte("Only a draft.")) {
		t.Error("a draft is public after reopening")
	}
}

func TestAPostmortemWriteThatCannotBeStoredIsA500AndChangesNothing(t *testing.T) {
	s := withResolvedIncident(t)
	before := s.get(t, "/incidents/i1")
	if err := s.page.store.close(); err != nil {
		t.Fatal(err)
	}
	wantError(t, s.put(t, pmPath, postmortemBody(t, "Words.", true)), http.StatusInternalServerError, api.CodeInternal)
	if _, err := s.page.Postmortem("i1"); err == nil {
		t.Error("the post-mortem is in memory after a failed write")
	}
	if after := s.get(t, "/incidents/i1"); !bytes.Equal(after.body, before.body) {
		t.Error("the public page changed after a failed write")
	}
}
