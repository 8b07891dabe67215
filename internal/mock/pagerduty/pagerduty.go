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

// Package pagerduty is an in-process fake of the PagerDuty Events API v2 (POST /v2/enqueue)
// for tests. It validates every event against PagerDuty's OpenAPI document and answers as
// PagerDuty does: 202 for an accepted event, 400 with PagerDuty's error shape for an invalid
// one. It models alerts by dedup_key: a trigger for an open key does not open a second alert,
// resolve closes it.
package pagerduty

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

// EnqueuePath is where the Events API v2 takes events.
const EnqueuePath = "/v2/enqueue"

// Server is the fake PagerDuty. Requests, FailNext, DropNext, Delay, Reset and Close come
// from mockhttp.Server.
type Server struct {
	*mockhttp.Server

	mu       sync.Mutex
	keys     map[string]bool
	alerts   map[string]*Alert
	resolved []Alert
	events   []Event
}

// Alert is an alert PagerDuty holds for a dedup_key.
type Alert struct {
	DedupKey   string
	RoutingKey string
	// Summary, Source and Severity are those of the trigger that opened the alert; PagerDuty
	// keeps the first 1024 characters of the summary.
	Summary, Source, Severity string
	// Details is the payload's custom_details.
	Details map[string]any
	// Links as sent ({href, text}).
	Links []map[string]any
	// Status is "triggered", "acknowledged" or "resolved".
	Status string
	// Triggers counts the trigger events for this alert, the first included.
	Triggers int
	// OpenedAt and ResolvedAt are when the fake took the first trigger and the resolve.
	OpenedAt, ResolvedAt time.Time
}

// Event is an accepted event.
type Event struct {
	// Action is trigger, acknowledge or resolve.
	Action string
	// DedupKey is the event's dedup_key, or the one the fake made up for a trigger without.
	DedupKey   string
	RoutingKey string
	// Body is the request body.
	Body map[string]any
	At   time.Time
}

// New starts a fake PagerDuty. Send events to EventsURL().
func New() *Server {
	s := &Server{alerts: map[string]*Alert{}}
	s.Server = mockhttp.New(http.HandlerFunc(s.handle), errorBody)
	return s
}

// EventsURL is the endpoint to give a client: URL + "/v2/enqueue".
func (s *Server) EventsURL() string { return s.URL + EnqueuePath }

// AllowRoutingKeys makes the fake refuse events for any routing key but these, as PagerDuty
// refuses keys of integrations that do not exist. By default any well-formed key is taken.
func (s *Server) AllowRoutingKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = map[string]bool{}
	for _, k := range keys {
		s.keys[k] = true
	}
}

// OpenAlerts returns the alerts not resolved, oldest first.
func (s *Server) OpenAlerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, 0, len(s.alerts))
	for _, a := range s.alerts {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.DedupKey, b.DedupKey)
	})
	return out
}

// ResolvedAlerts returns the alerts resolved, in the order they were resolved.
func (s *Server) ResolvedAlerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Alert(nil), s.resolved...)
}

// Events returns the accepted events in arrival order (Requests has every request).
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// errorResponse is PagerDuty's error body.
type errorResponse struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Errors  []string `json:"errors,omitempty"`
}

func errorBody(status int) (string, string) {
	e := errorResponse{Status: "error", Message: http.StatusText(status)}
	switch {
	case status == http.StatusBadRequest:
		e = errorResponse{Status: "invalid event", Message: "Event object is invalid"}
	case status == http.StatusTooManyRequests:
		e = errorResponse{Status: "throttle event", Message: "Requests for this service are arriving too quickly. Please retry later."}
	case status >= 500:
		e = errorResponse{Status: "error", Message: "Internal server error"}
	}
	b, _ := json.Marshal(e)
	return "application/json", string(b)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != EnqueuePath {
		mockhttp.WriteJSON(w, http.StatusNotFound, errorResponse{Status: "Not Found", Message: "The fake PagerDuty takes events at POST " + EnqueuePath})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		mockhttp.WriteJSON(w, http.StatusMethodNotAllowed, errorResponse{Status: "Method Not Allowed", Message: "Use POST"})
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body == nil {
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{Status: "Unrecognized object", Message: "Event object format is unrecognized", Errors: []string{"JSON parse error"}})
		return
	}
	if errs := Validate(body); len(errs) > 0 {
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{Status: "invalid event", Message: "Event object is invalid", Errors: errs})
		return
	}
	key, _ := body["routing_key"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil && !s.keys[key] {
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{Status: "invalid event", Message: "Event object is invalid", Errors: []string{"Invalid routing key"}})
		return
	}
	action := body["event_action"].(string) // Validate checked the enum
	dedup, _ := body["dedup_key"].(string)
	if dedup == "" {
		dedup = newKey()
	}
	now := time.Now()
	s.events = append(s.events, Event{Action: action, DedupKey: dedup, RoutingKey: key, Body: body, At: now})
	a := s.alerts[dedup]
	switch action {
	case "trigger":
		if a != nil {
			a.Triggers++
			break
		}
		p := body["payload"].(map[string]any)
		a = &Alert{DedupKey: dedup, RoutingKey: key, Status: "triggered", Triggers: 1, OpenedAt: now}
		a.Summary, _ = p["summary"].(string)
		a.Summary = truncate(a.Summary, 1024)
		a.Source, _ = p["source"].(string)
		a.Severity, _ = p["severity"].(string)
		a.Details, _ = p["custom_details"].(map[string]any)
		if links, ok := body["links"].([]any); ok {
			for _, l := range links {
				if m, ok := l.(map[string]any); ok {
					a.Links = append(a.Links, m)
				}
			}
		}
		s.alerts[dedup] = a
	case "acknowledge":
		if a != nil {
			a.Status = "acknowledged"
		}
	case "resolve":
		if a != nil {
			a.Status, a.ResolvedAt = "resolved", now
			s.resolved = append(s.resolved, *a)
			delete(s.alerts, dedup)
		}
	}
	mockhttp.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "success", "message": "Event processed", "dedup_key": dedup})
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
