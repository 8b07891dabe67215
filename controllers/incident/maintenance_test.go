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

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestSuppressPagingHoldsBackOnlyTriggersAMaintenanceInProgressCovers(t *testing.T) {
	now := time.Date(2026, 12, 3, 22, 30, 0, 0, time.UTC)
	mw := func(name string, start, end time.Duration, comps ...string) v1alpha1.Maintenance {
		return v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.MaintenanceSpec{Components: comps,
			Window: v1alpha1.MaintenanceWindow{Start: metav1.NewTime(now.Add(start)), End: metav1.NewTime(now.Add(end))}}}
	}
	running := mw("db-upgrade", -time.Minute, time.Hour, "Database", "API")
	trigger := v1alpha1.OutboxItem{ID: "t1", Kind: v1alpha1.OutboxPage, State: v1alpha1.OutboxPending}
	cases := []struct {
		name         string
		components   []string
		maintenances []v1alpha1.Maintenance
		outbox       []v1alpha1.OutboxItem
		suppressed   bool
	}{
		{"within a running maintenance", []string{"Database"}, []v1alpha1.Maintenance{running}, []v1alpha1.OutboxItem{trigger}, true},
		{"one component outside it", []string{"Database", "Billing"}, []v1alpha1.Maintenance{running}, []v1alpha1.OutboxItem{trigger}, false},
		{"no components named", nil, []v1alpha1.Maintenance{running}, []v1alpha1.OutboxItem{trigger}, false},
		{"the maintenance is still ahead", []string{"Database"}, []v1alpha1.Maintenance{mw("later", time.Minute, time.Hour, "Database")}, []v1alpha1.OutboxItem{trigger}, false},
		{"the maintenance is over", []string{"Database"}, []v1alpha1.Maintenance{mw("earlier", -2*time.Hour, -time.Hour, "Database")}, []v1alpha1.OutboxItem{trigger}, false},
		{"a second maintenance covers it", []string{"Billing"}, []v1alpha1.Maintenance{running, mw("billing", -time.Minute, time.Minute, "Billing")}, []v1alpha1.OutboxItem{trigger}, true},
		{"a resolve is still sent", []string{"Database"}, []v1alpha1.Maintenance{running},
			[]v1alpha1.OutboxItem{{ID: "r1", Kind: v1alpha1.OutboxResolvePage, State: v1alpha1.OutboxPending}}, false},
		{"a trigger already being sent is left to finish", []string{"Database"}, []v1alpha1.Maintenance{running},
			[]v1alpha1.OutboxItem{{ID: "t0", Kind: v1alpha1.OutboxPage, State: v1alpha1.OutboxSending}}, false},
		{"announcements go on", []string{"Database"}, []v1alpha1.Maintenance{running},
			[]v1alpha1.OutboxItem{{ID: "a1", Kind: v1alpha1.OutboxAnnounce, State: v1alpha1.OutboxPending}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := &v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{Impact: &v1alpha1.Impact{Components: tc.components}}}
			inc.Status.Outbox = append([]v1alpha1.OutboxItem(nil), tc.outbox...)
			facts := suppressPaging(inc, tc.maintenances, now)
			if got := len(facts) == 1; got != tc.suppressed {
				t.Fatalf("suppressed = %v (facts %+v), want %v", got, facts, tc.suppressed)
			}
			if tc.suppressed {
				it := inc.Status.Outbox[0]
				if it.HeldBy == "" || it.NotBefore == nil || it.State != v1alpha1.OutboxPending {
					t.Errorf("outbox %+v, want the trigger held until the maintenance ends", inc.Status.Outbox)
				}
				f := facts[0]
				if f.eventReason != v1alpha1.EventPagingSuppressedByMaintenance || !strings.Contains(f.entry.Message, "Maintenance ") || f.key == "" {
					t.Errorf("fact %+v", f)
				}
			} else if !equality.Semantic.DeepEqual(inc.Status.Outbox, tc.outbox) {
				t.Errorf("outbox %+v, want it unchanged", inc.Status.Outbox)
			}
		})
	}
}

// A held trigger is due when the window ends, again later when the window is moved, and at
// once when no Maintenance covers the incident any more; it is reported once.
func TestSuppressPagingSendsAHeldTriggerOnceTheMaintenanceNoLongerCoversIt(t *testing.T) {
	now := time.Date(2026, 12, 3, 22, 30, 0, 0, time.UTC)
	m := v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Name: "db-upgrade"}, Spec: v1alpha1.MaintenanceSpec{Components: []string{"Database"},
		Window: v1alpha1.MaintenanceWindow{Start: metav1.NewTime(now.Add(-time.Minute)), End: metav1.NewTime(now.Add(time.Hour))}}}
	inc := &v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{Impact: &v1alpha1.Impact{Components: []string{"Database"}}}}
	inc.Status.Outbox = []v1alpha1.OutboxItem{{ID: "t1", Kind: v1alpha1.OutboxPage, State: v1alpha1.OutboxPending}}

	if facts := suppressPaging(inc, []v1alpha1.Maintenance{m}, now); len(facts) != 1 {
		t.Fatalf("facts %+v, want the hold reported", facts)
	}
	if due, wait := claimDue(inc, now); len(due) != 0 || wait != time.Hour {
		t.Fatalf("claimed %v, next in %s: want nothing due for the hour the maintenance lasts", due, wait)
	}

	m.Spec.Window.End = metav1.NewTime(now.Add(2 * time.Hour))
	if facts := suppressPaging(inc, []v1alpha1.Maintenance{m}, now.Add(time.Minute)); len(facts) != 0 {
		t.Errorf("facts %+v: a hold already reported is not reported again", facts)
	}
	if got := inc.Status.Outbox[0].NotBefore; !got.Time.Equal(now.Add(2 * time.Hour)) {
		t.Errorf("held until %s, want the moved end of the window", got)
	}

	if facts := suppressPaging(inc, []v1alpha1.Maintenance{m}, now.Add(2*time.Hour)); len(facts) != 0 {
		t.Errorf("facts %+v after the window", facts)
	}
	if due, _ := claimDue(inc, now.Add(2*time.Hour)); len(due) != 1 || inc.Status.Outbox[0].HeldBy != "" {
		t.Fatalf("claimed %v, outbox %+v: want the trigger sent when the window ends", due, inc.Status.Outbox)
	}

	inc.Status.Outbox = []v1alpha1.OutboxItem{{ID: "t2", Kind: v1alpha1.OutboxPage, State: v1alpha1.OutboxPending}}
	suppressPaging(inc, []v1alpha1.Maintenance{m}, now)
	suppressPaging(inc, nil, now.Add(time.Minute)) // the Maintenance was deleted
	if due, _ := claimDue(inc, now.Add(time.Minute)); len(due) != 1 {
		t.Fatalf("claimed %v, outbox %+v: want the trigger sent once its Maintenance is gone", due, inc.Status.Outbox)
	}
}

// Of the Maintenances covering an incident, the one that ends last holds its page, whatever
// the order the cache lists them in; one being deleted holds nothing.
func TestTheMaintenanceThatEndsLastHoldsThePage(t *testing.T) {
	now := time.Date(2026, 12, 3, 22, 30, 0, 0, time.UTC)
	mw := func(name string, end time.Duration) v1alpha1.Maintenance {
		return v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.MaintenanceSpec{Components: []string{"Database"},
			Window: v1alpha1.MaintenanceWindow{Start: metav1.NewTime(now.Add(-time.Minute)), End: metav1.NewTime(now.Add(end))}}}
	}
	short, long := mw("short", time.Hour), mw("long", 2*time.Hour)
	deleting := mw("deleting", 3*time.Hour)
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	for _, list := range [][]v1alpha1.Maintenance{{short, long, deleting}, {deleting, long, short}} {
		inc := &v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{Impact: &v1alpha1.Impact{Components: []string{"Database"}}}}
		inc.Status.Outbox = []v1alpha1.OutboxItem{{ID: "t1", Kind: v1alpha1.OutboxPage, State: v1alpha1.OutboxPending}}
		suppressPaging(inc, list, now)
		if it := inc.Status.Outbox[0]; it.HeldBy != "long" || !it.NotBefore.Time.Equal(now.Add(2*time.Hour)) {
			t.Errorf("listed as %s, %s, %s: held by %q until %v, want long's end", list[0].Name, list[1].Name, list[2].Name, it.HeldBy, it.NotBefore)
		}
	}
	inc := &v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{Impact: &v1alpha1.Impact{Components: []string{"Database"}}}}
	inc.Status.Outbox = []v1alpha1.OutboxItem{{ID: "t1", Kind: v1alpha1.OutboxPage, State: v1alpha1.OutboxPending, HeldBy: "deleting", NotBefore: &deleting.Spec.Window.End}}
	suppressPaging(inc, []v1alpha1.Maintenance{deleting}, now)
	if it := inc.Status.Outbox[0]; it.HeldBy != "" || it.NotBefore != nil {
		t.Errorf("still held by the Maintenance being deleted: %+v", it)
	}
}
