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

package v1alpha1_test

import (
	"testing"
	"time"

	. "firescope.dev/firescope/api/v1alpha1"
)

func TestMaintenancePhaseFollowsTheWindowAndNeverGoesBack(t *testing.T) {
	start := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	cases := []struct {
		name     string
		now      time.Time
		recorded MaintenancePhase
		want     MaintenancePhase
		next     time.Duration
	}{
		{"before the window", start.Add(-5 * time.Minute), "", MaintenanceScheduled, 5 * time.Minute},
		{"at the start", start, MaintenanceScheduled, MaintenanceInProgress, time.Hour},
		{"inside", start.Add(20 * time.Minute), MaintenanceInProgress, MaintenanceInProgress, 40 * time.Minute},
		{"a nanosecond before the end", end.Add(-1), MaintenanceInProgress, MaintenanceInProgress, 1},
		{"at the end", end, MaintenanceInProgress, MaintenanceCompleted, 0},
		{"long after", end.Add(48 * time.Hour), "", MaintenanceCompleted, 0},
		// The window moved later after the work started: it does not unstart.
		{"started, window moved later", start.Add(-time.Hour), MaintenanceInProgress, MaintenanceInProgress, 2 * time.Hour},
		{"completed, window moved later", start.Add(-time.Hour), MaintenanceCompleted, MaintenanceCompleted, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Maintenance{Spec: maintenanceSpec(start, end, "API")}
			m.Status.Phase = tc.recorded
			if got := m.PhaseAt(tc.now); got != tc.want {
				t.Errorf("PhaseAt = %s, want %s", got, tc.want)
			}
			if got := m.NextEdge(tc.now); got != tc.next {
				t.Errorf("NextEdge = %s, want %s", got, tc.next)
			}
		})
	}
}

func TestMaintenanceCoversOnlyIncidentsWithinItsComponentsWhileItRuns(t *testing.T) {
	start := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	m := &Maintenance{Spec: maintenanceSpec(start, start.Add(time.Hour), "API", "Database")}
	during := start.Add(time.Minute)
	cases := []struct {
		name       string
		components []string
		now        time.Time
		want       bool
	}{
		{"one of its components", []string{"API"}, during, true},
		{"all of its components", []string{"Database", "API"}, during, true},
		{"one more component", []string{"API", "Billing"}, during, false},
		{"no components named", nil, during, false},
		{"before the window", []string{"API"}, start.Add(-time.Minute), false},
		{"after the window", []string{"API"}, start.Add(time.Hour), false},
	}
	for _, tc := range cases {
		if got := m.Covers(tc.components, tc.now); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}
