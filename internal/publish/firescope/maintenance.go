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

	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/statuspage/api"
)

// The provider New returns publishes maintenances too, over PUT /api/v1/maintenances/{id},
// which is idempotent and carries the whole maintenance: after an unknown outcome the same
// call may simply be made again, and the page notifies its subscribers of each status once.
var _ publish.MaintenancePublisher = (*provider)(nil)

func (p *provider) PublishMaintenance(ctx context.Context, m publish.Maintenance) (string, error) {
	id := ID(m.Key)
	req := api.MaintenanceRequest{Name: m.Title, Body: m.Body, Status: api.MaintenanceStatus(m.Status), ScheduledFor: m.ScheduledFor,
		ScheduledUntil: m.ScheduledUntil, Components: m.ComponentIDs, Notify: m.Notify}
	err := p.call(ctx, "maintenance", func(ctx context.Context) error {
		_, _, err := p.c.PutMaintenance(ctx, id, req)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// FindMaintenance reports whether the page holds the maintenance. It cannot tell which
// revision reached it, and need not: sending the current one again is harmless.
func (p *provider) FindMaintenance(ctx context.Context, key string) (publish.FoundMaintenance, bool, error) {
	err := p.call(ctx, "maintenance", func(ctx context.Context) error {
		_, err := p.c.Maintenance(ctx, ID(key))
		return err
	})
	if isNotFound(err) {
		return publish.FoundMaintenance{}, false, nil
	}
	if err != nil {
		return publish.FoundMaintenance{}, false, err
	}
	return publish.FoundMaintenance{ProviderRef: ID(key)}, true, nil
}
