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
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/notify"
)

// slowChannel is a comms channel whose every call takes a while on the test's clock.
type slowChannel struct {
	recorded
	clk  *clocktesting.FakeClock
	took time.Duration
}

func (s *slowChannel) Channel(context.Context, string, *v1alpha1.CommsChannel) (notify.Channel, error) {
	return s, nil
}

func (s *slowChannel) Announce(ctx context.Context, a notify.Announcement) error {
	s.clk.Step(s.took)
	return s.recorded.Announce(ctx, a)
}

// wakeAfterReconcile reconciles a new Incident once on a clock that moves by took during
// each status write and each announcement, and returns when the queue will bring it back:
// the clock at the reconcile's return plus its RequeueAfter.
func wakeAfterReconcile(t *testing.T, announce bool, took time.Duration) time.Time {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: "team", UID: "u1", Generation: 1, CreationTimestamp: metav1.NewTime(t0)},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateConfirmed, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"},
			Impact: &v1alpha1.Impact{Description: "Postgres cannot be provisioned"}}}
	// A drill's cadence of seconds makes the sitrep the next timer, before the cleanup of
	// delivered announcements, which counts from the deliveries.
	every := &metav1.Duration{Duration: 10 * time.Second}
	policy := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"},
		Spec: v1alpha1.ResponsePolicySpec{Purpose: v1alpha1.PurposeDrill, SitrepCadence: v1alpha1.SitrepCadence{Confirmed: every}}}
	if announce {
		policy.Spec.CommsChannel = &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{
			WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}}
	}
	objs := []client.Object{inc, policy}
	clk := clocktesting.NewFakeClock(t0)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(inc).
		WithIndex(&v1alpha1.StatusUpdate{}, incidentUIDField, indexIncidentUID).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			clk.Step(took)
			return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}}).Build()
	ch := &slowChannel{clk: clk, took: took}
	r := &Reconciler{Client: c, Recorder: noEvents{}, Notifiers: ch, Clock: clk}
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(inc)})
	if err != nil {
		t.Fatal(err)
	}
	if announce && len(ch.announced) == 0 {
		t.Fatal("the declaration was not announced")
	}
	if res.RequeueAfter <= 0 {
		t.Fatalf("no timer: %+v", res)
	}
	return clk.Now().Add(res.RequeueAfter)
}

// The queue counts RequeueAfter from the reconcile's return, so a timer computed when the
// reconcile planned must not move later by the time its writes and calls took.
func TestSlowWritesAndCallsDoNotDelayTheNextTimer(t *testing.T) {
	for _, announce := range []bool{false, true} {
		fast := wakeAfterReconcile(t, announce, 0)
		slow := wakeAfterReconcile(t, announce, time.Second)
		if !slow.Equal(fast) {
			t.Errorf("announcing %v: with 1s writes and calls the next timer fires at %s, %s after it would with instant ones",
				announce, slow.Format(time.RFC3339), slow.Sub(fast))
		}
	}
}
