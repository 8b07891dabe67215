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
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
)

func postmortems(t *testing.T, p publish.Provider) publish.PostmortemPublisher {
	t.Helper()
	pp, ok := p.(publish.PostmortemPublisher)
	if !ok {
		t.Fatalf("%T does not publish post-mortems", p)
	}
	return pp
}

// resolved publishes a resolved incident and returns its provider id.
func resolved(t *testing.T, p publish.Provider) string {
	t.Helper()
	r, err := p.Publish(ctx, update("su-1", "resolved", "Connections are back to normal.", ""))
	if err != nil {
		t.Fatal(err)
	}
	return r.ProviderRef
}

const draft = "We are sorry.\n\nA failed disk on the primary database.\n\n- Replace the disk alarms"

func TestAPostmortemIsDraftedThenPublishedWithOneRequestEach(t *testing.T) {
	s, p := fake(t)
	pm := postmortems(t, p)
	ref := resolved(t, p)

	if f, ok, err := pm.Postmortem(ctx, ref); err != nil || ok {
		t.Fatalf("Postmortem before a draft = %+v, %v, %v; want none", f, ok, err)
	}
	before := len(s.Requests())
	if err := pm.DraftPostmortem(ctx, ref, "A first draft."); err != nil {
		t.Fatal(err)
	}
	// Drafting again replaces the draft: the call is idempotent.
	for range 2 {
		if err := pm.DraftPostmortem(ctx, ref, draft); err != nil {
			t.Fatal(err)
		}
	}
	f, ok, err := pm.Postmortem(ctx, ref)
	if err != nil || !ok || f.Draft != draft || f.Body != "" || f.Published() {
		t.Fatalf("Postmortem after drafting = %+v, %v, %v", f, ok, err)
	}
	if err := pm.PublishPostmortem(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	f, ok, err = pm.Postmortem(ctx, ref)
	if err != nil || !ok || f.Body != draft || !f.Published() || time.Since(f.PublishedAt) > time.Hour {
		t.Fatalf("Postmortem after publishing = %+v, %v, %v", f, ok, err)
	}

	reqs := s.Requests()[before:]
	want := []string{"PUT /postmortem", "PUT /postmortem", "PUT /postmortem", "GET /postmortem", "PUT /postmortem/publish", "GET /postmortem"}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		method, suffix, _ := strings.Cut(want[i], " ")
		if r.Method != method || r.Path != "/v1/pages/"+statuspage.PageID+"/incidents/"+ref+suffix ||
			r.Header.Get("Authorization") != "OAuth "+statuspage.APIKey || r.Status != http.StatusOK {
			t.Errorf("request %d: %s %s answered %d; want %s", i, r.Method, r.Path, r.Status, want[i])
		}
	}
	if got := reqs[1].JSON["postmortem"].(map[string]any)["body_draft"]; got != draft {
		t.Errorf("draft request sent body_draft %v", got)
	}
	if got := reqs[4].JSON["postmortem"].(map[string]any); got["notify_subscribers"] != true || got["notify_twitter"] != false {
		t.Errorf("publish request sent %v", got)
	}
	held := s.Incidents()[0].Postmortem
	if held == nil || held.Publishes != 1 || held.Body != draft || !held.NotifySubscribers || held.NotifyTwitter {
		t.Errorf("the page holds %+v", held)
	}
	valid(t, s)
}

func TestADraftAfterPublishingKeepsThePublishedText(t *testing.T) {
	s, p := fake(t)
	pm := postmortems(t, p)
	ref := resolved(t, p)
	if err := pm.DraftPostmortem(ctx, ref, draft); err != nil {
		t.Fatal(err)
	}
	if err := pm.PublishPostmortem(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if err := pm.DraftPostmortem(ctx, ref, "A correction."); err != nil {
		t.Fatal(err)
	}
	f, ok, err := pm.Postmortem(ctx, ref)
	if err != nil || !ok || f.Draft != "A correction." || f.Body != draft || !f.Published() {
		t.Errorf("Postmortem = %+v, %v, %v; want the correction as draft and the first text still public", f, ok, err)
	}
	if held := s.Incidents()[0].Postmortem; held.NotifySubscribers {
		t.Errorf("notify false notified subscribers: %+v", held)
	}
	valid(t, s)
}

func TestPublishingWithoutADraftIsPermanentAndSaysWhy(t *testing.T) {
	s, p := fake(t)
	pm := postmortems(t, p)
	ref := resolved(t, p)
	err := pm.PublishPostmortem(ctx, ref, true)
	if err == nil || !delivery.Assess(err).Terminal {
		t.Fatalf("publishing without a draft = %v, want a permanent error", err)
	}
	if se, ok := errors.AsType[*delivery.StatusError](err); !ok || se.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "no post-mortem draft") {
		t.Errorf("error %q should be the 400 and say that there is no draft", err)
	}
	if s.Incidents()[0].Postmortem != nil {
		t.Error("a refused publish left a post-mortem")
	}
}

func TestPostmortemCallsOnAnUnknownIncidentArePermanent404s(t *testing.T) {
	_, p := fake(t)
	pm := postmortems(t, p)
	for name, err := range map[string]error{
		"draft":   pm.DraftPostmortem(ctx, "nosuchincide", "x"),
		"publish": pm.PublishPostmortem(ctx, "nosuchincide", false),
	} {
		if err == nil || !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "nosuchincide") {
			t.Errorf("%s: %v, want a permanent 404 naming the incident", name, err)
		}
	}
	if f, ok, err := pm.Postmortem(ctx, "nosuchincide"); ok || err != nil {
		t.Errorf("Postmortem of an unknown incident = %+v, %v, %v; want none", f, ok, err)
	}
	for name, err := range map[string]error{
		"draft":   pm.DraftPostmortem(ctx, "", "x"),
		"publish": pm.PublishPostmortem(ctx, "", false),
	} {
		if err == nil {
			t.Errorf("%s with no incident id succeeded", name)
		}
	}
	if _, _, err := pm.Postmortem(ctx, ""); err == nil {
		t.Error("Postmortem with no incident id succeeded")
	}
}

func TestPostmortemCallsClassifyFailuresAndNeverShowTheKey(t *testing.T) {
	s, p := fake(t)
	pm := postmortems(t, p)
	ref := resolved(t, p)

	s.FailNext(1, http.StatusTooManyRequests, 4*time.Second)
	err := pm.DraftPostmortem(ctx, ref, draft)
	if after, ok := delivery.Assess(err).After, !delivery.Assess(err).Terminal; !ok || after != 4*time.Second || !strings.Contains(err.Error(), "rate limited") {
		t.Errorf("429: %v, want retryable after 4s", err)
	}
	s.FailNext(1, http.StatusBadGateway, 0)
	if _, _, err := pm.Postmortem(ctx, ref); !isRetryable(err) {
		t.Errorf("502: %v, want retryable", err)
	}
	s.DropNext(1)
	if err := pm.PublishPostmortem(ctx, ref, true); !isRetryable(err) {
		t.Errorf("dropped connection: %v, want retryable", err)
	}
	s.Delay(5 * time.Second)
	impatient := postmortems(t, atlassian.New(statuspage.PageID, statuspage.APIKey, s.URL, delivery.NewHTTPClient(50*time.Millisecond), nil))
	if err := impatient.DraftPostmortem(ctx, ref, draft); !isRetryable(err) {
		t.Errorf("timeout: %v, want retryable", err)
	}
	s.Delay(0)
	if held := s.Incidents()[0].Postmortem; held != nil {
		t.Errorf("failed calls left a post-mortem: %+v", held)
	}

	const wrong = "0123456789abcdef-wrong-key-do-not-log"
	bad := postmortems(t, atlassian.New(statuspage.PageID, wrong, s.URL, nil, nil))
	_, _, gerr := bad.Postmortem(ctx, ref)
	for _, err := range []error{bad.DraftPostmortem(ctx, ref, draft), bad.PublishPostmortem(ctx, ref, true), gerr} {
		if err == nil || isRetryable(err) || !strings.Contains(err.Error(), "API key was refused") {
			t.Errorf("wrong key: %v, want a permanent refusal of the key", err)
		}
		if err != nil && strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q contains the key", err)
		}
	}
}

func isRetryable(err error) bool {
	ok := !delivery.Assess(err).Terminal
	return ok
}
