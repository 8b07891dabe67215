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

package atlassian_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
)

// fuzzKey is the API key of the fuzzed provider; answers may echo it, errors must not.
const fuzzKey = "oauth-key-5c1e0b4d9a7f"

// answer is a transport that gives every request the same answer, so that the fuzzer
// drives the provider's decoding of Statuspage's answers without a network.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: -1, Request: r}, nil
}

// FuzzAnswerDecoding gives Publish, Edit and Find arbitrary answers from Statuspage.
// Whatever comes back, nothing panics and no error shows the API key (even when the answer
// echoes it); an error status is retryable exactly for 408, 420, 425, 429 and 5xx; a
// successful Publish names the provider incident; a Find that finds names it and lists its
// updates oldest first.
func FuzzAnswerDecoding(f *testing.F) {
	incidentJSON := `{"id":"inc1","metadata":{"firescope":{"incident":"` + key + `","update":"su-1"}},` +
		`"incident_updates":[{"id":"up2","status":"identified","body":"Found it.","created_at":"2026-11-25T10:20:00Z"},` +
		`{"id":"up1","status":"investigating","body":"Looking.","created_at":"2026-11-25T10:10:00Z"}]}`
	for _, seed := range []struct {
		op         byte
		status     uint16
		retryAfter string
		body       string
	}{
		{0, 201, "", incidentJSON},
		{1, 200, "", incidentJSON},
		{2, 200, "", incidentJSON},
		{3, 200, "", "[" + incidentJSON + "]"},
		{3, 200, "", "[" + incidentJSON + "," + incidentJSON + "]"},
		{3, 200, "", `[{"id":"x","metadata":{"firescope":"not an object"}},{"id":"y","metadata":null},{"id":"z","metadata":{"firescope":{"incident":7}}}]`},
		{0, 200, "", `{}`},
		{0, 200, "", `{"id":""`},
		{1, 401, "", `{"error":"invalid key ` + fuzzKey + `"}`},
		{0, 420, "60", `{"error":"rate limited"}`},
		{3, 429, "Wed, 21 Oct 2026 07:28:00 GMT", ``},
		{1, 503, "-1", "<html>\x00\xff" + fuzzKey + "</html>"},
		{2, 422, "", `{"error":["Body is too long"]}`},
		{0, 200, "", `null`},
		{3, 200, "", `[null]`},
	} {
		f.Add(seed.op, seed.status, seed.retryAfter, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, op byte, status uint16, retryAfter string, body []byte) {
		code := 200 + int(status)%400
		p := atlassian.New("page1", fuzzKey, "https://api.statuspage.test", &http.Client{
			Transport: answer{status: code, header: http.Header{"Retry-After": {retryAfter}, "Content-Type": {"application/json"}}, body: body}}, nil)
		var err error
		switch op % 4 {
		case 0, 1:
			ref := ""
			if op%4 == 1 {
				ref = "inc1"
			}
			var res publish.Result
			res, err = p.Publish(ctx, update("su-2", "identified", "Found it.", ref, publish.Component{ProviderID: database, Status: "major_outage"}))
			if err == nil && res.ProviderRef == "" {
				t.Fatalf("Publish succeeded without a provider incident for the answer %q", body)
			}
		case 2:
			err = p.Edit(ctx, "inc1", "up1", "Found it: a failed disk.")
		case 3:
			var found publish.Found
			var ok bool
			found, ok, err = p.Find(ctx, key)
			if ok && (err != nil || found.ProviderRef == "") {
				t.Fatalf("Find found %+v with %v", found, err)
			}
			if !slices.IsSortedFunc(found.Updates, func(a, b publish.FoundUpdate) int { return a.At.Compare(b.At) }) {
				t.Fatalf("Find's updates are not oldest first: %+v", found.Updates)
			}
		}
		if err == nil {
			if code >= 300 {
				t.Fatalf("op %d: a %d answer succeeded", op%4, code)
			}
			return
		}
		if strings.Contains(err.Error(), fuzzKey) {
			t.Fatalf("op %d: the error shows the API key: %v", op%4, err)
		}
		retryable := !delivery.Assess(err).Terminal
		wantRetryable := code == 408 || code == 420 || code == 425 || code == 429 || code >= 500
		if code >= 300 && retryable != wantRetryable {
			t.Errorf("op %d: a %d answer classified retryable %v: %v", op%4, code, retryable, err)
		}
	})
}
