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

// Package webhook publishes status updates to any HTTPS endpoint as JSON signed with
// HMAC-SHA256 over the body, in the same envelope as the comms channel's generic webhook
// (internal/notify): X-Firescope-Signature-256, and X-Firescope-Delivery carrying an id that
// is the same for every retry of one update, so that receivers deduplicate on it. A webhook
// cannot be asked what it received, so after an unknown outcome the update is sent again,
// with the same delivery id: exactly once is the receiver's deduplication. Maintenances are
// posted the same way, one delivery per status (maintenance.go).
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/ratelimit"
)

// Payload is the JSON body of one delivery.
type Payload struct {
	// ID is the delivery id, also in X-Firescope-Delivery: the update's id, or for an edit the
	// update's id and the edited text's hash.
	ID string `json:"id"`
	// Kind is "StatusUpdate", "StatusUpdateEdited" or "Maintenance".
	Kind string `json:"kind"`
	// IncidentKey identifies the Firescope Incident ("<namespace>/<name>/<uid>").
	IncidentKey string `json:"incident_key"`
	// UpdateID identifies the StatusUpdate.
	UpdateID string `json:"update_id"`
	// MaintenanceKey identifies the Firescope Maintenance ("<namespace>/<name>/<uid>"), and
	// ScheduledFor and ScheduledUntil are its window; set for a Maintenance only, whose
	// Status is scheduled, in_progress or completed.
	MaintenanceKey string     `json:"maintenance_key,omitempty"`
	ScheduledFor   *time.Time `json:"scheduled_for,omitempty"`
	ScheduledUntil *time.Time `json:"scheduled_until,omitempty"`
	// Title is the incident's title.
	Title string `json:"title,omitempty"`
	// Status is investigating, identified, monitoring or resolved.
	Status string `json:"status,omitempty"`
	// Text is the message to customers.
	Text string `json:"text"`
	// Impact is none, minor, major or critical, when set.
	Impact string `json:"impact,omitempty"`
	// Components are the affected components, by the ids the StatusPage maps them to.
	Components []Component `json:"components,omitempty"`
	At         time.Time   `json:"at"`
}

// Component is one component's status in a Payload.
type Component struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type provider struct {
	url    string
	secret []byte
	c      *http.Client
	gate   *ratelimit.Gate
}

// New returns a Provider that posts to url, signing with secret. Every request first passes
// gate, the receiver's share of ratelimit.Webhook (nil: no pacing).
func New(url string, secret []byte, c *http.Client, gate *ratelimit.Gate) publish.Provider {
	return &provider{url: url, secret: secret, c: c, gate: gate}
}

// Ref is the provider reference of an incident: a hash of its Firescope identity.
func Ref(incidentKey string) string {
	sum := sha256.Sum256([]byte(incidentKey))
	return "webhook-" + hex.EncodeToString(sum[:12])
}

func (p *provider) Publish(ctx context.Context, u publish.Update) (publish.Result, error) {
	pl := Payload{ID: u.UpdateID, Kind: "StatusUpdate", IncidentKey: u.IncidentKey, UpdateID: u.UpdateID, Title: u.Title,
		Status: u.Status, Text: u.Body, Impact: u.Impact, At: time.Now().UTC()}
	for _, c := range u.Components {
		pl.Components = append(pl.Components, Component{ID: c.ProviderID, Status: c.Status})
	}
	if err := p.post(ctx, pl); err != nil {
		return publish.Result{}, err
	}
	return publish.Result{ProviderRef: Ref(u.IncidentKey), UpdateRef: u.UpdateID}, nil
}

func (p *provider) Edit(ctx context.Context, _, updateRef, body string) error {
	sum := sha256.Sum256([]byte(body))
	return p.post(ctx, Payload{ID: updateRef + "-" + hex.EncodeToString(sum[:6]), Kind: "StatusUpdateEdited",
		UpdateID: updateRef, Text: body, At: time.Now().UTC()})
}

// Find cannot ask the receiver what it has. It answers with the incident's reference and no
// updates, so that the caller sends the update again under the same delivery id.
func (p *provider) Find(_ context.Context, incidentKey string) (publish.Found, bool, error) {
	return publish.Found{ProviderRef: Ref(incidentKey)}, true, nil
}

func (p *provider) post(ctx context.Context, pl Payload) error {
	body, err := json.Marshal(pl)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set(notify.SignatureHeader, notify.Sign(p.secret, body))
	h.Set(notify.DeliveryHeader, pl.ID)
	h.Set(notify.EventHeader, pl.Kind)
	return p.gate.Do(ctx, func(ctx context.Context) error { return delivery.PostJSON(ctx, p.c, p.url, body, h) })
}
