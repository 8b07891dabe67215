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

package publish

import (
	"context"
	"time"
)

// Maintenance statuses, in the Statuspage vocabulary, in the order a maintenance goes
// through them.
const (
	MaintenanceScheduled  = "scheduled"
	MaintenanceInProgress = "in_progress"
	MaintenanceCompleted  = "completed"
)

// Maintenance is one state of a scheduled maintenance to publish: announced, started or
// completed, with its current text.
type Maintenance struct {
	// Key is the stable identity of the Firescope Maintenance, "<namespace>/<name>/<uid>",
	// stored on the provider's maintenance (Statuspage: metadata {"firescope":
	// {"maintenance": key, "update": Revision}}) so that FindMaintenance can find it again.
	Key string
	// Revision identifies what this call publishes ("<status>/<generation>"); it is stored
	// by the same call, so FindMaintenance tells whether the call landed.
	Revision string
	// Title is the maintenance's name.
	Title string
	// Status is scheduled, in_progress or completed.
	Status string
	// Body is the message to customers for this status.
	Body string
	// ScheduledFor and ScheduledUntil are the window.
	ScheduledFor, ScheduledUntil time.Time
	// ComponentIDs are the provider ids of the components under maintenance.
	ComponentIDs []string
	// Notify asks the provider to notify its subscribers of this status.
	Notify bool
	// ProviderRef is the provider's id of the maintenance; "" means this call announces it.
	ProviderRef string
}

// FoundMaintenance is a provider's maintenance found by its Firescope identity.
type FoundMaintenance struct {
	// ProviderRef is the provider's id of it.
	ProviderRef string
	// Revision is the Maintenance.Revision of the last call that reached it, as stored on
	// it; "" when the provider cannot tell, and then the caller sends again: such providers
	// make sending the same revision again harmless.
	Revision string
}

// MaintenancePublisher publishes scheduled maintenances. Like Provider, each method makes one
// external call and classifies its errors with internal/delivery; a retryable error leaves
// the outcome unknown, so before sending again the caller asks FindMaintenance.
//
// A provider that can publish maintenances implements this beside Provider, on the value its
// constructor returns, so callers find it with a type assertion: the Atlassian Statuspage
// (scheduled incidents), the Firescope status page and the webhook providers all do.
type MaintenancePublisher interface {
	// PublishMaintenance announces the maintenance (m.ProviderRef == "") or moves it to
	// m.Status with m.Body, and returns the provider's id of it.
	PublishMaintenance(ctx context.Context, m Maintenance) (providerRef string, err error)
	// FindMaintenance looks up the provider's maintenance whose stored identity is key; ok
	// is false when there is none. More than one match is ErrAmbiguous.
	FindMaintenance(ctx context.Context, key string) (f FoundMaintenance, ok bool, err error)
}
