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

// Package publish is the contract between the StatusUpdate controller and the status pages it
// publishes to. A Provider makes exactly one external call per method call and classifies its
// errors with internal/delivery; retrying, ordering and exactly-once bookkeeping are the
// controller's.
//
// Exactly once rests on three rules every Provider follows:
//   - a retryable error means the outcome is unknown (a timeout may come after the provider
//     acted), so before sending the same update again the caller asks Find what landed;
//   - the provider incident carries the Firescope Incident's identity (Update.IncidentKey) and
//     the identity of the last update applied to it (Update.UpdateID), both written by the same
//     call that publishes the update, so Find can tell whether an update landed;
//   - a permanent error means the provider refused the call and nothing changed.
package publish

import (
	"context"
	"errors"
	"time"
)

// Update is one customer-facing status update to publish.
type Update struct {
	// IncidentKey is the stable identity of the Firescope Incident, "<namespace>/<name>/<uid>".
	// It is stored on the provider incident (Statuspage: metadata
	// {"firescope": {"incident": key, "update": UpdateID}}) so that Find can find it again.
	IncidentKey string
	// UpdateID is the stable identity of this update (the StatusUpdate's UID). It is stored on
	// the provider incident by the call that publishes the update; Found.LastUpdateID returns it.
	UpdateID string
	// Title is the provider incident's name (the Incident's title). Only the first update
	// (ProviderRef == "") sets it.
	Title string
	// Status is investigating, identified, monitoring or resolved.
	Status string
	// Body is the update's text as customers read it.
	Body string
	// Impact is "" (let the provider compute it from the components) or none, minor, major or
	// critical (Statuspage: impact_override).
	Impact string
	// Components are the provider components this update changes, with their new status.
	Components []Component
	// Notify asks the provider to notify its subscribers (Statuspage: deliver_notifications).
	Notify bool
	// ProviderRef is the provider incident id; "" means this is the first update and the call
	// creates the provider incident.
	ProviderRef string
}

// Component is one provider component and the status an update gives it: operational,
// degraded_performance, partial_outage, major_outage or under_maintenance.
type Component struct{ ProviderID, Status string }

// Result is what a successful Publish returns.
type Result struct {
	// ProviderRef is the provider incident id: the new one after a create, the given one after
	// an update. The caller stores it and passes it on every later update.
	ProviderRef string
	// UpdateRef is the provider's id of the update this call created (Statuspage: the
	// incident_update id), which Edit needs. "" if the provider did not report one.
	UpdateRef string
}

// Found is a provider incident found by its Firescope identity, with the updates it holds, so
// that a publisher that crashed mid-call can tell whether its update landed.
type Found struct {
	// ProviderRef is the provider incident id.
	ProviderRef string
	// LastUpdateID is the Update.UpdateID of the last update applied to the provider incident,
	// as stored on it; "" if none was stored. Because an update and its id are written by one
	// call, an update landed if and only if it is this one or an earlier one.
	LastUpdateID string
	// Updates are the incident's updates, oldest first.
	Updates []FoundUpdate
}

// FoundUpdate is one update held by a provider incident.
type FoundUpdate struct {
	// Ref is the provider's id of the update, for Edit.
	Ref string
	// Status and Body as published (Body as last edited).
	Status, Body string
	// At is when the provider created the update.
	At time.Time
}

// ErrAmbiguous is returned (wrapped) by Find when more than one provider incident carries the
// same Firescope identity. A person must decide which one is the real one; adopting either
// would be a guess.
var ErrAmbiguous = errors.New("more than one provider incident carries this Firescope incident's identity")

// Provider publishes status updates to one external status page.
type Provider interface {
	// Publish makes one call: create the provider incident with this first update
	// (u.ProviderRef == "") or add this update to it (new status and body). Errors are
	// judged by delivery.Assess: a terminal one means nothing was published and sending it
	// again will not help; one known to have had no effect (Failure.NotApplied, such as a 429
	// or 503) may simply be sent again; any other leaves the outcome unknown, so call Find
	// before sending the update again. Errors never contain credentials.
	Publish(ctx context.Context, u Update) (Result, error)
	// Edit replaces the body of an update already published (providerUpdateRef is its
	// Result.UpdateRef or FoundUpdate.Ref) without publishing a new update or notifying
	// subscribers again. Errors are classified as for Publish; editing is idempotent, so a
	// retryable error may simply be retried.
	Edit(ctx context.Context, providerRef, providerUpdateRef, body string) error
	// Find looks up the provider incident whose stored identity is incidentKey, for adopting
	// it after a crash left the outcome of a create unknown. ok is false when there is none.
	// Errors are classified as for Publish; more than one match is ErrAmbiguous.
	Find(ctx context.Context, incidentKey string) (f Found, ok bool, err error)
}
