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
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish/atlassian"
	"firescope.dev/firescope/internal/safehttp"
)

// recorder answers every request with status and body, counting them.
func recorder(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestABaseURLEndingInAQuestionMarkCannotTurnThePathIntoAQuery(t *testing.T) {
	srv, n := recorder(t, http.StatusOK, `{"id": "x"}`)
	// Concatenated, the request would go to /elsewhere with "/v1/pages/.../incidents" as its
	// query.
	for _, base := range []string{srv.URL + "/elsewhere?", srv.URL + "/elsewhere?q=", srv.URL + "/elsewhere#"} {
		p := atlassian.New(statuspage.PageID, statuspage.APIKey, base, nil, nil)
		_, err := p.Publish(ctx, update("su-1", "investigating", "We are investigating.", ""))
		if err == nil || !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "the Statuspage base URL is not valid") {
			t.Errorf("%s: %v, want a permanent error about the base URL", base, err)
		}
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("the server received %d requests, want none", got)
	}
}

func TestABasePathIsKeptAndTheListingQueryIsTheClients(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		_, _ = io.WriteString(w, "[]")
	}))
	t.Cleanup(srv.Close)
	p := atlassian.New("page/1", statuspage.APIKey, srv.URL+"/proxy/", nil, nil)
	if _, ok, err := p.Find(ctx, key); ok || err != nil {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	if want := "/proxy/v1/pages/page/1/incidents?limit=100&page=1"; len(got) != 1 || got[0] != want {
		t.Fatalf("requests %q, want [%q]", got, want)
	}
}

func TestAnswersOfAnotherHostAreNotReadBackIntoTheError(t *testing.T) {
	srv, _ := recorder(t, http.StatusUnprocessableEntity, `{"error": "root:x:0:0 internal data"}`)
	p := atlassian.New(statuspage.PageID, statuspage.APIKey, srv.URL, safehttp.Loopback().Guard(delivery.NewHTTPClient(0)), nil)
	_, err := p.Publish(ctx, update("su-1", "investigating", "We are investigating.", ""))
	if err == nil || !strings.Contains(err.Error(), "HTTP 422") || !strings.Contains(err.Error(), "check the StatusPage's component mapping") {
		t.Fatalf("got %v, want the status and Firescope's own hint", err)
	}
	if strings.Contains(err.Error(), "internal data") {
		t.Fatalf("the error reads back the answer of a host that is not Statuspage's: %v", err)
	}
}

func TestTheKeyIsNotSentToAnInternalAddressUnlessAllowed(t *testing.T) {
	srv, n := recorder(t, http.StatusCreated, `{"id": "x"}`)
	for _, base := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		p := atlassian.New(statuspage.PageID, statuspage.APIKey, base, (&safehttp.Allowlist{}).Guard(delivery.NewHTTPClient(0)), nil)
		_, err := p.Publish(ctx, update("su-1", "investigating", "We are investigating.", ""))
		if err == nil || !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "refused to call") {
			t.Errorf("%s: %v, want a permanent refusal", base, err)
		}
		if err != nil && strings.Contains(err.Error(), statuspage.APIKey) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("the server received %d requests, want none", got)
	}
}
