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
	"slices"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/paging"
)

// recorded is a comms channel and a pager that remember what they were sent.
type recorded struct {
	mu        sync.Mutex
	announced []string
	triggers  int
}

func (r *recorded) Channel(context.Context, string, *v1alpha1.CommsChannel) (notify.Channel, error) {
	return r, nil
}
func (r *recorded) Pager(context.Context, string, *v1alpha1.Paging) (paging.Pager, error) {
	return r, nil
}
func (r *recorded) Announce(_ context.Context, a notify.Announcement) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.announced = append(r.announced, a.Text)
	return nil
}
func (r *recorded) Trigger(context.Context, paging.Page) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.triggers++
	return nil
}
func (r *recorded) Resolve(context.Context, string) error { return nil }

type noEvents struct{}

func (noEvents) Record(context.Context, client.Object, eventrecord.Fact) error { return nil }

// A conflict while putting on the page finalizer must not lose the announcements of the
// reconcile it interrupts: the reconcile starts again with nothing stored.
func TestAConflictOnThePageFinalizerLosesNoAnnouncement(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "paged", Namespace: "team", UID: "u1", Generation: 1},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateConfirmed, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}}
	pol := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}, Spec: v1alpha1.ResponsePolicySpec{
		CommsChannel: &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{}}, Paging: &v1alpha1.Paging{}}}
	conflicts := 1
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(inc, pol).WithStatusSubresource(inc).
		WithIndex(&v1alpha1.StatusUpdate{}, incidentUIDField, indexIncidentUID).
		WithInterceptorFuncs(interceptor.Funcs{Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if conflicts > 0 {
				conflicts--
				return apierrors.NewConflict(schema.GroupResource{Group: "firescope.dev", Resource: "incidents"}, obj.GetName(), nil)
			}
			return cl.Patch(ctx, obj, patch, opts...)
		}}).Build()
	out := &recorded{}
	r := &Reconciler{Client: c, Recorder: noEvents{}, Notifiers: out, Clock: clocktesting.NewFakePassiveClock(t0)}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(inc)}
	if _, err := r.Reconcile(context.Background(), req); !apierrors.IsConflict(err) {
		t.Fatalf("first reconcile: %v, want the conflict", err)
	}
	for range 3 {
		if _, err := r.Reconcile(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	got := &v1alpha1.Incident{}
	if err := c.Get(context.Background(), req.NamespacedName, got); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got.Finalizers, v1alpha1.FinalizerResolvePage) {
		t.Errorf("finalizers %v", got.Finalizers)
	}
	if out.triggers != 1 || len(out.announced) < 3 {
		t.Fatalf("%d pages and announcements %q, want one page and the declaration, IC and Comms", out.triggers, out.announced)
	}
}
