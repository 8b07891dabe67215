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
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
	"firescope.dev/firescope/internal/ratelimit"
)

const (
	key      = "default/db-outage/6f1c1d0e-8a4b-4c57-9d0e-1b2c3d4e5f60"
	database = "db0000000001"
	api      = "api000000001"
)

var ctx = context.Background()

func fake(t *testing.T) (*statuspage.Server, publish.Provider) {
	t.Helper()
	s := statuspage.New()
	t.Cleanup(s.Close)
	s.AddComponent(database, "Database")
	s.AddComponent(api, "API")
	return s, atlassian.New(statuspage.PageID, statuspage.APIKey, s.URL, nil, nil)
}

// valid fails the test unless every request the fake received matched the OpenAPI document.
func valid(t *testing.T, s *statuspage.Server) {
	t.Helper()
	if inv := s.Invalid(); len(inv) > 0 {
		t.Errorf("requests that do not match Statuspage's OpenAPI document: %+v", inv)
	}
}

func update(id, status, body string, ref string, comps ...publish.Component) publish.Update {
	return publish.Update{
		IncidentKey: key, UpdateID: id, Title: "Database connection errors", Status: status, Body: body,
		Components: comps, Notify: true, ProviderRef: ref,
	}
}

func TestCreateUpdateAndResolveMakeOneProviderIncidentWithThreeUpdatesInOrderAndOneRequestEach(t *testing.T) {
	s, p := fake(t)
	first := update("su-1", "investigating", "We are seeing errors connecting to the database.", "", publish.Component{ProviderID: database, Status: "partial_outage"})
	first.Impact = "major"
	r1, err := p.Publish(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.Publish(ctx, update("su-2", "identified", "A failed disk on the primary; we are failing over.", r1.ProviderRef,
		publish.Component{ProviderID: database, Status: "major_outage"}, publish.Component{ProviderID: api, Status: "degraded_performance"}))
	if err != nil {
		t.Fatal(err)
	}
	r3, err := p.Publish(ctx, update("su-3", "resolved", "Connections are back to normal.", r1.ProviderRef,
		publish.Component{ProviderID: database, Status: "operational"}, publish.Component{ProviderID: api, Status: "operational"}))
	if err != nil {
		t.Fatal(err)
	}
	if r2.ProviderRef != r1.ProviderRef || r3.ProviderRef != r1.ProviderRef {
		t.Errorf("provider refs %q, %q, %q; want one incident", r1.ProviderRef, r2.ProviderRef, r3.ProviderRef)
	}

	incs := s.Incidents()
	if len(incs) != 1 {
		t.Fatalf("%d provider incidents, want 1", len(incs))
	}
	inc := incs[0]
	if inc.ID != r1.ProviderRef || inc.Name != "Database connection errors" || inc.Status != "resolved" || inc.ImpactOverride != "major" {
		t.Errorf("incident = %+v", inc)
	}
	if fs, _ := inc.Metadata["firescope"].(map[string]any); fs["incident"] != key || fs["update"] != "su-3" {
		t.Errorf("metadata = %v, want the incident key and the last update id", inc.Metadata)
	}
	var got []string
	for _, u := range inc.Updates {
		got = append(got, u.Status+": "+u.Body)
	}
	want := []string{
		"investigating: We are seeing errors connecting to the database.",
		"identified: A failed disk on the primary; we are failing over.",
		"resolved: Connections are back to normal.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("updates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if refs := []string{r1.UpdateRef, r2.UpdateRef, r3.UpdateRef}; refs[0] != inc.Updates[0].ID || refs[1] != inc.Updates[1].ID || refs[2] != inc.Updates[2].ID {
		t.Errorf("update refs %v, want the ids of the updates each call created", refs)
	}
	if u := inc.Updates[1]; u.Components[database] != "major_outage" || u.Components[api] != "degraded_performance" || !u.DeliverNotifications {
		t.Errorf("second update = %+v", u)
	}
	if c := s.Components(); c[0].Status != "operational" || c[1].Status != "operational" {
		t.Errorf("components after resolving = %+v", c)
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests for 3 updates, want one each", len(reqs))
	}
	for i, r := range reqs {
		wantMethod := http.MethodPatch
		if i == 0 {
			wantMethod = http.MethodPost
		}
		if r.Method != wantMethod || r.Header.Get("Authorization") != "OAuth "+statuspage.APIKey || r.Status >= 300 {
			t.Errorf("request %d: %s %s answered %d, Authorization %q", i, r.Method, r.Path, r.Status, r.Header.Get("Authorization"))
		}
	}
	inc0 := reqs[0].JSON["incident"].(map[string]any)
	if inc0["deliver_notifications"] != true || inc0["impact_override"] != "major" || fmt.Sprint(inc0["component_ids"]) != "["+database+"]" {
		t.Errorf("create body = %s", reqs[0].Body)
	}
	if _, named := reqs[1].JSON["incident"].(map[string]any)["name"]; named {
		t.Errorf("an update should not rename the incident: %s", reqs[1].Body)
	}
	valid(t, s)
}

func TestFindAfterACreateFindsTheIncidentByItsMetadata(t *testing.T) {
	s, p := fake(t)
	other := update("other-1", "investigating", "Another incident.", "")
	other.IncidentKey = "default/other/uid-2"
	if _, err := p.Publish(ctx, other); err != nil {
		t.Fatal(err)
	}
	r1, err := p.Publish(ctx, update("su-1", "investigating", "We are seeing errors.", ""))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.Publish(ctx, update("su-2", "monitoring", "A fix is in place and we are watching.", r1.ProviderRef))
	if err != nil {
		t.Fatal(err)
	}

	f, ok, err := p.Find(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Find = %+v, %v, %v", f, ok, err)
	}
	if f.ProviderRef != r1.ProviderRef || f.LastUpdateID != "su-2" || len(f.Updates) != 2 {
		t.Fatalf("found %+v", f)
	}
	if u := f.Updates[0]; u.Ref != r1.UpdateRef || u.Status != "investigating" || u.Body != "We are seeing errors." || u.At.IsZero() {
		t.Errorf("first found update = %+v", u)
	}
	if u := f.Updates[1]; u.Ref != r2.UpdateRef || u.Status != "monitoring" {
		t.Errorf("second found update = %+v", u)
	}

	if f, ok, err := p.Find(ctx, "default/never-published/uid-3"); err != nil || ok {
		t.Errorf("Find of an incident never published = %+v, %v, %v; want not found", f, ok, err)
	}
	valid(t, s)
}

func TestFindPagesThroughTheListingToOlderIncidents(t *testing.T) {
	s, p := fake(t)
	r, err := p.Publish(ctx, update("su-1", "investigating", "The oldest incident.", ""))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		u := update(fmt.Sprint("x-", i), "resolved", "Something else.", "")
		u.IncidentKey = fmt.Sprint("default/other/", i)
		if _, err := p.Publish(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	before := len(s.Requests())
	f, ok, err := p.Find(ctx, key)
	if err != nil || !ok || f.ProviderRef != r.ProviderRef {
		t.Fatalf("Find = %+v, %v, %v; want %s", f, ok, err, r.ProviderRef)
	}
	if n := len(s.Requests()) - before; n != 2 {
		t.Errorf("Find made %d requests for 151 incidents, want 2 pages of 100", n)
	}
	valid(t, s)
}

func TestFindRefusesToChooseBetweenTwoIncidentsWithTheSameIdentity(t *testing.T) {
	s, p := fake(t)
	for range 2 {
		if _, err := p.Publish(ctx, update("su-1", "investigating", "Errors.", "")); err != nil {
			t.Fatal(err)
		}
	}
	_, ok, err := p.Find(ctx, key)
	if ok || !errors.Is(err, publish.ErrAmbiguous) {
		t.Errorf("Find = %v, %v; want ErrAmbiguous", ok, err)
	}
	for _, inc := range s.Incidents() {
		if !strings.Contains(err.Error(), inc.ID) {
			t.Errorf("error %q should name incident %s", err, inc.ID)
		}
	}
}

func TestRateLimitingIsRetryableAfterTheServersDelay(t *testing.T) {
	s, p := fake(t)
	s.RateLimitWindow(1, time.Minute)
	if _, err := p.Publish(ctx, update("su-1", "investigating", "Errors.", "")); err != nil {
		t.Fatal(err)
	}
	_, err := p.Publish(ctx, update("su-2", "identified", "Found it.", s.Incidents()[0].ID))
	after, ok := delivery.Assess(err).After, !delivery.Assess(err).Terminal
	if !ok || after < time.Second || after > time.Minute || !strings.Contains(err.Error(), "rate limited") {
		t.Errorf("over the limit: %v (retryable %v, after %s); want retryable after the server's Retry-After", err, ok, after)
	}
	if n := len(s.Incidents()[0].Updates); n != 1 {
		t.Errorf("a refused update landed: %d updates", n)
	}

	s.RateLimitWindow(0, 0)
	s.FailNext(1, http.StatusTooManyRequests, 7*time.Second)
	s.FailNext(1, 420, 3*time.Second)
	for _, want := range []time.Duration{7 * time.Second, 3 * time.Second} {
		_, _, err := p.Find(ctx, key)
		if after, ok := delivery.Assess(err).After, !delivery.Assess(err).Terminal; !ok || after != want {
			t.Errorf("Find: %v (retryable %v, after %s); want retryable after %s", err, ok, after, want)
		}
	}
}

func TestABadKeyIsPermanentAndTheErrorNeverContainsTheKey(t *testing.T) {
	s, _ := fake(t)
	const wrong = "0123456789abcdef-wrong-key-do-not-log"
	p := atlassian.New(statuspage.PageID, wrong, s.URL, nil, nil)
	_, err := p.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	_, _, ferr := p.Find(ctx, key)
	eerr := p.Edit(ctx, "incident0001", "update000001", "x")
	for _, err := range []error{err, ferr, eerr} {
		if err == nil {
			t.Fatal("a wrong key was accepted")
		}
		if !delivery.Assess(err).Terminal {
			t.Errorf("%v is retryable; a wrong key never gets better", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), statuspage.APIKey) {
			t.Errorf("error %q contains a key", err)
		}
		if !strings.Contains(err.Error(), "API key was refused") || !strings.Contains(err.Error(), "401") {
			t.Errorf("error %q should say the key was refused", err)
		}
	}
	if len(s.Incidents()) != 0 {
		t.Error("a request with a wrong key created an incident")
	}
}

func TestAnUnknownComponentIsPermanentAndNamed(t *testing.T) {
	s, p := fake(t)
	_, err := p.Publish(ctx, update("su-1", "investigating", "Errors.", "", publish.Component{ProviderID: "gone00000001", Status: "major_outage"}))
	if err == nil {
		t.Fatal("an unknown component was accepted")
	}
	var se *delivery.StatusError
	if !delivery.Assess(err).Terminal || !errors.As(err, &se) || se.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("%v: want a permanent 422", err)
	}
	if !strings.Contains(err.Error(), "gone00000001") || !strings.Contains(err.Error(), "component") {
		t.Errorf("error %q should name the component", err)
	}
	if len(s.Incidents()) != 0 {
		t.Error("the refused incident was created")
	}
	valid(t, s)
}

func TestFailuresToGetAnAnswerAreRetryable(t *testing.T) {
	s, p := fake(t)
	s.DropNext(1)
	_, err := p.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	if f := delivery.Assess(err); err == nil || f.Terminal || f.NotApplied {
		t.Errorf("dropped connection: %v is %+v, want retryable with an unknown outcome", err, f)
	}
	// The dropped create did not land, and Find says so, so publishing again is safe.
	if _, ok, err := p.Find(ctx, key); ok || err != nil {
		t.Errorf("Find after the dropped create = %v, %v; want not found", ok, err)
	}

	s.FailNext(1, http.StatusServiceUnavailable, 0)
	_, err = p.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	if f := delivery.Assess(err); err == nil || f.Terminal || f.After != 0 || !f.NotApplied || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: %v is %+v, want retryable with the caller's backoff, known not applied", err, f)
	}
	s.FailNext(1, http.StatusBadGateway, 0)
	_, err = p.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	if f := delivery.Assess(err); err == nil || f.Terminal || f.NotApplied {
		t.Errorf("502: %v is %+v, want retryable with an unknown outcome", err, f)
	}
	s.FailNext(1, 420, time.Second)
	_, err = p.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	if f := delivery.Assess(err); err == nil || f.Terminal || f.After != time.Second || !f.NotApplied {
		t.Errorf("420: %v is %+v, want a wait of a second, known not applied", err, f)
	}

	s.Delay(5 * time.Second)
	impatient := atlassian.New(statuspage.PageID, statuspage.APIKey, s.URL, delivery.NewHTTPClient(50*time.Millisecond), nil)
	_, err = impatient.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	if f := delivery.Assess(err); err == nil || f.Terminal || f.NotApplied {
		t.Errorf("timeout: %v is %+v, want retryable with an unknown outcome", err, f)
	}
	s.Delay(0)
	if len(s.Incidents()) != 0 {
		t.Errorf("failed calls created %d incidents", len(s.Incidents()))
	}
}

func TestEditReplacesAPublishedUpdatesBodyWithoutANewUpdate(t *testing.T) {
	s, p := fake(t)
	r1, err := p.Publish(ctx, update("su-1", "investigating", "We are seeing errrors.", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, update("su-2", "identified", "Found the cause.", r1.ProviderRef)); err != nil {
		t.Fatal(err)
	}
	before := len(s.Requests())
	if err := p.Edit(ctx, r1.ProviderRef, r1.UpdateRef, "We are seeing errors."); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()) - before; n != 1 {
		t.Errorf("Edit made %d requests, want 1", n)
	}
	inc := s.Incidents()[0]
	if len(inc.Updates) != 2 || inc.Updates[0].Body != "We are seeing errors." || inc.Updates[0].Edits != 1 || inc.Updates[1].Body != "Found the cause." {
		t.Errorf("updates after the edit = %+v", inc.Updates)
	}
	if body := s.Requests()[before].JSON["incident_update"]; fmt.Sprint(body) != "map[body:We are seeing errors.]" {
		t.Errorf("edit sent %v; want only the body, so subscribers are not notified again", body)
	}
	if f, _, _ := p.Find(ctx, key); f.Updates[0].Body != "We are seeing errors." {
		t.Errorf("Find shows %+v after the edit", f.Updates)
	}

	err = p.Edit(ctx, r1.ProviderRef, "nosuchupdate", "x")
	if err == nil || !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "404") {
		t.Errorf("editing an unknown update: %v, want a permanent 404", err)
	}
	valid(t, s)
}

func TestPublishRefusesWhatStatuspageWouldRefuseWithoutARequest(t *testing.T) {
	s, p := fake(t)
	bad := []publish.Update{
		update("su-1", "fixed", "Body.", ""),
		update("su-1", "investigating", strings.Repeat("x", 25001), ""),
		update("su-1", "investigating", "Body.", "", publish.Component{ProviderID: database, Status: "down"}),
		{IncidentKey: key, UpdateID: "su-1", Status: "investigating", Body: "No title."},
		{UpdateID: "su-1", Title: "t", Status: "investigating", Body: "No incident key."},
		{IncidentKey: key, Title: "t", Status: "investigating", Body: "Bad impact.", Impact: "severe"},
	}
	for _, u := range bad {
		_, err := p.Publish(ctx, u)
		if err == nil || !delivery.Assess(err).Terminal {
			t.Errorf("Publish(%+v) = %v, want a permanent error", u, err)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent for updates that cannot succeed", n)
	}
}

func TestALookupAndWritesWithOneKeyNeverCollideWithTheRateLimit(t *testing.T) {
	s := statuspage.New()
	t.Cleanup(s.Close)
	s.MinGap(time.Second)
	limits := ratelimit.NewRegistry(ratelimit.Options{})
	// The StatusUpdate and Postmortem controllers each build their own provider for the page;
	// they share the key's limit through the registry.
	provider := func() publish.Provider {
		return atlassian.New(statuspage.PageID, statuspage.APIKey, s.URL, nil, limits.Gate("team-a", ratelimit.Statuspage, statuspage.APIKey))
	}
	updates, postmortems := provider(), provider()
	r1, err := updates.Publish(ctx, update("su-1", "investigating", "Errors.", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := postmortems.Find(ctx, key); !ok || err != nil {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	if _, err := updates.Publish(ctx, update("su-2", "identified", "Found it.", r1.ProviderRef)); err != nil {
		t.Fatal(err)
	}
	if err := postmortems.(publish.PostmortemPublisher).DraftPostmortem(ctx, r1.ProviderRef, "What happened."); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Requests() {
		if r.Status != http.StatusOK && r.Status != http.StatusCreated {
			t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
		}
	}
}

func TestAPageOfFindThatHangsFailsWithinThePageTimeout(t *testing.T) {
	s, p := fake(t)
	// Longer than a page may take, shorter than the HTTP client's own timeout.
	s.Delay(atlassian.FindPageTimeout + time.Second)
	_, _, err := p.Find(ctx, key)
	if delivery.Assess(err).Terminal || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Find = %v, want a retryable error from the page's deadline", err)
	}
}
