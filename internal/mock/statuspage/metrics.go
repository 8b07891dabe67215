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
	"slices"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

// MetricPoint is one point of a system metric, as POST .../metrics/{metric_id}/data added it.
type MetricPoint struct {
	Timestamp int64
	Value     float64
}

// AddMetric adds a system metric with this id to the page, without data. Data for a metric
// the page does not have answers 404, as Statuspage does.
func (s *Server) AddMetric(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics == nil {
		s.metrics = map[string][]MetricPoint{}
	}
	if _, ok := s.metrics[id]; !ok {
		s.metrics[id] = []MetricPoint{}
	}
}

// MetricPoints returns the metric's points, by timestamp; a point sent again for a timestamp
// replaces the earlier one, as Statuspage keeps one value per timestamp.
func (s *Server) MetricPoints(id string) []MetricPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.metrics[id])
}

// addMetricData serves POST /v1/pages/{page_id}/metrics/{metric_id}/data, whose body the
// OpenAPI document has already checked: {"data": {"timestamp": int32, "value": number}}. A
// timestamp more than a day in the future, or a missing one, is refused with 422.
func (s *Server) addMetricData(w http.ResponseWriter, id string, data map[string]any) {
	points, ok := s.metrics[id]
	if !ok {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	ts, okTS := data["timestamp"].(float64)
	v, okV := data["value"].(float64)
	switch {
	case !okTS || !okV:
		writeError(w, http.StatusUnprocessableEntity, "data needs a timestamp and a value")
		return
	case int64(ts) > time.Now().Add(24*time.Hour).Unix():
		writeError(w, http.StatusUnprocessableEntity, "timestamp is in the future")
		return
	}
	p := MetricPoint{Timestamp: int64(ts), Value: v}
	if i := slices.IndexFunc(points, func(q MetricPoint) bool { return q.Timestamp == p.Timestamp }); i >= 0 {
		points[i] = p
	} else {
		points = append(points, p)
		slices.SortFunc(points, func(a, b MetricPoint) int { return int(a.Timestamp - b.Timestamp) })
	}
	s.metrics[id] = points
	mockhttp.WriteJSON(w, http.StatusCreated, map[string]any{"data": map[string]any{"timestamp": p.Timestamp, "value": p.Value}})
}
