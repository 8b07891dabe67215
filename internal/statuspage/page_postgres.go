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
	"context"
	"fmt"
	"log/slog"
	"time"
)

// OpenPostgresPage opens the page stored in PostgreSQL, creating its tables if needed, and
// keeps it up to date with what other replicas write until it is closed.
func OpenPostgresPage(ctx context.Context, cfg PostgresConfig, info PageInfo, now func() time.Time, log *slog.Logger) (*Page, error) {
	s, err := openPostgresStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	p, err := openPage(s, "from PostgreSQL", info, now)
	if err != nil {
		return nil, err
	}
	s.statusRows = p.statusRows
	p.mu.Lock()
	if s.deletedAt.After(p.updatedAt) {
		// A deletion is news the records no longer carry.
		p.touch(s.deletedAt)
		p.render(nil, false)
	}
	p.mu.Unlock()
	if err := p.recordHistoryStart(); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("PostgreSQL: record the components' history: %w", err)
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stopListen = stop
	s.listening.Add(1)
	go func() {
		defer s.listening.Done()
		s.listen(lctx, func(rev int64) error { return p.heard(s, rev) })
	}()
	return p, nil
}

// heard catches up with the commit of revision rev (0: of any commit) by another replica.
// While PostgreSQL is unavailable the page keeps what it has, and the listener tries again.
func (p *Page) heard(s *postgresStore, rev int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rev != 0 && rev <= s.rev {
		return nil // this replica's own write, or one it caught up with already
	}
	ch, err := s.catchUp()
	if err != nil {
		return err
	}
	p.applyChanges(ch)
	return nil
}

// unseenNotifications are the updates and post-mortem publications with notifications on in
// changes that other replicas committed, and that this page has not seen yet. Every replica
// announces them to its subscriptions, not only the one that wrote them, so that the writer
// stopping before its fan-out delays nobody's mail; the store fans each event out once.
// Callers hold p.mu, before applying ch.
func (p *Page) unseenNotifications(ch changes) (updates []*updateRecord, postmortems []*postmortemRecord) {
	if p.announce == nil {
		return nil, nil
	}
	for _, u := range ch.puts.updates {
		if inc := p.incidents[u.IncidentID]; u.Notify && (inc == nil || inc.byID[u.ID] == nil) {
			updates = append(updates, u)
		}
	}
	for _, pm := range ch.puts.postmortems {
		inc := p.incidents[pm.IncidentID]
		if pm.Notify && pm.published() && (inc == nil || inc.postmortem == nil || !inc.postmortem.published()) {
			postmortems = append(postmortems, pm)
		}
	}
	return updates, postmortems
}

// announceUnseen announces what unseenNotifications found, once the changes are applied.
// Callers hold p.mu.
func (p *Page) announceUnseen(updates []*updateRecord, postmortems []*postmortemRecord) {
	var evs []*eventRecord
	for _, u := range updates {
		if inc := p.incidents[u.IncidentID]; inc != nil && inc.byID[u.ID] == u {
			evs = append(evs, p.updateEvent(inc, u))
		}
	}
	for _, pm := range postmortems {
		if inc := p.incidents[pm.IncidentID]; inc != nil && inc.postmortem == pm {
			evs = append(evs, p.postmortemEvent(inc, pm))
		}
	}
	if len(evs) > 0 {
		p.announce(evs)
	}
}
