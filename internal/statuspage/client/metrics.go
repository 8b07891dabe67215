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

package client

import (
	"context"
	"net/http"
	"net/url"

	"firescope.dev/firescope/internal/statuspage/api"
)

// PutMetric creates or changes a metric and adds req.Points to it; points already stored
// are replays. It reports whether the metric is new.
func (c *Client) PutMetric(ctx context.Context, id string, req api.MetricRequest) (m api.Metric, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/metrics/"+url.PathEscape(id), req, &m)
	return m, created, err
}
