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

// Package client is the Go client of the Firescope status page's write API (/api/v1).
// Every write is an idempotent PUT with an id the caller chooses, so a caller that does not
// know whether a write landed (a timeout, a crash) simply sends it again.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/safehttp"
	"firescope.dev/firescope/internal/statuspage/api"
)

// Client talks to one status page.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the page at baseURL (such as https://status.example.com) that
// authenticates with token. httpClient may be nil for one with a 30-second timeout.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// Error is an error answer of the API.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	api.ErrorDetail
	// RetryAfter is the server's Retry-After as delivery.RetryAfter reads it: capped at
	// delivery.MaxRetryAfter, 0 when absent or malformed.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("status page: %d %s", e.StatusCode, e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// Retryable reports whether err may go away if the same request is sent again: network
// errors, 429 and 5xx. Any other answer will be the same next time.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
	}
	return !errors.Is(err, context.Canceled)
}

// PutComponent creates or replaces a component. created is false when it existed.
func (c *Client) PutComponent(ctx context.Context, id string, req api.ComponentRequest) (comp api.Component, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/components/"+url.PathEscape(id), req, &comp)
	return comp, created, err
}

// DeleteComponent removes a component; removing a missing one succeeds.
func (c *Client) DeleteComponent(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/components/"+url.PathEscape(id), nil, nil)
	return err
}

// Components lists the components in page order.
func (c *Client) Components(ctx context.Context) ([]api.Component, error) {
	var out []api.Component
	_, err := c.do(ctx, http.MethodGet, "/api/v1/components", nil, &out)
	return out, err
}

// PutIncident creates an incident or changes its name and impact, posting req.Update in the
// same write if set. created is false when the incident existed.
func (c *Client) PutIncident(ctx context.Context, id string, req api.IncidentRequest) (inc api.Incident, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/incidents/"+url.PathEscape(id), req, &inc)
	return inc, created, err
}

// Incident reads an incident with its updates, newest first.
func (c *Client) Incident(ctx context.Context, id string) (api.Incident, error) {
	var inc api.Incident
	_, err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, &inc)
	return inc, err
}

// DeleteIncident removes an incident with its updates and post-mortem from the page and its
// file, for good; removing a missing one succeeds, so a retry is safe.
func (c *Client) DeleteIncident(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/incidents/"+url.PathEscape(id), nil, nil)
	return err
}

// PutUpdate posts an update. created is false when the same update was already there; a
// different update with the same id is an *Error with status 409.
func (c *Client) PutUpdate(ctx context.Context, incidentID, updateID string, req api.UpdateRequest) (u api.Update, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/updates/"+url.PathEscape(updateID), req, &u)
	return u, created, err
}

// EditUpdate replaces the text of a published update, in place; editing to the same text
// again changes nothing.
func (c *Client) EditUpdate(ctx context.Context, incidentID, updateID, body string) (u api.Update, err error) {
	_, err = c.do(ctx, http.MethodPatch, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/updates/"+url.PathEscape(updateID), api.UpdateEdit{Body: body}, &u)
	return u, err
}

// PutPostmortem stores body as the incident's post-mortem draft and, when published is set,
// publishes it (or corrects the published text). A draft never withdraws a published
// post-mortem. created is true for the incident's first post-mortem write; an unknown
// incident is an *Error with status 404.
func (c *Client) PutPostmortem(ctx context.Context, incidentID, body string, published bool) (pm api.Postmortem, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/postmortem",
		api.PostmortemRequest{Body: body, Published: published}, &pm)
	return pm, created, err
}

// PublishPostmortem publishes body as the incident's post-mortem (or corrects the published
// text), asking the page to notify its subscribers of a first publication when notify is set.
func (c *Client) PublishPostmortem(ctx context.Context, incidentID, body string, notify bool) (pm api.Postmortem, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/postmortem",
		api.PostmortemRequest{Body: body, Published: true, Notify: notify}, &pm)
	return pm, created, err
}

// Postmortem reads an incident's post-mortem, draft included. An incident without one (or
// an unknown incident) is an *Error with status 404.
func (c *Client) Postmortem(ctx context.Context, incidentID string) (api.Postmortem, error) {
	var pm api.Postmortem
	_, err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/postmortem", nil, &pm)
	return pm, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) (created bool, err error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return false, err
		}
		body = bytes.NewReader(b)
	}
	// Joined, not concatenated: a base URL ending in "?" would turn the path into a query.
	base, err := safehttp.ParseEndpoint(c.base)
	if err != nil {
		return false, fmt.Errorf("status page: the base URL cannot be used: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, base.JoinPath(path).String(), body)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return false, fmt.Errorf("status page: reading the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{StatusCode: resp.StatusCode}
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			e.ErrorDetail = api.ErrorDetail{Code: printable(eb.Error.Code, 64), Message: printable(eb.Error.Message, maxMessage),
				Field: printable(eb.Error.Field, 256)}
		} else {
			// Not the page's own error format: whatever answered is not read back.
			e.Code = "http_" + strconv.Itoa(resp.StatusCode)
		}
		e.RetryAfter = delivery.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return false, e
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return false, fmt.Errorf("status page: decoding the answer to %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode == http.StatusCreated, nil
}

// maxMessage bounds the message of an *Error, which callers put in conditions and logs.
const maxMessage = 1000

// printable is s as an error may carry it: valid UTF-8, control characters as spaces, at
// most limit bytes, trimmed. An answer is not always the API's (a proxy's error page, a
// broken server), and its text ends up in conditions that people read in a terminal.
func printable(s string, limit int) string {
	s = strings.ToValidUTF8(s[:min(len(s), limit)], "")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}
