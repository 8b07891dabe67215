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

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"firescope.dev/firescope/api/v1alpha1"
)

// statusUpdate is an update of the incident with the given uid, created at created, whose
// Published condition has the given status and reason; published at publishedAt unless never.
func statusUpdate(uid types.UID, created, publishedAt time.Duration, status metav1.ConditionStatus, reason string, st v1alpha1.UpdateStatus, ref string) v1alpha1.StatusUpdate {
	su := v1alpha1.StatusUpdate{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(created))},
		Spec:       v1alpha1.StatusUpdateSpec{Status: st},
		Status:     v1alpha1.StatusUpdateStatus{IncidentUID: uid, PublishedAt: mt(publishedAt), ProviderRef: ref},
	}
	if reason != "" {
		su.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: status, Reason: reason}}
	}
	return su
}

func TestSummarizeStatusUpdates(t *testing.T) {
	const uid, earlier = types.UID("uid-now"), types.UID("uid-before")
	published := func(created, when time.Duration, st v1alpha1.UpdateStatus) v1alpha1.StatusUpdate {
		return statusUpdate(uid, created, when, metav1.ConditionTrue, v1alpha1.ReasonPublished, st, "inc-1")
	}
	cases := []struct {
		name    string
		drill   bool
		updates []v1alpha1.StatusUpdate
		want    *v1alpha1.StatusUpdatesSummary
	}{
		{name: "no updates: nothing told", want: nil},
		{
			name: "published updates count, first and latest by publication time",
			updates: []v1alpha1.StatusUpdate{
				published(time.Minute, 3*time.Minute, "identified"),
				published(0, 2*time.Minute, "investigating"),
			},
			want: &v1alpha1.StatusUpdatesSummary{Published: 2, FirstPublishedAt: mt(2 * time.Minute), LastPublishedAt: mt(3 * time.Minute), LastStatus: "identified", ProviderRef: "inc-1"},
		},
		{
			name: "waiting, retrying and rejected updates do not count",
			updates: []v1alpha1.StatusUpdate{
				published(0, time.Minute, "investigating"),
				statusUpdate(uid, time.Minute, never, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, "identified", ""),
				statusUpdate(uid, time.Minute, never, metav1.ConditionFalse, v1alpha1.ReasonRetrying, "identified", ""),
				statusUpdate(uid, time.Minute, never, metav1.ConditionFalse, v1alpha1.ReasonRejected, "identified", ""),
				statusUpdate(uid, time.Minute, never, metav1.ConditionFalse, "", "identified", ""),
			},
			want: &v1alpha1.StatusUpdatesSummary{Published: 1, FirstPublishedAt: mt(time.Minute), LastPublishedAt: mt(time.Minute), LastStatus: "investigating", ProviderRef: "inc-1"},
		},
		{
			name: "an update of an earlier incident of the same name does not count, nor one not yet bound",
			updates: []v1alpha1.StatusUpdate{
				statusUpdate(earlier, 0, time.Minute, metav1.ConditionTrue, v1alpha1.ReasonPublished, "resolved", "old-inc"),
				statusUpdate("", 0, time.Minute, metav1.ConditionTrue, v1alpha1.ReasonPublished, "resolved", "old-inc"),
			},
			want: nil,
		},
		{
			name:  "a drill's held update counts as told, when it was written",
			drill: true,
			updates: []v1alpha1.StatusUpdate{
				statusUpdate(uid, 4*time.Minute, never, metav1.ConditionFalse, v1alpha1.ReasonDrill, "investigating", ""),
			},
			want: &v1alpha1.StatusUpdatesSummary{Published: 1, FirstPublishedAt: mt(4 * time.Minute), LastPublishedAt: mt(4 * time.Minute), LastStatus: "investigating"},
		},
		{
			name: "a held update of a real incident is not told",
			updates: []v1alpha1.StatusUpdate{
				statusUpdate(uid, 4*time.Minute, never, metav1.ConditionFalse, v1alpha1.ReasonDrill, "investigating", ""),
			},
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(v1alpha1.StateConfirmed)
			inc.UID, inc.Spec.Drill = uid, tc.drill
			got := summarizeStatusUpdates(inc, tc.updates)
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Fatalf("summary\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
