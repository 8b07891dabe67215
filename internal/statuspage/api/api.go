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

// Package api holds the wire types of the Firescope status page's write API, version 1
// (/api/v1), shared by the server and its Go client. docs/statuspage.md documents them.
package api

import "time"

// ComponentStatus is the state of one component, in the Statuspage vocabulary.
type ComponentStatus string

// Component statuses, from best to worst (under_maintenance is planned, so it ranks apart).
const (
	Operational         ComponentStatus = "operational"
	DegradedPerformance ComponentStatus = "degraded_performance"
	PartialOutage       ComponentStatus = "partial_outage"
	MajorOutage         ComponentStatus = "major_outage"
	UnderMaintenance    ComponentStatus = "under_maintenance"
)

// ComponentStatuses lists every valid ComponentStatus.
var ComponentStatuses = []ComponentStatus{Operational, DegradedPerformance, PartialOutage, MajorOutage, UnderMaintenance}

// Impact is how bad an incident is for customers.
type Impact string

// Incident impacts, from least to most severe.
const (
	ImpactNone     Impact = "none"
	ImpactMinor    Impact = "minor"
	ImpactMajor    Impact = "major"
	ImpactCritical Impact = "critical"
)

// Impacts lists every valid Impact.
var Impacts = []Impact{ImpactNone, ImpactMinor, ImpactMajor, ImpactCritical}

// IncidentStatus is where an incident stands; every update carries one, and the incident's
// status is the one of its latest update.
type IncidentStatus string

// Incident statuses.
const (
	Investigating IncidentStatus = "investigating"
	Identified    IncidentStatus = "identified"
	Monitoring    IncidentStatus = "monitoring"
	Resolved      IncidentStatus = "resolved"
)

// IncidentStatuses lists every valid IncidentStatus.
var IncidentStatuses = []IncidentStatus{Investigating, Identified, Monitoring, Resolved}

// Limits of the write API. They keep the worst-case page small enough to render on every
// write, to hold in the server's memory limit and to load on a phone during an outage.
const (
	// MaxBodyBytes is the largest request body accepted; larger ones get 413.
	MaxBodyBytes = 64 << 10
	// MaxIDLength is the longest id, in bytes. Ids match IDPattern.
	MaxIDLength = 128
	// MaxNameLength is the longest component or incident name, in characters.
	MaxNameLength = 200
	// MaxDescriptionLength is the longest component description, in characters.
	MaxDescriptionLength = 1000
	// MaxUpdateBodyLength is the longest update body, in characters.
	MaxUpdateBodyLength = 10000
	// MaxComponents is the most components a page has.
	MaxComponents = 100
	// MaxUpdatesPerIncident is the most updates one incident has.
	MaxUpdatesPerIncident = 200
	// MaxPosition is the largest component position.
	MaxPosition = 10000
	// MaxPostmortemLength is the longest post-mortem, in characters.
	MaxPostmortemLength = 20000
	// MaxPostmortemBodyBytes is the largest request body of PUT .../postmortem, larger than
	// MaxBodyBytes so that a post-mortem of MaxPostmortemLength characters fits however its
	// client escapes it (a JSON encoder may write one character as 12 bytes, \uXXXX\uXXXX).
	MaxPostmortemBodyBytes = 256 << 10
	// MaxIncidents is the most incidents a page holds; delete old ones to make room.
	MaxIncidents = 1000
	// MaxIncidentBytes bounds one incident's records (the incident, its updates and its
	// post-mortem) as stored, in bytes of JSON: a write that would pass it gets 413.
	MaxIncidentBytes = 4 << 20
	// MaxStoredBytes bounds every record of the page together, as stored: a write that would
	// pass it gets 413 until old incidents are deleted.
	MaxStoredBytes = 32 << 20
)

// IDPattern is the form of every client-chosen id: URL-safe, so that it needs no escaping in
// a path. A Kubernetes UID or name fits.
const IDPattern = `^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$`

// ComponentRequest is the body of PUT /api/v1/components/{id}.
type ComponentRequest struct {
	// Name is shown on the page. Required.
	Name string `json:"name"`
	// Description is optional help text under the name.
	Description string `json:"description,omitempty"`
	// Group is optional: the name of the group the page shows the component in (such as
	// "Europe"). The group's status is the worst of its components'.
	Group string `json:"group,omitempty"`
	// Position orders components on the page, lowest first, then by name. Optional: a new
	// component goes last, an existing one keeps its place.
	Position *int `json:"position,omitempty"`
	// Status is optional: a new component starts operational, an existing one keeps its status.
	Status ComponentStatus `json:"status,omitempty"`
}

// Component is a component as the server stores it.
type Component struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Group       string          `json:"group,omitempty"`
	Position    int             `json:"position"`
	Status      ComponentStatus `json:"status"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// IncidentRequest is the body of PUT /api/v1/incidents/{id}: it creates the incident or
// changes its name and impact, and may carry one update so that an incident is never public
// without words.
type IncidentRequest struct {
	// Name is the incident's title. Required.
	Name string `json:"name"`
	// Impact is required.
	Impact Impact `json:"impact"`
	// Update, if set, is posted in the same write, as PUT .../updates/{update.id} would.
	Update *UpdateRequest `json:"update,omitempty"`
}

// ComponentChange sets a component's status as part of an update.
type ComponentChange struct {
	// ID names an existing component.
	ID string `json:"id"`
	// Status is the component's new status.
	Status ComponentStatus `json:"status"`
}

// UpdateRequest is the body of PUT /api/v1/incidents/{id}/updates/{updateID}. Updates are
// immutable: the same id with different content is a conflict.
type UpdateRequest struct {
	// ID is the update's id; only in IncidentRequest.Update, where the path does not name it.
	ID string `json:"id,omitempty"`
	// Status is the incident's status as of this update. Required.
	Status IncidentStatus `json:"status"`
	// Body is the message to customers, plain text. Required.
	Body string `json:"body"`
	// CreatedAt is when the update was written; optional, the server's time of the first
	// write otherwise. It orders the updates, so a publisher that retries keeps the order.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// Components are the component statuses this update sets.
	Components []ComponentChange `json:"components,omitempty"`
	// Notify asks the page to notify its subscribers of this update, once. It is not part of
	// the update's content: a retry that differs only in it changes nothing.
	Notify bool `json:"notify,omitempty"`
}

// UpdateEdit is the body of PATCH /api/v1/incidents/{id}/updates/{updateID}: a correction of
// a published update's text, in place.
type UpdateEdit struct {
	// Body replaces the update's text. Required.
	Body string `json:"body"`
}

// AffectedComponent records what an update did to one component.
type AffectedComponent struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	OldStatus ComponentStatus `json:"old_status"`
	NewStatus ComponentStatus `json:"new_status"`
}

// Update is an incident update as the server stores it.
type Update struct {
	ID         string              `json:"id"`
	IncidentID string              `json:"incident_id"`
	Status     IncidentStatus      `json:"status"`
	Body       string              `json:"body"`
	CreatedAt  time.Time           `json:"created_at"`
	Components []AffectedComponent `json:"components"`
}

// Incident is an incident as the server stores it, its updates newest first.
type Incident struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Impact     Impact         `json:"impact"`
	Status     IncidentStatus `json:"status"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ResolvedAt *time.Time     `json:"resolved_at"`
	URL        string         `json:"url"`
	Updates    []Update       `json:"updates"`
}

// PostmortemRequest is the body of PUT /api/v1/incidents/{id}/postmortem. The same request
// again changes nothing.
type PostmortemRequest struct {
	// Body is the post-mortem, plain text: paragraphs separated by blank lines, lines that
	// start with "- " shown as a list. Required. It becomes the draft.
	Body string `json:"body"`
	// Published, when true, also makes Body the text the page shows (publishing it, or
	// correcting the published text). When false, only the draft changes: a published
	// post-mortem stays published with its text, so a post-mortem is never withdrawn.
	Published bool `json:"published"`
	// Notify, with Published, asks the page to notify its subscribers of the post-mortem's
	// first publication (a correction notifies nobody).
	Notify bool `json:"notify,omitempty"`
}

// Postmortem is an incident's post-mortem as the server stores it.
type Postmortem struct {
	IncidentID string `json:"incident_id"`
	// Draft is the body of the latest PUT.
	Draft string `json:"draft"`
	// Published reports whether the page shows the post-mortem.
	Published bool `json:"published"`
	// PublishedBody is the text the page shows, "" while unpublished.
	PublishedBody string `json:"published_body"`
	// PublishedAt is when it was first published, null while unpublished.
	PublishedAt *time.Time `json:"published_at"`
	// RevisedAt is when the published text last changed, null while unpublished.
	RevisedAt *time.Time `json:"revised_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// URL is where the page shows it once published.
	URL string `json:"url"`
}

// Error codes of ErrorBody.
const (
	CodeUnauthorized     = "unauthorized"
	CodeMalformedJSON    = "malformed_json"
	CodeInvalidUTF8      = "invalid_utf8"
	CodeBodyTooLarge     = "body_too_large"
	CodeStorageFull      = "storage_full"
	CodeForbidden        = "forbidden"
	CodeInvalid          = "invalid"
	CodeUnknownComponent = "unknown_component"
	CodeLimitExceeded    = "limit_exceeded"
	CodeConflict         = "conflict"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal"
	// CodeUnavailable: the database is unavailable (restarting, failing over); nothing was
	// changed, and the answer's Retry-After says when to try again.
	CodeUnavailable = "unavailable"
)

// ErrorBody is the body of every error response: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong, for programs (Code, Field) and for people (Message).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the JSON path of the offending field, when one is to blame.
	Field string `json:"field,omitempty"`
}
