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

package publish

import (
	"context"
	"time"
)

// MetricPoint is one value of a published health signal.
type MetricPoint struct {
	// Metric is the Atlassian Statuspage metric id, which a person creates on Statuspage.
	Metric string
	// Signal is the signal's identity, "<namespace>/<policy>/<signal>": the Firescope
	// status page derives its metric id from it.
	Signal string
	// Name and Unit are how the Firescope status page titles the metric's chart.
	Name, Unit string
	// Thresholds, if set, shade the chart's degraded and down ranges on the Firescope page.
	Thresholds *MetricThresholds
	// IncidentKeys are the Incidents (as in Update.IncidentKey) whose pages show the metric
	// on the Firescope status page: the policy's open real incidents.
	IncidentKeys []string
	// At is when the value was read.
	At time.Time
	// Value is the value read.
	Value float64
}

// MetricThresholds are a signal's thresholds: values at or past Degraded (Down) are
// degraded (down); past means above when BadAbove is set, below otherwise.
type MetricThresholds struct {
	BadAbove       bool
	Degraded, Down float64
}

// IncidentKey is the identity of a Firescope Incident that providers store: see
// Update.IncidentKey.
func IncidentKey(namespace, name, uid string) string { return namespace + "/" + name + "/" + uid }

// MetricPublisher is a Provider that shows public metrics ("system metrics" on Statuspage).
type MetricPublisher interface {
	// SubmitMetric adds one point to the metric. Errors are classified as for Publish;
	// submitting the same point again is harmless, so a retryable error may simply be retried
	// on the next reading.
	SubmitMetric(ctx context.Context, p MetricPoint) error
}
