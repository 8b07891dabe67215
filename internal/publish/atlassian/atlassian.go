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

// Package atlassian publishes status updates to Atlassian Statuspage through its management
// REST API v1 (https://api.statuspage.io/v1), one request per call.
//
// The provider incident carries the Firescope identity in its metadata,
// {"firescope": {"incident": <IncidentKey>, "update": <UpdateID>}}, written by the same request
// that publishes each update, so that Find can adopt the incident after a crash and tell which
// update landed last.
//
// The provider also publishes post-mortems to those incidents (publish.PostmortemPublisher),
// through the incident postmortem endpoints (postmortem.go).
package atlassian

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/ratelimit"
	"firescope.dev/firescope/internal/safehttp"
)

// DefaultBaseURL is Statuspage's API endpoint, without the /v1 prefix.
const DefaultBaseURL = "https://api.statuspage.io"

const (
	// metadataKey is the top-level metadata key Firescope owns on a Statuspage incident.
	metadataKey = "firescope"
	// findPageSize is the rows per page Find asks for: Statuspage's default and maximum.
	findPageSize = 100
	// FindMaxPages bounds Find to the FindMaxPages*100 most recent incidents of the page.
	FindMaxPages = 10
	// FindPageTimeout bounds the request for one page of Find, well under the whole call's
	// timeout, so that a page that hangs fails fast instead of spending the reconcile.
	FindPageTimeout = 5 * time.Second
	// maxName and maxBody are Statuspage's documented limits on a name and an update body.
	maxName = 255
	maxBody = 25000
	// statusRateLimited is the other status Statuspage documents for "rate limit exceeded".
	statusRateLimited = 420
	// maxAnswer bounds the answer Find and Publish read.
	maxAnswer = 16 << 20
)

var (
	statuses          = []string{"investigating", "identified", "monitoring", "resolved"}
	componentStatuses = []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
	impacts           = []string{"none", "minor", "major", "critical"}
)

type client struct {
	pageID, apiKey, baseURL string
	http                    *http.Client
	gate                    *ratelimit.Gate
}

// New returns a Provider for the Statuspage page pageID, authenticating with apiKey.
// baseURL "" means DefaultBaseURL; c nil means delivery.NewHTTPClient(0), whose timeout bounds
// every call. Every request first passes gate, the API key's share of ratelimit.Statuspage
// (nil: no pacing).
func New(pageID, apiKey, baseURL string, c *http.Client, gate *ratelimit.Gate) publish.Provider {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if c == nil {
		c = delivery.NewHTTPClient(0)
	}
	return &client{pageID: pageID, apiKey: apiKey, baseURL: strings.TrimRight(baseURL, "/"), http: c, gate: gate}
}

// incidentRequest is the "incident" object of POST and PATCH /v1/pages/{page_id}/incidents.
type incidentRequest struct {
	Name                 string            `json:"name,omitempty"`
	Status               string            `json:"status"`
	Body                 string            `json:"body"`
	ImpactOverride       string            `json:"impact_override,omitempty"`
	Components           map[string]string `json:"components,omitempty"`
	ComponentIDs         []string          `json:"component_ids,omitempty"`
	DeliverNotifications bool              `json:"deliver_notifications"`
	Metadata             map[string]any    `json:"metadata"`
}

// incident is the part of the API's Incident schema Firescope reads.
type incident struct {
	ID              string           `json:"id"`
	Metadata        map[string]any   `json:"metadata"`
	IncidentUpdates []incidentUpdate `json:"incident_updates"`
}

type incidentUpdate struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Publish creates the Statuspage incident (POST /v1/pages/{page_id}/incidents) when
// u.ProviderRef is "", else adds the update to it (PATCH .../incidents/{incident_id}) with the
// new status and body, the components, impact_override when u.Impact is set, and
// deliver_notifications. Both write the Firescope metadata. Result.UpdateRef is the
// incident_update the call created.
func (c *client) Publish(ctx context.Context, u publish.Update) (publish.Result, error) {
	if err := check(u); err != nil {
		return publish.Result{}, err
	}
	req := incidentRequest{
		Status:               u.Status,
		Body:                 u.Body,
		ImpactOverride:       u.Impact,
		DeliverNotifications: u.Notify,
		Metadata:             map[string]any{metadataKey: map[string]any{"incident": u.IncidentKey, "update": u.UpdateID}},
	}
	if len(u.Components) > 0 {
		req.Components = map[string]string{}
		for _, comp := range u.Components {
			req.Components[comp.ProviderID] = comp.Status
			req.ComponentIDs = append(req.ComponentIDs, comp.ProviderID)
		}
		slices.Sort(req.ComponentIDs)
		req.ComponentIDs = slices.Compact(req.ComponentIDs)
	}
	method, path, what := http.MethodPost, c.incidentsPath(), "create the incident"
	if u.ProviderRef != "" {
		method, path, what = http.MethodPatch, c.incidentsPath()+"/"+url.PathEscape(u.ProviderRef), "update incident "+u.ProviderRef
	} else {
		req.Name = u.Title
	}
	var out incident
	if err := c.do(ctx, method, path, map[string]any{"incident": req}, &out, what); err != nil {
		return publish.Result{}, err
	}
	ref := out.ID
	if ref == "" {
		ref = u.ProviderRef
	}
	if ref == "" {
		// The incident exists but the answer did not say which: only Find can tell now.
		return publish.Result{}, &delivery.RetryableError{Err: errors.New("statuspage: created the incident but the answer has no incident id")}
	}
	return publish.Result{ProviderRef: ref, UpdateRef: newest(out.IncidentUpdates)}, nil
}

// newest is the id of the most recently created update. Statuspage lists updates newest first,
// which breaks ties.
func newest(updates []incidentUpdate) string {
	best := -1
	for i, up := range updates {
		if best < 0 || up.CreatedAt.After(updates[best].CreatedAt) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return updates[best].ID
}

// check refuses, before any request, an update Statuspage would refuse.
func check(u publish.Update) error {
	var errs []string
	if u.IncidentKey == "" {
		errs = append(errs, "the incident key is empty")
	}
	if u.ProviderRef == "" {
		switch {
		case strings.TrimSpace(u.Title) == "":
			errs = append(errs, "the title is empty")
		case utf8.RuneCountInString(u.Title) > maxName:
			errs = append(errs, fmt.Sprintf("the title is longer than Statuspage's %d characters", maxName))
		}
	}
	if !slices.Contains(statuses, u.Status) {
		errs = append(errs, fmt.Sprintf("status %q is not one of %s", u.Status, strings.Join(statuses, ", ")))
	}
	if utf8.RuneCountInString(u.Body) > maxBody {
		errs = append(errs, fmt.Sprintf("the message is longer than Statuspage's %d characters", maxBody))
	}
	if u.Impact != "" && !slices.Contains(impacts, u.Impact) {
		errs = append(errs, fmt.Sprintf("impact %q is not one of %s", u.Impact, strings.Join(impacts, ", ")))
	}
	for _, comp := range u.Components {
		if comp.ProviderID == "" {
			errs = append(errs, "a component has no Statuspage id")
		}
		if !slices.Contains(componentStatuses, comp.Status) {
			errs = append(errs, fmt.Sprintf("component %s: status %q is not one of %s", comp.ProviderID, comp.Status, strings.Join(componentStatuses, ", ")))
		}
	}
	if len(errs) > 0 {
		return delivery.Terminal("Invalid", errors.New("statuspage: cannot publish: "+strings.Join(errs, "; ")))
	}
	return nil
}

// Edit replaces the body of an incident update with
// PATCH /v1/pages/{page_id}/incidents/{incident_id}/incident_updates/{incident_update_id},
// which the API documents as "Update a previous incident update". It sends only the body, so
// subscribers are not notified again.
func (c *client) Edit(ctx context.Context, providerRef, providerUpdateRef, body string) error {
	switch {
	case providerRef == "" || providerUpdateRef == "":
		return delivery.Terminal("Invalid", errors.New("statuspage: cannot edit: the incident id and the incident update id are both needed"))
	case utf8.RuneCountInString(body) > maxBody:
		return delivery.Terminal("Invalid", fmt.Errorf("statuspage: cannot edit: the message is longer than Statuspage's %d characters", maxBody))
	}
	path := c.incidentsPath() + "/" + url.PathEscape(providerRef) + "/incident_updates/" + url.PathEscape(providerUpdateRef)
	req := map[string]any{"incident_update": map[string]any{"body": body}}
	return c.do(ctx, http.MethodPatch, path, req, nil, "edit update "+providerUpdateRef+" of incident "+providerRef)
}

// Find pages through GET /v1/pages/{page_id}/incidents, newest first, 100 at a time, and
// returns the incident whose metadata carries incidentKey. The API's q search does not look at
// metadata, so Find reads the listing itself and stops at the first short page or after
// FindMaxPages pages: an incident older than the page's 1000 most recent is not found. Each
// page has FindPageTimeout.
func (c *client) Find(ctx context.Context, incidentKey string) (publish.Found, bool, error) {
	if incidentKey == "" {
		return publish.Found{}, false, delivery.Terminal("Invalid", errors.New("statuspage: cannot find: the incident key is empty"))
	}
	found, err := c.findTagged(ctx, "incident", incidentKey)
	if err != nil || len(found) == 0 {
		return publish.Found{}, false, err
	}
	inc := found[0]
	f := publish.Found{ProviderRef: inc.ID}
	f.LastUpdateID, _ = firescope(inc)["update"].(string)
	for _, up := range inc.IncidentUpdates {
		f.Updates = append(f.Updates, publish.FoundUpdate{Ref: up.ID, Status: up.Status, Body: up.Body, At: up.CreatedAt})
	}
	// Statuspage lists updates newest first; Found holds them oldest first.
	slices.Reverse(f.Updates)
	slices.SortStableFunc(f.Updates, func(a, b publish.FoundUpdate) int { return a.At.Compare(b.At) })
	return f, true, nil
}

// findTagged pages through GET /v1/pages/{page_id}/incidents, newest first, 100 at a time,
// and returns the incident whose Firescope metadata has key under field: none, or exactly
// one, since more than one is publish.ErrAmbiguous.
func (c *client) findTagged(ctx context.Context, field, key string) ([]incident, error) {
	var found []incident
	for page := 1; page <= FindMaxPages; page++ {
		q := url.Values{"limit": {strconv.Itoa(findPageSize)}, "page": {strconv.Itoa(page)}}
		var list []incident
		if err := c.doWithin(ctx, FindPageTimeout, http.MethodGet, c.incidentsPath()+"?"+q.Encode(), nil, &list, "list incidents"); err != nil {
			return nil, err
		}
		for _, inc := range list {
			if k, _ := firescope(inc)[field].(string); k == key && !slices.ContainsFunc(found, func(f incident) bool { return f.ID == inc.ID }) {
				found = append(found, inc)
			}
		}
		if len(list) < findPageSize {
			break
		}
	}
	if len(found) > 1 {
		ids := make([]string, len(found))
		for i, f := range found {
			ids[i] = f.ID
		}
		return nil, fmt.Errorf("statuspage: incidents %s: %w", strings.Join(ids, ", "), publish.ErrAmbiguous)
	}
	return found, nil
}

func firescope(inc incident) map[string]any {
	m, _ := inc.Metadata[metadataKey].(map[string]any)
	return m
}

func (c *client) incidentsPath() string {
	return "/v1/pages/" + url.PathEscape(c.pageID) + "/incidents"
}

// do makes one request and decodes a 2xx JSON answer into out (unless nil). Every error names
// what was attempted and, for a refusal, its cause; none contains the API key.
func (c *client) do(ctx context.Context, method, path string, in, out any, what string) error {
	return c.doWithin(ctx, 0, method, path, in, out, what)
}

// doWithin is do with a timeout for the request itself (0: the HTTP client's), which starts
// once the gate lets it through.
func (c *client) doWithin(ctx context.Context, timeout time.Duration, method, path string, in, out any, what string) error {
	err := c.request(ctx, timeout, method, path, in, out)
	if err == nil {
		return nil
	}
	return delivery.Redact(fmt.Errorf("statuspage: %s: %w", what, explain(err)), c.apiKey)
}

// request makes one request, once the gate lets it through, within timeout when it is not 0.
func (c *client) request(ctx context.Context, timeout time.Duration, method, path string, in, out any) error {
	return c.gate.Do(ctx, func(ctx context.Context) error {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return c.send(ctx, method, path, in, out)
	})
}

func (c *client) send(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	endpoint, err := c.endpoint(path)
	if err != nil {
		return delivery.Terminal("Unusable", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return delivery.Terminal("Unusable", errors.New("the Statuspage base URL is not valid"))
	}
	req.Header.Set("Authorization", "OAuth "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "firescope")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if resp != nil {
		defer func() {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}()
	}
	if err := delivery.Classify(resp, err); err != nil {
		var se *delivery.StatusError
		if errors.As(err, &se) && se.StatusCode == statusRateLimited {
			// Statuspage documents 420 as well as 429 for "rate limit exceeded" and "the
			// request has been rejected"; Classify knows only 429.
			return &delivery.RetryableError{Err: se, After: delivery.RetryAfter(resp.Header.Get("Retry-After"), time.Now()), NotApplied: true}
		}
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		// The request took effect; only its answer is lost. Retryable: the caller's Find tells.
		return &delivery.RetryableError{Err: fmt.Errorf("reading the answer: %w", err)}
	}
	return nil
}

// endpoint joins the base URL and path (escaped segments, and a query the client itself
// encoded), so that nothing in the base, such as a trailing "?", turns the path into
// something else.
func (c *client) endpoint(path string) (string, error) {
	base, err := safehttp.ParseEndpoint(c.baseURL)
	if err != nil {
		return "", fmt.Errorf("the Statuspage base URL is not valid: %w", err)
	}
	p, query, _ := strings.Cut(path, "?")
	u := base.JoinPath(p)
	u.RawQuery = query
	return u.String(), nil
}

// explain adds the cause a person should look at to Statuspage's refusals, keeping the
// classification.
func explain(err error) error {
	var se *delivery.StatusError
	if !errors.As(err, &se) {
		return err
	}
	if !delivery.Assess(err).Terminal {
		if se.StatusCode == http.StatusTooManyRequests || se.StatusCode == statusRateLimited {
			return fmt.Errorf("rate limited (Statuspage allows 1 request per second per API key): %w", err)
		}
		return err
	}
	switch se.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("the API key was refused; check the key in the StatusPage's Secret and that it may manage this page: %w", se)
	case http.StatusNotFound:
		return fmt.Errorf("no such page, incident or component; check the page id and the component ids: %w", se)
	case http.StatusUnprocessableEntity:
		return fmt.Errorf("the update was refused (an unknown component id or an invalid field); check the StatusPage's component mapping: %w", se)
	case http.StatusBadRequest:
		return fmt.Errorf("the request was refused as malformed: %w", se)
	}
	return err
}
