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
	"cmp"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// Scheduled maintenances are announced, started and completed by their publisher (the
// Maintenance controller) with PUT /api/v1/maintenances/{id}: the page shows what it was
// told, so that every replica and the static export show the same thing whatever their
// clocks say. While one is in_progress its components show as under_maintenance, unless an
// incident has given them a worse status: an outage during maintenance is still an outage.

// maintenanceRecord is a scheduled maintenance as stored, one record each.
type maintenanceRecord struct {
	ID string `json:"id"`
	// Owner is the namespace whose token created it; "" for the admin.
	Owner          string    `json:"owner,omitempty"`
	Name           string    `json:"name"`
	Status         string    `json:"status"`
	ScheduledFor   time.Time `json:"scheduled_for"`
	ScheduledUntil time.Time `json:"scheduled_until"`
	Components     []string  `json:"components"`
	// Updates are the statuses it went through, oldest first: at most one per status.
	Updates   []maintenanceUpdateRecord `json:"updates"`
	CreatedAt time.Time                 `json:"created_at"`
	UpdatedAt time.Time                 `json:"updated_at"`
}

type maintenanceUpdateRecord struct {
	Status string    `json:"status"`
	Body   string    `json:"body"`
	At     time.Time `json:"at"`
	// Notify is set when the status was published with notifications to subscribers.
	Notify bool `json:"notify,omitempty"`
}

// bucketMaintenances holds the maintenances, keyed by id (in PostgreSQL, their kind).
var bucketMaintenances = []byte("maintenances")

func maintenanceRank(s string) int {
	return slices.Index(api.MaintenanceStatuses, api.MaintenanceStatus(s))
}

func (m *maintenanceRecord) latest() *maintenanceUpdateRecord { return &m.Updates[len(m.Updates)-1] }

// PutMaintenance announces a maintenance or changes it, as the admin.
func (p *Page) PutMaintenance(id string, req api.MaintenanceRequest) (api.Maintenance, bool, error) {
	return p.putMaintenance(adminScope, id, req)
}

// putMaintenance stores a maintenance. A new status adds an update with the body; the same
// status with another body corrects that update's text in place, notifying nobody. It
// reports whether the maintenance is new; the same request again writes nothing.
func (p *Page) putMaintenance(sc scope, id string, req api.MaintenanceRequest) (api.Maintenance, bool, error) {
	if err := validateID("id", id); err != nil {
		return api.Maintenance{}, false, err
	}
	if err := validateMaintenanceRequest(&req); err != nil {
		return api.Maintenance{}, false, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Maintenance{}, false, err
	}
	defer p.unlockWrite()
	now := p.clock()
	old := p.maintenances[id]
	if err := sc.mayWriteMaintenance(old); err != nil {
		return api.Maintenance{}, false, err
	}
	for i, c := range req.Components {
		if p.components[c] == nil {
			return api.Maintenance{}, false, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeUnknownComponent,
				field:   fmt.Sprintf("components[%d]", i),
				message: fmt.Sprintf("component %q does not exist: create it with PUT /api/v1/components/%s, or leave it out", c, c)}
		}
	}
	rec := maintenanceRecord{ID: id, Owner: sc.namespace, CreatedAt: now}
	if old != nil {
		if maintenanceRank(string(req.Status)) < maintenanceRank(old.Status) {
			return api.Maintenance{}, false, &apiError{status: http.StatusConflict, code: api.CodeConflict, field: "status",
				message: fmt.Sprintf("maintenance %q is already %s: its status only moves forward (scheduled, in_progress, completed)", id, old.Status)}
		}
		rec = *old
		rec.Updates = slices.Clone(old.Updates)
	} else if len(p.maintenances) >= api.MaxMaintenances {
		return api.Maintenance{}, false, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded,
			message: fmt.Sprintf("the page already holds %d maintenances, the limit", api.MaxMaintenances)}
	}
	rec.Name, rec.ScheduledFor, rec.ScheduledUntil = req.Name, req.ScheduledFor.UTC(), req.ScheduledUntil.UTC()
	rec.Components = slices.Clone(req.Components)
	newStatus := old == nil || old.Status != string(req.Status)
	if newStatus {
		rec.Status = string(req.Status)
		rec.Updates = append(rec.Updates, maintenanceUpdateRecord{Status: rec.Status, Body: req.Body, At: now, Notify: req.Notify})
	} else {
		rec.latest().Body = req.Body
	}
	if old != nil && reflect.DeepEqual(&rec, old) {
		return p.maintenanceAPI(old), false, nil
	}
	rec.UpdatedAt = now
	if err := p.commit(batch{maintenances: []*maintenanceRecord{&rec}}); err != nil {
		return api.Maintenance{}, false, err
	}
	p.maintenances[id] = &rec
	if newStatus && req.Notify && p.announce != nil {
		p.announce([]*eventRecord{p.maintenanceEvent(&rec)})
	}
	p.touch(now)
	p.render(nil, false)
	return p.maintenanceAPI(&rec), old == nil, nil
}

// Maintenance returns a maintenance.
func (p *Page) Maintenance(id string) (api.Maintenance, error) {
	return p.maintenance(adminScope, id)
}

func (p *Page) maintenance(sc scope, id string) (api.Maintenance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.maintenances[id]
	if m == nil {
		return api.Maintenance{}, notFound("maintenance", id)
	}
	if err := sc.mayWriteMaintenance(m); err != nil {
		return api.Maintenance{}, err
	}
	return p.maintenanceAPI(m), nil
}

// mayWriteMaintenance refuses a maintenance another namespace (or the admin) created; a new
// one (nil) is anyone's.
func (sc scope) mayWriteMaintenance(m *maintenanceRecord) *apiError {
	if m == nil || sc.admin || sc.namespace != "" && m.Owner == sc.namespace {
		return nil
	}
	return &apiError{status: http.StatusForbidden, code: api.CodeForbidden,
		message: fmt.Sprintf("maintenance %q belongs to another namespace: the token of namespace %q writes and reads only the maintenances it created", m.ID, sc.namespace)}
}

func validateMaintenanceRequest(req *api.MaintenanceRequest) *apiError {
	if err := validateText("name", req.Name, true, api.MaxNameLength, false); err != nil {
		return err
	}
	if err := validateText("body", req.Body, true, api.MaxUpdateBodyLength, true); err != nil {
		return err
	}
	if !slices.Contains(api.MaintenanceStatuses, req.Status) {
		return invalid("status", "status %q is not one of %s", req.Status, joinQuoted(api.MaintenanceStatuses))
	}
	switch {
	case req.ScheduledFor.IsZero():
		return invalid("scheduled_for", "scheduled_for is required: when the maintenance starts, in RFC 3339")
	case req.ScheduledUntil.IsZero():
		return invalid("scheduled_until", "scheduled_until is required: when the maintenance ends, in RFC 3339")
	case !req.ScheduledUntil.After(req.ScheduledFor):
		return invalid("scheduled_until", "scheduled_until (%s) must be after scheduled_for (%s)",
			req.ScheduledUntil.UTC().Format(time.RFC3339), req.ScheduledFor.UTC().Format(time.RFC3339))
	}
	if len(req.Components) == 0 {
		return invalid("components", "components is required: the ids of the components under maintenance")
	}
	if len(req.Components) > api.MaxComponents {
		return invalid("components", "components lists %d ids; the limit is %d", len(req.Components), api.MaxComponents)
	}
	for i, c := range req.Components {
		if err := validateID(fmt.Sprintf("components[%d]", i), c); err != nil {
			return err
		}
		if slices.Contains(req.Components[:i], c) {
			return invalid(fmt.Sprintf("components[%d]", i), "component %q is listed twice", c)
		}
	}
	return nil
}

func (p *Page) maintenanceAPI(m *maintenanceRecord) api.Maintenance {
	out := api.Maintenance{ID: m.ID, Name: m.Name, Status: api.MaintenanceStatus(m.Status), ScheduledFor: m.ScheduledFor,
		ScheduledUntil: m.ScheduledUntil, Components: slices.Clone(m.Components), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		Updates: []api.MaintenanceUpdate{}}
	for _, u := range slices.Backward(m.Updates) {
		out.Updates = append(out.Updates, api.MaintenanceUpdate{Status: api.MaintenanceStatus(u.Status), Body: u.Body, CreatedAt: u.At})
	}
	return out
}

// maintenanceEvent is the subscribers' notice of a maintenance's current status. Callers
// hold p.mu.
func (p *Page) maintenanceEvent(m *maintenanceRecord) *eventRecord {
	u := m.latest()
	kind := "maintenance." + u.Status
	if m.cancelled() {
		kind = "maintenance.cancelled"
	}
	ev := &eventRecord{Key: "maintenance/" + m.ID + "/" + u.Status, Kind: kind, IncidentID: m.ID, Incident: m.Name,
		Impact: "maintenance", Status: u.Status, UpdateID: m.ID + "-" + u.Status, Body: u.Body, URL: p.maintenanceURL(m.ID), At: u.At, Affects: m.Components,
		Maintenance: &eventMaintenance{ScheduledFor: m.ScheduledFor, ScheduledUntil: m.ScheduledUntil}}
	// What webhooks list as the update's affected components: the operational ones shown as
	// under maintenance while it is in progress, and shown operational again when it is done.
	from, to := "", ""
	switch {
	case u.Status == string(api.MaintenanceInProgress):
		from, to = string(api.Operational), string(api.UnderMaintenance)
	case u.Status == string(api.MaintenanceCompleted) && !m.cancelled():
		from, to = string(api.UnderMaintenance), string(api.Operational)
	}
	for _, id := range m.Components {
		c := p.components[id]
		if c == nil {
			continue
		}
		ev.Maintenance.Components = append(ev.Maintenance.Components, c.Name)
		if to != "" && c.Status == string(api.Operational) {
			ev.Components = append(ev.Components, affectedComponent{ID: c.ID, Name: c.Name, OldStatus: from, NewStatus: to})
		}
	}
	return ev
}

// cancelled reports whether m was completed before its window ended without ever being in
// progress: the work was called off (the Maintenance controller completes a deleted one that
// had not started), and subscribers must not read that it was done.
func (m *maintenanceRecord) cancelled() bool {
	u := m.latest()
	return u.Status == string(api.MaintenanceCompleted) && u.At.Before(m.ScheduledUntil) &&
		!slices.ContainsFunc(m.Updates, func(u maintenanceUpdateRecord) bool { return u.Status == string(api.MaintenanceInProgress) })
}

// maintenanceEvents are the notices published since t with notifications on, for the
// subscriptions to recover after a restart. Callers hold p.mu.
func (p *Page) maintenanceEvents(since time.Time) []*eventRecord {
	var out []*eventRecord
	for _, m := range p.maintenances {
		if u := m.latest(); u.Notify && !u.At.Before(since) {
			out = append(out, p.maintenanceEvent(m))
		}
	}
	return out
}

func (p *Page) maintenanceURL(id string) string { return p.info.URL + "/#maintenance-" + id }

// openMaintenances are the maintenances not completed, the soonest first. Callers hold p.mu.
func (p *Page) openMaintenances() []*maintenanceRecord {
	var out []*maintenanceRecord
	for _, m := range p.maintenances {
		if m.Status != string(api.MaintenanceCompleted) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *maintenanceRecord) int {
		return cmp.Or(a.ScheduledFor.Compare(b.ScheduledFor), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// underMaintenance returns the components as the page shows them: those of a maintenance in
// progress that are otherwise operational show as under_maintenance (copies; the records
// keep the status the updates gave them). Callers hold p.mu.
func (p *Page) underMaintenance(comps []*componentRecord) []*componentRecord {
	busy := map[string]bool{}
	for _, m := range p.maintenances {
		if m.Status == string(api.MaintenanceInProgress) {
			for _, id := range m.Components {
				busy[id] = true
			}
		}
	}
	if len(busy) == 0 {
		return comps
	}
	out := slices.Clone(comps)
	for i, c := range out {
		if busy[c.ID] && c.Status == string(api.Operational) {
			shown := *c
			shown.Status = string(api.UnderMaintenance)
			out[i] = &shown
		}
	}
	return out
}

// serveMaintenance serves /api/v1/maintenances/{id}.
func (h *handler) serveMaintenance(w http.ResponseWriter, r *http.Request, sc scope, id string) {
	h.route(w, r, map[string]func(){
		http.MethodGet: func() {
			m, err := h.page.maintenance(sc, id)
			respond(w, m, false, "", err)
		},
		http.MethodPut: func() {
			var req api.MaintenanceRequest
			if err := decodeBody(w, r, &req); err != nil {
				writeError(w, err)
				return
			}
			m, created, err := h.page.putMaintenance(sc, id, req)
			respond(w, m, created, "/api/v1/maintenances/"+id, err)
		},
	})
}
