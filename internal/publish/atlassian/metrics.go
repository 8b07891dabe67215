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

package atlassian

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
)

// The provider New returns submits system metric data too.
var _ publish.MetricPublisher = (*client)(nil)

// metricData is the body of POST /v1/pages/{page_id}/metrics/{metric_id}/data.
type metricData struct {
	Data struct {
		Timestamp int64   `json:"timestamp"`
		Value     float64 `json:"value"`
	} `json:"data"`
}

// SubmitMetric adds a point to the system metric p.Metric with POST
// .../metrics/{metric_id}/data. Statuspage keeps one point per timestamp, so a point sent
// twice is stored once.
func (c *client) SubmitMetric(ctx context.Context, p publish.MetricPoint) error {
	if p.Metric == "" {
		return errors.New("statuspage: cannot submit a metric point: the metric id is empty")
	}
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		return fmt.Errorf("statuspage: cannot submit %v to metric %s: not a number", p.Value, p.Metric)
	}
	var body metricData
	body.Data.Timestamp, body.Data.Value = p.At.Unix(), p.Value
	path := "/v1/pages/" + url.PathEscape(c.pageID) + "/metrics/" + url.PathEscape(p.Metric) + "/data"
	err := c.request(ctx, 0, http.MethodPost, path, body, nil)
	if err == nil {
		return nil
	}
	explained := explain(err)
	if se, ok := errors.AsType[*delivery.StatusError](err); ok && delivery.Assess(err).Terminal && se.StatusCode == http.StatusNotFound {
		explained = fmt.Errorf("no such page or metric; check the page id and the health signal's statuspageMetricID: %w", se)
	}
	return delivery.Redact(fmt.Errorf("statuspage: submit a point to metric %s: %w", p.Metric, explained), c.apiKey)
}
