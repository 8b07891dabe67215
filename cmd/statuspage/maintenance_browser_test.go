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

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

func TestABrowserShowsTheMaintenanceNotice(t *testing.T) {
	srv := start(t, buildBinary(t), filepath.Join(t.TempDir(), "statuspage.db"))
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	for _, comp := range []struct{ id, name string }{{"api", "API"}, {"postgres", "Postgres provisioning"}, {"routing", "Routing"}} {
		if _, _, err := c.PutComponent(ctx, comp.id, api.ComponentRequest{Name: comp.name}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Truncate(time.Minute)
	if _, _, err := c.PutMaintenance(ctx, "pg-upgrade", api.MaintenanceRequest{Name: "Postgres 17 upgrade", Status: api.MaintenanceScheduled,
		Body:         "We are upgrading the Postgres fleet. Provisioning new databases will be paused for up to an hour; existing databases are not affected.",
		ScheduledFor: now.Add(5 * time.Minute), ScheduledUntil: now.Add(65 * time.Minute), Components: []string{"postgres"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutMaintenance(ctx, "router-rollout", api.MaintenanceRequest{Name: "Router fleet rollout", Status: api.MaintenanceInProgress,
		Body:         "The scheduled maintenance is in progress.\n\nWe are rolling out a new router version. Some connections may be reset once.",
		ScheduledFor: now.Add(-10 * time.Minute), ScheduledUntil: now.Add(20 * time.Minute), Components: []string{"routing"}}); err != nil {
		t.Fatal(err)
	}

	dom := chromium(t, "--dump-dom", srv.url+"/")
	for _, want := range []string{"Service Under Maintenance", "Scheduled maintenance", "Postgres 17 upgrade", "Router fleet rollout",
		"Provisioning new databases will be paused", "Affects: Postgres provisioning", "Affects: Routing", "In progress", "Under maintenance"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	// The one in progress first: it started first.
	if strings.Index(dom, "Router fleet rollout") > strings.Index(dom, "Postgres 17 upgrade") {
		t.Error("the maintenances are not listed soonest first")
	}
	dir := artifactDir(t)
	screenshot(t, srv.url+"/", filepath.Join(dir, "statuspage-maintenance-desktop.png"), 1280, 1300)
	screenshot(t, srv.url+"/", filepath.Join(dir, "statuspage-maintenance-phone.png"), 390, 1500)
}
