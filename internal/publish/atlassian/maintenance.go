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

package atlassian

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
)

// The provider New returns publishes maintenances too, as Statuspage scheduled incidents.
var _ publish.MaintenancePublisher = (*client)(nil)

// maintenanceRequest is the "incident" object of POST and PATCH .../incidents for a
// scheduled incident.
type maintenanceRequest struct {
	Name           string            `json:"name,omitempty"`
	Status         string            `json:"status"`
	Body           string            `json:"body"`
	ScheduledFor   string            `json:"scheduled_for"`
	ScheduledUntil string            `json:"scheduled_until"`
	Components     map[string]string `json:"components,omitempty"`
	ComponentIDs   []string          `json:"component_ids"`
	// Firescope moves the maintenance itself at the window's edges, so Statuspage must not:
	// with both moving it, each edge would post two updates and notify subscribers twice.
	ScheduledAutoInProgress bool           `json:"scheduled_auto_in_progress"`
	ScheduledAutoCompleted  bool           `json:"scheduled_auto_completed"`
	ScheduledRemindPrior    bool           `json:"scheduled_remind_prior"`
	DeliverNotifications    bool           `json:"deliver_notifications"`
	Metadata                map[string]any `json:"metadata"`
}

// maintenanceComponentStatus is what each status of a maintenance sets its components to:
// nothing while scheduled, under_maintenance while it runs, operational when it is done.
var maintenanceComponentStatus = map[string]string{
	publish.MaintenanceInProgress: "under_maintenance",
	publish.MaintenanceCompleted:  "operational",
}

// PublishMaintenance creates the scheduled incident (POST .../incidents) when m.ProviderRef
// is "", else moves it (PATCH .../incidents/{incident_id}) to m.Status with m.Body, the
// window and the components' status; both write the Firescope metadata with m.Revision.
func (c *client) PublishMaintenance(ctx context.Context, m publish.Maintenance) (string, error) {
	if err := checkMaintenance(m); err != nil {
		return "", err
	}
	req := maintenanceRequest{Status: m.Status, Body: m.Body, ScheduledFor: m.ScheduledFor.UTC().Format(time.RFC3339),
		ScheduledUntil: m.ScheduledUntil.UTC().Format(time.RFC3339), ComponentIDs: slices.Sorted(slices.Values(m.ComponentIDs)),
		DeliverNotifications: m.Notify,
		Metadata:             map[string]any{metadataKey: map[string]any{"maintenance": m.Key, "update": m.Revision}}}
	if st := maintenanceComponentStatus[m.Status]; st != "" {
		req.Components = map[string]string{}
		for _, id := range m.ComponentIDs {
			req.Components[id] = st
		}
	}
	method, path, what := http.MethodPost, c.incidentsPath(), "schedule the maintenance"
	if m.ProviderRef != "" {
		method, path, what = http.MethodPatch, c.incidentsPath()+"/"+url.PathEscape(m.ProviderRef), "update scheduled maintenance "+m.ProviderRef
	} else {
		req.Name = m.Title
	}
	var out incident
	if err := c.do(ctx, method, path, map[string]any{"incident": req}, &out, what); err != nil {
		return "", err
	}
	ref := out.ID
	if ref == "" {
		ref = m.ProviderRef
	}
	if ref == "" {
		return "", &delivery.RetryableError{Err: errors.New("statuspage: scheduled the maintenance but the answer has no incident id")}
	}
	return ref, nil
}

// checkMaintenance refuses, before any request, a maintenance Statuspage would refuse.
func checkMaintenance(m publish.Maintenance) error {
	var errs []string
	if m.Key == "" {
		errs = append(errs, "the maintenance key is empty")
	}
	if m.ProviderRef == "" && strings.TrimSpace(m.Title) == "" {
		errs = append(errs, "the title is empty")
	}
	if utf8.RuneCountInString(m.Title) > maxName {
		errs = append(errs, fmt.Sprintf("the title is longer than Statuspage's %d characters", maxName))
	}
	if utf8.RuneCountInString(m.Body) > maxBody {
		errs = append(errs, fmt.Sprintf("the message is longer than Statuspage's %d characters", maxBody))
	}
	if !slices.Contains([]string{publish.MaintenanceScheduled, publish.MaintenanceInProgress, publish.MaintenanceCompleted}, m.Status) {
		errs = append(errs, fmt.Sprintf("status %q is not scheduled, in_progress or completed", m.Status))
	}
	if !m.ScheduledUntil.After(m.ScheduledFor) {
		errs = append(errs, "the window ends before it starts")
	}
	if len(m.ComponentIDs) == 0 || slices.Contains(m.ComponentIDs, "") {
		errs = append(errs, "a maintenance needs the Statuspage ids of its components")
	}
	if len(errs) > 0 {
		return delivery.Terminal("Invalid", errors.New("statuspage: cannot schedule the maintenance: "+strings.Join(errs, "; ")))
	}
	return nil
}

// FindMaintenance pages through the incidents, as Find does, for the one whose metadata
// carries key as its maintenance.
func (c *client) FindMaintenance(ctx context.Context, key string) (publish.FoundMaintenance, bool, error) {
	if key == "" {
		return publish.FoundMaintenance{}, false, delivery.Terminal("Invalid", errors.New("statuspage: cannot find: the maintenance key is empty"))
	}
	found, err := c.findTagged(ctx, "maintenance", key)
	if err != nil || len(found) == 0 {
		return publish.FoundMaintenance{}, false, err
	}
	f := publish.FoundMaintenance{ProviderRef: found[0].ID}
	f.Revision, _ = firescope(found[0])["update"].(string)
	return f, true, nil
}
