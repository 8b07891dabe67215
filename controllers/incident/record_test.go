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
	"fmt"
	"slices"
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
)

// storedEvents records each Event's note, and whether the stored timeline already held the
// fact when the Event was written.
type storedEvents struct {
	c client.Client
	// notes are the Events' notes; unrecorded are those whose fact was not stored yet.
	notes, unrecorded []string
}

func (s *storedEvents) Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error {
	s.notes = append(s.notes, f.Note)
	stored := &v1alpha1.Incident{}
	if err := s.c.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
		return err
	}
	if !slices.ContainsFunc(stored.Status.Timeline, func(e v1alpha1.TimelineEntry) bool { return e.Message == f.Note }) {
		s.unrecorded = append(s.unrecorded, f.Note)
	}
	return nil
}

// A reconcile whose status write fails reports nothing, and the one that stores the facts
// reports each once it is stored, so no Event tells of a fact the timeline does not hold.
func TestEventsAreWrittenOnlyOnceTheStatusThatRecordsThemIsStored(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: "team", UID: "u1", Generation: 1},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateConfirmed, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"},
			Impact: &v1alpha1.Impact{Description: "Postgres cannot be provisioned"}}}
	failures := 1
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(inc).WithStatusSubresource(inc).
		WithIndex(&v1alpha1.StatusUpdate{}, incidentUIDField, indexIncidentUID).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if failures > 0 {
				failures--
				return apierrors.NewConflict(schema.GroupResource{Group: "firescope.dev", Resource: "incidents"}, obj.GetName(), fmt.Errorf("the object has been modified"))
			}
			return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}}).Build()
	events := &storedEvents{c: c}
	r := &Reconciler{Client: c, Recorder: events, Notifiers: &recorded{}, Clock: clocktesting.NewFakePassiveClock(t0)}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(inc)}

	if _, err := r.Reconcile(context.Background(), req); !apierrors.IsConflict(err) {
		t.Fatalf("first reconcile: %v, want the conflict", err)
	}
	if len(events.notes) != 0 {
		t.Fatalf("a reconcile whose status write failed reported %q", events.notes)
	}
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := []string{"Incident declared (Confirmed)", "IC -> ricardo", "Comms -> keiko"}
	if !slices.Equal(events.notes, want) {
		t.Errorf("Events %q, want %q", events.notes, want)
	}
	if len(events.unrecorded) != 0 {
		t.Errorf("Events %q were written before the status that records them was stored", events.unrecorded)
	}
}
