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

package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	mockwebhook "firescope.dev/firescope/internal/mock/webhook"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/webhook"
)

func TestAMaintenanceIsPostedSignedWithOneDeliveryIDPerStatus(t *testing.T) {
	recv := mockwebhook.New()
	t.Cleanup(recv.Close)
	p := webhook.New(recv.URL, recv.Secret(), delivery.NewHTTPClient(5*time.Second), nil).(publish.MaintenancePublisher)
	from := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	m := publish.Maintenance{Key: "payments/db-upgrade/uid-1", Revision: "Scheduled/1", Title: "Database upgrade", Status: publish.MaintenanceScheduled,
		Body: "Writes may be slow.", ScheduledFor: from, ScheduledUntil: from.Add(time.Hour), ComponentIDs: []string{"db"}}
	ctx := context.Background()
	ref, err := p.PublishMaintenance(ctx, m)
	if err != nil || ref != webhook.Ref(m.Key) {
		t.Fatalf("PublishMaintenance = %q, %v", ref, err)
	}
	// A retry after an unknown outcome carries the same delivery id; the next status another.
	if _, err := p.PublishMaintenance(ctx, m); err != nil {
		t.Fatal(err)
	}
	m.Revision, m.Status = "InProgress/1", publish.MaintenanceInProgress
	if _, err := p.PublishMaintenance(ctx, m); err != nil {
		t.Fatal(err)
	}
	reqs := recv.Requests()
	if len(reqs) != 3 || len(recv.Duplicates()) != 1 || len(recv.Announcements()) != 3 {
		t.Fatalf("%d requests, duplicates %v", len(reqs), recv.Duplicates())
	}
	var pl webhook.Payload
	if err := json.Unmarshal(reqs[2].Body, &pl); err != nil {
		t.Fatal(err)
	}
	if pl.Kind != "Maintenance" || reqs[2].Header.Get(notify.EventHeader) != "Maintenance" || pl.MaintenanceKey != m.Key || pl.Status != "in_progress" ||
		pl.ScheduledFor == nil || !pl.ScheduledFor.Equal(from) || len(pl.Components) != 1 || pl.Components[0].Status != "under_maintenance" {
		t.Errorf("payload %+v", pl)
	}
	if reqs[0].Header.Get(notify.DeliveryHeader) == reqs[2].Header.Get(notify.DeliveryHeader) {
		t.Error("two statuses share a delivery id")
	}
	if f, ok, err := p.FindMaintenance(ctx, m.Key); err != nil || !ok || f.Revision != "" {
		t.Errorf("FindMaintenance = %+v, %v, %v; want no revision, so that the caller sends again", f, ok, err)
	}
	recv.FailNext(1, http.StatusBadRequest, 0)
	if _, err := p.PublishMaintenance(ctx, m); !delivery.Assess(err).Terminal {
		t.Errorf("a 400 = %v, want a terminal error", err)
	}
}
