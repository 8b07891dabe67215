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

package incident

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestSitrepAnnouncementsCarryTheHealthSignals(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 3, 10, 2, 0, 0, time.UTC))
	sitrepped := func(h *v1alpha1.HealthStatus) *v1alpha1.Incident {
		inc := &v1alpha1.Incident{}
		inc.Name, inc.Namespace = "api-errors", "team"
		inc.Spec = v1alpha1.IncidentSpec{Title: "API errors", State: v1alpha1.StateMajor,
			Sitreps: []v1alpha1.Sitrep{{Summary: "API errors in us-east-1", Actions: "failing over"}}}
		inc.Status.Health = h
		return inc
	}
	cases := []struct {
		name   string
		health *v1alpha1.HealthStatus
		want   string // "" means no health line
	}{
		{"no signals", nil, ""},
		{"signals", &v1alpha1.HealthStatus{EvaluatedAt: &at, Summary: "availability 97% Degraded, errors 12% Down",
			Signals: []v1alpha1.SignalValue{{Name: "availability"}, {Name: "errors"}}},
			"*Actions:* failing over\n\n*Health:* availability 97% Degraded, errors 12% Down (as of 10:02 UTC)\n"},
		{"a policy that dropped its signals", &v1alpha1.HealthStatus{EvaluatedAt: &at}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := announcementText(sitrepped(tc.health), v1alpha1.OutboxItem{Reason: v1alpha1.EventSitrepPosted, Sitrep: 1})
			if tc.want == "" {
				if strings.Contains(text, "Health:") {
					t.Fatalf("a health line without signals:\n%s", text)
				}
				return
			}
			if !strings.Contains(text, tc.want) {
				t.Fatalf("want %q in:\n%s", tc.want, text)
			}
		})
	}
}
