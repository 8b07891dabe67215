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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// PageInfo describes the page itself.
type PageInfo struct {
	// ID is the page id in the public JSON (page.id).
	ID string
	// Name is the page's title, such as "Example Status".
	Name string
	// URL is the page's public address, without a trailing slash; links in the JSON, the
	// feed and the HTML are built from it.
	URL string
	// Location is the time zone in which the HTML shows times.
	Location *time.Location
	// CacheMaxAge is the Cache-Control max-age of the public reads.
	CacheMaxAge time.Duration
	// Subscriptions is set when the page takes subscribers: the pages link to the form.
	Subscriptions bool
}

// Page is one status page: its records in memory, their durable copy on disk, and the
// rendered bytes that reads serve. Writes are serialised; each one is committed to disk,
// then applied in memory, then every list it changes is rendered again, so that a read of
// the front page or the JSON costs a map lookup however hard the page is hit. An incident's
// own page, whose full history may be long, is rendered per request from a frozen copy of
// the incident (incident.go).
type Page struct {
	info  PageInfo
	now   func() time.Time
	store store
	snap  atomic.Pointer[snapshot]
	// renderSlots bounds the incident pages rendered at once, and so the memory they take.
	renderSlots chan struct{}
	limits      limits

	mu         sync.Mutex
	components map[string]*componentRecord
	incidents  map[string]*incidentState
	// maintenances are the scheduled maintenances by id (maintenance.go).
	maintenances map[string]*maintenanceRecord
	seq          uint64
	updatedAt    time.Time
	// storedBytes is the stored size of every record, incidentBytes that of each
	// incident's records: what api.MaxStoredBytes and api.MaxIncidentBytes bound.
	storedBytes   int64
	incidentBytes map[string]int64
	// etagBase and freezes make the ETags of incident pages: unique to this process and to
	// each version of an incident.
	etagBase string
	freezes  uint64
	// announce, when subscriptions are on, takes the events of each write that published
	// an update or a post-mortem with notifications (subscriptions.go).
	announce func([]*eventRecord)
	// history is each component's status changes, oldest first, and bars the uptime bars
	// last rendered of each (history.go).
	history map[string][]statusChange
	// metrics are the public metrics by id (metrics.go).
	metrics map[string]*metricRecord
	bars    map[string]*uptimeView
}

// limits are what the page holds at most: api.MaxIncidents, api.MaxIncidentBytes and
// api.MaxStoredBytes (tests lower them).
type limits struct {
	incidents                  int
	incidentBytes, storedBytes int64
}

// incidentPage is an incident with its updates, oldest first, and its post-mortem (nil if
// it has none).
type incidentPage struct {
	rec        *incidentRecord
	updates    []*updateRecord
	postmortem *postmortemRecord
}

// incidentState is an incident as the writes change it.
type incidentState struct {
	incidentPage
	byID map[string]*updateRecord
	// public is the frozen copy that the current snapshot serves; render makes a new one
	// when the incident changed.
	public *publicIncident
}

func (i *incidentPage) latest() *updateRecord {
	if len(i.updates) == 0 {
		return nil
	}
	return i.updates[len(i.updates)-1]
}

// status is the status of the latest update; an incident without one is being investigated.
func (i *incidentPage) status() api.IncidentStatus {
	if u := i.latest(); u != nil {
		return api.IncidentStatus(u.Status)
	}
	return api.Investigating
}

func (i *incidentPage) resolvedAt() *time.Time {
	if u := i.latest(); u != nil && u.Status == string(api.Resolved) {
		return &u.CreatedAt
	}
	return nil
}

// startedAt is the creation time, or the first update's time if that is earlier (an
// incident published after the fact).
func (i *incidentPage) startedAt() time.Time {
	if len(i.updates) > 0 && i.updates[0].CreatedAt.Before(i.rec.CreatedAt) {
		return i.updates[0].CreatedAt
	}
	return i.rec.CreatedAt
}

// latestUpdates returns the latest n updates, oldest first (all of them when n < 0).
func (i *incidentPage) latestUpdates(n int) []*updateRecord {
	if n < 0 || n >= len(i.updates) {
		return i.updates
	}
	return i.updates[len(i.updates)-n:]
}

// insert adds an update, or replaces the stored one with the same id (an edit keeps the
// update's time and sequence, so its place does not change).
func (i *incidentState) insert(u *updateRecord) {
	if old := i.byID[u.ID]; old != nil {
		i.updates[slices.Index(i.updates, old)] = u
		i.byID[u.ID] = u
		return
	}
	at, _ := slices.BinarySearchFunc(i.updates, u, compareUpdates)
	i.updates = slices.Insert(i.updates, at, u)
	i.byID[u.ID] = u
}

func compareUpdates(a, b *updateRecord) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Seq, b.Seq))
}

// OpenPage opens the page stored at path, creating the file if needed.
func OpenPage(path string, info PageInfo, now func() time.Time) (*Page, error) {
	s, err := openStore(path)
	if err != nil {
		return nil, err
	}
	return openPage(s, path, info, now)
}

// openPage loads the page from s, which it closes if it fails; where names s in errors.
func openPage(s store, where string, info PageInfo, now func() time.Time) (*Page, error) {
	if info.Location == nil {
		info.Location = time.UTC
	}
	info.URL = strings.TrimRight(info.URL, "/")
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	p := &Page{info: info, now: now, store: s, components: map[string]*componentRecord{}, incidents: map[string]*incidentState{},
		maintenances: map[string]*maintenanceRecord{},
		renderSlots:  make(chan struct{}, incidentRenderSlots), etagBase: hex.EncodeToString(nonce),
		limits: limits{incidents: api.MaxIncidents, incidentBytes: api.MaxIncidentBytes, storedBytes: api.MaxStoredBytes}}
	recs, err := s.load()
	if err != nil {
		_ = s.close()
		return nil, fmt.Errorf("load %s: %w", where, err)
	}
	p.storedBytes, p.incidentBytes = recs.componentBytes, recs.incidentBytes
	for _, n := range recs.incidentBytes {
		p.storedBytes += n
	}
	p.loadMetrics(recs.metrics, recs.metricBytes)
	for _, c := range recs.components {
		p.components[c.ID] = c
		p.touch(c.UpdatedAt)
	}
	for _, r := range recs.incidents {
		p.incidents[r.ID] = newIncidentState(r)
		p.touch(r.UpdatedAt)
	}
	for _, m := range recs.maintenances {
		p.maintenances[m.ID] = m
		p.touch(m.UpdatedAt)
	}
	for _, u := range recs.updates {
		inc := p.incidents[u.IncidentID]
		if inc == nil {
			_ = s.close()
			return nil, fmt.Errorf("load %s: update %q belongs to a missing incident %q", where, u.ID, u.IncidentID)
		}
		u.IncidentID = inc.rec.ID // one copy of the id, not one per update
		inc.insert(u)
		p.seq = max(p.seq, u.Seq)
	}
	for _, pm := range recs.postmortems {
		inc := p.incidents[pm.IncidentID]
		if inc == nil {
			_ = s.close()
			return nil, fmt.Errorf("load %s: a post-mortem belongs to a missing incident %q", where, pm.IncidentID)
		}
		inc.postmortem = pm
	}
	if p.updatedAt.IsZero() {
		// A new, empty page: page.updated_at must still be a real time.
		p.updatedAt = p.clock()
	}
	if err := p.loadHistory(); err != nil {
		_ = s.close()
		return nil, fmt.Errorf("load %s: %w", where, err)
	}
	p.render(nil, true)
	return p, nil
}

// Close closes the store. Every acknowledged write is already on disk.
func (p *Page) Close() error { return p.store.close() }

// clock is the time of a write, to the millisecond as Statuspage shows times.
func (p *Page) clock() time.Time { return p.now().UTC().Truncate(time.Millisecond) }

func (p *Page) touch(t time.Time) {
	if t.After(p.updatedAt) {
		p.updatedAt = t
	}
}

// PutComponent creates or replaces a component. It reports whether the component is new; an
// identical PUT writes nothing.
func (p *Page) PutComponent(id string, req api.ComponentRequest) (api.Component, bool, error) {
	if err := validateID("id", id); err != nil {
		return api.Component{}, false, err
	}
	if err := validateComponentRequest(&req); err != nil {
		return api.Component{}, false, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Component{}, false, err
	}
	defer p.unlockWrite()
	now := p.clock()
	old := p.components[id]
	var rec componentRecord
	if old == nil {
		if len(p.components) >= api.MaxComponents {
			return api.Component{}, false, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded,
				message: fmt.Sprintf("the page already has %d components, the limit", api.MaxComponents)}
		}
		// StatusAt stays zero: creating a component is not news about it, so an update
		// written before the component was created (published late) still sets its status.
		rec = componentRecord{ID: id, Status: string(cmp.Or(req.Status, api.Operational)), CreatedAt: now}
		for _, c := range p.components {
			rec.Position = max(rec.Position, c.Position+1)
		}
	} else {
		rec = *old
		if req.Status != "" && string(req.Status) != old.Status {
			rec.Status, rec.StatusAt = string(req.Status), now
		}
	}
	rec.Name, rec.Description, rec.Group = req.Name, req.Description, req.Group
	if req.Position != nil {
		rec.Position = *req.Position
	}
	if old != nil && rec == *old {
		return componentAPI(old), false, nil
	}
	rec.UpdatedAt = now
	if err := p.commit(batch{components: []*componentRecord{&rec}}); err != nil {
		return api.Component{}, false, err
	}
	p.components[id] = &rec
	p.recordStatuses([]*componentRecord{&rec})
	p.touch(now)
	p.render(nil, false)
	return componentAPI(&rec), old == nil, nil
}

// DeleteComponent removes a component from the page; past updates keep its name. Deleting
// a missing component is not an error, so that a retried delete succeeds.
func (p *Page) DeleteComponent(id string) error {
	if err := validateID("id", id); err != nil {
		return err
	}
	if err := p.lockWrite(); err != nil {
		return err
	}
	defer p.unlockWrite()
	if p.components[id] == nil {
		return nil
	}
	now := p.clock()
	if err := p.commit(batch{deleteComponents: []string{id}, deletedAt: now}); err != nil {
		return err
	}
	delete(p.components, id)
	delete(p.history, id)
	p.touch(now)
	p.render(nil, false)
	return nil
}

// Components returns the components in page order.
func (p *Page) Components() []api.Component {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []api.Component{}
	for _, c := range p.sortedComponents() {
		out = append(out, componentAPI(c))
	}
	return out
}

// The exported writes act as the admin; the write API calls the scoped ones with the scope
// of the request's token.

// Incident returns one incident with its updates, newest first.
func (p *Page) Incident(id string) (api.Incident, bool) {
	inc, err := p.incident(adminScope, id)
	return inc, err == nil
}

// PutIncident creates an incident or changes its name and impact, and posts req.Update if
// set, all in one write. It reports whether the incident is new.
func (p *Page) PutIncident(id string, req api.IncidentRequest) (api.Incident, bool, error) {
	return p.putIncident(adminScope, id, req)
}

// PutUpdate posts an update to an existing incident. It reports whether the update is new;
// the same update again writes nothing, a different one with the same id is a conflict.
func (p *Page) PutUpdate(incidentID, updateID string, req api.UpdateRequest) (api.Update, bool, error) {
	return p.putUpdate(adminScope, incidentID, updateID, req)
}

// EditUpdate replaces the body of a published update: a correction, in place, that keeps
// the update's status, time and components and adds no new update. Editing to the same body
// again writes nothing.
func (p *Page) EditUpdate(incidentID, updateID string, req api.UpdateEdit) (api.Update, error) {
	return p.editUpdate(adminScope, incidentID, updateID, req)
}

// DeleteIncident removes an incident, its updates and its post-mortem from the page and the
// file, for good. Deleting a missing incident is not an error, so that a retried delete
// succeeds.
func (p *Page) DeleteIncident(id string) error { return p.deleteIncident(adminScope, id) }

func (p *Page) incident(sc scope, id string) (api.Incident, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc := p.incidents[id]
	if inc == nil {
		return api.Incident{}, notFound("incident", id)
	}
	if err := sc.mayWrite(inc); err != nil {
		return api.Incident{}, err
	}
	return p.incidentAPI(inc), nil
}

// putIncident creates an incident owned by sc's namespace, or changes one sc may write.
func (p *Page) putIncident(sc scope, id string, req api.IncidentRequest) (api.Incident, bool, error) {
	now := p.clock()
	if err := validateID("id", id); err != nil {
		return api.Incident{}, false, err
	}
	if err := validateIncidentRequest(&req, now); err != nil {
		return api.Incident{}, false, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Incident{}, false, err
	}
	defer p.unlockWrite()
	inc := p.incidents[id]
	created := inc == nil
	if created {
		if len(p.incidents) >= p.limits.incidents {
			return api.Incident{}, false, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded,
				message: fmt.Sprintf("the page already has %d incidents, the limit: delete old ones with DELETE /api/v1/incidents/{id}", p.limits.incidents)}
		}
		inc = newIncidentState(&incidentRecord{ID: id, Owner: sc.namespace, CreatedAt: now})
	} else if err := sc.mayWrite(inc); err != nil {
		return api.Incident{}, false, err
	}
	rec := *inc.rec
	rec.Name, rec.Impact = req.Name, string(req.Impact)
	var b batch
	if created || rec != *inc.rec {
		rec.UpdatedAt = now
		b.incidents = []*incidentRecord{&rec}
	}
	if req.Update != nil {
		u, comps, err := p.prepareUpdate(inc, req.Update.ID, req.Update, now)
		if err != nil {
			return api.Incident{}, false, err
		}
		if u != nil {
			rec.UpdatedAt = now
			b.incidents = []*incidentRecord{&rec}
			b.updates, b.components = []*updateRecord{u}, comps
		}
	}
	if len(b.incidents) == 0 {
		return p.incidentAPI(inc), false, nil
	}
	if err := p.commit(b); err != nil {
		return api.Incident{}, false, err
	}
	inc.rec = &rec
	p.incidents[id] = inc
	p.apply(b, now)
	p.announceBatch(b)
	return p.incidentAPI(inc), created, nil
}

func (p *Page) putUpdate(sc scope, incidentID, updateID string, req api.UpdateRequest) (api.Update, bool, error) {
	now := p.clock()
	if err := validateID("incident id", incidentID); err != nil {
		return api.Update{}, false, err
	}
	if err := validateID("update id", updateID); err != nil {
		return api.Update{}, false, err
	}
	if req.ID != "" && req.ID != updateID {
		return api.Update{}, false, invalid("id", "id %q in the body differs from %q in the path", req.ID, updateID)
	}
	if err := validateUpdateRequest("", &req, now); err != nil {
		return api.Update{}, false, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Update{}, false, err
	}
	defer p.unlockWrite()
	inc := p.incidents[incidentID]
	if inc == nil {
		return api.Update{}, false, &apiError{status: http.StatusNotFound, code: api.CodeNotFound,
			message: fmt.Sprintf("incident %q does not exist: create it first with PUT /api/v1/incidents/%s", incidentID, incidentID)}
	}
	if err := sc.mayWrite(inc); err != nil {
		return api.Update{}, false, err
	}
	u, comps, err := p.prepareUpdate(inc, updateID, &req, now)
	if err != nil {
		return api.Update{}, false, err
	}
	if u == nil {
		return updateAPI(inc.byID[updateID]), false, nil
	}
	rec := *inc.rec
	rec.UpdatedAt = now
	b := batch{components: comps, incidents: []*incidentRecord{&rec}, updates: []*updateRecord{u}}
	if err := p.commit(b); err != nil {
		return api.Update{}, false, err
	}
	inc.rec = &rec
	p.apply(b, now)
	p.announceBatch(b)
	return updateAPI(u), true, nil
}

func (p *Page) editUpdate(sc scope, incidentID, updateID string, req api.UpdateEdit) (api.Update, error) {
	now := p.clock()
	if err := validateText("body", req.Body, true, api.MaxUpdateBodyLength, true); err != nil {
		return api.Update{}, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Update{}, err
	}
	defer p.unlockWrite()
	inc := p.incidents[incidentID]
	if inc != nil {
		if err := sc.mayWrite(inc); err != nil {
			return api.Update{}, err
		}
	}
	if inc == nil || inc.byID[updateID] == nil {
		return api.Update{}, &apiError{status: http.StatusNotFound, code: api.CodeNotFound,
			message: fmt.Sprintf("update %q of incident %q does not exist", updateID, incidentID)}
	}
	old := inc.byID[updateID]
	if old.Body == req.Body {
		return updateAPI(old), nil
	}
	u := *old
	u.Body = req.Body
	rec := *inc.rec
	rec.UpdatedAt = now
	b := batch{incidents: []*incidentRecord{&rec}, updates: []*updateRecord{&u}}
	if err := p.commit(b); err != nil {
		return api.Update{}, err
	}
	inc.rec = &rec
	p.apply(b, now)
	return updateAPI(&u), nil
}

// prepareUpdate checks an update against the page and builds its record and the component
// records it changes. It returns no record for a replay of an existing, identical update.
func (p *Page) prepareUpdate(inc *incidentState, id string, req *api.UpdateRequest, now time.Time) (*updateRecord, []*componentRecord, *apiError) {
	if old := inc.byID[id]; old != nil {
		if diff := updateDiff(old, req); len(diff) > 0 {
			return nil, nil, &apiError{status: http.StatusConflict, code: api.CodeConflict,
				message: fmt.Sprintf("update %q of incident %q already exists with a different %s; updates cannot be changed: post a new update with a new id",
					id, inc.rec.ID, strings.Join(diff, " and "))}
		}
		return nil, nil, nil
	}
	if len(inc.updates) >= api.MaxUpdatesPerIncident {
		return nil, nil, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded,
			message: fmt.Sprintf("incident %q already has %d updates, the limit", inc.rec.ID, api.MaxUpdatesPerIncident)}
	}
	u := &updateRecord{ID: id, IncidentID: inc.rec.ID, Status: string(req.Status), Body: req.Body, CreatedAt: now, Seq: p.seq + 1, Notify: req.Notify}
	if req.CreatedAt != nil {
		u.CreatedAt = req.CreatedAt.UTC()
	}
	var comps []*componentRecord
	for i, ch := range req.Components {
		c := p.components[ch.ID]
		if c == nil {
			return nil, nil, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeUnknownComponent,
				field:   fmt.Sprintf("components[%d].id", i),
				message: fmt.Sprintf("component %q does not exist: create it with PUT /api/v1/components/%s, or leave it out", ch.ID, ch.ID)}
		}
		u.Components = append(u.Components, affectedComponent{ID: c.ID, Name: c.Name, OldStatus: c.Status, NewStatus: string(ch.Status)})
		// An update written before the component's last change (a late retry) is recorded
		// but does not turn back the component's status.
		if u.CreatedAt.Before(c.StatusAt) {
			continue
		}
		nc := *c
		nc.StatusAt = u.CreatedAt
		if nc.Status != string(ch.Status) {
			nc.Status, nc.UpdatedAt = string(ch.Status), now
		}
		comps = append(comps, &nc)
	}
	return u, comps, nil
}

// updateDiff names the fields in which req differs from the stored update. A request that
// leaves out created_at matches whatever time the server recorded.
func updateDiff(old *updateRecord, req *api.UpdateRequest) []string {
	var diff []string
	if old.Status != string(req.Status) {
		diff = append(diff, "status")
	}
	if old.Body != req.Body {
		diff = append(diff, "body")
	}
	if req.CreatedAt != nil && !req.CreatedAt.Equal(old.CreatedAt) {
		diff = append(diff, "created_at")
	}
	oldComps := make([]string, len(old.Components))
	for i, c := range old.Components {
		oldComps[i] = c.ID + "=" + c.NewStatus
	}
	newComps := make([]string, len(req.Components))
	for i, c := range req.Components {
		newComps[i] = c.ID + "=" + string(c.Status)
	}
	slices.Sort(oldComps)
	slices.Sort(newComps)
	if !slices.Equal(oldComps, newComps) {
		diff = append(diff, "components")
	}
	return diff
}

func newIncidentState(rec *incidentRecord) *incidentState {
	return &incidentState{incidentPage: incidentPage{rec: rec}, byID: map[string]*updateRecord{}}
}

func (p *Page) deleteIncident(sc scope, id string) error {
	if err := validateID("id", id); err != nil {
		return err
	}
	if err := p.lockWrite(); err != nil {
		return err
	}
	defer p.unlockWrite()
	inc := p.incidents[id]
	if inc == nil {
		return nil
	}
	if err := sc.mayWrite(inc); err != nil {
		return err
	}
	now := p.clock()
	if err := p.commit(batch{deleteIncidents: []string{id}, deletedAt: now}); err != nil {
		return err
	}
	delete(p.incidents, id)
	p.touch(now)
	p.render(nil, false)
	return nil
}

// commit stores a batch, within the limits of what the page may hold, and counts its bytes.
func (p *Page) commit(b batch) *apiError {
	total, byIncident := p.growth(b)
	if total > 0 && p.storedBytes+total > p.limits.storedBytes {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: api.CodeStorageFull,
			message: fmt.Sprintf("the page holds %d bytes of records and this write adds %d, past the limit of %d: delete old incidents with DELETE /api/v1/incidents/{id} to make room",
				p.storedBytes, total, p.limits.storedBytes)}
	}
	for id, n := range byIncident {
		if n > 0 && p.incidentBytes[id]+n > p.limits.incidentBytes {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: api.CodeStorageFull,
				message: fmt.Sprintf("incident %q holds %d bytes of updates and this write adds %d, past the limit of %d per incident: post shorter updates, or fewer",
					id, p.incidentBytes[id], n, p.limits.incidentBytes)}
		}
	}
	if err := p.store.commit(b); err != nil {
		return storeError(err)
	}
	p.storedBytes += total
	for id, n := range byIncident {
		p.incidentBytes[id] += n
	}
	for _, id := range b.deleteIncidents {
		delete(p.incidentBytes, id)
	}
	return nil
}

// growth is how many bytes a batch adds to the stored records, in all and per incident: the
// size of what it writes less the size of what that replaces or deletes. Callers hold p.mu
// and have not applied the batch yet.
func (p *Page) growth(b batch) (total int64, byIncident map[string]int64) {
	byIncident = map[string]int64{}
	add := func(incident string, n int64) {
		total += n
		if incident != "" {
			byIncident[incident] += n
		}
	}
	for _, c := range b.components {
		add("", sizeOf([]byte(c.ID), c))
		if old := p.components[c.ID]; old != nil {
			add("", -sizeOf([]byte(c.ID), old))
		}
	}
	for _, id := range b.deleteComponents {
		if old := p.components[id]; old != nil {
			add("", -sizeOf([]byte(id), old))
		}
	}
	for _, r := range b.incidents {
		add(r.ID, sizeOf([]byte(r.ID), r))
		if inc := p.incidents[r.ID]; inc != nil {
			add(r.ID, -sizeOf([]byte(r.ID), inc.rec))
		}
	}
	for _, u := range b.updates {
		key := updateKey(u.IncidentID, u.ID)
		add(u.IncidentID, sizeOf(key, u))
		if inc := p.incidents[u.IncidentID]; inc != nil && inc.byID[u.ID] != nil {
			add(u.IncidentID, -sizeOf(key, inc.byID[u.ID]))
		}
	}
	for _, pm := range b.postmortems {
		add(pm.IncidentID, sizeOf([]byte(pm.IncidentID), pm))
		if inc := p.incidents[pm.IncidentID]; inc != nil && inc.postmortem != nil {
			add(pm.IncidentID, -sizeOf([]byte(pm.IncidentID), inc.postmortem))
		}
	}
	for _, m := range b.maintenances {
		add("", sizeOf([]byte(m.ID), m))
		if old := p.maintenances[m.ID]; old != nil {
			add("", -sizeOf([]byte(m.ID), old))
		}
	}
	for _, id := range b.deleteIncidents {
		add(id, -p.incidentBytes[id])
	}
	total += p.metricGrowth(b)
	return total, byIncident
}

// apply installs a committed batch's updates and components in memory and renders again.
func (p *Page) apply(b batch, now time.Time) {
	changed := map[string]bool{}
	for _, c := range b.components {
		p.components[c.ID] = c
	}
	p.recordStatuses(b.components)
	for _, r := range b.incidents {
		changed[r.ID] = true
	}
	for _, u := range b.updates {
		p.incidents[u.IncidentID].insert(u)
		p.seq = max(p.seq, u.Seq)
	}
	p.touch(now)
	p.render(changed, false)
}

// sortedComponents returns the components in page order: position, then name, then id.
func (p *Page) sortedComponents() []*componentRecord {
	out := make([]*componentRecord, 0, len(p.components))
	for _, c := range p.components {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *componentRecord) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func componentAPI(c *componentRecord) api.Component {
	return api.Component{ID: c.ID, Name: c.Name, Description: c.Description, Group: c.Group, Position: c.Position,
		Status: api.ComponentStatus(c.Status), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func updateAPI(u *updateRecord) api.Update {
	out := api.Update{ID: u.ID, IncidentID: u.IncidentID, Status: api.IncidentStatus(u.Status), Body: u.Body,
		CreatedAt: u.CreatedAt, Components: []api.AffectedComponent{}}
	for _, c := range u.Components {
		out.Components = append(out.Components, api.AffectedComponent{ID: c.ID, Name: c.Name,
			OldStatus: api.ComponentStatus(c.OldStatus), NewStatus: api.ComponentStatus(c.NewStatus)})
	}
	return out
}

func (p *Page) incidentAPI(inc *incidentState) api.Incident {
	out := api.Incident{ID: inc.rec.ID, Name: inc.rec.Name, Impact: api.Impact(inc.rec.Impact), Status: inc.status(),
		CreatedAt: inc.startedAt(), UpdatedAt: inc.rec.UpdatedAt, ResolvedAt: inc.resolvedAt(),
		URL: p.incidentURL(inc.rec.ID), Updates: []api.Update{}}
	for _, u := range slices.Backward(inc.updates) {
		out.Updates = append(out.Updates, updateAPI(u))
	}
	return out
}

func (p *Page) incidentURL(id string) string { return p.info.URL + "/incidents/" + id }
