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

// Package incident holds the Incident controller: it records every state change, hand-off and
// sitrep in status.timeline, keeps the timestamps and conditions, and emits the Events of the
// Firescope API, each exactly once.
package incident

import (
	"context"

	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
)

// EventRecorder reports a fact about an object as an Event, once per fact key.
type EventRecorder interface {
	Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error
}

// Reconciler reconciles Incidents.
type Reconciler struct {
	client.Client
	Recorder EventRecorder
	// Clock tells the time; tests inject a fake one.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=firescope.dev,resources=incidents,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile records what is new about one Incident. It writes status at most once, and not at
// all when nothing changed. Each new fact's Event is named after the generation and the fact,
// and written before the status that records the fact: a crash in between repeats the same
// names on retry, which the API server refuses as existing, so every fact is reported once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	inc := &v1alpha1.Incident{}
	if err := r.Get(ctx, req.NamespacedName, inc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !inc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := inc.DeepCopy()
	now := r.Clock.Now()

	// Phase 1: turn what changed in the spec into timeline facts (declaration, state changes,
	// hand-offs, sitreps) and update the recorded state and the timestamps.
	facts := recordChanges(inc, now)
	// Phase 2: derive the conditions from the spec and the timestamps.
	setRolesAssignedCondition(inc)
	untilChange := setSitrepCurrentCondition(inc, now, DefaultSitrepCadence)
	inc.Status.ObservedGeneration = inc.Generation

	result := ctrl.Result{RequeueAfter: untilChange}
	if equality.Semantic.DeepEqual(before.Status, inc.Status) {
		return result, nil
	}
	// Phase 3: report the new facts, then store the status that records them.
	for _, f := range facts {
		if err := r.Recorder.Record(ctx, inc, eventrecord.Fact{
			Key:    fmt.Sprintf("%d/%s/%s", inc.Generation, f.eventReason, f.entry.Message),
			Type:   f.eventType,
			Reason: f.eventReason,
			Note:   f.entry.Message,
		}); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The optimistic lock makes a reconcile that started from a stale cache fail instead of
	// recording the same facts again; the retry sees the stored status.
	if err := r.Status().Patch(ctx, inc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	statusPatches.Inc()
	log.FromContext(ctx).V(1).Info("recorded incident", "facts", len(facts), "state", inc.Spec.State)
	return result, nil
}

// SetupWithManager registers the controller. It reconciles on spec and metadata changes (the
// webhook's changed-by annotation arrives with the spec change it describes); status writes of
// its own do not trigger another reconcile, and timers come from RequeueAfter.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Incident{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("incident").
		// Incidents are independent: a burst of them (or one slow call) must not queue the rest.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}
