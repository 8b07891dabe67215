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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/ratelimit"
)

// Headers of the generic webhook.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body under the shared
	// secret.
	SignatureHeader = "X-Firescope-Signature-256"
	// DeliveryHeader carries the announcement's ID, the same for every retry of one fact.
	DeliveryHeader = "X-Firescope-Delivery"
	// EventHeader carries the announcement's Kind.
	EventHeader = "X-Firescope-Event"
)

// Webhook posts announcements as signed JSON to any HTTP endpoint.
type Webhook struct {
	url    string
	secret []byte
	http   *http.Client
	gate   *ratelimit.Gate
}

// NewWebhook returns a generic webhook channel. Each request's body is the Announcement as
// JSON (snake_case fields), with the headers Content-Type: application/json,
// X-Firescope-Delivery: the ID, X-Firescope-Event: the Kind and X-Firescope-Signature-256:
// sha256=<hex HMAC-SHA256(secret, body)>. c may be nil for delivery.NewHTTPClient(0). Every
// post first passes gate, the receiver's share of ratelimit.Webhook (nil: no pacing).
func NewWebhook(url string, secret []byte, c *http.Client, gate *ratelimit.Gate) Channel {
	if c == nil {
		c = delivery.NewHTTPClient(0)
	}
	return &Webhook{url: url, secret: append([]byte(nil), secret...), http: c, gate: gate}
}

// Announce makes one signed POST.
func (w *Webhook) Announce(ctx context.Context, a Announcement) error {
	if a.ID == "" {
		return delivery.Terminal("Invalid", errors.New("webhook: announcement has no ID"))
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(DeliveryHeader, a.ID)
	h.Set(EventHeader, a.Kind)
	h.Set(SignatureHeader, Sign(w.secret, body))
	err = w.gate.Do(ctx, func(ctx context.Context) error { return delivery.PostJSON(ctx, w.http, w.url, body, h) })
	if err != nil {
		return fmt.Errorf("webhook: %w", delivery.Redact(err, append(secretsOf(w.url), string(w.secret))...))
	}
	return nil
}

// Sign returns the X-Firescope-Signature-256 value for body: "sha256=" and the hex
// HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is a valid X-Firescope-Signature-256 value for body
// under secret. The comparison takes constant time. Receivers verify the raw body before
// parsing it.
func VerifySignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || len(hexSig) != sha256.Size*2 {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
