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

package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

// answer is a transport that gives every request the same answer, so that the fuzzer
// drives the client's decoding without a network.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: -1, Request: r}, nil
}

// FuzzResponseDecoding gives the client arbitrary answers from the status page. Whatever
// comes back, no call panics; an error status is an *Error with that status, classified as
// retryable exactly for 429 and 5xx, whose message (when the body is not the API's error
// JSON) is a short, printable excerpt; a success either decodes or says it could not.
func FuzzResponseDecoding(f *testing.F) {
	for _, seed := range []struct {
		status     uint16
		retryAfter string
		body       string
	}{
		{201, "", `{"id":"inc-1","name":"Errors","impact":"major","status":"investigating","created_at":"2026-11-25T10:00:00Z","updated_at":"2026-11-25T10:00:00Z","resolved_at":null,"url":"http://s/incidents/inc-1","updates":[{"id":"u1","incident_id":"inc-1","status":"investigating","body":"Looking.","created_at":"2026-11-25T10:00:00Z","components":[]}]}`},
		{200, "", `[{"id":"api","name":"API","position":1,"status":"operational","created_at":"2026-11-25T10:00:00Z","updated_at":"2026-11-25T10:00:00Z"}]`},
		{204, "", ``},
		{409, "", `{"error":{"code":"conflict","message":"update \"u1\" already exists","field":"body"}}`},
		{429, "30", `{"error":{"code":"rate_limited","message":"slow down"}}`},
		{503, "Wed, 21 Oct 2026 07:28:00 GMT", `<html>Service Unavailable</html>`},
		{502, "-5", "\xff\xfe\x00\x1b[31mred"},
		{200, "", `{"id":`},
		{200, "", `null`},
		{404, "", strings.Repeat("é", 150)},
		{422, "", `{"error":{"code":"invalid\u001b[2J","message":"` + strings.Repeat("long ", 500) + `","field":"name\u0000"}}`},
	} {
		f.Add(seed.status, seed.retryAfter, []byte(seed.body))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		code := 200 + int(status)%400
		c := client.New("http://status.test", "client-test-token-0123456789", &http.Client{
			Transport: answer{status: code, header: http.Header{"Retry-After": {retryAfter}, "Content-Type": {"application/json"}}, body: body}})
		calls := map[string]func() (bool, error){
			"PutIncident": func() (bool, error) {
				_, created, err := c.PutIncident(ctx, "inc-1", api.IncidentRequest{Name: "Errors", Impact: api.ImpactMajor})
				return created, err
			},
			"PutUpdate": func() (bool, error) {
				_, created, err := c.PutUpdate(ctx, "inc-1", "u1", api.UpdateRequest{Status: api.Investigating, Body: "Looking."})
				return created, err
			},
			"Incident":       func() (bool, error) { _, err := c.Incident(ctx, "inc-1"); return false, err },
			"Components":     func() (bool, error) { _, err := c.Components(ctx); return false, err },
			"Postmortem":     func() (bool, error) { _, err := c.Postmortem(ctx, "inc-1"); return false, err },
			"EditUpdate":     func() (bool, error) { _, err := c.EditUpdate(ctx, "inc-1", "u1", "Looking harder."); return false, err },
			"DeleteIncident": func() (bool, error) { return false, c.DeleteIncident(ctx, "inc-1") },
		}
		for name, call := range calls {
			created, err := call()
			if code < 300 {
				if created != (err == nil && code == http.StatusCreated) {
					t.Errorf("%s: created %v after a %d", name, created, code)
				}
				if err != nil && !strings.Contains(err.Error(), "decoding the answer") {
					t.Errorf("%s: %d answer: %v", name, code, err)
				}
				continue
			}
			e, ok := errors.AsType[*client.Error](err)
			if !ok || e.StatusCode != code {
				t.Fatalf("%s: a %d answer gave %v", name, code, err)
			}
			if client.Retryable(err) != (code == http.StatusTooManyRequests || code >= 500) {
				t.Errorf("%s: %d classified retryable %v", name, code, client.Retryable(err))
			}
			limit := 1000
			if strings.HasPrefix(e.Code, "http_") {
				limit = 200
			}
			if len(e.Message) > limit {
				t.Errorf("%s: a message of %d bytes from the body", name, len(e.Message))
			}
			for _, s := range []string{e.Code, e.Message, e.Field} {
				if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
					t.Errorf("%s: the error copies unprintable bytes from the body: %q", name, s)
				}
			}
		}
	})
}
