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

// Teams posts to a Microsoft Teams Workflows webhook: the "When a Teams webhook request is
// received" trigger of a flow that posts the card it is sent to a channel.
type Teams struct {
	url  string
	http *http.Client
	gate *ratelimit.Gate
}

// NewTeams returns the channel behind a Teams Workflows webhook URL. The URL, whose sig query
// parameter signs the request, is the credential: it never appears in errors. c may be nil
// for delivery.NewHTTPClient(0). Every post first passes gate (nil: no pacing).
func NewTeams(webhookURL string, c *http.Client, gate *ratelimit.Gate) Channel {
	if c == nil {
		c = delivery.NewHTTPClient(0)
	}
	return &Teams{url: webhookURL, http: c, gate: gate}
}

// TeamsMessage returns the message a Workflows webhook is sent for an announcement's text: a
// message with one Adaptive Card attachment (version 1.4, which Teams renders on every client)
// holding a RichTextBlock per line. Text runs are shown as typed, not as Markdown, so text from
// an Incident cannot forge a link or a heading.
func TeamsMessage(text string) map[string]any {
	var body []any
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		body = append(body, map[string]any{
			"type":    "RichTextBlock",
			"inlines": []any{map[string]any{"type": "TextRun", "text": line}},
		})
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    body,
			},
		}},
	}
}

// Announce posts the card. The trigger answers 202 Accepted; its errors (400 for a body the
// flow cannot post, 401 for a bad signature, 404 for a deleted flow, 429 with Retry-After when
// throttled, 5xx) are classified by status.
func (t *Teams) Announce(ctx context.Context, a Announcement) error {
	if strings.TrimSpace(a.Text) == "" {
		return delivery.Terminal("Invalid", fmt.Errorf("teams: announcement %q has no text", a.ID))
	}
	body, err := json.Marshal(TeamsMessage(a.Text))
	if err != nil {
		return delivery.Terminal("Invalid", fmt.Errorf("teams: %w", err))
	}
	err = t.gate.Do(ctx, func(ctx context.Context) error { return delivery.PostJSON(ctx, t.http, t.url, body, nil) })
	if err != nil {
		return fmt.Errorf("teams: %w", delivery.Redact(err, secretsOf(t.url)...))
	}
	return nil
}
