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

// Package statuspage is an in-process fake of the Atlassian Statuspage management API v1 for
// tests. It serves the incident endpoints a publisher uses (create, update, list, list
// unresolved, get, edit an incident update; list scheduled, upcoming and active maintenances)
// and the incident post-mortem endpoints (get,
// create or replace the draft, publish, revert, delete) and adding data to a system metric
// (metrics.go) under /v1, as the real API does under
// https://api.statuspage.io/v1, and answers the way Statuspage documents:
//   - 401 {"message": ...} without a valid "Authorization: OAuth <key>" header (or api_key
//     query parameter);
//   - 400 for a request that does not match Atlassian's OpenAPI document, which the fake
//     embeds and checks every request against (Invalid lists the failures);
//   - 422 for what the document states in prose: an unknown component id, a blank or too
//     long name, a body over 25000 characters, metadata whose top-level values are not objects,
//     a maintenance without its window or one status of the other kind of incident;
//   - 404 for another page, an unknown incident or incident update, a post-mortem an incident
//     does not have (GET, DELETE, revert), or a path not in the document; 501 for operations
//     in the document the fake does not model;
//   - 400 for publishing a post-mortem whose draft is missing or blank, the one client error
//     the document lists for publishing (and 400 for reverting one that is not published);
//   - 429 with Retry-After beyond the rate limit, when RateLimit, RateLimitWindow or MinGap
//     turns it on;
//   - 503 for a fraction of the writes, with no effect, when FailWrites turns it on: the
//     document lists no 5xx answer, and RFC 9110 defines 503 as a server "unable to handle
//     the request", so a 503 never applies a write (a lost answer is DropNext's, or Delay's).
//
// The fake models realtime incidents (investigating, identified, monitoring, resolved) and
// scheduled maintenances (scheduled, in_progress, verifying, completed; scheduled.go), which
// it never moves by itself: scheduled_auto_in_progress and scheduled_auto_completed are
// stored and shown, and a test that sets them can see it.
// A post-mortem holds a draft (body_draft) and, once published, the published text (body):
// PUT .../postmortem replaces the draft and never changes what is published; publishing
// copies the draft to body and sets published_at (again on every publish); reverting clears
// body and published_at and keeps the draft. The incident shows the published post-mortem
// as postmortem_body and postmortem_published_at, as the document's Incident schema has them.
// Requests, FailNext, DropNext, Delay, Reset and Close come from mockhttp.Server.
package statuspage

import (
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/routers"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

const (
	// PageID is the page the fake serves; requests for any other page answer 404.
	PageID = "fsc0pe0page1"
	// APIKey is an API key the fake accepts (AllowKey adds more).
	APIKey = "fake-statuspage-key-0123456789abcdef"
)

// Statuspage's documented limits on an incident.
const (
	maxNameLength = 255
	maxBodyLength = 25000
	// maxListLimit is the default and maximum "limit" of GET /incidents.
	maxListLimit = 100
	// rateWindow is the rolling window Statuspage measures its rate limit on.
	rateWindow = 60 * time.Second
)

// Server is the fake Statuspage. Its base URL (for the client's baseURL) is URL.
type Server struct {
	*mockhttp.Server

	mu         sync.Mutex
	keys       map[string]bool
	components []*Component
	incidents  []*Incident
	metrics    map[string][]MetricPoint
	invalid    []InvalidRequest
	rate       rateLimit
	failWrites float64
	failRand   *rand.Rand
}

// Incident is an incident as the fake holds it.
type Incident struct {
	ID, Name string
	// Status is the incident's current status.
	Status string
	// Impact is ImpactOverride when set, else computed from the components' statuses.
	Impact, ImpactOverride string
	// Metadata as sent, top-level keys replaced by later PATCHes.
	Metadata map[string]any
	// Components maps each component id this incident affected to the status it last gave it.
	Components map[string]string
	// ComponentIDs are the affected component ids, in the order first seen.
	ComponentIDs []string
	// Updates are the incident's updates, oldest first (the API lists them newest first).
	Updates []IncidentUpdate
	// Postmortem is the incident's post-mortem, nil if it has none.
	Postmortem *Postmortem
	// Schedule is set for a scheduled maintenance (scheduled.go), nil for a realtime incident.
	Schedule *Schedule
	// CreatedAt, UpdatedAt and ResolvedAt (zero while unresolved, or until a maintenance
	// completes) are the fake's clock.
	CreatedAt, UpdatedAt, ResolvedAt time.Time
}

// Postmortem is an incident's post-mortem as the fake holds it.
type Postmortem struct {
	// BodyDraft is the draft the last PUT .../postmortem stored.
	BodyDraft string
	// Body is the published text, the draft as of the last publish; "" while unpublished.
	Body string
	// PublishedAt is when it was last published; zero while unpublished.
	PublishedAt time.Time
	// NotifySubscribers and NotifyTwitter are what the last publish asked for.
	NotifySubscribers, NotifyTwitter bool
	// Publishes counts the successful publish requests.
	Publishes int
	// BodyDraftUpdatedAt and BodyUpdatedAt are when the draft and the published text last
	// changed.
	CreatedAt, UpdatedAt, BodyDraftUpdatedAt, BodyUpdatedAt time.Time
}

// IncidentUpdate is one update of an incident.
type IncidentUpdate struct {
	ID, Status, Body string
	// DeliverNotifications is the request's deliver_notifications (default true).
	DeliverNotifications bool
	// Components are the component statuses this update set, id -> status.
	Components map[string]string
	// Edits counts the edits of this update after it was created.
	Edits                int
	CreatedAt, UpdatedAt time.Time
}

// Component is a component of the page.
type Component struct {
	ID, Name string
	// Status is operational until an incident changes it.
	Status               string
	CreatedAt, UpdatedAt time.Time
}

// InvalidRequest is a request that did not match the OpenAPI document.
type InvalidRequest struct {
	Method, Path string
	// Errors say what did not match.
	Errors []string
}

// errorEntity is the document's ErrorEntity, the body of every error answer.
type errorEntity struct {
	Message string `json:"message"`
}

// New starts a fake Statuspage serving PageID to APIKey, with no components.
func New() *Server {
	s := &Server{keys: map[string]bool{APIKey: true}}
	s.Server = mockhttp.New(http.HandlerFunc(s.handle), errorBody)
	return s
}

// AllowKey makes the fake accept key as well.
func (s *Server) AllowKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = true
}

// AddComponent adds an operational component with this id and name to the page.
func (s *Server) AddComponent(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.components = append(s.components, &Component{ID: id, Name: name, Status: "operational", CreatedAt: now, UpdatedAt: now})
}

// Components returns the page's components in the order added.
func (s *Server) Components() []Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Component, len(s.components))
	for i, c := range s.components {
		out[i] = *c
	}
	return out
}

// Incidents returns every incident, oldest first, with its updates oldest first.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, len(s.incidents))
	for i, inc := range s.incidents {
		out[i] = inc.clone()
	}
	return out
}

// Invalid returns the requests that did not match the OpenAPI document, in arrival order.
func (s *Server) Invalid() []InvalidRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.invalid)
}

// RateLimit applies Statuspage's documented rate limit with perSecond requests per second per
// API key, measured as Statuspage does on a rolling 60-second window: up to 60*perSecond
// requests pass in any 60 seconds, the rest answer 429 with Retry-After. 0 turns it off.
func (s *Server) RateLimit(perSecond int) {
	s.RateLimitWindow(perSecond*int(rateWindow/time.Second), rateWindow)
}

// RateLimitWindow admits n requests per API key in any rolling window of length per and
// answers 429 with Retry-After (whole seconds until a request leaves the window) beyond. n <= 0
// turns it off. Refused requests do not count.
func (s *Server) RateLimitWindow(n int, per time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rateLimit{n: n, per: per, seen: map[string][]time.Time{}}
}

// MinGap answers 429, with Retry-After in whole seconds, a request that arrives less than gap
// after the last one admitted with the same API key: the strictest reading of "1 request /
// second" (MinGap(time.Second)), under which a lookup and a write sent back to back collide.
// 0 turns it off. It replaces RateLimit and RateLimitWindow.
func (s *Server) MinGap(gap time.Duration) { s.RateLimitWindow(1, gap) }

// FailWrites answers each write (POST, PUT, PATCH or DELETE) that passes authentication and
// the rate limit with 503 and no effect, with probability fraction, drawn from a generator
// seeded with seed so that a run can be repeated. The failed write counts against the rate
// limit, as a real one would. 0 turns it off.
func (s *Server) FailWrites(fraction float64, seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrites, s.failRand = fraction, rand.New(rand.NewPCG(seed, seed))
}

// failWrite draws whether this write fails. The caller holds s.mu.
func (s *Server) failWrite(method string) bool {
	if s.failWrites <= 0 || method == http.MethodGet || method == http.MethodHead {
		return false
	}
	return s.failRand.Float64() < s.failWrites
}

type rateLimit struct {
	n    int
	per  time.Duration
	seen map[string][]time.Time
}

// admit records a request for key at now, or returns how long until one would be admitted.
func (r *rateLimit) admit(key string, now time.Time) (time.Duration, bool) {
	if r.n <= 0 {
		return 0, true
	}
	times := r.seen[key]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= r.per {
		i++
	}
	times = times[i:]
	if len(times) >= r.n {
		r.seen[key] = times
		return times[0].Add(r.per).Sub(now), false
	}
	r.seen[key] = append(times, now)
	return 0, true
}

func errorBody(status int) (string, string) {
	msg := http.StatusText(status)
	switch {
	case status == http.StatusTooManyRequests || status == 420:
		msg = "Rate limit exceeded. Each API token is limited to 1 request / second as measured on a 60 second rolling window."
	case status == http.StatusUnauthorized:
		msg = "Could not authenticate"
	case status >= 500:
		msg = "Internal server error"
	}
	b, _ := json.Marshal(errorEntity{Message: msg})
	return "application/json", string(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	mockhttp.WriteJSON(w, status, errorEntity{Message: msg})
}

// apiKey is the key a request presents: "Authorization: OAuth <key>" or ?api_key=<key>.
func apiKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "OAuth") {
			return strings.TrimSpace(key)
		}
		return ""
	}
	return r.URL.Query().Get("api_key")
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	key := apiKey(r)
	s.mu.Lock()
	wait, ok := s.rate.admit(key, time.Now())
	known := s.keys[key]
	fail := ok && known && s.failWrite(r.Method)
	s.mu.Unlock()
	if !ok {
		secs := max(1, int64((wait+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		_, b := errorBody(http.StatusTooManyRequests)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(b))
		return
	}
	if !known {
		writeError(w, http.StatusUnauthorized, "Could not authenticate")
		return
	}
	if fail {
		writeError(w, http.StatusServiceUnavailable, "Service unavailable")
		return
	}
	rt, params, err := route(r)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	case err != nil:
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if errs := validateRequest(r, rt, params, body); len(errs) > 0 {
		s.mu.Lock()
		s.invalid = append(s.invalid, InvalidRequest{Method: r.Method, Path: r.URL.Path, Errors: errs})
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, strings.Join(errs, "; "))
		return
	}
	if params["page_id"] != PageID {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	var req map[string]any
	if len(body) > 0 {
		_ = json.Unmarshal(body, &req) // validateRequest checked it is a JSON object
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch rt.Operation.OperationID {
	case "getPagesPageIdIncidents":
		s.list(w, r)
	case "getPagesPageIdIncidentsUnresolved":
		s.listUnresolved(w, r)
	case "getPagesPageIdIncidentsScheduled", "getPagesPageIdIncidentsUpcoming", "getPagesPageIdIncidentsActiveMaintenance":
		s.listScheduled(w, r, rt.Operation.OperationID)
	case "postPagesPageIdIncidents":
		s.create(w, object(req["incident"]))
	case "getPagesPageIdIncidentsIncidentId":
		if inc := s.incident(params["incident_id"]); inc != nil {
			mockhttp.WriteJSON(w, http.StatusOK, s.incidentJSON(inc))
			return
		}
		writeError(w, http.StatusNotFound, notFound)
	case "patchPagesPageIdIncidentsIncidentId":
		s.update(w, params["incident_id"], object(req["incident"]))
	case "patchPagesPageIdIncidentsIncidentIdIncidentUpdatesIncidentUpdateId":
		s.editUpdate(w, params["incident_id"], params["incident_update_id"], object(req["incident_update"]))
	case "getPagesPageIdIncidentsIncidentIdPostmortem":
		s.getPostmortem(w, params["incident_id"])
	case "putPagesPageIdIncidentsIncidentIdPostmortem":
		s.draftPostmortem(w, params["incident_id"], object(req["postmortem"]))
	case "putPagesPageIdIncidentsIncidentIdPostmortemPublish":
		s.publishPostmortem(w, params["incident_id"], object(req["postmortem"]))
	case "putPagesPageIdIncidentsIncidentIdPostmortemRevert":
		s.revertPostmortem(w, params["incident_id"])
	case "deletePagesPageIdIncidentsIncidentIdPostmortem":
		s.deletePostmortem(w, params["incident_id"])
	case "postPagesPageIdMetricsMetricIdData":
		s.addMetricData(w, params["metric_id"], object(req["data"]))
	default:
		writeError(w, http.StatusNotImplemented, "The fake Statuspage does not model "+rt.Operation.OperationID)
	}
}

func object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

var realtime = []string{"investigating", "identified", "monitoring", "resolved"}

// check applies the rules the document states in prose to an incident in a POST or PATCH,
// returning Statuspage's 422 message or "".
func (s *Server) check(in map[string]any, inc *Incident) string {
	var errs []string
	if name, ok := in["name"].(string); ok || inc == nil {
		switch {
		case strings.TrimSpace(name) == "":
			errs = append(errs, "Name can't be blank")
		case utf8.RuneCountInString(name) > maxNameLength:
			errs = append(errs, fmt.Sprintf("Name is too long (maximum is %d characters)", maxNameLength))
		}
	}
	if body, ok := in["body"].(string); ok && utf8.RuneCountInString(body) > maxBodyLength {
		errs = append(errs, fmt.Sprintf("Body is too long (maximum is %d characters)", maxBodyLength))
	}
	errs = append(errs, scheduleErrors(in, inc)...)
	for k, v := range object(in["metadata"]) {
		if _, ok := v.(map[string]any); !ok {
			errs = append(errs, "Metadata values at the top level must be objects: "+k)
		}
	}
	var unknown []string
	for _, id := range componentIDs(in) {
		if s.component(id) == nil {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		errs = append(errs, "Components not found: "+strings.Join(unknown, ", "))
	}
	return strings.Join(errs, "; ")
}

// componentIDs are the ids an incident request names in components and component_ids, sorted
// and without repeats.
func componentIDs(in map[string]any) []string {
	var ids []string
	for id := range object(in["components"]) {
		ids = append(ids, id)
	}
	if list, ok := in["component_ids"].([]any); ok {
		for _, v := range list {
			if id, ok := v.(string); ok {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (s *Server) component(id string) *Component {
	for _, c := range s.components {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) incident(id string) *Incident {
	for _, inc := range s.incidents {
		if inc.ID == id {
			return inc
		}
	}
	return nil
}

func (s *Server) create(w http.ResponseWriter, in map[string]any) {
	if msg := s.check(in, nil); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	now := time.Now()
	inc := &Incident{ID: newID(), Status: "investigating", Metadata: map[string]any{}, Components: map[string]string{}, CreatedAt: now}
	s.incidents = append(s.incidents, inc)
	s.apply(inc, in, now, true)
	mockhttp.WriteJSON(w, http.StatusCreated, s.incidentJSON(inc))
}

func (s *Server) update(w http.ResponseWriter, id string, in map[string]any) {
	inc := s.incident(id)
	if inc == nil {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	if msg := s.check(in, inc); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	s.apply(inc, in, time.Now(), false)
	mockhttp.WriteJSON(w, http.StatusOK, s.incidentJSON(inc))
}

// apply changes inc as a POST (create) or PATCH of in does. A status or a body makes a new
// incident update, as does creating the incident.
func (s *Server) apply(inc *Incident, in map[string]any, now time.Time, create bool) {
	if name, ok := in["name"].(string); ok {
		inc.Name = name
	}
	if v, ok := in["impact_override"].(string); ok {
		inc.ImpactOverride = v
	}
	for k, v := range object(in["metadata"]) {
		inc.Metadata[k] = v
	}
	changed := map[string]string{}
	for id, v := range object(in["components"]) {
		if st, _ := v.(string); st != "" {
			changed[id] = st
		}
	}
	for _, id := range componentIDs(in) {
		if !slices.Contains(inc.ComponentIDs, id) {
			inc.ComponentIDs = append(inc.ComponentIDs, id)
		}
	}
	for id, st := range changed {
		inc.Components[id] = st
		c := s.component(id)
		c.Status, c.UpdatedAt = st, now
	}
	applySchedule(inc, in, create)
	status, hasStatus := in["status"].(string)
	if hasStatus {
		inc.Status = status
		if status == "resolved" || status == "completed" {
			inc.ResolvedAt = now
		} else {
			inc.ResolvedAt = time.Time{}
		}
	}
	body, hasBody := in["body"].(string)
	if create || hasStatus || hasBody {
		notify := true
		if v, ok := in["deliver_notifications"].(bool); ok {
			notify = v
		}
		inc.Updates = append(inc.Updates, IncidentUpdate{
			ID: newID(), Status: inc.Status, Body: body, DeliverNotifications: notify,
			Components: changed, CreatedAt: now, UpdatedAt: now,
		})
	}
	inc.Impact = impact(inc)
	inc.UpdatedAt = now
}

// impact is the override, or else the worst impact of the incident's component statuses.
func impact(inc *Incident) string {
	if inc.ImpactOverride != "" {
		return inc.ImpactOverride
	}
	rank := map[string]int{"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}
	of := map[string]string{"under_maintenance": "maintenance", "degraded_performance": "minor", "partial_outage": "major", "major_outage": "critical"}
	worst := "none"
	for _, st := range inc.Components {
		if i, ok := of[st]; ok && rank[i] > rank[worst] {
			worst = i
		}
	}
	return worst
}

func (s *Server) editUpdate(w http.ResponseWriter, incidentID, updateID string, in map[string]any) {
	inc := s.incident(incidentID)
	if inc == nil {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	i := slices.IndexFunc(inc.Updates, func(u IncidentUpdate) bool { return u.ID == updateID })
	if i < 0 {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	u := &inc.Updates[i]
	if body, ok := in["body"].(string); ok {
		if utf8.RuneCountInString(body) > maxBodyLength {
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Body is too long (maximum is %d characters)", maxBodyLength))
			return
		}
		u.Body = body
	}
	if v, ok := in["deliver_notifications"].(bool); ok {
		u.DeliverNotifications = v
	}
	u.Edits++
	u.UpdatedAt = time.Now()
	mockhttp.WriteJSON(w, http.StatusOK, s.updateJSON(inc, *u))
}

// list is GET /incidents: newest first, optionally filtered by q (in the name, status,
// postmortem and update bodies), limit rows (default and maximum 100) of page page (from 1).
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(r.URL.Query().Get("q"))
	var match []*Incident
	for _, inc := range slices.Backward(s.incidents) {
		if q == "" || inc.mentions(q) {
			match = append(match, inc)
		}
	}
	s.writePage(w, match, r.URL.Query().Get("page"), r.URL.Query().Get("limit"))
}

// listUnresolved is GET /incidents/unresolved: the realtime incidents not resolved, newest
// first, per_page rows (default 100) of page page (from 1).
func (s *Server) listUnresolved(w http.ResponseWriter, r *http.Request) {
	var match []*Incident
	for _, inc := range slices.Backward(s.incidents) {
		if inc.Status != "resolved" && inc.Schedule == nil {
			match = append(match, inc)
		}
	}
	s.writePage(w, match, r.URL.Query().Get("page"), r.URL.Query().Get("per_page"))
}

func (s *Server) writePage(w http.ResponseWriter, incs []*Incident, page, size string) {
	p, _ := strconv.Atoi(page)
	n, _ := strconv.Atoi(size)
	p = max(p, 1)
	if n <= 0 || n > maxListLimit {
		n = maxListLimit
	}
	out := []map[string]any{}
	for i := (p - 1) * n; i < len(incs) && i < p*n; i++ {
		out = append(out, s.incidentJSON(incs[i]))
	}
	mockhttp.WriteJSON(w, http.StatusOK, out)
}

func (inc *Incident) mentions(q string) bool {
	if strings.Contains(strings.ToLower(inc.Name), q) || strings.Contains(inc.Status, q) {
		return true
	}
	for _, u := range inc.Updates {
		if strings.Contains(strings.ToLower(u.Body), q) {
			return true
		}
	}
	return inc.Postmortem != nil && strings.Contains(strings.ToLower(inc.Postmortem.Body), q)
}

func (inc *Incident) clone() Incident {
	c := *inc
	c.Metadata = cloneJSON(inc.Metadata)
	c.Components = maps.Clone(inc.Components)
	c.ComponentIDs = slices.Clone(inc.ComponentIDs)
	c.Updates = slices.Clone(inc.Updates)
	for i := range c.Updates {
		c.Updates[i].Components = maps.Clone(c.Updates[i].Components)
	}
	if inc.Postmortem != nil {
		pm := *inc.Postmortem
		c.Postmortem = &pm
	}
	if inc.Schedule != nil {
		sc := *inc.Schedule
		c.Schedule = &sc
	}
	return c
}

func cloneJSON(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

// incidentJSON is inc as the API's Incident schema, updates newest first as Statuspage lists
// them. Fields the fake does not model are left out rather than sent as null.
func (s *Server) incidentJSON(inc *Incident) map[string]any {
	m := map[string]any{
		"id": inc.ID, "page_id": PageID, "name": inc.Name, "status": inc.Status, "impact": inc.Impact,
		"metadata": cloneJSON(inc.Metadata), "shortlink": "https://stspg.io/" + inc.ID,
		"created_at": stamp(inc.CreatedAt), "updated_at": stamp(inc.UpdatedAt),
	}
	if inc.ImpactOverride != "" {
		m["impact_override"] = inc.ImpactOverride
	}
	if !inc.ResolvedAt.IsZero() {
		m["resolved_at"] = stamp(inc.ResolvedAt)
	}
	if sc := inc.Schedule; sc != nil {
		m["scheduled_for"], m["scheduled_until"] = stamp(sc.For), stamp(sc.Until)
		m["scheduled_auto_in_progress"], m["scheduled_auto_completed"] = sc.AutoInProgress, sc.AutoCompleted
		m["scheduled_remind_prior"] = false
	}
	if pm := inc.Postmortem; pm != nil && !pm.PublishedAt.IsZero() {
		m["postmortem_body"] = pm.Body
		m["postmortem_body_last_updated_at"] = stamp(pm.BodyUpdatedAt)
		m["postmortem_published_at"] = stamp(pm.PublishedAt)
		m["postmortem_notified_subscribers"] = pm.NotifySubscribers
		m["postmortem_notified_twitter"] = pm.NotifyTwitter
	}
	comps := []map[string]any{}
	for i, c := range s.components {
		if slices.Contains(inc.ComponentIDs, c.ID) {
			comps = append(comps, map[string]any{
				"id": c.ID, "page_id": PageID, "name": c.Name, "status": c.Status, "position": i + 1,
				"group": false, "showcase": true, "only_show_if_degraded": false,
				"created_at": stamp(c.CreatedAt), "updated_at": stamp(c.UpdatedAt),
			})
		}
	}
	m["components"] = comps
	updates := []map[string]any{}
	for _, u := range slices.Backward(inc.Updates) {
		updates = append(updates, s.updateJSON(inc, u))
	}
	m["incident_updates"] = updates
	return m
}

func (s *Server) updateJSON(inc *Incident, u IncidentUpdate) map[string]any {
	affected := []map[string]any{}
	ids := make([]string, 0, len(u.Components))
	for id := range u.Components {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		name := ""
		if c := s.component(id); c != nil {
			name = c.Name
		}
		affected = append(affected, map[string]any{"code": id, "name": name, "new_status": u.Components[id]})
	}
	return map[string]any{
		"id": u.ID, "incident_id": inc.ID, "status": u.Status, "body": u.Body,
		"deliver_notifications": u.DeliverNotifications, "wants_twitter_update": false,
		"affected_components": affected,
		"created_at":          stamp(u.CreatedAt), "updated_at": stamp(u.UpdatedAt), "display_at": stamp(u.CreatedAt),
	}
}

// newID makes an id in Statuspage's style: 12 lower-case letters and digits.
func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	_, _ = crand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
