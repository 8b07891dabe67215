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
	"slices"

	"firescope.dev/firescope/internal/statuspage/api"
)

// v2MaintenancesLength is how many maintenances /api/v2/scheduled-maintenances.json lists, as
// Statuspage.
const v2MaintenancesLength = 50

// maintenanceView is a maintenance in the front page's notice.
type maintenanceView struct {
	ID, Name, StatusText, Body string
	From, Until                timeView
	Components                 []string
}

// maintenanceViews are the maintenances not completed, the soonest first, for the notice.
// Callers hold p.mu.
func (p *Page) maintenanceViews() []maintenanceView {
	var out []maintenanceView
	for _, m := range p.openMaintenances() {
		v := maintenanceView{ID: m.ID, Name: m.Name, StatusText: statusText[m.Status], Body: m.latest().Body,
			From: p.timeView(m.ScheduledFor), Until: p.timeView(m.ScheduledUntil)}
		for _, id := range m.Components {
			if c := p.components[id]; c != nil {
				v.Components = append(v.Components, c.Name)
			}
		}
		out = append(out, v)
	}
	return out
}

// v2Maintenance is a scheduled maintenance in the Statuspage public format: an incident
// with its window.
type v2Maintenance struct {
	v2Incident
	ScheduledFor   stamp `json:"scheduled_for"`
	ScheduledUntil stamp `json:"scheduled_until"`
}

type v2MaintenancesDoc struct {
	Page                  v2Page          `json:"page"`
	ScheduledMaintenances []v2Maintenance `json:"scheduled_maintenances"`
}

// v2Maintenance is m in the Statuspage format; comps are the components as the page shows
// them.
func (p *Page) v2Maintenance(m *maintenanceRecord, comps map[string]*componentRecord) v2Maintenance {
	out := v2Maintenance{v2Incident: v2Incident{ID: m.ID, Name: m.Name, Status: m.Status, CreatedAt: stamp(m.CreatedAt),
		UpdatedAt: stamp(m.UpdatedAt), Impact: "maintenance", Shortlink: p.maintenanceURL(m.ID), StartedAt: stamp(m.CreatedAt),
		PageID: p.info.ID, IncidentUpdates: []v2IncidentUpdate{}, Components: []v2Component{}},
		ScheduledFor: stamp(m.ScheduledFor), ScheduledUntil: stamp(m.ScheduledUntil)}
	for i, u := range slices.Backward(m.Updates) {
		at := stamp(u.At)
		out.IncidentUpdates = append(out.IncidentUpdates, v2IncidentUpdate{ID: m.ID + "-" + u.Status, Status: u.Status, Body: u.Body,
			IncidentID: m.ID, CreatedAt: at, UpdatedAt: at, DisplayAt: at, AffectedComponents: []v2AffectedComponent{}, DeliverNotifications: u.Notify})
		if u.Status == string(api.MaintenanceCompleted) {
			out.ResolvedAt = stampPtr(&m.Updates[i].At)
		}
	}
	for _, id := range m.Components {
		if c := comps[id]; c != nil {
			out.Components = append(out.Components, p.v2Component(c))
		}
	}
	return out
}

// maintenanceDocs are the documents under /api/v2/scheduled-maintenances, and the
// maintenances not completed for summary.json. Callers hold p.mu.
func (p *Page) maintenanceDocs(page v2Page, comps []*componentRecord) (docs map[string][]byte, open []v2Maintenance) {
	shown := make(map[string]*componentRecord, len(comps))
	for _, c := range comps {
		shown[c.ID] = c
	}
	all := make([]*maintenanceRecord, 0, len(p.maintenances))
	for _, m := range p.maintenances {
		all = append(all, m)
	}
	// Latest window first, as Statuspage lists them.
	slices.SortFunc(all, func(a, b *maintenanceRecord) int {
		return cmp.Or(b.ScheduledFor.Compare(a.ScheduledFor), cmp.Compare(a.ID, b.ID))
	})
	list, upcoming, active := []v2Maintenance{}, []v2Maintenance{}, []v2Maintenance{}
	open = []v2Maintenance{}
	for i, m := range all {
		v := p.v2Maintenance(m, shown)
		if i < v2MaintenancesLength {
			list = append(list, v)
		}
		switch m.Status {
		case string(api.MaintenanceScheduled):
			upcoming = append(upcoming, v)
			open = append(open, v)
		case string(api.MaintenanceInProgress):
			active = append(active, v)
			open = append(open, v)
		}
	}
	return map[string][]byte{
		"/api/v2/scheduled-maintenances.json":          marshalJSON(v2MaintenancesDoc{Page: page, ScheduledMaintenances: list}),
		"/api/v2/scheduled-maintenances/upcoming.json": marshalJSON(v2MaintenancesDoc{Page: page, ScheduledMaintenances: upcoming}),
		"/api/v2/scheduled-maintenances/active.json":   marshalJSON(v2MaintenancesDoc{Page: page, ScheduledMaintenances: active}),
	}, open
}
