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

package incident_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

func TestIntegrationAnIncidentWithinAMaintenanceInProgressPagesOnlyWhenItEnds(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, _, pd := channels(t, e, time.Hour)
	now := time.Now()
	must(t, e.Client.Create(ctx, &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Name: "db-upgrade", Namespace: ns}, Spec: v1alpha1.MaintenanceSpec{
		StatusPageRef: v1alpha1.LocalReference{Name: "public"}, Title: "Database upgrade", Message: "Writes may be slow.",
		Components: []string{"Database"},
		Window:     v1alpha1.MaintenanceWindow{Start: metav1.NewTime(now.Add(-time.Minute)), End: metav1.NewTime(now.Add(time.Hour))}}}))
	quiet := confirmedIncident(ns, "slow-writes")
	quiet.Spec.Impact.Components = []string{"Database"}
	loud := confirmedIncident(ns, "api-and-db")
	loud.Spec.Impact.Components = []string{"Database", "API"}
	// The controllers read Maintenances from the manager's cache: once the Maintenance
	// controller has seen this one, so can the incident controller.
	testenv.Eventually(t, 10*time.Second, func() error {
		m := &v1alpha1.Maintenance{}
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-upgrade"}, m))
		if m.Status.Phase != v1alpha1.MaintenanceInProgress {
			return fmt.Errorf("phase %q", m.Status.Phase)
		}
		return nil
	})
	must(t, e.As("ricardo").Create(ctx, quiet))
	must(t, e.As("ricardo").Create(ctx, loud))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := len(eventNotes(t, e.Client, ns, quiet.Name, v1alpha1.EventPagingSuppressedByMaintenance)); n != 1 {
			return fmt.Errorf("%d PagingSuppressedByMaintenance Events", n)
		}
		if len(pd.OpenAlerts()) != 1 {
			return fmt.Errorf("open alerts %+v", pd.OpenAlerts())
		}
		return nil
	})
	for _, ev := range pd.Events() {
		if strings.Contains(ev.DedupKey, "/"+quiet.Name+"/") {
			t.Fatalf("the incident within the maintenance paged: %+v", ev)
		}
	}
	if note := eventNotes(t, e.Client, ns, quiet.Name, v1alpha1.EventPagingSuppressedByMaintenance)[0]; !strings.Contains(note, "Maintenance db-upgrade") {
		t.Errorf("the Event does not name the maintenance: %s", note)
	}

	// The work ends early while the incident is still open: it pages then.
	m := &v1alpha1.Maintenance{}
	must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-upgrade"}, m))
	ended := m.DeepCopy()
	ended.Spec.Window.End = metav1.NewTime(time.Now().Add(2 * time.Second))
	must(t, e.Client.Patch(ctx, ended, client.MergeFrom(m)))
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := len(pd.OpenAlerts()); n != 2 {
			return fmt.Errorf("%d open alerts, want the held page sent too", n)
		}
		return nil
	})
}
