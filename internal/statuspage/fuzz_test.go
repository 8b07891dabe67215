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
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"firescope.dev/firescope/internal/statuspage/api"
)

// FuzzWriteRequestDecoding feeds arbitrary bodies to the write API's decoder and validators.
// Whatever comes in, the outcome is a clean 400 or 422, or a request that holds only valid
// text and survives a round trip through JSON unchanged. `go test` runs the seeds; run
// `go test -fuzz FuzzWriteRequestDecoding ./internal/statuspage` to search further.
func FuzzWriteRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"name":"API","description":"REST API","position":2,"status":"degraded_performance"}`,
		`{"name":"Errors","impact":"major","update":{"id":"u1","status":"investigating","body":"Looking.","components":[{"id":"api","status":"major_outage"}]}}`,
		`{"status":"resolved","body":"Fixed.\nThanks for your patience.","created_at":"2026-11-25T09:30:00Z"}`,
		`{"status":"identified","body":"<script>alert(1)</script>"}`,
		`{"body":"We are sorry.\n\n- Alert on disk errors","published":true}`,
		"{\"name\":\"bad \xff\"}",
		`{"name":"\ud800"}`,
		`{"name":"x"} trailing`,
		`{"body":"\u0000"}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err *apiError, v any, validate func() *apiError) {
			if err == nil {
				err = validate()
			}
			if err != nil {
				if err.status != 400 && err.status != 422 {
					t.Fatalf("status %d for %q", err.status, body)
				}
				if err.message == "" || err.code == "" {
					t.Fatalf("error without code or message for %q", body)
				}
				return
			}
			assertCleanText(t, reflect.ValueOf(v))
			again := reflect.New(reflect.TypeOf(v).Elem())
			data, mErr := json.Marshal(v)
			if mErr != nil {
				t.Fatal(mErr)
			}
			if dErr := decodeJSON(data, again.Interface()); dErr != nil {
				t.Fatalf("accepted %q but not its re-encoding %s: %v", body, data, dErr)
			}
			if !reflect.DeepEqual(normalizeTimes(v), normalizeTimes(again.Interface())) {
				t.Fatalf("round trip changed the request: %q -> %s", body, data)
			}
		}
		var c api.ComponentRequest
		check(decodeJSON(body, &c), &c, func() *apiError { return validateComponentRequest(&c) })
		var i api.IncidentRequest
		check(decodeJSON(body, &i), &i, func() *apiError { return validateIncidentRequest(&i, now) })
		var u api.UpdateRequest
		check(decodeJSON(body, &u), &u, func() *apiError { return validateUpdateRequest("", &u, now) })
		var pm api.PostmortemRequest
		check(decodeJSON(body, &pm), &pm, func() *apiError { return validatePostmortemRequest(&pm) })
	})
}

// assertCleanText checks every string in an accepted request: valid UTF-8 and no control
// characters other than line breaks and tabs.
func assertCleanText(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			assertCleanText(t, v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			assertCleanText(t, v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			assertCleanText(t, v.Index(i))
		}
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
				t.Fatalf("accepted control character %U in %q", r, s)
			}
		}
	}
}

// normalizeTimes makes equal instants compare equal whatever their location.
func normalizeTimes(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzRequestHeaders feeds arbitrary header values to the parsers of the headers the server
// reads: Accept-Encoding, If-None-Match and Authorization. None panics, each says yes only
// when the header says so, and a token is accepted only when it is exactly a configured one.
func FuzzRequestHeaders(f *testing.F) {
	for _, seed := range [][3]string{
		{"gzip, deflate, br", `"abc"`, "Bearer " + paymentsToken},
		{"br;q=1.0, gzip;q=0.8, *;q=0.1", `W/"abc", "def"`, "bearer " + testToken},
		{"gzip;q=0", "*", "Bearer  " + searchToken + " "},
		{"GZIP ; q = 0.5", `"abc`, "Basic dXNlcjpwYXNz"},
		{"identity;q=NaN, gzip;q=1e400", ",,,", "Bearer"},
		{"", "", ""},
		{"\x00gzip\xff", "\"\x00\"", "Bearer \xff\xfe"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	auth := newAuthenticator(Tokens{Admin: testToken, Namespaces: map[string]string{"payments": paymentsToken, "search": searchToken}})
	const etag = `"abc"`
	f.Fuzz(func(t *testing.T, acceptEncoding, ifNoneMatch, authorization string) {
		if acceptsGzip([]string{acceptEncoding}) && !strings.Contains(strings.ToLower(acceptEncoding), "gzip") {
			t.Errorf("Accept-Encoding %q taken as accepting gzip", acceptEncoding)
		}
		if etagMatches([]string{ifNoneMatch}, etag) && !strings.Contains(ifNoneMatch, etag) && !strings.Contains(ifNoneMatch, "*") {
			t.Errorf("If-None-Match %q taken as matching %s", ifNoneMatch, etag)
		}
		if !etagMatches([]string{ifNoneMatch + "," + etag}, etag) {
			t.Errorf("If-None-Match %q with %s appended does not match it", ifNoneMatch, etag)
		}
		r := &http.Request{Header: http.Header{"Authorization": {authorization}}}
		sc, ok := auth.identify(r)
		schemeName, token, _ := strings.Cut(authorization, " ")
		token = strings.TrimSpace(token)
		want := map[string]scope{testToken: adminScope, paymentsToken: {namespace: "payments"}, searchToken: {namespace: "search"}}
		switch w, known := want[token]; {
		case ok && (!known || !strings.EqualFold(schemeName, "Bearer") || sc != w):
			t.Errorf("Authorization %q accepted as %v", authorization, sc)
		case !ok && known && strings.EqualFold(schemeName, "Bearer"):
			t.Errorf("Authorization %q with a configured token refused", authorization)
		}
	})
}

// FuzzHandler sends arbitrary requests, with no token, a wrong one, or another namespace's,
// to a page that holds one incident of the payments namespace. Whatever comes in, the server
// answers without a server error, and that incident, its post-mortem draft included, stays
// as it was: the cross-namespace rewrite the namespace tokens exist to stop.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct {
		method, path, header string
		token                byte
		body                 string
	}{
		{"GET", "/", "gzip", 0, ""},
		{"GET", "/incidents/pay-1", "gzip", 0, ""},
		{"HEAD", "/api/v2/summary.json", "", 0, ""},
		{"PUT", "/api/v1/incidents/pay-1", "", 1, `{"name":"Fine","impact":"none"}`},
		{"PUT", "/api/v1/incidents/pay-1/updates/u9", "", 1, `{"status":"resolved","body":"x"}`},
		{"PATCH", "/api/v1/incidents/pay-1/updates/u1", "", 1, `{"body":"x"}`},
		{"PUT", "/api/v1/incidents/pay-1/postmortem", "", 1, `{"body":"x","published":true}`},
		{"DELETE", "/api/v1/incidents/pay-1", "", 1, ""},
		{"GET", "/api/v1/incidents/pay-1/postmortem", "", 1, ""},
		{"PUT", "/api/v1/components/api", "", 2, `{"name":"API","status":"major_outage"}`},
		{"PUT", "/api/v1/incidents/search-1", "", 1, `{"name":"Slow","impact":"minor"}`},
		{"GET", "/api/v1/incidents/pay-1/../pay-1", "", 1, ""},
		{"PUT", "/api/v1//incidents/pay-1", "", 1, "{}"},
	} {
		f.Add(seed.method, seed.path, seed.header, seed.token, []byte(seed.body))
	}
	p, err := OpenPage(filepath.Join(f.TempDir(), "page.db"), testInfo, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = p.Close() })
	if _, _, err := p.PutComponent("api", api.ComponentRequest{Name: "API"}); err != nil {
		f.Fatal(err)
	}
	if _, _, err := p.putIncident(scope{namespace: "payments"}, "pay-1", api.IncidentRequest{Name: "Card payments failing", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u1", Status: api.Investigating, Body: "Looking."}}); err != nil {
		f.Fatal(err)
	}
	if _, _, err := p.putPostmortem(scope{namespace: "payments"}, "pay-1", api.PostmortemRequest{Body: "Private draft."}); err != nil {
		f.Fatal(err)
	}
	wantInc, _ := p.Incident("pay-1")
	wantPM, _ := p.Postmortem("pay-1")
	h := NewScopedHandler(p, Tokens{Admin: testToken, Namespaces: map[string]string{"payments": paymentsToken, "search": searchToken}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	tokens := []string{"", "Bearer " + searchToken, "Bearer wrong-token-0123456789", "Bearer " + searchToken + "x", searchToken}
	f.Fuzz(func(t *testing.T, method, path, acceptEncoding string, token byte, body []byte) {
		r := &http.Request{Method: method, URL: &url.URL{Path: path}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Accept-Encoding": {acceptEncoding}}, Body: io.NopCloser(bytes.NewReader(body)), RemoteAddr: "192.0.2.1:1234"}
		if auth := tokens[int(token)%len(tokens)]; auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, path, w.Code, w.Body.Bytes())
		}
		if (path == "/api/v1" || strings.HasPrefix(path, "/api/v1/")) && w.Code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %q: a %d without a JSON error", method, path, w.Code)
		}
		inc, _ := p.Incident("pay-1")
		pm, _ := p.Postmortem("pay-1")
		if !reflect.DeepEqual(inc, wantInc) || !reflect.DeepEqual(pm, wantPM) {
			t.Fatalf("%s %q with token %d changed payments' incident: %+v, %+v", method, path, token, inc, pm)
		}
		if bytes.Contains(w.Body.Bytes(), []byte("Private draft.")) {
			t.Fatalf("%s %q with token %d showed payments' draft", method, path, token)
		}
	})
}

// FuzzPostmortemRendering renders arbitrary valid post-mortems on the incident page. The
// text reads as written (every character that is not white space is shown, in order; only
// the "- " of list items goes), and nothing in it becomes markup: the post-mortem section
// holds only the page's own tags.
func FuzzPostmortemRendering(f *testing.F) {
	for _, seed := range []string{
		"We are sorry.\n\nOn November 25 the database failed.\n\n- Alert on disk errors (owner: noah)\n- Test restores",
		"<script>alert(1)</script>\n- <b>bold</b> & \"quoted\" 'single'",
		"line one\r\nline two\rline three\n\n\n   - indented item\n\t- tab item\n-not an item\n- ",
		"- only\n- items",
		"&lt;already escaped&gt; &amp; &#34;",
		"\u2028\u2029 separators \u00a0nbsp",
		"</section><section>",
	} {
		f.Add(seed)
	}
	p, err := OpenPage(filepath.Join(f.TempDir(), "page.db"), testInfo, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = p.Close() })
	now := time.Now().UTC()
	rec := &incidentRecord{ID: "i1", Name: "Errors", Impact: string(api.ImpactMajor), CreatedAt: now, UpdatedAt: now}
	pageTags := regexp.MustCompile(`</?(section|h2|p|br|ul|li)( [^<>]*)?>|<time datetime="[^"<>]*">|</time>`)
	f.Fuzz(func(t *testing.T, body string) {
		if validatePostmortemRequest(&api.PostmortemRequest{Body: body}) != nil {
			return
		}
		var wantText []rune
		for line := range strings.Lines(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")) {
			line = strings.TrimLeft(strings.TrimRight(line, " \t\n"), " \t")
			if item, ok := strings.CutPrefix(line, "- "); ok {
				line = item
			}
			wantText = append(wantText, nonSpace(line)...)
		}
		var gotText []rune
		for _, b := range textBlocks(body) {
			if len(b.Lines) == 0 {
				t.Fatalf("an empty block for %q", body)
			}
			for _, l := range b.Lines {
				if strings.ContainsAny(l, "\r\n") || strings.TrimSpace(l) == "" && !b.List {
					t.Fatalf("line %q of a block for %q", l, body)
				}
				gotText = append(gotText, nonSpace(l)...)
			}
		}
		if string(gotText) != string(wantText) {
			t.Fatalf("blocks of %q hold %q, want %q", body, string(gotText), string(wantText))
		}

		pm := &postmortemRecord{IncidentID: "i1", Draft: body, PublishedBody: body, PublishedAt: now, RevisedAt: now, CreatedAt: now, UpdatedAt: now}
		inc := &publicIncident{incidentPage: incidentPage{rec: rec, postmortem: pm}, etag: `"x"`}
		w := httptest.NewRecorder()
		p.serveIncident(w, httptest.NewRequest(http.MethodGet, "/incidents/i1", nil), inc)
		page := w.Body.String()
		start, end := strings.Index(page, `<section class="postmortem"`), strings.LastIndex(page, "</section>")
		if start < 0 || end < start {
			t.Fatalf("no post-mortem section for %q", body)
		}
		section := page[start : end+len("</section>")]
		meta := strings.Index(section, "</p>") + len("</p>") // the published/revised line
		text := pageTags.ReplaceAllString(section[meta:], " ")
		if strings.ContainsAny(text, "<>") {
			t.Fatalf("markup from %q in the page: %s", body, section)
		}
		if got := nonSpace(html.UnescapeString(text)); string(got) != string(wantText) {
			t.Fatalf("the page shows %q for %q, want %q", string(got), body, string(wantText))
		}
	})
}

func nonSpace(s string) []rune {
	var out []rune
	for _, r := range s {
		if !unicode.IsSpace(r) {
			out = append(out, r)
		}
	}
	return out
}
