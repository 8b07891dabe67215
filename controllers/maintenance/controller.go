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

// Package maintenance holds the Maintenance controller. It moves each Maintenance from
// Scheduled to InProgress to Completed at its window's edges, waking exactly at the next
// edge (no polling), and publishes each phase once to the StatusPage the Maintenance names:
// Atlassian Statuspage as a scheduled incident, the Firescope status page through its
// maintenance endpoint, a webhook as one delivery per phase. A deleted Maintenance is
// completed on the page before it goes.
package maintenance

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/once"
)

// EventRecorder reports a fact about an object as an Event, once per fact key.
type EventRecorder interface {
	Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error
}

// Providers builds the publishing provider of a StatusPage, with its credentials.
type Providers interface {
	For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error)
}

// Reconciler reconciles Maintenances.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, to tell a stale cached sendingSince from a real one.
	APIReader client.Reader
	Recorder  EventRecorder
	Providers Providers
	Clock     clock.PassiveClock
}

// +kubebuilder:rbac:groups=firescope.dev,resources=maintenances,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=maintenances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=statuspages,verbs=get;list;watch

// Reconcile moves the Maintenance in req to the phase its window gives it now and publishes
// that phase: it puts on the finalizer that completes a deleted Maintenance on the page
// (finalize.go), computes the phase, publishes it (recording the intent in a status write of
// its own before any call that is not safe to repeat), stores the status in one patch, and
// requeues at the sooner of the next window edge and the next attempt.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	m := &v1alpha1.Maintenance{}
	if err := r.Get(ctx, req.NamespacedName, m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if m.Status.SendingSince != nil {
		// The cache may still show the intent of a call that since succeeded; only the API
		// server can say whether an outcome is really unknown.
		if err := r.APIReader.Get(ctx, req.NamespacedName, m); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	now := r.Clock.Now()
	if !m.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, m, now)
	}
	if !controllerutil.ContainsFinalizer(m, v1alpha1.FinalizerCompleteMaintenance) {
		// Before anything reaches the page, so that deleting the Maintenance takes it off.
		before := m.DeepCopy()
		controllerutil.AddFinalizer(m, v1alpha1.FinalizerCompleteMaintenance)
		if err := r.Patch(ctx, m, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	last := m.DeepCopy()
	m.Status.Phase = m.PhaseAt(now)
	res, err := r.publication(ctx, m, last, now)
	if err == nil {
		m.Status.ObservedGeneration = m.Generation
	}
	if !equality.Semantic.DeepEqual(last.Status, m.Status) {
		if perr := r.Status().Patch(ctx, m, client.MergeFromWithOptions(last, client.MergeFromWithOptimisticLock{})); perr != nil {
			return ctrl.Result{}, perr
		}
	}
	if edge := m.NextEdge(now); edge > 0 && (res.RequeueAfter == 0 || edge < res.RequeueAfter) {
		res.RequeueAfter = edge
	}
	return res, err
}

func (r *Reconciler) event(ctx context.Context, m *v1alpha1.Maintenance, key, typ, reason, note string) {
	if err := r.Recorder.Record(ctx, m, eventrecord.Fact{Key: key, Type: typ, Reason: reason, Note: note}); err != nil {
		log.FromContext(ctx).Error(err, "recording an Event", "reason", reason)
	}
}

// SetupWithManager registers the controller, woken by a change of a Maintenance's spec, a
// new value of its retry annotation, and a change of its namespace's StatusPages (a
// component mapping it waits for, say).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Maintenance{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, retryAsked))).
		Watches(&v1alpha1.StatusPage{}, handler.EnqueueRequestsFromMapFunc(r.onPage), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("maintenance").
		Complete(r)
}

// retryAsked passes a new value of the retry annotation, which changes no generation.
var retryAsked = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[once.RetryAnnotation] != e.ObjectNew.GetAnnotations()[once.RetryAnnotation]
	},
}

// onPage maps a StatusPage to the maintenances that name it and are not completed on it.
func (r *Reconciler) onPage(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.MaintenanceList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing maintenances to wake")
		return nil
	}
	var reqs []reconcile.Request
	for _, m := range list.Items {
		if m.Spec.StatusPageRef.Name == o.GetName() && m.Status.PublishedPhase != v1alpha1.MaintenanceCompleted {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&m)})
		}
	}
	return reqs
}
