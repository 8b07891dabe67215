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
