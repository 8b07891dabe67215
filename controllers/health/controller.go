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

// Package health holds the health evaluator: while an incident is open, it reads its
// ResponsePolicy's health signals on the policy's interval and shows them in the Incident's
// status.health and ProductHealthy condition. It works per policy, not per incident: each
// signal is read once per interval for all of the policy's open incidents, so the cost of the
// queries does not grow with the number of incidents. It writes only those two status fields,
// by server-side apply under its own field owner, so the Incident controller's writes and its
// own never undo each other. It never changes an incident's state: a signal that recovers is
// an Event for the IC.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
)

// FieldOwner is the field manager of the evaluator's writes: status.health and the
// ProductHealthy condition of an Incident, and nothing else.
const FieldOwner = "firescope-health"

// applyWorkers bounds the status writes of one evaluation in flight at once.
const applyWorkers = 8

// EventRecorder reports a fact about an object as an Event, once per fact key.
type EventRecorder interface {
	Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error
}

// Reconciler evaluates the health signals of one ResponsePolicy for its open incidents.
type Reconciler struct {
	client.Client
	Recorder EventRecorder
	// Source reads the signals.
	Source Source
	// Publisher shows published signals on the policy's status page; nil publishes nothing.
	Publisher Publisher
	// Clock tells the time; tests inject a fake one.
	Clock clock.PassiveClock

	// last holds each policy's latest readings, so that an incident opened or changed within
	// an interval shows them without another query.
	mu   sync.Mutex
	last map[types.NamespacedName]readings
}

type readings struct {
	generation int64
	at         time.Time
	values     map[string]reading
}

// +kubebuilder:rbac:groups=firescope.dev,resources=responsepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents/status,verbs=get;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=drills,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=statuspages,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile evaluates one policy: it finds the policy's open incidents, reads each signal once
// (or takes the values of a drill's injects), and writes each incident's health where it
// changed. A failed query is an unknown value with its reason, never a failed reconcile; only
// the API server's errors are returned, to be retried with backoff. It comes back after the
// policy's interval while an incident is open, and not at all otherwise: an incident opened
// later wakes it.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.ResponsePolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	if r.Publisher != nil && !publishing(policy) {
		// A policy that is gone (left empty by NotFound) or publishes no more leaves no
		// points waiting for its page in a long-running manager.
		r.Publisher.Forget(req.NamespacedName)
	}
	signals := policy.Spec.HealthSignals
	open, err := r.openIncidents(ctx, req.NamespacedName)
	if err != nil || len(open) == 0 || len(signals) == 0 {
		r.forget(req.NamespacedName)
		if err == nil {
			// A policy that lost its signals, or is gone, leaves no stale health behind.
			err = r.clearAll(ctx, open)
		}
		return ctrl.Result{}, err
	}
	now := r.Clock.Now()
	measured, fresh, wait := r.measure(ctx, policy, open, now)
	err = r.applyAll(ctx, open, func(inc *v1alpha1.Incident) (map[string]reading, error) {
		if !inc.Spec.Drill {
			return measured, nil
		}
		d, err := r.drillOf(ctx, inc)
		return injected(signals, d, inc.Name), err
	}, signals, now)
	// After the incidents' status, so that a slow status page delays nobody's view of it.
	if fresh && r.Publisher != nil {
		r.Publisher.Publish(ctx, policy, open, known(measured), now)
	}
	return ctrl.Result{RequeueAfter: wait}, err
}

// openIncidents lists, from the cache, the open Incidents the policy applies to.
func (r *Reconciler) openIncidents(ctx context.Context, policy types.NamespacedName) ([]*v1alpha1.Incident, error) {
	list := &v1alpha1.IncidentList{}
	if err := r.List(ctx, list, client.InNamespace(policy.Namespace)); err != nil {
		return nil, err
	}
	var open []*v1alpha1.Incident
	for i := range list.Items {
		inc := &list.Items[i]
		if inc.Spec.State.IsOpen() && inc.PolicyName() == policy.Name && inc.DeletionTimestamp.IsZero() {
			open = append(open, inc)
		}
	}
	return open, nil
}

// clearAll removes the health and the ProductHealthy condition of the incidents that have
// them: an apply without the fields the evaluator owns removes them.
func (r *Reconciler) clearAll(ctx context.Context, open []*v1alpha1.Incident) error {
	var errs error
	for _, inc := range open {
		if inc.Status.Health == nil && currentCondition(inc) == nil {
			continue
		}
		patch, err := json.Marshal(map[string]any{"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Incident",
			"metadata": applyMeta{Name: inc.Name, Namespace: inc.Namespace}})
		if err == nil {
			err = client.IgnoreNotFound(r.Status().Patch(ctx, inc, client.RawPatch(types.ApplyPatchType, patch), client.FieldOwner(FieldOwner), client.ForceOwnership))
		}
		errs = errors.Join(errs, err)
	}
	return errs
}

// measure returns the policy's readings for its real incidents, whether they are new, and how
// long until the next read: the readings of this interval if there are some, else new ones.
// It returns nil readings when every open incident is a drill, which never queries.
func (r *Reconciler) measure(ctx context.Context, policy *v1alpha1.ResponsePolicy, open []*v1alpha1.Incident, now time.Time) (map[string]reading, bool, time.Duration) {
	every := policy.HealthEvery()
	anyReal := false
	for _, inc := range open {
		anyReal = anyReal || !inc.Spec.Drill
	}
	if !anyReal {
		return nil, false, every
	}
	key := client.ObjectKeyFromObject(policy)
	r.mu.Lock()
	last, ok := r.last[key]
	r.mu.Unlock()
	if ok && last.generation == policy.Generation && now.Before(last.at.Add(every)) {
		return last.values, false, last.at.Add(every).Sub(now)
	}
	values := readAll(ctx, r.Source, policy.Namespace, policy.Spec.HealthSignals, now)
	readsTotal.Add(float64(len(values)))
	for _, v := range values {
		if !v.ok {
			readFailures.WithLabelValues(v.reason).Inc()
		}
	}
	r.mu.Lock()
	if r.last == nil {
		r.last = map[types.NamespacedName]readings{}
	}
	r.last[key] = readings{generation: policy.Generation, at: now, values: values}
	r.mu.Unlock()
	return values, true, every
}

// known returns the values that were read, by signal name.
func known(rs map[string]reading) map[string]float64 {
	out := make(map[string]float64, len(rs))
	for name, r := range rs {
		if r.ok {
			out[name] = r.value
		}
	}
	return out
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	delete(r.last, key)
	r.mu.Unlock()
}

// drillOf returns the Drill whose run inc is, from the cache, or nil when it is gone.
func (r *Reconciler) drillOf(ctx context.Context, inc *v1alpha1.Incident) (*v1alpha1.Drill, error) {
	name := inc.Labels[v1alpha1.LabelDrill]
	if name == "" {
		return nil, nil
	}
	d := &v1alpha1.Drill{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inc.Namespace, Name: name}, d); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return d, nil
}

// applyAll writes each incident's health, a few at a time. Every incident is tried; the API
// errors are returned together.
func (r *Reconciler) applyAll(ctx context.Context, open []*v1alpha1.Incident, readingsOf func(*v1alpha1.Incident) (map[string]reading, error),
	signals []v1alpha1.HealthSignal, now time.Time) error {
	var (
		mu    sync.Mutex
		errs  error
		wg    sync.WaitGroup
		slots = make(chan struct{}, applyWorkers)
	)
	for _, inc := range open {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			rs, err := readingsOf(inc)
			if err == nil {
				err = r.apply(ctx, inc, healthOf(signals, rs, inc.Status.Health, now), now)
			}
			if err != nil {
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// apply writes the incident's health and ProductHealthy condition when either changed, after
// the Events of the signals that moved. Nothing is written when nothing changed.
func (r *Reconciler) apply(ctx context.Context, inc *v1alpha1.Incident, h *v1alpha1.HealthStatus, now time.Time) error {
	prevCond := currentCondition(inc)
	cond := productHealthyCondition(h, prevCond, inc.Generation, now)
	if equality.Semantic.DeepEqual(inc.Status.Health, h) && prevCond != nil && equality.Semantic.DeepEqual(*prevCond, cond) {
		return nil
	}
	for _, e := range signalEvents(inc.Status.Health, h) {
		if err := r.Recorder.Record(ctx, inc, eventrecord.Fact{Key: e.key, Type: e.eventType, Reason: e.reason, Note: e.note}); err != nil {
			// Events are best effort: the status shows the same values.
			log.FromContext(ctx).Error(err, "could not write a health signal Event", "incident", inc.Name, "reason", e.reason)
		}
	}
	patch, err := json.Marshal(applyHealth{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "Incident",
		Metadata: applyMeta{Name: inc.Name, Namespace: inc.Namespace},
		Status:   applyStatus{Health: h, Conditions: []metav1.Condition{cond}},
	})
	if err != nil {
		return err
	}
	if err := r.Status().Patch(ctx, inc, client.RawPatch(types.ApplyPatchType, patch), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	statusWrites.Inc()
	return nil
}

// applyHealth is the apply configuration of the two fields the evaluator owns.
type applyHealth struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   applyMeta   `json:"metadata"`
	Status     applyStatus `json:"status"`
}

type applyMeta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type applyStatus struct {
	Health     *v1alpha1.HealthStatus `json:"health"`
	Conditions []metav1.Condition     `json:"conditions"`
}

// SetupWithManager registers the evaluator. It reconciles a ResponsePolicy when it changes,
// when one of its Incidents is declared or changes its spec (a resolve ends the evaluation),
// and when a Drill plays an inject; otherwise on the policy's interval.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ResponsePolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(policyOfIncident), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Drill{}, handler.EnqueueRequestsFromMapFunc(policyOfDrill)).
		Named("health").
		// Policies are independent; one slow Prometheus must not hold up another team's.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

func policyOfIncident(_ context.Context, obj client.Object) []reconcile.Request {
	inc, ok := obj.(*v1alpha1.Incident)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: inc.Namespace, Name: inc.PolicyName()}}}
}

func policyOfDrill(_ context.Context, obj client.Object) []reconcile.Request {
	d, ok := obj.(*v1alpha1.Drill)
	if !ok || d.Status.Active == nil {
		return nil
	}
	name := v1alpha1.DefaultPolicyName
	if d.Spec.PolicyRef != nil && d.Spec.PolicyRef.Name != "" {
		name = d.Spec.PolicyRef.Name
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: name}}}
}
