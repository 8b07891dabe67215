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

package firescope_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/statuspage"
)

const (
	token = "provider-test-token-0123456789"
	key   = "default/db-outage/6f1c1d0e-8a4b-4c57-9d0e-1b2c3d4e5f60"
)

var ctx = context.Background()

// page runs the real status page behind a handler that records each request and can be told
// to answer the next ones with an error instead.
type page struct {
	*httptest.Server
	page *statuspage.Page

	mu       sync.Mutex
	requests []string
	fail     []int
}

func newPage(t *testing.T) *page {
	t.Helper()
	sp, err := statuspage.OpenPage(filepath.Join(t.TempDir(), "page.db"), statuspage.PageInfo{Name: "Test", URL: "http://status.test"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	h := statuspage.NewHandler(sp, token, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p := &page{page: sp}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path)
		var status int
		if len(p.fail) > 0 {
			status, p.fail = p.fail[0], p.fail[1:]
		}
		p.mu.Unlock()
		if status != 0 {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "unavailable", status)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *page) failNext(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = append(p.fail, status)
}

func (p *page) requestCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

func postmortems(t *testing.T, p publish.Provider) publish.PostmortemPublisher {
	t.Helper()
	pp, ok := p.(publish.PostmortemPublisher)
	if !ok {
		t.Fatalf("%T does not publish post-mortems", p)
	}
	return pp
}

// resolved publishes a resolved incident and returns its provider reference.
func resolved(t *testing.T, p publish.Provider) string {
	t.Helper()
	r, err := p.Publish(ctx, publish.Update{IncidentKey: key, UpdateID: "su-1", Title: "Database errors", Status: "resolved", Body: "Fixed."})
	if err != nil {
		t.Fatal(err)
	}
	return r.ProviderRef
}

func TestAPostmortemIsDraftedThenPublishedOnTheStatusPage(t *testing.T) {
	srv := newPage(t)
	prov := firescope.New(srv.URL, token, srv.Client(), nil)
	pm := postmortems(t, prov)
	ref := resolved(t, prov)

	if f, ok, err := pm.Postmortem(ctx, ref); err != nil || ok {
		t.Fatalf("Postmortem before a draft = %+v, %v, %v; want none", f, ok, err)
	}
	for range 2 { // idempotent
		if err := pm.DraftPostmortem(ctx, ref, "We are sorry.\n\n- Alert on disk errors"); err != nil {
			t.Fatal(err)
		}
	}
	f, ok, err := pm.Postmortem(ctx, ref)
	if err != nil || !ok || f.Draft != "We are sorry.\n\n- Alert on disk errors" || f.Body != "" || f.Published() {
		t.Fatalf("after drafting: %+v, %v, %v", f, ok, err)
	}
	if err := pm.PublishPostmortem(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	f, ok, err = pm.Postmortem(ctx, ref)
	if err != nil || !ok || f.Body != "We are sorry.\n\n- Alert on disk errors" || !f.Published() {
		t.Fatalf("after publishing: %+v, %v, %v", f, ok, err)
	}
	publishedAt := f.PublishedAt

	// Publishing again, as after an unknown outcome, reads and finds nothing to do.
	before := srv.requestCount()
	if err := pm.PublishPostmortem(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	if n := srv.requestCount() - before; n != 1 {
		t.Errorf("publishing a published post-mortem again made %d requests, want the one read", n)
	}
	if f, _, _ := pm.Postmortem(ctx, ref); !f.PublishedAt.Equal(publishedAt) {
		t.Errorf("publishing again moved published_at from %v to %v", publishedAt, f.PublishedAt)
	}
}

func TestADraftAfterPublishingNeverWithdrawsThePostmortem(t *testing.T) {
	srv := newPage(t)
	prov := firescope.New(srv.URL, token, srv.Client(), nil)
	pm := postmortems(t, prov)
	ref := resolved(t, prov)
	if err := pm.DraftPostmortem(ctx, ref, "First text."); err != nil {
		t.Fatal(err)
	}
	if err := pm.PublishPostmortem(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if err := pm.DraftPostmortem(ctx, ref, "Corrected text."); err != nil {
		t.Fatal(err)
	}
	f, ok, err := pm.Postmortem(ctx, ref)
	if err != nil || !ok || !f.Published() || f.Body != "First text." || f.Draft != "Corrected text." {
		t.Fatalf("after a new draft: %+v, %v, %v; want the first text still published", f, ok, err)
	}
	if err := pm.PublishPostmortem(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if f, _, _ := pm.Postmortem(ctx, ref); f.Body != "Corrected text." {
		t.Errorf("after publishing the correction: %+v", f)
	}
}

func TestPostmortemRefusalsArePermanentAndFailuresRetryable(t *testing.T) {
	srv := newPage(t)
	prov := firescope.New(srv.URL, token, srv.Client(), nil)
	pm := postmortems(t, prov)
	ref := resolved(t, prov)

	for name, err := range map[string]error{
		"publish without a draft":       pm.PublishPostmortem(ctx, ref, true),
		"draft for an unknown incident": pm.DraftPostmortem(ctx, "fs-unknown", "Words."),
		"empty draft":                   pm.DraftPostmortem(ctx, ref, ""),
		"draft too long":                pm.DraftPostmortem(ctx, ref, strings.Repeat("x", 20001)),
	} {
		if err == nil || !delivery.Assess(err).Terminal {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	if f, ok, err := pm.Postmortem(ctx, "fs-unknown"); ok || err != nil {
		t.Errorf("Postmortem of an unknown incident = %+v, %v, %v; want none", f, ok, err)
	}

	srv.failNext(http.StatusServiceUnavailable)
	err := pm.DraftPostmortem(ctx, ref, "Words.")
	if after, ok := delivery.Assess(err).After, !delivery.Assess(err).Terminal; !ok || after != 2*time.Second {
		t.Errorf("503: %v, want retryable after the server's 2s", err)
	}
	if err := pm.DraftPostmortem(ctx, ref, "Words."); err != nil {
		t.Fatal(err)
	}
	srv.failNext(http.StatusBadGateway)
	if err := pm.PublishPostmortem(ctx, ref, true); !retryable(err) {
		t.Errorf("502 on the read: %v, want retryable", err)
	}
	srv.failNext(0) // the read passes
	srv.failNext(http.StatusInternalServerError)
	if err := pm.PublishPostmortem(ctx, ref, true); !retryable(err) {
		t.Errorf("500 on the write: %v, want retryable", err)
	}
	if f, _, _ := pm.Postmortem(ctx, ref); f.Published() {
		t.Error("a failed publish published")
	}

	bad := postmortems(t, firescope.New(srv.URL, "wrong-token-0123456789", srv.Client(), nil))
	_, _, gerr := bad.Postmortem(ctx, ref)
	for _, err := range []error{bad.DraftPostmortem(ctx, ref, "x"), bad.PublishPostmortem(ctx, ref, true), gerr} {
		if err == nil || retryable(err) || strings.Contains(err.Error(), "wrong-token") || !strings.Contains(err.Error(), "401") {
			t.Errorf("wrong token: %v, want a permanent 401 without the token", err)
		}
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body first lets the server notice the client hanging up; the timer
		// only bounds the handler should it not.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	impatient := postmortems(t, firescope.New(slow.URL, token, &http.Client{Timeout: 50 * time.Millisecond}, nil))
	if err := impatient.DraftPostmortem(ctx, ref, "x"); !retryable(err) {
		t.Errorf("timeout: %v, want retryable", err)
	}
}

func retryable(err error) bool {
	ok := !delivery.Assess(err).Terminal
	return ok
}
