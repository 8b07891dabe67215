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

package api

import "time"

// Public metrics: a product health signal published while an incident is open, shown on the
// incident's page as a small chart of its window (Statuspage calls them system metrics).

// Limits of the metrics. A metric keeps its latest MaxMetricPoints points, and none older
// than MetricRetention: a chart covers an incident's window, not months of history.
const (
	// MaxMetrics is the most metrics a page holds; delete one with DELETE
	// /api/v1/metrics/{id} to make room.
	MaxMetrics = 20
	// MaxMetricPoints is the most points one metric keeps, the latest: a day and a half of
	// readings every 30 seconds.
	MaxMetricPoints = 4320
	// MaxPointsPerRequest is the most points one PUT carries.
	MaxPointsPerRequest = 500
	// MetricRetention is how long a point is kept; an older point is refused.
	MetricRetention = 30 * 24 * time.Hour
	// MaxMetricIncidents is how many incidents a metric is shown on, the latest.
	MaxMetricIncidents = 50
	// MaxMetricValue bounds the magnitude of a value and of a threshold.
	MaxMetricValue = 1e15
	// MaxUnitLength is the longest unit, in characters.
	MaxUnitLength = 16
)

// BadWhen says which way a metric's value gets worse.
type BadWhen string

// Directions of a metric's thresholds.
const (
	// BadBelow: lower is worse, such as availability.
	BadBelow BadWhen = "below"
	// BadAbove: higher is worse, such as an error rate or a latency.
	BadAbove BadWhen = "above"
)

// MetricThresholds divide a metric's values into healthy, degraded and down; the chart
// shades the degraded and down ranges and names the state of the last value.
type MetricThresholds struct {
	// BadWhen is below or above. Required.
	BadWhen BadWhen `json:"bad_when"`
	// Degraded is the value at which the metric is degraded (at or past it).
	Degraded float64 `json:"degraded"`
	// Down is the value at which the metric is down, at least as bad as Degraded.
	Down float64 `json:"down"`
}

// MetricPoint is one value of a metric.
type MetricPoint struct {
	// Timestamp is when the value was read; the page keeps it to the millisecond. Required.
	Timestamp time.Time `json:"timestamp"`
	// Value is the value read.
	Value float64 `json:"value"`
}

// MetricRequest is the body of PUT /api/v1/metrics/{id}: it creates the metric or changes
// how it is shown, and adds points. A point whose timestamp the metric already holds with
// the same value is a replay and changes nothing; with another value it is a conflict.
type MetricRequest struct {
	// Name is shown above the chart, such as "Availability". Required.
	Name string `json:"name"`
	// Unit is shown after the values, such as "%" or "ms". Optional.
	Unit string `json:"unit,omitempty"`
	// Thresholds are optional; without them the chart shows the values only.
	Thresholds *MetricThresholds `json:"thresholds,omitempty"`
	// Incidents are the ids of the incidents whose pages show the metric (they need not
	// exist yet). The page keeps the latest MaxMetricIncidents.
	Incidents []string `json:"incidents,omitempty"`
	// Points are added to the metric, at most MaxPointsPerRequest.
	Points []MetricPoint `json:"points,omitempty"`
}

// Metric is a metric as the server stores it. PUT answers without the points; GET lists them,
// oldest first.
type Metric struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Unit       string            `json:"unit,omitempty"`
	Thresholds *MetricThresholds `json:"thresholds,omitempty"`
	Incidents  []string          `json:"incidents"`
	// PointCount is how many points the metric holds.
	PointCount int `json:"point_count"`
	// Latest is the newest point, null while there is none.
	Latest    *MetricPoint  `json:"latest"`
	Points    []MetricPoint `json:"points,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}
