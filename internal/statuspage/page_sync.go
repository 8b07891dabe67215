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
	"errors"
	"net/http"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// retryAfterUnavailable is the Retry-After of a write refused because the database is
// unavailable: about how long a PostgreSQL restart or failover takes.
const retryAfterUnavailable = 5 * time.Second

// lockWrite starts a write: it takes p.mu and begins the store's write, first applying what
// other replicas committed, so that the write is checked against every record (an id that
// another replica wrote is a replay here, not a second record).
func (p *Page) lockWrite() *apiError {
	p.mu.Lock()
	ch, err := p.store.begin()
	if err != nil {
		p.store.end()
		p.mu.Unlock()
		return storeError(err)
	}
	p.applyChanges(ch)
	return nil
}

func (p *Page) unlockWrite() {
	p.store.end()
	p.mu.Unlock()
}

// storeError is the write API's answer to a store that failed.
func storeError(err error) *apiError {
	if errors.Is(err, errUnavailable) {
		return &apiError{status: http.StatusServiceUnavailable, code: api.CodeUnavailable, retryAfter: retryAfterUnavailable,
			message: "cannot store the write now, nothing was changed: " + err.Error() + "; retry later"}
	}
	return &apiError{status: http.StatusInternalServerError, code: api.CodeInternal, message: "cannot store the write: " + err.Error()}
}

// applyChanges installs in memory what other processes committed, counting its bytes as
// commit does for this process's writes, and renders again. Callers hold p.mu.
func (p *Page) applyChanges(ch changes) {
	if ch.deletes.empty() && ch.puts.empty() && len(ch.statuses) == 0 {
		return
	}
	unseenUpdates, unseenPostmortems := p.unseenNotifications(ch)
	changed := map[string]bool{}
	for _, b := range []batch{ch.deletes, ch.puts} {
		total, byIncident := p.growth(b)
		p.storedBytes += total
		for id, n := range byIncident {
			p.incidentBytes[id] += n
		}
		for _, id := range b.deleteComponents {
			delete(p.components, id)
			delete(p.history, id)
		}
		for _, id := range b.deleteIncidents {
			delete(p.incidents, id)
			delete(p.incidentBytes, id)
		}
		for _, c := range b.components {
			p.components[c.ID] = c
			p.touch(c.UpdatedAt)
		}
		for _, r := range b.incidents {
			if inc := p.incidents[r.ID]; inc != nil {
				inc.rec = r
			} else {
				p.incidents[r.ID] = newIncidentState(r)
			}
			p.touch(r.UpdatedAt)
			changed[r.ID] = true
		}
		for _, u := range b.updates {
			// Every update is written with its incident; one without (a database edited by
			// hand) cannot be shown.
			inc := p.incidents[u.IncidentID]
			if inc == nil {
				continue
			}
			u.IncidentID = inc.rec.ID
			inc.insert(u)
			p.seq = max(p.seq, u.Seq)
			changed[u.IncidentID] = true
		}
		for _, m := range b.maintenances {
			p.maintenances[m.ID] = m
			p.touch(m.UpdatedAt)
		}
		for _, pm := range b.postmortems {
			if inc := p.incidents[pm.IncidentID]; inc != nil {
				inc.postmortem = pm
				changed[pm.IncidentID] = true
			}
		}
		p.applyMetricChanges(b, changed)
	}
	p.applyStatusRows(ch.statuses)
	p.touch(ch.deletes.deletedAt)
	p.render(changed, false)
	p.announceUnseen(unseenUpdates, unseenPostmortems)
}

func (b *batch) empty() bool {
	return len(b.components)+len(b.deleteComponents)+len(b.incidents)+len(b.updates)+len(b.postmortems)+len(b.deleteIncidents)+len(b.maintenances)+len(b.metrics)+len(b.deleteMetrics) == 0
}
