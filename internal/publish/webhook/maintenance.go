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

package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"firescope.dev/firescope/internal/publish"
)

// The provider New returns posts maintenances too, as Kind "Maintenance".
var _ publish.MaintenancePublisher = (*provider)(nil)

// PublishMaintenance posts the maintenance's current status. The delivery id derives from
// its identity and m.Revision, so every retry of one status carries the same id.
func (p *provider) PublishMaintenance(ctx context.Context, m publish.Maintenance) (string, error) {
	sum := sha256.Sum256([]byte(m.Key + "\x00" + m.Revision))
	from, until := m.ScheduledFor.UTC(), m.ScheduledUntil.UTC()
	pl := Payload{ID: "maintenance-" + hex.EncodeToString(sum[:12]), Kind: "Maintenance", MaintenanceKey: m.Key, Title: m.Title,
		Status: m.Status, Text: m.Body, ScheduledFor: &from, ScheduledUntil: &until, At: time.Now().UTC()}
	for _, id := range m.ComponentIDs {
		pl.Components = append(pl.Components, Component{ID: id, Status: maintenanceComponentStatus(m.Status)})
	}
	if err := p.post(ctx, pl); err != nil {
		return "", err
	}
	return Ref(m.Key), nil
}

// maintenanceComponentStatus is the status a maintenance's status gives its components.
func maintenanceComponentStatus(status string) string {
	if status == publish.MaintenanceInProgress {
		return "under_maintenance"
	}
	return "operational"
}

// FindMaintenance cannot ask the receiver what it has: it answers with no revision, so that
// the caller posts again under the same delivery id.
func (p *provider) FindMaintenance(_ context.Context, key string) (publish.FoundMaintenance, bool, error) {
	return publish.FoundMaintenance{ProviderRef: Ref(key)}, true, nil
}
