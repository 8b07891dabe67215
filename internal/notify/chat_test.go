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
	"context"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	mattermostfake "firescope.dev/firescope/internal/mock/mattermost"
	teamsfake "firescope.dev/firescope/internal/mock/teams"
	"firescope.dev/firescope/internal/notify"
)

func TestTeamsPostsAnAdaptiveCardTheWorkflowAccepts(t *testing.T) {
	srv := teamsfake.New()
	defer srv.Close()
	a := handoff
	a.Text = "[DRILL] Sitrep 2: [click](https://evil.example) **now**\nImpact: deploys fail"
	if err := notify.NewTeams(srv.WebhookURL(), nil, nil).Announce(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := srv.Texts(); len(got) != 1 || got[0] != a.Text {
		t.Fatalf("channel shows %q, want the text as written", got)
	}
	card := srv.Messages()[0].Card
	if card["type"] != "AdaptiveCard" || card["version"] != "1.4" {
		t.Errorf("card = %v", card)
	}
	// Text runs are not Markdown: the link and the bold stay as typed.
	for _, el := range card["body"].([]any) {
		if el.(map[string]any)["type"] != "RichTextBlock" {
			t.Errorf("element %v, want RichTextBlocks only", el)
		}
	}
	if r := srv.Requests()[0]; r.Status != 202 || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %+v", r)
	}
}

func TestTeamsClassifiesEachDocumentedAnswer(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter time.Duration
		wantRetry  bool
		wantAfter  time.Duration
		wantText   string
	}{
		{"throttled with Retry-After", 429, 5 * time.Second, true, 5 * time.Second, "429 Too Many Requests"},
		{"server error", 500, 0, true, 0, "500 Internal Server Error"},
		{"unavailable with Retry-After", 503, 10 * time.Second, true, 10 * time.Second, "503"},
		{"bad request", 400, 0, false, 0, "400 Bad Request"},
		{"bad signature", 401, 0, false, 0, "401 Unauthorized"},
		{"flow deleted", 404, 0, false, 0, "404 Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := teamsfake.New()
			defer srv.Close()
			srv.FailNext(1, tc.status, tc.retryAfter)
			err := notify.NewTeams(srv.WebhookURL(), nil, nil).Announce(context.Background(), handoff)
			if err == nil {
				t.Fatal("Announce = nil, want an error")
			}
			after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
			if retry != tc.wantRetry || after != tc.wantAfter {
				t.Errorf("Assess = %s, %v; want %s, %v (error %v)", after, retry, tc.wantAfter, tc.wantRetry, err)
			}
			if !strings.HasPrefix(err.Error(), "teams: ") || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q should start with teams: and contain %q", err, tc.wantText)
			}
			assertNoSecret(t, err, srv.WebhookURL(), teamsfake.Signature)
			if len(srv.Messages()) != 0 {
				t.Error("a failed post reached the channel")
			}
		})
	}
}

func TestTeamsWrongSignatureIsPermanentAndHidden(t *testing.T) {
	srv := teamsfake.New()
	defer srv.Close()
	url := strings.Replace(srv.WebhookURL(), teamsfake.Signature, "n0tTh3R1ghtS1gnatur3", 1)
	err := notify.NewTeams(url, nil, nil).Announce(context.Background(), handoff)
	if retry := !delivery.Assess(err).Terminal; err == nil || retry || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Announce = %v, want a permanent 401", err)
	}
	assertNoSecret(t, err, url, "n0tTh3R1ghtS1gnatur3")
}

func TestTeamsTimeoutsAndEmptyAnnouncements(t *testing.T) {
	srv := teamsfake.New()
	defer srv.Close()
	srv.Delay(2 * time.Second)
	err := notify.NewTeams(srv.WebhookURL(), delivery.NewHTTPClient(100*time.Millisecond), nil).Announce(context.Background(), handoff)
	if err == nil || delivery.Assess(err).Terminal {
		t.Fatalf("Announce = %v, want retryable", err)
	}
	assertNoSecret(t, err, srv.WebhookURL(), teamsfake.Signature)
	srv.Delay(0)
	srv.Reset()
	err = notify.NewTeams(srv.WebhookURL(), nil, nil).Announce(context.Background(), notify.Announcement{ID: "x", Text: " \n "})
	if retry := !delivery.Assess(err).Terminal; err == nil || retry || len(srv.Requests()) != 0 {
		t.Errorf("empty announcement: %v, %d requests; want a permanent error and none", err, len(srv.Requests()))
	}
}

func TestMattermostPostsTextThatCannotMentionOrLink(t *testing.T) {
	srv := mattermostfake.New("ops")
	defer srv.Close()
	a := handoff
	a.Text = "@all: IC -> ricardo; see [here](https://evil.example) #1 @channel"
	if err := notify.NewMattermost(srv.WebhookURL(), "ops", "firescope", nil, nil).Announce(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	if m.Channel != "ops" || m.Username != "firescope" {
		t.Errorf("posted to %q as %q", m.Channel, m.Username)
	}
	for _, mention := range []string{"@all", "@channel"} {
		if strings.Contains(m.Text, mention) {
			t.Errorf("text %q still mentions %s", m.Text, mention)
		}
	}
	if strings.Contains(m.Text, "[here](") || !strings.Contains(m.Text, `\[here\]`) {
		t.Errorf("text %q: the link is not escaped", m.Text)
	}
	// Removing the escapes gives back what was written.
	shown := strings.NewReplacer("\u200b", "", `\\`, `\`, `\[`, "[", `\]`, "]", `\>`, ">", `\#`, "#").Replace(m.Text)
	if shown != a.Text {
		t.Errorf("shown as %q, want %q", shown, a.Text)
	}
	fs, _ := m.Props["firescope"].(map[string]any)
	if fs["id"] != handoff.ID || fs["kind"] != "Handoff" || fs["incident"] != "inc-42" {
		t.Errorf("props = %v", m.Props)
	}
}

func TestMattermostClassifiesEachDocumentedAnswer(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter time.Duration
		wantRetry  bool
		wantAfter  time.Duration
		wantText   string
	}{
		{"rate limited with Retry-After", 429, 2 * time.Second, true, 2 * time.Second, "429 Too Many Requests"},
		{"server error", 500, 0, true, 0, "500"},
		{"bad request", 400, 0, false, 0, "400 Bad Request"},
		{"forbidden", 403, 0, false, 0, "403 Forbidden"},
		{"webhooks disabled", 501, 0, true, 0, "501"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := mattermostfake.New()
			defer srv.Close()
			srv.FailNext(1, tc.status, tc.retryAfter)
			err := notify.NewMattermost(srv.WebhookURL(), "", "", nil, nil).Announce(context.Background(), handoff)
			if err == nil {
				t.Fatal("Announce = nil, want an error")
			}
			after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
			if retry != tc.wantRetry || after != tc.wantAfter {
				t.Errorf("Assess = %s, %v; want %s, %v (error %v)", after, retry, tc.wantAfter, tc.wantRetry, err)
			}
			if !strings.HasPrefix(err.Error(), "mattermost: ") || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q should start with mattermost: and contain %q", err, tc.wantText)
			}
			assertNoSecret(t, err, srv.WebhookURL(), mattermostfake.HookKey)
			if len(srv.Messages()) != 0 {
				t.Error("a failed post reached the channel")
			}
		})
	}
}

func TestMattermostUnknownChannelAndWebhookArePermanent(t *testing.T) {
	srv := mattermostfake.New()
	defer srv.Close()
	for name, ch := range map[string]notify.Channel{
		"unknown channel": notify.NewMattermost(srv.WebhookURL(), "nowhere", "", nil, nil),
		"unknown webhook": notify.NewMattermost(srv.URL+"/hooks/n0th00kk3y000000000000000", "", "", nil, nil),
	} {
		err := ch.Announce(context.Background(), handoff)
		if retry := !delivery.Assess(err).Terminal; err == nil || retry {
			t.Errorf("%s: Announce = %v, want a permanent error", name, err)
		}
		assertNoSecret(t, err, mattermostfake.HookKey, "n0th00kk3y000000000000000")
	}
	if len(srv.Messages()) != 0 {
		t.Error("a refused post reached a channel")
	}
}
