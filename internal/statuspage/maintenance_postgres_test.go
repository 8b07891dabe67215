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
	"testing"
	"time"
)

func TestReplicasOnPostgresServeTheSameMaintenances(t *testing.T) {
	pg := startPostgres(t)
	a, b := newReplica(t, pg.URL(), time.Now), newReplica(t, pg.URL(), time.Now)
	a.mustPut(t, "/api/v1/components/db", `{"name":"Database"}`)
	from := time.Now().Add(5 * time.Minute).Truncate(time.Second)

	a.mustPut(t, "/api/v1/maintenances/mw-1", maintenanceBody("scheduled", "Writes may be slow for a few minutes.", from, "db"))
	waitServed(t, b, "/api/v2/summary.json", "Writes may be slow for a few minutes.", false)
	waitServed(t, b, "/", "Database upgrade", false)

	// The other replica takes the next step; the first serves it, components included.
	b.mustPut(t, "/api/v1/maintenances/mw-1", maintenanceBody("in_progress", "The upgrade is under way.", from, "db"))
	waitServed(t, a, "/api/v2/components.json", `"under_maintenance"`, false)
	// Going back is refused on either replica, since both read the stored status.
	wantError(t, a.put(t, "/api/v1/maintenances/mw-1", maintenanceBody("scheduled", "x", from, "db")), http.StatusConflict, "conflict")

	if n := countRows(t, pg.URL(), "maintenances"); n != 1 {
		t.Errorf("%d maintenance rows, want 1", n)
	}
	// A replica opened now loads it from the database.
	c := newReplica(t, pg.URL(), time.Now)
	if got, want := c.get(t, "/api/v2/summary.json").body, a.get(t, "/api/v2/summary.json").body; string(got) != string(want) {
		t.Errorf("a new replica serves\n%s\nthe first one\n%s", got, want)
	}
}
