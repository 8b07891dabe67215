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
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "firescope.dev/firescope/api/v1alpha1"
)

func str(n int) string { return strings.Repeat("x", n) }

func person() Person { return Person(str(253)) }

func links(n int) []Link {
	l := make([]Link, n)
	for i := range l {
		l[i] = Link{Name: fmt.Sprintf("%02d", i) + str(62), URL: "https://example.com/" + str(512-20)}
	}
	return l
}

// WorstCaseIncident has every list at its bound and every string at its maximum length.
func WorstCaseIncident(name, ns string) *Incident {
	inc := &Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	inc.Spec.Title = str(200)
	inc.Spec.State = StateMajor
	inc.Spec.Roles.Commander, inc.Spec.Roles.Communications = person(), person()
	for g := range 10 {
		grp := OperationsGroup{Name: fmt.Sprintf("group-%02d", g), Supervisor: person()}
		for m := range 20 {
			grp.Members = append(grp.Members, Person(fmt.Sprintf("%02d", m)+str(251)))
		}
		inc.Spec.Roles.Operations = append(inc.Spec.Roles.Operations, grp)
	}
	n := int64(1 << 40)
	inc.Spec.Impact = &Impact{Description: str(2000), CustomersAffected: &n, AppsAffected: &n}
	for c := range 50 {
		inc.Spec.Impact.Components = append(inc.Spec.Impact.Components, fmt.Sprintf("%02d", c)+str(98))
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	for range MaxSitreps {
		inc.Spec.Sitreps = append(inc.Spec.Sitreps, Sitrep{At: &now, Author: person(), Summary: str(500),
			Impact: str(1000), Actions: str(2000), Workaround: str(1000), Links: links(5)})
	}
	inc.Spec.Links = links(20)
	inc.Spec.PolicyRef = &PolicyReference{Name: str(253)}
	return inc
}

// WorstCaseStatus has a full timeline and every recorded role at its longest.
func WorstCaseStatus() IncidentStatus {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	st := IncidentStatus{OpenedAt: &now, ConfirmedAt: &now, MajorAt: &now, ResolvedAt: &now,
		ReopenedAt: &now, StateChangedAt: &now, LastSitrepAt: &now, NextSitrepDueAt: &now}
	for range MaxTimelineEntries {
		st.Timeline = append(st.Timeline, TimelineEntry{At: now, Type: TimelineReminder, Message: str(512), By: str(253)})
	}
	for _, c := range []string{ConditionSitrepCurrent, ConditionCustomersInformed, ConditionRolesAssigned} {
		st.Conditions = append(st.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue,
			Reason: ReasonCurrent, Message: str(1024), LastTransitionTime: now})
	}
	rec := &Recorded{State: StateMajor, Sitreps: MaxSitreps}
	rec.Roles.Commander, rec.Roles.Communications = person(), person()
	rec.Roles.CommanderSince, rec.Roles.CommunicationsSince = &now, &now
	for g := range 10 {
		rec.Roles.Operations = append(rec.Roles.Operations, RecordedGroup{Name: fmt.Sprintf("group-%02d", g), Supervisor: person(), Since: &now})
	}
	st.Recorded = rec
	st.Reminders = &Reminders{SitrepDueAt: &now, SitrepOverdue: 1 << 30}
	for i := range 32 {
		st.Reminders.Sent = append(st.Reminders.Sent, fmt.Sprintf("%02d", i)+str(510))
	}
	st.StatusUpdates = &StatusUpdatesSummary{Published: 1 << 30, LastPublishedAt: &now, ProviderRef: str(512)}
	for i := range 20 {
		st.Outbox = append(st.Outbox, OutboxItem{ID: fmt.Sprintf("%02d", i) + str(126), Kind: OutboxAnnounce,
			Reason: str(64), Message: str(512), Sitrep: MaxSitreps, State: OutboxPending, Attempts: 12, NotBefore: &now})
	}
	st.Health = &HealthStatus{EvaluatedAt: &now, State: SignalDown, Summary: str(512)}
	for i := range MaxHealthSignals {
		st.Health.Signals = append(st.Health.Signals, SignalValue{Name: fmt.Sprintf("%d", i) + str(62), Value: str(32), Unit: str(16),
			State: SignalUnknown, Reason: str(64), Message: str(1024), Since: &now})
	}
	st.Conditions = append(st.Conditions, metav1.Condition{Type: ConditionProductHealthy, Status: metav1.ConditionFalse,
		Reason: ReasonSignalsDown, Message: str(1024), LastTransitionTime: now})
	return st
}

// ObjectSize is the size of the object's JSON, as etcd stores custom resources.
func ObjectSize(t *testing.T, obj any) int {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}
