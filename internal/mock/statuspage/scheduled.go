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

package statuspage

import (
	"net/http"
	"slices"
	"time"
)

// Scheduled maintenances are incidents created with a scheduled status and a window
// (scheduled_for, scheduled_until), as the document's "Scheduled" incidents. The fake keeps
// the two kinds apart as Statuspage does: a realtime incident never takes a maintenance's
// status, nor a maintenance a realtime one (422).

// Schedule is a scheduled maintenance's window and options.
type Schedule struct {
	For, Until time.Time
	// AutoInProgress and AutoCompleted are scheduled_auto_in_progress and
	// scheduled_auto_completed as last sent.
	AutoInProgress, AutoCompleted bool
}

var scheduledStatuses = []string{"scheduled", "in_progress", "verifying", "completed"}

// scheduleErrors are the 422 messages for the schedule fields and status of an incident
// request; inc is nil for a create.
func scheduleErrors(in map[string]any, inc *Incident) []string {
	st, hasStatus := in["status"].(string)
	maintenance := slices.Contains(scheduledStatuses, st)
	if inc != nil {
		maintenance = inc.Schedule != nil
	}
	var errs []string
	switch {
	case hasStatus && maintenance && slices.Contains(realtime, st):
		errs = append(errs, "Status "+st+" is for realtime incidents; a scheduled maintenance is scheduled, in_progress, verifying or completed")
	case hasStatus && !maintenance && slices.Contains(scheduledStatuses, st):
		errs = append(errs, "Status "+st+" is for scheduled maintenances; a realtime incident is investigating, identified, monitoring or resolved")
	}
	from, until := timeField(in, "scheduled_for"), timeField(in, "scheduled_until")
	if !maintenance {
		if !from.IsZero() || !until.IsZero() {
			errs = append(errs, "Scheduled for and scheduled until are for scheduled maintenances only")
		}
		return errs
	}
	if inc != nil {
		if from.IsZero() {
			from = inc.Schedule.For
		}
		if until.IsZero() {
			until = inc.Schedule.Until
		}
	}
	switch {
	case from.IsZero():
		errs = append(errs, "Scheduled for can't be blank")
	case until.IsZero():
		errs = append(errs, "Scheduled until can't be blank")
	case !until.After(from):
		errs = append(errs, "Scheduled until must be after scheduled for")
	}
	return errs
}

// timeField is a date-time field of in, zero when absent (the document's schema checked
// its format).
func timeField(in map[string]any, key string) time.Time {
	s, _ := in[key].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// applySchedule records the schedule fields of a request that scheduleErrors accepted.
func applySchedule(inc *Incident, in map[string]any, create bool) {
	if create {
		if st, _ := in["status"].(string); slices.Contains(scheduledStatuses, st) {
			inc.Schedule = &Schedule{}
		}
	}
	sc := inc.Schedule
	if sc == nil {
		return
	}
	if t := timeField(in, "scheduled_for"); !t.IsZero() {
		sc.For = t
	}
	if t := timeField(in, "scheduled_until"); !t.IsZero() {
		sc.Until = t
	}
	if v, ok := in["scheduled_auto_in_progress"].(bool); ok {
		sc.AutoInProgress = v
	}
	if v, ok := in["scheduled_auto_completed"].(bool); ok {
		sc.AutoCompleted = v
	}
}

// listScheduled is GET /incidents/scheduled (every maintenance), /incidents/upcoming (those
// scheduled) and /incidents/active_maintenance (those in progress or verifying): newest
// first, per_page rows (default 100) of page page (from 1).
func (s *Server) listScheduled(w http.ResponseWriter, r *http.Request, op string) {
	var match []*Incident
	for _, inc := range slices.Backward(s.incidents) {
		if inc.Schedule == nil {
			continue
		}
		switch op {
		case "getPagesPageIdIncidentsUpcoming":
			if inc.Status != "scheduled" {
				continue
			}
		case "getPagesPageIdIncidentsActiveMaintenance":
			if inc.Status != "in_progress" && inc.Status != "verifying" {
				continue
			}
		}
		match = append(match, inc)
	}
	s.writePage(w, match, r.URL.Query().Get("page"), r.URL.Query().Get("per_page"))
}
