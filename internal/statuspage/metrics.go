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
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// Public metrics: a health signal that a namespace publishes while an incident is open. Each
// metric is one record (its definition and its points, bounded by api.MaxMetricPoints and
// api.MetricRetention) in a bucket of its own, in the bbolt file and in PostgreSQL alike, so
// that replicas serve the same charts. A record is never changed in place: a write makes a
// new one, so that a frozen incident page may keep the one it drew.

var bucketMetrics = []byte("metrics")

// metricRecord is a metric as stored.
type metricRecord struct {
	ID string `json:"id"`
	// Owner is the namespace whose token created the metric, as for incidents.
	Owner      string                `json:"owner,omitempty"`
	Name       string                `json:"name"`
	Unit       string                `json:"unit,omitempty"`
	Thresholds *api.MetricThresholds `json:"thresholds,omitempty"`
	// Incidents are the ids of the incidents whose pages chart the metric, oldest first.
	Incidents []string `json:"incidents,omitempty"`
	// Points are oldest first, one per millisecond at most.
	Points    []sample  `json:"points"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// sample is a point, stored as [unix milliseconds, value]: a third of the bytes of named
// fields, which matters for a record of thousands of points.
type sample struct {
	T int64
	V float64
}

func (s sample) MarshalJSON() ([]byte, error) {
	b := append(strconv.AppendInt([]byte{'['}, s.T, 10), ',')
	return append(strconv.AppendFloat(b, s.V, 'g', -1, 64), ']'), nil
}

func (s *sample) UnmarshalJSON(b []byte) error {
	var a [2]json.Number
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	t, err := a[0].Int64()
	if err != nil {
		return err
	}
	v, err := a[1].Float64()
	s.T, s.V = t, v
	return err
}

func (s sample) at() time.Time { return time.UnixMilli(s.T).UTC() }

// mayWriteMetric refuses a metric that the scope does not own, as mayWrite does incidents.
func (sc scope) mayWriteMetric(m *metricRecord) *apiError {
	if sc.admin || sc.namespace != "" && m.Owner == sc.namespace {
		return nil
	}
	return &apiError{status: http.StatusForbidden, code: api.CodeForbidden,
		message: fmt.Sprintf("metric %q belongs to another namespace: the token of namespace %q writes and reads only the metrics it created; choose another id", m.ID, sc.namespace)}
}

// PutMetric creates a metric or changes how it is shown, and adds points, as the admin.
func (p *Page) PutMetric(id string, req api.MetricRequest) (api.Metric, bool, error) {
	return p.putMetric(adminScope, id, req)
}

// Metric returns a metric with its points.
func (p *Page) Metric(id string) (api.Metric, bool) {
	m, err := p.metric(adminScope, id)
	return m, err == nil
}

func (p *Page) metric(sc scope, id string) (api.Metric, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.metrics[id]
	if m == nil {
		return api.Metric{}, notFound("metric", id)
	}
	if err := sc.mayWriteMetric(m); err != nil {
		return api.Metric{}, err
	}
	return metricAPI(m, true), nil
}

// listMetrics returns the metrics sc may write, by id, without their points.
func (p *Page) listMetrics(sc scope) []api.Metric {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []api.Metric{}
	for _, m := range p.metrics {
		if sc.mayWriteMetric(m) == nil {
			out = append(out, metricAPI(m, false))
		}
	}
	slices.SortFunc(out, func(a, b api.Metric) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (p *Page) putMetric(sc scope, id string, req api.MetricRequest) (api.Metric, bool, error) {
	now := p.clock()
	if err := validateID("id", id); err != nil {
		return api.Metric{}, false, err
	}
	add, err := validateMetricRequest(&req, now)
	if err != nil {
		return api.Metric{}, false, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Metric{}, false, err
	}
	defer p.unlockWrite()
	old := p.metrics[id]
	var rec metricRecord
	if old == nil {
		if len(p.metrics) >= api.MaxMetrics {
			return api.Metric{}, false, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded,
				message: fmt.Sprintf("the page already has %d metrics, the limit: delete one with DELETE /api/v1/metrics/{id}", api.MaxMetrics)}
		}
		rec = metricRecord{ID: id, Owner: sc.namespace, CreatedAt: now}
	} else {
		if err := sc.mayWriteMetric(old); err != nil {
			return api.Metric{}, false, err
		}
		rec = *old
	}
	rec.Name, rec.Unit, rec.Thresholds = req.Name, req.Unit, req.Thresholds
	rec.Incidents = mergeIncidents(rec.Incidents, req.Incidents)
	points, added, err := mergePoints(id, rec.Points, add, now)
	if err != nil {
		return api.Metric{}, false, err
	}
	rec.Points = points
	if old != nil && added == 0 && sameDefinition(old, &rec) {
		return metricAPI(old, false), false, nil
	}
	rec.UpdatedAt = now
	if err := p.commit(batch{metrics: []*metricRecord{&rec}}); err != nil {
		return api.Metric{}, false, err
	}
	changed := p.chartedBy(old, &rec, add)
	p.metrics[id] = &rec
	p.touch(now)
	p.render(changed, false)
	return metricAPI(&rec, false), old == nil, nil
}

// deleteMetric removes a metric and its points. Deleting a missing metric is not an error,
// so that a retried delete succeeds.
func (p *Page) deleteMetric(sc scope, id string) error {
	if err := validateID("id", id); err != nil {
		return err
	}
	if err := p.lockWrite(); err != nil {
		return err
	}
	defer p.unlockWrite()
	old := p.metrics[id]
	if old == nil {
		return nil
	}
	if err := sc.mayWriteMetric(old); err != nil {
		return err
	}
	now := p.clock()
	if err := p.commit(batch{deleteMetrics: []string{id}, deletedAt: now}); err != nil {
		return err
	}
	changed := p.chartedBy(old, nil, nil)
	delete(p.metrics, id)
	p.touch(now)
	p.render(changed, false)
	return nil
}

// validateMetricRequest checks a request and returns its points as samples, oldest first,
// each timestamp once.
func validateMetricRequest(req *api.MetricRequest, now time.Time) ([]sample, *apiError) {
	if err := validateText("name", req.Name, true, api.MaxNameLength, false); err != nil {
		return nil, err
	}
	if err := validateText("unit", req.Unit, false, api.MaxUnitLength, false); err != nil {
		return nil, err
	}
	if t := req.Thresholds; t != nil {
		if err := validateThresholds(t); err != nil {
			return nil, err
		}
	}
	if n := len(req.Incidents); n > api.MaxMetricIncidents {
		return nil, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded, field: "incidents",
			message: fmt.Sprintf("%d incidents in one request; the limit is %d", n, api.MaxMetricIncidents)}
	}
	for i, id := range req.Incidents {
		if err := validateID(fmt.Sprintf("incidents[%d]", i), id); err != nil {
			return nil, err
		}
	}
	if n := len(req.Points); n > api.MaxPointsPerRequest {
		return nil, &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded, field: "points",
			message: fmt.Sprintf("%d points in one request; the limit is %d: send them in several", n, api.MaxPointsPerRequest)}
	}
	earliest := now.Add(-api.MetricRetention)
	out := make([]sample, 0, len(req.Points))
	for i, pt := range req.Points {
		field := fmt.Sprintf("points[%d]", i)
		if pt.Timestamp.Before(earliest) || pt.Timestamp.After(now.Add(maxClockSkew)) {
			return nil, invalid(field+".timestamp", "%s.timestamp %s is not between the server's time (%s) less the retention of %s and plus %s",
				field, pt.Timestamp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), api.MetricRetention, maxClockSkew)
		}
		if math.Abs(pt.Value) > api.MaxMetricValue {
			return nil, invalid(field+".value", "%s.value %g is out of range ±%g", field, pt.Value, api.MaxMetricValue)
		}
		out = append(out, sample{T: pt.Timestamp.UnixMilli(), V: pt.Value})
	}
	slices.SortStableFunc(out, func(a, b sample) int { return cmp.Compare(a.T, b.T) })
	var dedup []sample
	for _, s := range out {
		if n := len(dedup); n > 0 && dedup[n-1].T == s.T {
			if dedup[n-1].V != s.V {
				return nil, invalid("points", "two points at %s with different values (%g and %g)", s.at().Format(time.RFC3339Nano), dedup[n-1].V, s.V)
			}
			continue
		}
		dedup = append(dedup, s)
	}
	return dedup, nil
}

func validateThresholds(t *api.MetricThresholds) *apiError {
	if t.BadWhen != api.BadBelow && t.BadWhen != api.BadAbove {
		return invalid("thresholds.bad_when", "thresholds.bad_when %q is not one of %q, %q", t.BadWhen, api.BadBelow, api.BadAbove)
	}
	for field, v := range map[string]float64{"thresholds.degraded": t.Degraded, "thresholds.down": t.Down} {
		if math.Abs(v) > api.MaxMetricValue {
			return invalid(field, "%s %g is out of range ±%g", field, v, api.MaxMetricValue)
		}
	}
	if t.BadWhen == api.BadBelow && t.Down > t.Degraded || t.BadWhen == api.BadAbove && t.Down < t.Degraded {
		return invalid("thresholds.down", "thresholds.down %g must be at least as bad as thresholds.degraded %g: with bad_when %q, down is at or %s degraded",
			t.Down, t.Degraded, t.BadWhen, map[api.BadWhen]string{api.BadBelow: "under", api.BadAbove: "over"}[t.BadWhen])
	}
	return nil
}

// mergePoints adds the new samples to the stored ones, both oldest first, and keeps what the
// limits allow: none older than the retention, the latest api.MaxMetricPoints. A sample
// already stored is a replay; one at a stored time with another value is a conflict.
func mergePoints(id string, stored, add []sample, now time.Time) ([]sample, int, *apiError) {
	var fresh []sample
	for _, s := range add {
		i, found := slices.BinarySearchFunc(stored, s.T, func(e sample, t int64) int { return cmp.Compare(e.T, t) })
		if !found {
			fresh = append(fresh, s)
			continue
		}
		if stored[i].V != s.V {
			return nil, 0, &apiError{status: http.StatusConflict, code: api.CodeConflict,
				message: fmt.Sprintf("metric %q already has the value %g at %s, not %g; points cannot be changed", id, stored[i].V, s.at().Format(time.RFC3339Nano), s.V)}
		}
	}
	earliest := now.Add(-api.MetricRetention).UnixMilli()
	start, _ := slices.BinarySearchFunc(stored, earliest, func(e sample, t int64) int { return cmp.Compare(e.T, t) })
	if len(fresh) == 0 && start == 0 {
		return stored, 0, nil
	}
	out := make([]sample, 0, len(stored)-start+len(fresh))
	out = append(append(out, stored[start:]...), fresh...)
	slices.SortFunc(out, func(a, b sample) int { return cmp.Compare(a.T, b.T) })
	if len(out) > api.MaxMetricPoints {
		out = out[len(out)-api.MaxMetricPoints:]
	}
	return out, len(fresh), nil
}

// mergeIncidents adds the ids not yet listed, keeping the latest api.MaxMetricIncidents.
func mergeIncidents(have, add []string) []string {
	out := have
	for _, id := range add {
		if !slices.Contains(out, id) {
			out = append(slices.Clip(out), id)
		}
	}
	if len(out) > api.MaxMetricIncidents {
		out = out[len(out)-api.MaxMetricIncidents:]
	}
	return out
}

func sameDefinition(a, b *metricRecord) bool {
	return a.Name == b.Name && a.Unit == b.Unit && slices.Equal(a.Incidents, b.Incidents) &&
		(a.Thresholds == nil) == (b.Thresholds == nil) && (a.Thresholds == nil || *a.Thresholds == *b.Thresholds)
}

// chartedBy returns the incidents whose charts a change of a metric from old to rec (nil:
// none, or deleted) redraws: with new samples add, those whose window holds one of them;
// with a new definition, every incident of either.
func (p *Page) chartedBy(old, rec *metricRecord, add []sample) map[string]bool {
	changed := map[string]bool{}
	redrawAll := old == nil || rec == nil || !sameDefinition(old, rec)
	for _, r := range []*metricRecord{old, rec} {
		if r == nil {
			continue
		}
		for _, id := range r.Incidents {
			inc := p.incidents[id]
			if inc == nil {
				continue
			}
			if redrawAll || slices.ContainsFunc(add, func(s sample) bool { return inWindow(&inc.incidentPage, s.at()) }) {
				changed[id] = true
			}
		}
	}
	return changed
}

// chartLead is how much of the time before an incident started its charts show: the
// signal's turn for the worse usually comes before the first update.
const chartLead = 15 * time.Minute

// window is the span of an incident's charts: from chartLead before it started to its
// resolution, or open-ended while it is open.
func window(inc *incidentPage) (from time.Time, to *time.Time) {
	return inc.startedAt().Add(-chartLead), inc.resolvedAt()
}

func inWindow(inc *incidentPage, t time.Time) bool {
	from, to := window(inc)
	return !t.Before(from) && (to == nil || !t.After(*to))
}

func metricAPI(m *metricRecord, withPoints bool) api.Metric {
	out := api.Metric{ID: m.ID, Name: m.Name, Unit: m.Unit, Thresholds: m.Thresholds, Incidents: append([]string{}, m.Incidents...),
		PointCount: len(m.Points), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if n := len(m.Points); n > 0 {
		out.Latest = &api.MetricPoint{Timestamp: m.Points[n-1].at(), Value: m.Points[n-1].V}
	}
	if withPoints {
		out.Points = make([]api.MetricPoint, len(m.Points))
		for i, s := range m.Points {
			out.Points[i] = api.MetricPoint{Timestamp: s.at(), Value: s.V}
		}
	}
	return out
}

// loadMetrics installs the metrics read at open. Callers own p.
func (p *Page) loadMetrics(recs []*metricRecord, bytes int64) {
	p.metrics = make(map[string]*metricRecord, len(recs))
	for _, m := range recs {
		p.metrics[m.ID] = m
	}
	p.storedBytes += bytes
}

// metricGrowth is how many bytes a batch's metrics add to the stored records.
func (p *Page) metricGrowth(b batch) int64 {
	var n int64
	for _, m := range b.metrics {
		n += sizeOf([]byte(m.ID), m)
		if old := p.metrics[m.ID]; old != nil {
			n -= sizeOf([]byte(m.ID), old)
		}
	}
	for _, id := range b.deleteMetrics {
		if old := p.metrics[id]; old != nil {
			n -= sizeOf([]byte(id), old)
		}
	}
	return n
}

// applyMetricChanges installs the metrics another process committed, and marks the
// incidents whose charts they change. Callers hold p.mu and have counted the bytes.
func (p *Page) applyMetricChanges(b batch, changed map[string]bool) {
	for _, id := range b.deleteMetrics {
		if old := p.metrics[id]; old != nil {
			maps.Copy(changed, p.chartedBy(old, nil, nil))
			delete(p.metrics, id)
		}
	}
	for _, m := range b.metrics {
		old := p.metrics[m.ID]
		var add []sample
		if old != nil {
			for _, s := range m.Points {
				if _, found := slices.BinarySearchFunc(old.Points, s.T, func(e sample, t int64) int { return cmp.Compare(e.T, t) }); !found {
					add = append(add, s)
				}
			}
		}
		maps.Copy(changed, p.chartedBy(old, m, add))
		p.metrics[m.ID] = m
		p.touch(m.UpdatedAt)
	}
}
