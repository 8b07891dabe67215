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
	// Metric is the provider's metric: the Statuspage metric id.
	Metric string
	// At is when the value was read.
	At time.Time
	// Value is the value read.
	Value float64
}

// MetricPublisher is a Provider that shows public metrics ("system metrics" on Statuspage).
type MetricPublisher interface {
	// SubmitMetric adds one point to the metric. Errors are classified as for Publish;
	// submitting the same point again is harmless, so a retryable error may simply be retried
	// on the next reading.
	SubmitMetric(ctx context.Context, p MetricPoint) error
}
