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

package api

import "time"

// MaintenanceStatus is where a scheduled maintenance stands, in the Statuspage vocabulary.
type MaintenanceStatus string

// Maintenance statuses, in the only order a maintenance goes through them.
const (
	MaintenanceScheduled  MaintenanceStatus = "scheduled"
	MaintenanceInProgress MaintenanceStatus = "in_progress"
	MaintenanceCompleted  MaintenanceStatus = "completed"
)

// MaintenanceStatuses lists every valid MaintenanceStatus, in order.
var MaintenanceStatuses = []MaintenanceStatus{MaintenanceScheduled, MaintenanceInProgress, MaintenanceCompleted}

// MaxMaintenances is how many maintenances the page holds; completed ones may be deleted to
// make room.
const MaxMaintenances = 200

// MaintenanceRequest is the body of PUT /api/v1/maintenances/{id}: it announces the
// maintenance or changes it. The same request again changes nothing.
type MaintenanceRequest struct {
	// Name is the maintenance's title. Required.
	Name string `json:"name"`
	// Body is the message to customers for the current status, plain text. Required.
	Body string `json:"body"`
	// Status is scheduled, in_progress or completed, and only moves forward. Required.
	Status MaintenanceStatus `json:"status"`
	// ScheduledFor and ScheduledUntil are the window. Required; until after for.
	ScheduledFor   time.Time `json:"scheduled_for"`
	ScheduledUntil time.Time `json:"scheduled_until"`
	// Components are the ids of existing components under maintenance; at least one. They
	// show as under_maintenance while the status is in_progress.
	Components []string `json:"components"`
	// Notify asks the page to notify its subscribers of this status, once. It is not part of
	// the content: a retry that differs only in it changes nothing.
	Notify bool `json:"notify,omitempty"`
}

// MaintenanceUpdate is one status a maintenance went through, with its message.
type MaintenanceUpdate struct {
	Status    MaintenanceStatus `json:"status"`
	Body      string            `json:"body"`
	CreatedAt time.Time         `json:"created_at"`
}

// Maintenance is a scheduled maintenance as the server stores it, its updates newest first.
type Maintenance struct {
	ID             string              `json:"id"`
	Name           string              `json:"name"`
	Status         MaintenanceStatus   `json:"status"`
	ScheduledFor   time.Time           `json:"scheduled_for"`
	ScheduledUntil time.Time           `json:"scheduled_until"`
	Components     []string            `json:"components"`
	CreatedAt      time.Time           `json:"created_at"`
	UpdatedAt      time.Time           `json:"updated_at"`
	Updates        []MaintenanceUpdate `json:"updates"`
}
