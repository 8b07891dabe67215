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
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReplicasOnPostgresStoreAMetricPointOnceAndServeTheSameChart(t *testing.T) {
	pg := startPostgres(t)
	a, b := newReplica(t, pg.URL(), time.Now), newReplica(t, pg.URL(), time.Now)
	start := time.Now().UTC().Truncate(time.Second)
	a.mustPut(t, "/api/v1/incidents/inc-1", `{"name":"Elevated errors","impact":"major","update":{"id":"u1","status":"investigating","body":"We are looking into it.","created_at":"`+start.Format(time.RFC3339)+`"}}`)
	point := func(i int, v float64) string {
		return fmt.Sprintf(`{"timestamp":"%s","value":%g}`, start.Add(time.Duration(i)*30*time.Second).Format(time.RFC3339), v)
	}
	metric := func(points ...string) string {
		return `{"name":"Availability","unit":"%","incidents":["inc-1"],"thresholds":{"bad_when":"below","degraded":99.5,"down":95},"points":[` +
			strings.Join(points, ",") + `]}`
	}
	a.mustPut(t, "/api/v1/metrics/availability", metric(point(0, 99.9), point(1, 97.2)))
	waitServed(t, b, "/incidents/inc-1", "Last reading <strong>97.2%</strong>", false)

	// The same new point sent to both replicas at once is stored once; the point already
	// stored is a replay on either.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, s := range []*testServer{a, b} {
		wg.Go(func() {
			statuses[i] = s.put(t, "/api/v1/metrics/availability", metric(point(1, 97.2), point(2, 94.1))).status
		})
	}
	wg.Wait()
	if statuses[0] != http.StatusOK || statuses[1] != http.StatusOK {
		t.Errorf("the same point on both replicas answered %v, want 200 twice", statuses)
	}
	wantError(t, b.put(t, "/api/v1/metrics/availability", metric(point(2, 50))), http.StatusConflict, "conflict")
	if n := countRows(t, pg.URL(), "metrics"); n != 1 {
		t.Errorf("the database holds %d metrics, want 1", n)
	}
	for _, s := range []*testServer{a, b} {
		m, ok := s.page.Metric("availability")
		if !ok || m.PointCount != 3 {
			t.Errorf("a replica holds %+v, want 3 points", m)
		}
	}
	waitServed(t, a, "/incidents/inc-1", "Last reading <strong>94.1%</strong>", false)
	waitServed(t, b, "/incidents/inc-1", "Last reading <strong>94.1%</strong>", false)
	for _, path := range []string{"/", "/incidents/inc-1", "/api/v2/metrics.json"} {
		if ra, rb := a.get(t, path), b.get(t, path); !bytes.Equal(ra.body, rb.body) {
			t.Errorf("GET %s differs between the replicas:\n%s\n---\n%s", path, ra.body, rb.body)
		}
	}
	// A replica started now reads the metric, and counts the same bytes.
	c := newReplica(t, pg.URL(), time.Now)
	if m, ok := c.page.Metric("availability"); !ok || m.PointCount != 3 {
		t.Errorf("a new replica reads %+v", m)
	}
	ta, _ := storedBytes(a.page)
	if tc, _ := storedBytes(c.page); ta != tc {
		t.Errorf("replica a counts %d bytes, a new replica %d", ta, tc)
	}
	// A deletion reaches the other replica, and the chart goes.
	if r := b.do(t, http.MethodDelete, "/api/v1/metrics/availability", testToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	waitServed(t, a, "/incidents/inc-1", `class="chart"`, true)
	if _, ok := a.page.Metric("availability"); ok {
		t.Error("the other replica still holds the deleted metric")
	}
}
