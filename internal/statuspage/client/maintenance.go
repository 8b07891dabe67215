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

// PutMaintenance announces a maintenance or changes it; the same request again changes
// nothing, so it may be retried after any error.
func (c *Client) PutMaintenance(ctx context.Context, id string, req api.MaintenanceRequest) (m api.Maintenance, created bool, err error) {
	created, err = c.do(ctx, http.MethodPut, "/api/v1/maintenances/"+url.PathEscape(id), req, &m)
	return m, created, err
}

// Maintenance reads a maintenance; an unknown one is an *Error with status 404.
func (c *Client) Maintenance(ctx context.Context, id string) (api.Maintenance, error) {
	var m api.Maintenance
	_, err := c.do(ctx, http.MethodGet, "/api/v1/maintenances/"+url.PathEscape(id), nil, &m)
	return m, err
}
