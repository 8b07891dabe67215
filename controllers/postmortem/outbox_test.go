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

package postmortem

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestPlanOutbox(t *testing.T) {
	withChannel := &v1alpha1.ResponsePolicy{Spec: v1alpha1.ResponsePolicySpec{CommsChannel: &v1alpha1.CommsChannel{
		Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}}}}
	owner := reminder{keys: []string{"owner-missing/0"}, reason: v1alpha1.EventPostmortemOwnerMissing, note: "Post-mortem db has no owner."}
	left := v1alpha1.OutboxItem{ID: "u1/left", Kind: v1alpha1.OutboxAnnounce, Reason: v1alpha1.EventPostmortemOverdue, State: v1alpha1.OutboxSending, Attempts: 1}
	waiting := v1alpha1.OutboxItem{ID: "u1/waiting", Kind: v1alpha1.OutboxAnnounce, Reason: v1alpha1.EventPostmortemOverdue, State: v1alpha1.OutboxPending, Attempts: 2,
		NotBefore: at(30 * time.Second)}
	for _, tc := range []struct {
		name    string
		pol     *v1alpha1.ResponsePolicy
		inc     *v1alpha1.Incident
		outbox  []v1alpha1.OutboxItem
		due     []reminder
		want    []string
		claimed int
	}{
		{name: "a reminder due is enqueued and claimed in the same write", pol: withChannel, inc: resolvedIncident(), due: []reminder{owner},
			want: []string{"PostmortemOwnerMissing/Sending/1"}, claimed: 1},
		{name: "no comms channel: nothing to announce", pol: &v1alpha1.ResponsePolicy{}, inc: resolvedIncident(), due: []reminder{owner}},
		{name: "no policy: nothing to announce", inc: resolvedIncident(), due: []reminder{owner}},
		{name: "a reminder a stopped process left mid-call is dropped, never sent twice", pol: withChannel, inc: resolvedIncident(),
			outbox: []v1alpha1.OutboxItem{left}},
		{name: "a reminder waiting out its backoff waits, and the new one behind it", pol: withChannel, inc: resolvedIncident(),
			outbox: []v1alpha1.OutboxItem{waiting}, due: []reminder{owner},
			want: []string{"PostmortemOverdue/Pending/2", "PostmortemOwnerMissing/Pending/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "payments", UID: "u1"}}
			pm.Status.Outbox = slices.Clone(tc.outbox)
			claimed := planOutbox(context.Background(), pm, tc.inc, tc.pol, tc.due, t0)
			var got []string
			for _, it := range pm.Status.Outbox {
				got = append(got, fmt.Sprintf("%s/%s/%d", it.Reason, it.State, it.Attempts))
			}
			if !slices.Equal(got, tc.want) || len(claimed) != tc.claimed {
				t.Errorf("outbox %q, %d claimed; want %q, %d", got, len(claimed), tc.want, tc.claimed)
			}
		})
	}
}

func TestReminderTextIsAddressedToTheOwnerOrTheIC(t *testing.T) {
	inc := resolvedIncident()
	inc.Spec.Drill = true
	pm := &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "payments"}}
	it := v1alpha1.OutboxItem{Message: "Post-mortem db has no owner."}
	if got, want := reminderText(pm, inc, it), "[DRILL] @"+string(inc.Spec.Roles.Commander)+": Post-mortem db has no owner.\n(payments/db)"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	pm.Spec.Owner = "keiko"
	if got, want := reminderText(pm, inc, it), "[DRILL] @keiko: Post-mortem db has no owner.\n(payments/db)"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
}
