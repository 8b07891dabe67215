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

package paging_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"firescope.dev/firescope/internal/delivery"
	pdfake "firescope.dev/firescope/internal/mock/pagerduty"
	"firescope.dev/firescope/internal/paging"
)

const routingKey = "R0ut1ngK3yF1r3sc0p3000000000001a" // 32 characters, as PagerDuty requires

func page() paging.Page {
	return paging.Page{
		DedupKey:  "firescope/platform/inc-42/0b5c",
		Summary:   "[Major] Database unreachable (platform/inc-42), IC ricardo",
		Source:    "firescope/platform/inc-42",
		Severity:  paging.SeverityCritical,
		Timestamp: time.Date(2026, 5, 1, 12, 0, 0, 123e6, time.UTC),
		Links:     []paging.Link{{Href: "https://tickets.example.com/42", Text: "ticket"}, {Text: "no href is dropped"}},
		Details:   map[string]string{"commander": "ricardo", "state": "Major"},
	}
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), routingKey) {
		t.Errorf("error %q contains the routing key", err)
	}
}

func TestTriggerSendsASchemaValidEventAndOpensOneAlert(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	pd := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil)
	if err := pd.Trigger(context.Background(), page()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Status != 202 {
		t.Fatalf("requests = %+v", reqs)
	}
	if errs := pdfake.Validate(reqs[0].JSON); len(errs) != 0 {
		t.Fatalf("the event is not valid against PagerDuty's schema: %q", errs)
	}
	body := reqs[0].JSON
	payload := body["payload"].(map[string]any)
	if body["routing_key"] != routingKey || body["event_action"] != "trigger" || body["dedup_key"] != page().DedupKey ||
		payload["severity"] != "critical" || payload["source"] != page().Source || payload["timestamp"] != "2026-05-01T12:00:00.123Z" ||
		payload["custom_details"].(map[string]any)["commander"] != "ricardo" {
		t.Errorf("event = %v", body)
	}
	if links := body["links"].([]any); len(links) != 1 || links[0].(map[string]any)["href"] != "https://tickets.example.com/42" {
		t.Errorf("links = %v, want the one with an href", links)
	}
	alerts := srv.OpenAlerts()
	if len(alerts) != 1 || alerts[0].Summary != page().Summary || alerts[0].Severity != "critical" {
		t.Fatalf("open alerts = %+v", alerts)
	}
}

func TestTriggeringTheSameDedupKeyAgainDoesNotOpenASecondAlert(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	pd := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil)
	for range 3 {
		if err := pd.Trigger(context.Background(), page()); err != nil {
			t.Fatal(err)
		}
	}
	alerts := srv.OpenAlerts()
	if len(alerts) != 1 || alerts[0].Triggers != 3 {
		t.Fatalf("open alerts = %+v, want one alert triggered 3 times", alerts)
	}
}

func TestResolveClosesTheAlert(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	pd := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil)
	if err := pd.Trigger(context.Background(), page()); err != nil {
		t.Fatal(err)
	}
	if err := pd.Resolve(context.Background(), page().DedupKey); err != nil {
		t.Fatal(err)
	}
	if open := srv.OpenAlerts(); len(open) != 0 {
		t.Errorf("open alerts = %+v, want none", open)
	}
	if res := srv.ResolvedAlerts(); len(res) != 1 || res[0].DedupKey != page().DedupKey {
		t.Errorf("resolved = %+v", res)
	}
	last := srv.Requests()[1].JSON
	if errs := pdfake.Validate(last); len(errs) != 0 {
		t.Errorf("the resolve is not valid: %q", errs)
	}
	if _, ok := last["payload"]; ok {
		t.Errorf("a resolve needs no payload: %v", last)
	}
	// Resolving again (a retry after an unknown outcome) is harmless.
	if err := pd.Resolve(context.Background(), page().DedupKey); err != nil {
		t.Errorf("second resolve: %v", err)
	}
}

func TestLongSummariesAreTruncatedToPagerDutysLimit(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	p := page()
	p.Summary = strings.Repeat("é", 3000)
	if err := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil).Trigger(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	sent := srv.Requests()[0].JSON["payload"].(map[string]any)["summary"].(string)
	if n := utf8.RuneCountInString(sent); n != paging.MaxSummary || !strings.HasSuffix(sent, "…") {
		t.Errorf("summary sent has %d characters (ends %q), want %d ending with …", n, sent[len(sent)-6:], paging.MaxSummary)
	}
}

func TestLongDedupKeysStayStableSoResolveMeetsTrigger(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	pd := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil)
	p := page()
	p.DedupKey = "firescope/" + strings.Repeat("n", 63) + "/" + strings.Repeat("i", 253) + "/uid"
	if err := pd.Trigger(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	other := p
	other.DedupKey = p.DedupKey[:len(p.DedupKey)-1] + "X"
	if err := pd.Trigger(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.OpenAlerts()); n != 2 {
		t.Fatalf("%d open alerts, want 2: two long keys differing only at the end must not collide", n)
	}
	if err := pd.Resolve(context.Background(), p.DedupKey); err != nil {
		t.Fatal(err)
	}
	open := srv.OpenAlerts()
	if len(open) != 1 || open[0].DedupKey != paging.DedupKey(other.DedupKey) || utf8.RuneCountInString(open[0].DedupKey) > paging.MaxDedupKey {
		t.Errorf("open alerts = %+v, want only the other one", open)
	}
}

func TestPagerDutyAnswersAreClassified(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter time.Duration
		wantRetry  bool
		wantAfter  time.Duration
		wantText   string
	}{
		{"throttled", 429, 0, true, 0, "429 Too Many Requests"},
		{"throttled with Retry-After", 429, 4 * time.Second, true, 4 * time.Second, "429"},
		{"internal error", 500, 0, true, 0, "500 Internal Server Error: Internal server error"},
		{"bad gateway", 502, 0, true, 0, "502"},
		{"unavailable", 503, 2 * time.Second, true, 2 * time.Second, "503"},
		{"bad request", 400, 0, false, 0, "400 Bad Request: Event object is invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := pdfake.New()
			defer srv.Close()
			srv.FailNext(1, tc.status, tc.retryAfter)
			err := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil).Trigger(context.Background(), page())
			after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
			if err == nil || retry != tc.wantRetry || after != tc.wantAfter {
				t.Fatalf("Trigger = %v: Assess: after %s, retry %v; want %s, %v", err, after, retry, tc.wantAfter, tc.wantRetry)
			}
			if !strings.HasPrefix(err.Error(), "pagerduty trigger: ") || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q should start with pagerduty trigger: and contain %q", err, tc.wantText)
			}
			assertNoSecret(t, err)
			if n := len(srv.OpenAlerts()); n != 0 {
				t.Errorf("a failed trigger opened %d alerts", n)
			}
		})
	}
}

func TestAnInvalidRoutingKeyIsPermanentWithPagerDutysMessageAndHidden(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	const short = "short-but-secret-key"
	err := paging.NewPagerDuty(short, srv.EventsURL(), nil, nil).Trigger(context.Background(), page())
	if err == nil || !delivery.Assess(err).Terminal {
		t.Fatalf("Trigger = %v, want a permanent error", err)
	}
	want := "pagerduty trigger: HTTP 400 Bad Request: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if strings.Contains(err.Error(), short) {
		t.Errorf("error %q contains the routing key", err)
	}

	srv.AllowRoutingKeys("another0000000000000000000000000")
	err = paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil).Resolve(context.Background(), "k")
	if err == nil || !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "Invalid routing key") {
		t.Errorf("Resolve with an unknown key = %v, want a permanent Invalid routing key", err)
	}
	assertNoSecret(t, err)
}

func TestTimeoutsAndDroppedConnectionsAreRetryable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*pdfake.Server)
	}{
		{"slow answer", func(s *pdfake.Server) { s.Delay(2 * time.Second) }},
		{"dropped connections", func(s *pdfake.Server) { s.DropNext(2) }},
		{"server gone", func(s *pdfake.Server) { s.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := pdfake.New()
			defer srv.Close()
			tc.setup(srv)
			pd := paging.NewPagerDuty(routingKey, srv.EventsURL(), delivery.NewHTTPClient(100*time.Millisecond), nil)
			for _, err := range []error{pd.Trigger(context.Background(), page()), pd.Resolve(context.Background(), page().DedupKey)} {
				if err == nil || delivery.Assess(err).Terminal {
					t.Errorf("error %v should be retryable", err)
				}
				assertNoSecret(t, err)
			}
		})
	}
}

func TestPagesPagerDutyWouldRefuseAreRefusedWithoutSending(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	pd := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil)
	noSummary, noKey, badSeverity := page(), page(), page()
	noSummary.Summary, noKey.DedupKey, badSeverity.Severity = " ", "", "sev1"
	for name, p := range map[string]paging.Page{"no summary": noSummary, "no dedup key": noKey, "bad severity": badSeverity} {
		err := pd.Trigger(context.Background(), p)
		if err == nil || !delivery.Assess(err).Terminal {
			t.Errorf("%s: Trigger = %v, want a permanent error", name, err)
		}
	}
	if err := pd.Resolve(context.Background(), ""); err == nil {
		t.Error("Resolve without a key should fail")
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestDefaultsFillSeverityAndSource(t *testing.T) {
	srv := pdfake.New()
	defer srv.Close()
	p := page()
	p.Severity, p.Source, p.Timestamp, p.Details, p.Links = "", "", time.Time{}, nil, nil
	if err := paging.NewPagerDuty(routingKey, srv.EventsURL(), nil, nil).Trigger(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	body := srv.Requests()[0].JSON
	payload := body["payload"].(map[string]any)
	if payload["severity"] != "error" || payload["source"] != "firescope" {
		t.Errorf("payload = %v", payload)
	}
	for _, absent := range []string{"timestamp", "custom_details"} {
		if _, ok := payload[absent]; ok {
			t.Errorf("payload has %s: %v", absent, payload)
		}
	}
	if _, ok := body["links"]; ok {
		t.Errorf("event has links: %v", body)
	}
}

func TestNewPagerDutyDefaultsToTheRealEndpoint(t *testing.T) {
	if paging.PagerDutyEventsURL != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("PagerDutyEventsURL = %q", paging.PagerDutyEventsURL)
	}
}

func TestDedupKeyKeepsShortKeysAndHashesLongOnes(t *testing.T) {
	if k := paging.DedupKey("abc"); k != "abc" {
		t.Errorf("DedupKey(abc) = %q", k)
	}
	long := strings.Repeat("x", 300)
	k := paging.DedupKey(long)
	if utf8.RuneCountInString(k) != paging.MaxDedupKey || k != paging.DedupKey(long) || !strings.HasPrefix(k, "xxxx") {
		t.Errorf("DedupKey(300 x) = %q", k)
	}
}
