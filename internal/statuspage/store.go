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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"firescope.dev/firescope/internal/statuspage/api"
)

// The store keeps every record in one bbolt file. bbolt commits with fdatasync, so a write
// that the API acknowledged is on disk and survives a crash or kill -9. The whole page also
// lives in memory, bounded by api.MaxStoredBytes, so reads never touch the file.

const schemaVersion = "1"

var (
	bucketMeta       = []byte("meta")
	bucketComponents = []byte("components")
	bucketIncidents  = []byte("incidents")
	bucketUpdates    = []byte("updates")
	// bucketPostmortems holds one record per incident that has a post-mortem, keyed by the
	// incident id. A bucket of its own, rather than a field of the incident record, keeps
	// every update write small, and a file written by a binary without post-mortems opens
	// unchanged (the bucket is created on open), so the schema version stays.
	bucketPostmortems = []byte("postmortems")
	keyVersion        = []byte("version")
)

// componentRecord is a component as stored.
type componentRecord struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Position    int       `json:"position"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// StatusAt is when the current Status was decided: the created_at of the update that set
	// it, or the time of a PUT that changed it (zero for a status set at creation). An update
	// written earlier (a late retry) does not override it.
	StatusAt time.Time `json:"status_at"`
	// Group is the name of the group the page shows the component in, "" for none.
	Group string `json:"group,omitempty"`
}

// incidentRecord is an incident without its updates, which are stored one record each so
// that posting an update writes only that update.
type incidentRecord struct {
	ID string `json:"id"`
	// Owner is the namespace whose token created the incident, the only one (with the
	// admin) that may change it; "" for one the admin created, or a server without
	// namespace tokens.
	Owner     string    `json:"owner,omitempty"`
	Name      string    `json:"name"`
	Impact    string    `json:"impact"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// updateRecord is one incident update as stored.
type updateRecord struct {
	ID         string              `json:"id"`
	IncidentID string              `json:"incident_id"`
	Status     string              `json:"status"`
	Body       string              `json:"body"`
	CreatedAt  time.Time           `json:"created_at"`
	Components []affectedComponent `json:"components,omitempty"`
	// Seq is the arrival order, which breaks ties between equal CreatedAt.
	Seq uint64 `json:"seq"`
	// Notify is set when the update was published with notifications to subscribers.
	Notify bool `json:"notify,omitempty"`
}

// postmortemRecord is an incident's post-mortem as stored: the draft and, once published, the
// text the page shows, which changes only by a publishing write.
type postmortemRecord struct {
	IncidentID    string    `json:"incident_id"`
	Draft         string    `json:"draft"`
	PublishedBody string    `json:"published_body,omitempty"`
	PublishedAt   time.Time `json:"published_at,omitzero"`
	// RevisedAt is when PublishedBody last changed.
	RevisedAt time.Time `json:"revised_at,omitzero"`
	// Notify is set when the first publication asked to notify subscribers.
	Notify    bool      `json:"notify,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (r *postmortemRecord) published() bool { return !r.PublishedAt.IsZero() }

type affectedComponent struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

// batch is what one API write changes; it is committed in one transaction.
type batch struct {
	components       []*componentRecord
	deleteComponents []string
	incidents        []*incidentRecord
	updates          []*updateRecord
	postmortems      []*postmortemRecord
	maintenances     []*maintenanceRecord
	// deleteIncidents removes incidents with their updates and post-mortems.
	deleteIncidents []string
	metrics         []*metricRecord
	deleteMetrics   []string
	// deletedAt is when the deletions were made, the page's updated_at (PostgreSQL keeps it
	// for the other replicas).
	deletedAt time.Time
}

// boltStore keeps the records in one bbolt file, for a single server process.
type boltStore struct {
	db *bolt.DB
}

// openStore opens (or creates) the database file. A second process on the same file waits
// a moment for the lock and then fails, rather than corrupting it.
func openStore(path string) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the file is locked by another status page process", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketComponents, bucketIncidents, bucketUpdates, bucketPostmortems, bucketMetrics, bucketMaintenances} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("data schema version %q; this binary reads version %s", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &boltStore{db: db}, nil
}

// records is every record in the store.
type records struct {
	components  []*componentRecord
	incidents   []*incidentRecord
	updates     []*updateRecord
	postmortems []*postmortemRecord
	// maintenances count in componentBytes: they belong to the page, not to an incident.
	maintenances []*maintenanceRecord
	// componentBytes is the stored size of the components; incidentBytes that of each
	// incident's records (see recordSize).
	componentBytes int64
	incidentBytes  map[string]int64
	metrics        []*metricRecord
	metricBytes    int64
}

// load reads every record.
func (s *boltStore) load() (recs records, err error) {
	recs.incidentBytes = map[string]int64{}
	err = s.db.View(func(tx *bolt.Tx) error {
		if err := forEach(tx, bucketComponents, func(r *componentRecord, n int64) {
			recs.components = append(recs.components, r)
			recs.componentBytes += n
		}); err != nil {
			return err
		}
		if err := forEach(tx, bucketIncidents, func(r *incidentRecord, n int64) {
			recs.incidents = append(recs.incidents, r)
			recs.incidentBytes[r.ID] += n
		}); err != nil {
			return err
		}
		if err := forEach(tx, bucketUpdates, func(r *updateRecord, n int64) {
			recs.updates = append(recs.updates, r)
			recs.incidentBytes[r.IncidentID] += n
		}); err != nil {
			return err
		}
		if err := forEach(tx, bucketMaintenances, func(r *maintenanceRecord, n int64) {
			recs.maintenances = append(recs.maintenances, r)
			recs.componentBytes += n
		}); err != nil {
			return err
		}
		if err := forEach(tx, bucketPostmortems, func(r *postmortemRecord, n int64) {
			recs.postmortems = append(recs.postmortems, r)
			recs.incidentBytes[r.IncidentID] += n
		}); err != nil {
			return err
		}
		return forEach(tx, bucketMetrics, func(r *metricRecord, n int64) {
			recs.metrics = append(recs.metrics, r)
			recs.metricBytes += n
		})
	})
	return recs, err
}

// forEach decodes every record of bucket and passes it on with its stored size.
func forEach[T any](tx *bolt.Tx, bucket []byte, f func(*T, int64)) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		r := new(T)
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("record %s/%s: %w", bucket, k, err)
		}
		f(r, recordSize(k, v))
		return nil
	})
}

// recordSize is what a record counts against api.MaxStoredBytes: its key and its JSON.
func recordSize(key, value []byte) int64 { return int64(len(key) + len(value)) }

// sizeOf is the stored size of a record that has not been written yet (or that is about to
// be replaced), as commit would write it.
func sizeOf(key []byte, v any) int64 {
	data, err := json.Marshal(v)
	if err != nil {
		// The records are plain data: this cannot fail. Counting it as large keeps a
		// mistake from passing the limits silently.
		return api.MaxStoredBytes
	}
	return recordSize(key, data)
}

func updateKey(incidentID, updateID string) []byte {
	// Ids cannot contain '/', so the key is unambiguous.
	return []byte(incidentID + "/" + updateID)
}

// commit writes the batch in one transaction and returns once it is on disk.
func (s *boltStore) commit(b batch) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		put := func(bucket []byte, key []byte, v any) error {
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return tx.Bucket(bucket).Put(key, data)
		}
		for _, c := range b.components {
			if err := put(bucketComponents, []byte(c.ID), c); err != nil {
				return err
			}
		}
		for _, id := range b.deleteComponents {
			if err := tx.Bucket(bucketComponents).Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, i := range b.incidents {
			if err := put(bucketIncidents, []byte(i.ID), i); err != nil {
				return err
			}
		}
		for _, u := range b.updates {
			if err := put(bucketUpdates, updateKey(u.IncidentID, u.ID), u); err != nil {
				return err
			}
		}
		for _, pm := range b.postmortems {
			if err := put(bucketPostmortems, []byte(pm.IncidentID), pm); err != nil {
				return err
			}
		}
		for _, m := range b.maintenances {
			if err := put(bucketMaintenances, []byte(m.ID), m); err != nil {
				return err
			}
		}
		for _, id := range b.deleteIncidents {
			if err := deleteIncident(tx, id); err != nil {
				return err
			}
		}
		for _, m := range b.metrics {
			if err := put(bucketMetrics, []byte(m.ID), m); err != nil {
				return err
			}
		}
		for _, id := range b.deleteMetrics {
			if err := tx.Bucket(bucketMetrics).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteIncident removes an incident's record, its updates and its post-mortem.
func deleteIncident(tx *bolt.Tx, id string) error {
	if err := tx.Bucket(bucketIncidents).Delete([]byte(id)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketPostmortems).Delete([]byte(id)); err != nil {
		return err
	}
	prefix := updateKey(id, "")
	c := tx.Bucket(bucketUpdates).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// begin has nothing to wait for: the file is locked to this process, whose writes the page
// serialises.
func (s *boltStore) begin() (changes, error) { return changes{}, nil }

func (s *boltStore) end() {}

func (s *boltStore) close() error { return s.db.Close() }
