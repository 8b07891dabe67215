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

// Package firescope publishes status updates to the Firescope status page server
// (cmd/statuspage) over its idempotent write API. Ids are derived from the Firescope
// identities, so sending an update again after an unknown outcome changes nothing. The
// provider also publishes post-mortems (publish.PostmortemPublisher, postmortem.go).
package firescope

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/ratelimit"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

type provider struct {
	c    *client.Client
	gate *ratelimit.Gate
}

// New returns a Provider for the status page at baseURL, writing with token. Every request
// first passes gate, the token's share of ratelimit.FirescopePage (nil: no pacing).
func New(baseURL, token string, c *http.Client, gate *ratelimit.Gate) publish.Provider {
	return &provider{c: client.New(baseURL, token, c), gate: gate}
}

// call makes one request through the gate and classifies its error; what names what the
// status page would refuse.
func (p *provider) call(ctx context.Context, what string, f func(context.Context) error) error {
	return p.gate.Do(ctx, func(ctx context.Context) error { return classify(f(ctx), what) })
}

// ID derives a status page id from a Firescope identity: stable, URL-safe and short.
func ID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "fs-" + hex.EncodeToString(sum[:12])
}

var validID = regexp.MustCompile(api.IDPattern)

// updateID keeps a StatusUpdate's UID as the update id when the page accepts it as is, so that
// Found.LastUpdateID names the StatusUpdate, as the publish contract says.
func updateID(uid string) string {
	if validID.MatchString(uid) {
		return uid
	}
	return ID(uid)
}

func (p *provider) Publish(ctx context.Context, u publish.Update) (publish.Result, error) {
	id := ID(u.IncidentKey)
	update := &api.UpdateRequest{ID: updateID(u.UpdateID), Status: api.IncidentStatus(u.Status), Body: u.Body, Notify: u.Notify}
	for _, c := range u.Components {
		update.Components = append(update.Components, api.ComponentChange{ID: c.ProviderID, Status: api.ComponentStatus(c.Status)})
	}
	impact := api.Impact(u.Impact)
	if impact == "" {
		impact = api.ImpactMinor
	}
	// One PUT creates the incident if needed and posts the update; both are idempotent.
	err := p.call(ctx, "update", func(ctx context.Context) error {
		_, _, err := p.c.PutIncident(ctx, id, api.IncidentRequest{Name: u.Title, Impact: impact, Update: update})
		return err
	})
	if err != nil {
		return publish.Result{}, err
	}
	return publish.Result{ProviderRef: id, UpdateRef: update.ID}, nil
}

// Edit corrects a published update's text in place; it is idempotent.
func (p *provider) Edit(ctx context.Context, providerRef, updateRef, body string) error {
	return p.call(ctx, "update", func(ctx context.Context) error {
		_, err := p.c.EditUpdate(ctx, providerRef, updateRef, body)
		return err
	})
}

func (p *provider) Find(ctx context.Context, key string) (publish.Found, bool, error) {
	var inc api.Incident
	err := p.call(ctx, "update", func(ctx context.Context) (err error) {
		inc, err = p.c.Incident(ctx, ID(key))
		return err
	})
	if isNotFound(err) {
		return publish.Found{}, false, nil
	}
	if err != nil {
		return publish.Found{}, false, err
	}
	f := publish.Found{ProviderRef: inc.ID}
	for _, u := range slices.Backward(inc.Updates) { // the server lists newest first
		f.Updates = append(f.Updates, publish.FoundUpdate{Ref: u.ID, Status: string(u.Status), Body: u.Body, At: u.CreatedAt})
		f.LastUpdateID = u.ID
	}
	return f, true, nil
}

// hints name what to check for each refusal the status page's write API makes.
var hints = map[int]string{
	http.StatusUnauthorized:          "the write token was refused; check the token in the StatusPage's Secret",
	http.StatusNotFound:              "no such incident or update on the page",
	http.StatusConflict:              "the page holds a different update under the same id",
	http.StatusRequestEntityTooLarge: "the request is larger than the page accepts",
	http.StatusUnprocessableEntity:   "an invalid field or an unknown component id; check the StatusPage's component mapping",
	http.StatusBadRequest:            "the request was refused as malformed",
}

// classify turns a client error into the delivery classification; what names what the
// status page refused.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		if client.Retryable(err) {
			return &delivery.RetryableError{Err: err, After: apiErr.RetryAfter, NotApplied: delivery.StatusNotApplied(apiErr.StatusCode)}
		}
		// The page's own explanation is in its answer, which a host that is not a known
		// vendor's does not hand back (internal/safehttp); the status says where to look.
		if hint := hints[apiErr.StatusCode]; hint != "" && apiErr.Message == "" {
			return delivery.Terminal("Refused", fmt.Errorf("the status page refused the %s (%s): %w", what, hint, err))
		}
		return delivery.Terminal("Refused", fmt.Errorf("the status page refused the %s: %w", what, err))
	}
	if client.Retryable(err) {
		return &delivery.RetryableError{Err: err}
	}
	return err
}
