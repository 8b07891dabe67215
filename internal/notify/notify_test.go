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

package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	slackfake "firescope.dev/firescope/internal/mock/slack"
	webhookfake "firescope.dev/firescope/internal/mock/webhook"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/ratelimit"
)

var handoff = notify.Announcement{
	ID: "inc-42/handoff/3", Namespace: "platform", Incident: "inc-42", Kind: "Handoff",
	Text: "@all: IC -> ricardo", At: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
}

// assertNoSecret fails when err's text holds any of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

func TestSlackShowsTheAnnouncementAsWritten(t *testing.T) {
	srv := slackfake.New()
	defer srv.Close()
	ch := notify.NewSlack(srv.WebhookURL(), delivery.NewHTTPClient(time.Second), nil)
	if err := ch.Announce(context.Background(), handoff); err != nil {
		t.Fatal(err)
	}
	if got := srv.Texts(); len(got) != 1 || got[0] != "@all: IC -> ricardo" {
		t.Fatalf("channel shows %q, want the hand-off", got)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != slackfake.WebhookPath ||
		reqs[0].Header.Get("Content-Type") != "application/json" {
		t.Fatalf("requests = %+v", reqs)
	}
	if raw := reqs[0].JSON["text"]; raw != "@all: IC -&gt; ricardo" {
		t.Errorf("text sent = %q, want Slack's escaping of >", raw)
	}
}

func TestSlackEscapesControlSequencesFromIncidentText(t *testing.T) {
	srv := slackfake.New()
	defer srv.Close()
	a := handoff
	a.Text = "[DRILL] Sitrep 1: <!channel> DB & <https://evil.example|click>"
	if err := notify.NewSlack(srv.WebhookURL(), nil, nil).Announce(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	if strings.ContainsAny(m.Raw, "<>") || m.Text != a.Text {
		t.Errorf("sent %q shown as %q; want no raw < > sent and the text shown as written", m.Raw, m.Text)
	}
}

func TestSlackClassifiesEachDocumentedAnswer(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter time.Duration
		wantRetry  bool
		wantAfter  time.Duration
		wantText   string
	}{
		{"rate limited with Retry-After", 429, 3 * time.Second, true, 3 * time.Second, "429 Too Many Requests: rate_limited"},
		{"rate limited without Retry-After", 429, 0, true, 0, "rate_limited"},
		{"rollup error", 500, 0, true, 0, "500 Internal Server Error: rollup_error"},
		{"unavailable with Retry-After", 503, 10 * time.Second, true, 10 * time.Second, "503"},
		{"invalid payload", 400, 0, false, 0, "400 Bad Request: invalid_payload"},
		{"invalid token", 403, 0, false, 0, "403 Forbidden: action_prohibited"},
		{"channel not found", 404, 0, false, 0, "404 Not Found: channel_not_found"},
		{"channel archived", 410, 0, false, 0, "410 Gone: channel_is_archived"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := slackfake.New()
			defer srv.Close()
			srv.FailNext(1, tc.status, tc.retryAfter)
			err := notify.NewSlack(srv.WebhookURL(), nil, nil).Announce(context.Background(), handoff)
			if err == nil {
				t.Fatal("Announce = nil, want an error")
			}
			after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
			if retry != tc.wantRetry || after != tc.wantAfter {
				t.Errorf("Assess: after %s, retry %v; want %s, %v (error %v)", after, retry, tc.wantAfter, tc.wantRetry, err)
			}
			if !strings.HasPrefix(err.Error(), "slack: ") || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q should start with slack: and contain %q", err, tc.wantText)
			}
			assertNoSecret(t, err, srv.WebhookURL(), slackfake.WebhookPath, "xoxtesttoken4f1r3sc0p3s3cr3t")
			if len(srv.Messages()) != 0 {
				t.Error("a failed post reached the channel")
			}
		})
	}
}

func TestSlackRetryAfterAFailureDelivers(t *testing.T) {
	srv := slackfake.New()
	defer srv.Close()
	srv.FailNext(1, 429, time.Second)
	ch := notify.NewSlack(srv.WebhookURL(), nil, nil)
	if err := ch.Announce(context.Background(), handoff); err == nil || delivery.Assess(err).Terminal {
		t.Fatal("the first try should be retryable")
	}
	if err := ch.Announce(context.Background(), handoff); err != nil {
		t.Fatal(err)
	}
	if got := srv.Texts(); len(got) != 1 {
		t.Errorf("channel shows %q, want one message", got)
	}
}

func TestSlackTimeoutsAndDroppedConnectionsAreRetryable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*slackfake.Server)
	}{
		{"slow answer", func(s *slackfake.Server) { s.Delay(2 * time.Second) }},
		{"dropped connection", func(s *slackfake.Server) { s.DropNext(1) }},
		{"server gone", func(s *slackfake.Server) { s.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slackfake.New()
			defer srv.Close()
			tc.setup(srv)
			err := notify.NewSlack(srv.WebhookURL(), delivery.NewHTTPClient(100*time.Millisecond), nil).Announce(context.Background(), handoff)
			if err == nil || delivery.Assess(err).Terminal {
				t.Fatalf("Announce = %v, want retryable", err)
			}
			assertNoSecret(t, err, srv.WebhookURL(), slackfake.WebhookPath, "xoxtesttoken4f1r3sc0p3s3cr3t")
		})
	}
}

func TestSlackRefusesAnEmptyAnnouncementWithoutSending(t *testing.T) {
	srv := slackfake.New()
	defer srv.Close()
	err := notify.NewSlack(srv.WebhookURL(), nil, nil).Announce(context.Background(), notify.Announcement{ID: "x", Text: "  "})
	if err == nil {
		t.Fatal("want an error")
	}
	if !delivery.Assess(err).Terminal {
		t.Errorf("error %v should be permanent", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestWebhookSendsASignedAnnouncementTheReceiverVerifies(t *testing.T) {
	srv := webhookfake.New()
	defer srv.Close()
	a := handoff
	a.Drill, a.Text = true, "[DRILL] @all: IC -> ricardo"
	if err := notify.NewWebhook(srv.URL+"/hooks/firescope", srv.Secret(), nil, nil).Announce(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	got := srv.Announcements()
	if len(got) != 1 || got[0] != a {
		t.Fatalf("receiver got %+v, want %+v", got, a)
	}
	req := srv.Requests()[0]
	if !notify.VerifySignature(srv.Secret(), req.Body, req.Header.Get(notify.SignatureHeader)) {
		t.Error("signature does not verify")
	}
	if req.Header.Get(notify.DeliveryHeader) != a.ID || req.Header.Get(notify.EventHeader) != "Handoff" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", req.Header)
	}
	for _, field := range []string{"id", "namespace", "incident", "kind", "text", "drill", "at"} {
		if _, ok := req.JSON[field]; !ok {
			t.Errorf("body %s lacks %q", req.Body, field)
		}
	}
}

func TestWebhookWithTheWrongSecretIsRejectedPermanently(t *testing.T) {
	srv := webhookfake.NewWithSecret([]byte("receiver-secret"))
	defer srv.Close()
	url := srv.URL + "/hook?token=query-secret-123"
	err := notify.NewWebhook(url, []byte("sender-secret"), nil, nil).Announce(context.Background(), handoff)
	if err == nil {
		t.Fatal("want 401")
	}
	if !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "401 Unauthorized: signature does not match") {
		t.Errorf("error %q should be a permanent 401 naming the signature", err)
	}
	assertNoSecret(t, err, url, "query-secret-123", "sender-secret", "receiver-secret")
	if len(srv.Announcements()) != 0 {
		t.Error("the receiver accepted an unsigned announcement")
	}
}

func TestWebhookFailuresAreClassifiedAndHideTheURL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*webhookfake.Server)
		wantRetry bool
		wantAfter time.Duration
	}{
		{"429 with Retry-After", func(s *webhookfake.Server) { s.FailNext(1, 429, 5*time.Second) }, true, 5 * time.Second},
		{"502", func(s *webhookfake.Server) { s.FailNext(1, 502, 0) }, true, 0},
		{"dropped connection", func(s *webhookfake.Server) { s.DropNext(1) }, true, 0},
		{"slow answer", func(s *webhookfake.Server) { s.Delay(2 * time.Second) }, true, 0},
		{"404", func(s *webhookfake.Server) { s.FailNext(1, 404, 0) }, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := webhookfake.New()
			defer srv.Close()
			tc.setup(srv)
			url := srv.URL + "/hook?token=query-secret-123"
			err := notify.NewWebhook(url, srv.Secret(), delivery.NewHTTPClient(100*time.Millisecond), nil).Announce(context.Background(), handoff)
			after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
			if err == nil || retry != tc.wantRetry || after != tc.wantAfter {
				t.Errorf("Announce = %v: Assess: after %s, retry %v; want %s, %v", err, after, retry, tc.wantAfter, tc.wantRetry)
			}
			assertNoSecret(t, err, url, "query-secret-123", string(srv.Secret()))
		})
	}
}

func TestTheSameFactCarriesTheSameDeliveryIDOnEveryTry(t *testing.T) {
	srv := webhookfake.New()
	defer srv.Close()
	srv.FailNext(1, 503, 0)
	ch := notify.NewWebhook(srv.URL, srv.Secret(), nil, nil)
	_ = ch.Announce(context.Background(), handoff)
	if err := ch.Announce(context.Background(), handoff); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get(notify.DeliveryHeader) != reqs[1].Header.Get(notify.DeliveryHeader) || !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Errorf("the two tries differ: %+v", reqs)
	}
	if d := srv.Duplicates(); len(d) != 0 {
		t.Errorf("duplicates = %v, want none (the first try failed)", d)
	}
}

func TestVerifySignatureRejectsTamperingAndMalformedHeaders(t *testing.T) {
	secret, body := []byte("k"), []byte(`{"id":"1","text":"@all: Incident Confirmed"}`)
	good := notify.Sign(secret, body)
	if !notify.VerifySignature(secret, body, good) {
		t.Fatal("a correct signature does not verify")
	}
	for name, tc := range map[string]struct {
		secret, body []byte
		header       string
	}{
		"other body":        {secret, []byte(`{"id":"1","text":"@all: Incident Resolved"}`), good},
		"other secret":      {[]byte("K"), body, good},
		"no prefix":         {secret, body, strings.TrimPrefix(good, "sha256=")},
		"sha1 prefix":       {secret, body, "sha1=" + strings.TrimPrefix(good, "sha256=")},
		"truncated":         {secret, body, good[:len(good)-2]},
		"not hex":           {secret, body, "sha256=" + strings.Repeat("zz", 32)},
		"empty":             {secret, body, ""},
		"flipped last char": {secret, body, good[:len(good)-1] + map[bool]string{true: "1", false: "0"}[good[len(good)-1] == '0']},
	} {
		if notify.VerifySignature(tc.secret, tc.body, tc.header) {
			t.Errorf("%s: verified %q", name, tc.header)
		}
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("secret"), []byte(`{"id":"x"}`), "sha256=00")
	f.Add([]byte(""), []byte(""), "")
	f.Add([]byte("k"), []byte("body"), "sha256="+strings.Repeat("a", 64))
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		sig := notify.Sign(secret, body)
		if !notify.VerifySignature(secret, body, sig) {
			t.Fatalf("Sign's own signature does not verify")
		}
		// Hex is case-insensitive and surrounding space is trimmed; any other header is refused.
		if !strings.EqualFold(strings.TrimSpace(header), sig) && notify.VerifySignature(secret, body, header) {
			t.Fatalf("verified a different header %q (want %q)", header, sig)
		}
		if notify.VerifySignature(secret, append(append([]byte(nil), body...), 'x'), sig) {
			t.Fatal("verified a changed body")
		}
	})
}

func TestAnnouncementJSONUsesSnakeCaseFields(t *testing.T) {
	b, err := json.Marshal(handoff)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"inc-42/handoff/3","namespace":"platform","incident":"inc-42","kind":"Handoff","text":"@all: IC -\u003e ricardo","drill":false,"at":"2026-05-01T12:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

func TestSlacksRetryAfterHoldsEveryAnnouncementToThatWebhook(t *testing.T) {
	srv := slackfake.New()
	defer srv.Close()
	limits := ratelimit.NewRegistry(ratelimit.Options{MaxWait: time.Second})
	channel := func() notify.Channel {
		return notify.NewSlack(srv.WebhookURL(), nil, limits.Gate("team-a", ratelimit.Slack, srv.WebhookURL()))
	}
	srv.FailNext(1, http.StatusTooManyRequests, time.Minute)
	if f := delivery.Assess(channel().Announce(context.Background(), handoff)); f.Terminal || f.After != time.Minute {
		t.Fatalf("429: %+v, want a retry after a minute", f)
	}
	// Another incident's announcement to the same webhook is not sent into the 429 again.
	err := channel().Announce(context.Background(), handoff)
	if after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal; !retry || !errors.Is(err, delivery.ErrNotSent) || after < 59*time.Second {
		t.Fatalf("Announce = %v (after %s), want not sent until the minute has passed", err, after)
	}
	assertNoSecret(t, err, srv.WebhookURL())
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("Slack got %d requests, want only the one it refused", n)
	}
}
