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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestRecordChangesRecordsAlertNotificationsAndHintsTheResolution(t *testing.T) {
	inc := declared(v1alpha1.StateMajor)
	inc.Spec.Alerts = &v1alpha1.AlertGroup{GroupKey: "k", Status: v1alpha1.AlertsFiring, Notifications: 1,
		LastNotifiedAt: metav1.NewTime(at(0)), Summary: "1 firing: HighErrorRate"}
	alertEntries := func(facts []fact) []fact {
		var out []fact
		for _, f := range facts {
			if f.entry.Type == v1alpha1.TimelineAlert {
				out = append(out, f)
			}
		}
		return out
	}

	got := alertEntries(recordChanges(inc, nil, at(time.Second)))
	if len(got) != 1 || got[0].eventReason != v1alpha1.EventAlertFiring || got[0].entry.Message != "Alertmanager: 1 firing: HighErrorRate" ||
		got[0].entry.By != AlertsBy || !got[0].entry.At.Time.Equal(at(0)) {
		t.Fatalf("first notification: %+v", got)
	}
	if again := alertEntries(recordChanges(inc, nil, at(2*time.Second))); len(again) != 0 {
		t.Fatalf("recorded again: %+v", again)
	}

	// Three more before the next reconcile are one entry; resolved is a hint, not a state change.
	inc.Spec.Alerts.Notifications, inc.Spec.Alerts.Status, inc.Spec.Alerts.Summary = 4, v1alpha1.AlertsResolved, "1 resolved: HighErrorRate"
	inc.Spec.Alerts.LastNotifiedAt = metav1.NewTime(at(time.Hour)) // ahead of the controller's clock
	facts := recordChanges(inc, nil, at(time.Minute))
	got = alertEntries(facts)
	want := "Alertmanager: 1 resolved: HighErrorRate (3 notifications); the IC decides whether the incident is resolved"
	if len(got) != 1 || got[0].eventReason != v1alpha1.EventAlertsResolved || got[0].entry.Message != want || !got[0].entry.At.Time.Equal(at(time.Minute)) {
		t.Fatalf("resolved notifications: %+v", got)
	}
	if len(facts) != 1 || inc.Spec.State != v1alpha1.StateMajor || inc.Status.Recorded.State != v1alpha1.StateMajor {
		t.Fatalf("a resolved alert group changed more than the timeline: %+v", facts)
	}
	if inc.Status.Recorded.AlertNotifications != 4 {
		t.Fatalf("recorded %d notifications", inc.Status.Recorded.AlertNotifications)
	}
}

func TestCompactTimelineDropsAlertNotificationsBeforeSitreps(t *testing.T) {
	tl := []v1alpha1.TimelineEntry{{Type: v1alpha1.TimelineSitrep}, {Type: v1alpha1.TimelineAlert}, {Type: v1alpha1.TimelineHandoff}, {Type: v1alpha1.TimelineAlert}}
	got := CompactTimeline(tl, 2)
	if len(got) != 2 || got[0].Type != v1alpha1.TimelineSitrep || got[1].Type != v1alpha1.TimelineHandoff {
		t.Fatalf("got %+v", got)
	}
}
