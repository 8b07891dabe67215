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

package firescope

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/statuspage/api"
)

// The provider New returns shows published health signals as public metrics too, charted on
// the pages of the incidents they were published for.
var _ publish.MetricPublisher = (*provider)(nil)

// SubmitMetric adds a point to the signal's metric with PUT /api/v1/metrics/{id}, which also
// sets the metric's name, unit and thresholds and the incidents that show it. The page keeps
// one point per timestamp, so a point sent again after an unknown outcome is stored once.
func (p *provider) SubmitMetric(ctx context.Context, pt publish.MetricPoint) error {
	if pt.Signal == "" {
		return errors.New("status page: cannot submit a metric point: the signal's identity is empty")
	}
	if math.IsNaN(pt.Value) || math.IsInf(pt.Value, 0) {
		return fmt.Errorf("status page: cannot submit %v to the metric of %s: not a number", pt.Value, pt.Signal)
	}
	req := api.MetricRequest{Name: pt.Name, Unit: pt.Unit, Points: []api.MetricPoint{{Timestamp: pt.At, Value: pt.Value}}}
	if req.Name == "" {
		req.Name = pt.Signal[strings.LastIndex(pt.Signal, "/")+1:]
	}
	if t := pt.Thresholds; t != nil {
		req.Thresholds = &api.MetricThresholds{BadWhen: api.BadBelow, Degraded: t.Degraded, Down: t.Down}
		if t.BadAbove {
			req.Thresholds.BadWhen = api.BadAbove
		}
	}
	for _, key := range pt.IncidentKeys {
		req.Incidents = append(req.Incidents, ID(key))
	}
	return p.call(ctx, "metric point", func(ctx context.Context) error {
		_, _, err := p.c.PutMetric(ctx, MetricID(pt.Signal), req)
		return err
	})
}

// MetricID is the status page's id of a signal's metric.
func MetricID(signal string) string { return ID("metric/" + signal) }
