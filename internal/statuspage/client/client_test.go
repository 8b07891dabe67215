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

package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

const token = "client-test-token-0123456789"

// newServer runs the real status page handler, so the client is tested against the server
// it will talk to.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	page, err := statuspage.OpenPage(filepath.Join(t.TempDir(), "page.db"), statuspage.PageInfo{Name: "Test", URL: "http://status.test"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = page.Close() })
	srv := httptest.NewServer(statuspage.NewHandler(page, token, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv
}

func TestPublishingTwiceCreatesOnceAndReturnsTheSameIncident(t *testing.T) {
	srv := newServer(t)
	c := client.New(srv.URL+"/", token, srv.Client())
	ctx := context.Background()
	if _, created, err := c.PutComponent(ctx, "api", api.ComponentRequest{Name: "API"}); err != nil || !created {
		t.Fatalf("PutComponent = %v, created %v", err, created)
	}
	req := api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor, Update: &api.UpdateRequest{
		ID: "su-1", Status: api.Investigating, Body: "Looking.", Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}}
	first, created, err := c.PutIncident(ctx, "inc-1", req)
	if err != nil || !created {
		t.Fatalf("first PutIncident = %v, created %v", err, created)
	}
	again, created, err := c.PutIncident(ctx, "inc-1", req)
	if err != nil || created || again.Updates[0].CreatedAt != first.Updates[0].CreatedAt {
		t.Fatalf("retried PutIncident = %v, created %v; want the stored incident back", err, created)
	}
	u, created, err := c.PutUpdate(ctx, "inc-1", "su-2", api.UpdateRequest{Status: api.Resolved, Body: "Fixed.",
		Components: []api.ComponentChange{{ID: "api", Status: api.Operational}}})
	if err != nil || !created || u.Components[0].OldStatus != api.MajorOutage {
		t.Fatalf("PutUpdate = %+v, %v, created %v", u, err, created)
	}
	inc, err := c.Incident(ctx, "inc-1")
	if err != nil || inc.Status != api.Resolved || len(inc.Updates) != 2 {
		t.Fatalf("Incident = %+v, %v", inc, err)
	}
	comps, err := c.Components(ctx)
	if err != nil || len(comps) != 1 || comps[0].Status != api.Operational {
		t.Fatalf("Components = %+v, %v", comps, err)
	}
	if err := c.DeleteComponent(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // deleting again succeeds, so a retry is safe
		if err := c.DeleteIncident(ctx, "inc-1"); err != nil {
			t.Fatalf("DeleteIncident = %v", err)
		}
	}
	if _, err := c.Incident(ctx, "inc-1"); !isStatus(err, http.StatusNotFound) {
		t.Errorf("Incident after the delete = %v, want a 404", err)
	}
}

func isStatus(err error, status int) bool {
	e, ok := errors.AsType[*client.Error](err)
	return ok && e.StatusCode == status
}

func TestAPIErrorsCarryTheServersCodeAndAreNotRetryable(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	c := client.New(srv.URL, token, srv.Client())
	if _, _, err := c.PutIncident(ctx, "inc-1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMinor}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutUpdate(ctx, "inc-1", "u1", api.UpdateRequest{Status: api.Investigating, Body: "One."}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.PutUpdate(ctx, "inc-1", "u1", api.UpdateRequest{Status: api.Investigating, Body: "Two."})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusConflict || e.Code != api.CodeConflict {
		t.Fatalf("conflicting update = %v, want a 409 conflict", err)
	}
	if client.Retryable(err) {
		t.Error("a conflict is reported as retryable")
	}
	_, err = client.New(srv.URL, "wrong-token-0123456789", srv.Client()).Incident(ctx, "inc-1")
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("bad token = %v, want a 401 that does not show the token", err)
	}
	_, _, err = c.PutUpdate(ctx, "inc-1", "u2", api.UpdateRequest{Status: api.Investigating, Body: "x",
		Components: []api.ComponentChange{{ID: "ghost", Status: api.MajorOutage}}})
	if !errors.As(err, &e) || e.Code != api.CodeUnknownComponent || e.Field != "components[0].id" {
		t.Errorf("unknown component = %v", err)
	}
}

func TestRetryableSeparatesPassingTroubleFromFinalAnswers(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&client.Error{StatusCode: 500}, true},
		{&client.Error{StatusCode: 503}, true},
		{&client.Error{StatusCode: 429}, true},
		{&client.Error{StatusCode: 400}, false},
		{&client.Error{StatusCode: 413}, false},
		{&client.Error{StatusCode: 422}, false},
		{errors.New("connection refused"), true},
		{context.Canceled, false},
	} {
		if got := client.Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestNonJSONErrorsReportTheStatusAndRetryAfterButNotTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "internal data of whatever answered", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	_, err := client.New(srv.URL, token, srv.Client()).Components(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 503 || e.RetryAfter != 7*time.Second || e.Code != "http_503" || !client.Retryable(err) {
		t.Errorf("error = %#v", err)
	}
	if strings.Contains(err.Error(), "internal data") {
		t.Errorf("the error reads back an answer not in the page's format: %v", err)
	}
}

func TestABaseURLWithAQueryIsRefusedBeforeAnyRequest(t *testing.T) {
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests++ }))
	t.Cleanup(srv.Close)
	// Concatenated, "/api/v1/components" would become the query of a request to /x.
	for _, base := range []string{srv.URL + "/x?", srv.URL + "/x?a=", srv.URL + "/x#"} {
		if _, err := client.New(base, token, srv.Client()).Components(context.Background()); err == nil || !strings.Contains(err.Error(), "the base URL cannot be used") {
			t.Errorf("%s: %v, want the base URL refused", base, err)
		}
	}
	if requests != 0 {
		t.Fatalf("the server received %d requests, want none", requests)
	}
}

func TestRetryAfterIsCappedAndGarbageIgnored(t *testing.T) {
	for header, want := range map[string]time.Duration{
		"31536000": delivery.MaxRetryAfter,
		time.Now().Add(400 * 24 * time.Hour).UTC().Format(http.TimeFormat): delivery.MaxRetryAfter,
		"-30":  0,
		"soon": 0,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", header)
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}))
		_, err := client.New(srv.URL, token, srv.Client()).Components(context.Background())
		srv.Close()
		var e *client.Error
		if !errors.As(err, &e) || e.RetryAfter != want {
			t.Errorf("Retry-After %q: error = %#v, want RetryAfter %s", header, err, want)
		}
	}
}

func TestAPostmortemIsDraftedPublishedAndReadBack(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	c := client.New(srv.URL, token, srv.Client())
	var e *client.Error
	if _, _, err := c.PutPostmortem(ctx, "inc-1", "Words.", true); !errors.As(err, &e) || e.StatusCode != http.StatusNotFound {
		t.Fatalf("post-mortem of an unknown incident = %v, want a 404", err)
	}
	if _, _, err := c.PutIncident(ctx, "inc-1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMinor}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Postmortem(ctx, "inc-1"); !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || client.Retryable(err) {
		t.Fatalf("Postmortem before any = %v, want a final 404", err)
	}
	pm, created, err := c.PutPostmortem(ctx, "inc-1", "A draft.", false)
	if err != nil || !created || pm.Draft != "A draft." || pm.Published {
		t.Fatalf("draft = %+v, created %v, %v", pm, created, err)
	}
	pm, created, err = c.PutPostmortem(ctx, "inc-1", "The text.", true)
	if err != nil || created || !pm.Published || pm.PublishedBody != "The text." || pm.PublishedAt == nil {
		t.Fatalf("publish = %+v, created %v, %v", pm, created, err)
	}
	got, err := c.Postmortem(ctx, "inc-1")
	if err != nil || got.PublishedBody != "The text." || !got.PublishedAt.Equal(*pm.PublishedAt) {
		t.Errorf("Postmortem = %+v, %v", got, err)
	}
	if _, _, err := c.PutPostmortem(ctx, "inc-1", "", true); !errors.As(err, &e) || e.StatusCode != http.StatusUnprocessableEntity || e.Field != "body" {
		t.Errorf("empty post-mortem = %v, want a 422 naming the body", err)
	}
}
