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
	"strings"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/ratelimit"
)

// Mattermost posts to a Mattermost incoming webhook.
type Mattermost struct {
	url      string
	channel  string
	username string
	http     *http.Client
	gate     *ratelimit.Gate
}

// NewMattermost returns the channel behind a Mattermost incoming webhook. The webhook URL is
// the credential: it never appears in errors. channel and username override the webhook's
// when set (Mattermost honours username only where its administrator allows overrides). c may
// be nil for delivery.NewHTTPClient(0). Every post first passes gate (nil: no pacing).
func NewMattermost(webhookURL, channel, username string, c *http.Client, gate *ratelimit.Gate) Channel {
	if c == nil {
		c = delivery.NewHTTPClient(0)
	}
	return &Mattermost{url: webhookURL, channel: channel, username: username, http: c, gate: gate}
}

// mattermostEscaper escapes the characters with which Mattermost's Markdown makes links,
// images, headings and hashtags, so that text from an Incident (a title, a name) cannot forge
// a link; a backslash before them is shown as the character. Emphasis is left alone: the
// announcement's *title* shows in italics. "@" gets a zero-width space after it: Mattermost
// finds mentions in the raw text, so "@all" or "@channel" in a title would otherwise notify
// everyone in the channel.
var mattermostEscaper = strings.NewReplacer(
	`\`, `\\`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "#", `\#`, "!", `\!`, "@", "@\u200b",
)

// MattermostText returns the message text Mattermost is sent for an announcement's text.
func MattermostText(text string) string { return mattermostEscaper.Replace(text) }

// Announce posts {"text": ..., "props": {"firescope": ...}} (with channel and username when
// set) to the webhook. The props carry the announcement's id, kind and incident so that
// integrations reading posts can tell Firescope's apart and dedupe. Mattermost answers 200
// "ok"; its errors (400 invalid or unparsable, 403, 404 channel not found, 429 with
// Retry-After when its rate limit is on, 501 webhooks disabled, 5xx) are classified by status.
func (m *Mattermost) Announce(ctx context.Context, a Announcement) error {
	if strings.TrimSpace(a.Text) == "" {
		return delivery.Terminal("Invalid", fmt.Errorf("mattermost: announcement %q has no text", a.ID))
	}
	body, err := json.Marshal(struct {
		Text     string         `json:"text"`
		Channel  string         `json:"channel,omitempty"`
		Username string         `json:"username,omitempty"`
		Props    map[string]any `json:"props"`
	}{
		Text: MattermostText(a.Text), Channel: m.channel, Username: m.username,
		Props: map[string]any{"firescope": map[string]any{
			"id": a.ID, "kind": a.Kind, "namespace": a.Namespace, "incident": a.Incident, "drill": a.Drill,
		}},
	})
	if err != nil {
		return delivery.Terminal("Invalid", fmt.Errorf("mattermost: %w", err))
	}
	err = m.gate.Do(ctx, func(ctx context.Context) error { return delivery.PostJSON(ctx, m.http, m.url, body, nil) })
	if err != nil {
		return fmt.Errorf("mattermost: %w", delivery.Redact(err, secretsOf(m.url)...))
	}
	return nil
}
