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
	"errors"
	"time"
)

// store keeps the page's records durably: a bbolt file for one server (store.go), or
// PostgreSQL for several replicas of it (store_postgres.go). The page calls it with p.mu held.
type store interface {
	// load reads every record.
	load() (records, error)
	// begin starts a write. It waits for any other process writing the same records and
	// returns what they committed since this page last heard from the store, for the page to
	// apply before it checks the write against its records.
	begin() (changes, error)
	// commit stores the batch of the write begun and returns once it is durable: only then
	// is the write acknowledged.
	commit(b batch) error
	// end finishes the write begun, discarding it if it was not committed.
	end()
	// pruneHistory deletes the component history records at or before horizon but each
	// component's last, batch a transaction, and reports how many it deleted. Unlike the
	// others it is called without p.mu: it runs alongside the page's writes.
	pruneHistory(ctx context.Context, horizon time.Time, batch int) (int, error)
	close() error
}

// changes are what other processes committed: records deleted, then records written (an id
// may be deleted and written again).
type changes struct {
	deletes, puts batch
	// statuses are the component status changes written, in order (PostgreSQL).
	statuses []statusRow
}

// errUnavailable marks a store error that a retry may get past, such as a database that is
// restarting; the write API answers it 503 with Retry-After.
var errUnavailable = errors.New("the database is unavailable")
