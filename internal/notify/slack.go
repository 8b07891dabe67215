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

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/ratelimit"
)

// Slack posts to a Slack incoming webhook.
type Slack struct {
	url  string
	http *http.Client
	gate *ratelimit.Gate
}

// NewSlack returns the channel behind a Slack incoming webhook. The webhook URL is the
// credential: it never appears in errors. c may be nil for delivery.NewHTTPClient(0). Every
// post first passes gate, the webhook's share of ratelimit.Slack (nil: no pacing).
func NewSlack(webhookURL string, c *http.Client, gate *ratelimit.Gate) Channel {
	if c == nil {
		c = delivery.NewHTTPClient(0)
	}
	return &Slack{url: webhookURL, http: c, gate: gate}
}

// slackEscaper escapes the three characters Slack's mrkdwn gives a meaning to, so that text
// from an Incident (a title, a name) cannot ping the channel or forge a link; Slack shows
// them as typed.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackText returns the message text Slack is sent for an announcement's text.
func SlackText(text string) string { return slackEscaper.Replace(text) }

// Announce posts {"text": ...} to the webhook. Slack answers 200 "ok"; its error answers
// (400 invalid_payload, 403 invalid_token, 404 channel_not_found, 410 channel_is_archived,
// 429 with Retry-After, 500 rollup_error) are classified by status.
func (s *Slack) Announce(ctx context.Context, a Announcement) error {
	if strings.TrimSpace(a.Text) == "" {
		return delivery.Terminal("Invalid", fmt.Errorf("slack: announcement %q has no text", a.ID))
	}
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{SlackText(a.Text)})
	if err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	err = s.gate.Do(ctx, func(ctx context.Context) error { return delivery.PostJSON(ctx, s.http, s.url, body, nil) })
	if err != nil {
		return fmt.Errorf("slack: %w", delivery.Redact(err, secretsOf(s.url)...))
	}
	return nil
}

// secretsOf lists the parts of a webhook URL that may be credentials: the whole URL, its path
// (Slack's /services/T…/B…/token), its last path segment, its query and its password.
func secretsOf(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if len(u.Path) > 1 {
		out = append(out, u.Path, u.Path[strings.LastIndex(u.Path, "/")+1:])
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, vs := range u.Query() {
			out = append(out, vs...)
		}
	}
	if p, ok := u.User.Password(); ok {
		out = append(out, p)
	}
	return out
}
