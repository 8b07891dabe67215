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

package paging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/ratelimit"
)

// PagerDutyEventsURL is the Events API v2 endpoint.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// Limits PagerDuty documents for an event.
const (
	// MaxSummary is the longest summary PagerDuty keeps, in characters.
	MaxSummary = 1024
	// MaxDedupKey is the longest dedup_key PagerDuty accepts, in characters.
	MaxDedupKey = 255
)

// PagerDuty sends events to one Events API v2 integration.
type PagerDuty struct {
	routingKey string
	endpoint   string
	http       *http.Client
	gate       *ratelimit.Gate
}

// NewPagerDuty returns a pager for the Events API v2 integration with routingKey, at endpoint
// (PagerDutyEventsURL if empty). The routing key never appears in errors. c may be nil for
// delivery.NewHTTPClient(0). Every event first passes gate, the routing key's share of
// ratelimit.PagerDuty (nil: no pacing).
func NewPagerDuty(routingKey, endpoint string, c *http.Client, gate *ratelimit.Gate) Pager {
	if endpoint == "" {
		endpoint = PagerDutyEventsURL
	}
	if c == nil {
		c = delivery.NewHTTPClient(0)
	}
	return &PagerDuty{routingKey: routingKey, endpoint: endpoint, http: c, gate: gate}
}

// event is an Events API v2 request body.
type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key,omitempty"`
	Client      string   `json:"client,omitempty"`
	Payload     *payload `json:"payload,omitempty"`
	Links       []link   `json:"links,omitempty"`
}

type payload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp,omitempty"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

type link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Trigger opens an alert for p, or updates the open one with the same DedupKey. PagerDuty
// answers 202; 400 is permanent and carries PagerDuty's message and errors; 429 and 5xx are
// retryable.
func (pd *PagerDuty) Trigger(ctx context.Context, p Page) error {
	if strings.TrimSpace(p.Summary) == "" {
		return delivery.Terminal("Invalid", errors.New("pagerduty: the page has no summary"))
	}
	if p.DedupKey == "" {
		// Without a key PagerDuty makes one up, and the alert could never be resolved.
		return delivery.Terminal("Invalid", errors.New("pagerduty: the page has no dedup key"))
	}
	severity := p.Severity
	switch severity {
	case "":
		severity = SeverityError
	case SeverityCritical, SeverityError, SeverityWarning, SeverityInfo:
	default:
		return delivery.Terminal("Invalid", fmt.Errorf("pagerduty: severity %q is not one of critical, error, warning, info", severity))
	}
	source := p.Source
	if source == "" {
		source = "firescope"
	}
	pl := &payload{
		Summary:       Truncate(p.Summary, MaxSummary),
		Source:        source,
		Severity:      severity,
		CustomDetails: p.Details,
	}
	if !p.Timestamp.IsZero() {
		pl.Timestamp = p.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	ev := event{EventAction: "trigger", DedupKey: DedupKey(p.DedupKey), Client: "Firescope", Payload: pl}
	for _, l := range p.Links {
		if l.Href != "" {
			ev.Links = append(ev.Links, link(l))
		}
	}
	return pd.send(ctx, ev)
}

// Resolve closes the alert with dedupKey. Resolving an alert that is not open is harmless.
func (pd *PagerDuty) Resolve(ctx context.Context, dedupKey string) error {
	if dedupKey == "" {
		return delivery.Terminal("Invalid", errors.New("pagerduty: resolve needs a dedup key"))
	}
	return pd.send(ctx, event{EventAction: "resolve", DedupKey: DedupKey(dedupKey)})
}

func (pd *PagerDuty) send(ctx context.Context, ev event) error {
	ev.RoutingKey = pd.routingKey
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("pagerduty %s: %w", ev.EventAction, err)
	}
	if err := pd.gate.Do(ctx, func(ctx context.Context) error { return delivery.PostJSON(ctx, pd.http, pd.endpoint, body, nil) }); err != nil {
		return fmt.Errorf("pagerduty %s: %w", ev.EventAction, delivery.Redact(err, pd.routingKey, pd.endpoint))
	}
	return nil
}

// Truncate cuts s to at most n characters, ending a cut one with "…".
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// DedupKey returns the dedup_key sent for key: key itself when PagerDuty accepts its length,
// else a prefix of it and its SHA-256, so that the same long key always maps to the same
// alert and trigger and resolve still meet.
func DedupKey(key string) string {
	if utf8.RuneCountInString(key) <= MaxDedupKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return string([]rune(key)[:MaxDedupKey-len(h)-1]) + "~" + h
}
