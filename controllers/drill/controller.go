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

// Package drill holds the Drill controller. On a schedule or on request it declares a drill
// Incident, plays the scenario's injects on time, ends the run at the time limit or when the IC
// resolves it, and grades the team's procedure from the Incident's record.
package drill

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/notify"
)

// EventRecorder reports a fact about an object as an Event, once per fact key.
type EventRecorder interface {
	Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error
}

// Channels builds the comms channel a policy names, with its credentials.
type Channels interface {
	Channel(ctx context.Context, namespace string, c *v1alpha1.CommsChannel) (notify.Channel, error)
}

// Reconciler reconciles Drills.
type Reconciler struct {
	client.Client
	// APIReader reads scenario ConfigMaps by name, uncached, so that the manager never holds
	// every ConfigMap of the cluster in memory.
	APIReader client.Reader
	Recorder  EventRecorder
	Channels  Channels
	// Clock tells the time; tests inject a fake one.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=firescope.dev,resources=drills,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=drills/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=responsepolicies;statusupdates;postmortems,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile runs one Drill: it ends the run under way when its Incident resolved or is gone,
// starts a run when one is asked for or due, plays the injects due, and ends the run at its time
// limit. Changes to Incidents (spec.impact of an Impact inject, the resolve at the time limit)
// are idempotent and made first; then the Events, then one status write that records the
// injects played and the runs started and graded; only then the announcements, so that a crash
// loses an announcement at worst and never posts one twice.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := &v1alpha1.Drill{}
	if err := r.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !d.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := d.DeepCopy()
	now := r.Clock.Now()
	policy, err := r.policy(ctx, d)
	if err != nil {
		return ctrl.Result{}, err
	}
	sc, scErr := r.scenario(ctx, d)
	if scErr != nil && !errors.As(scErr, new(invalidScenario)) {
		return ctrl.Result{}, scErr
	}
	sched, schedErr := schedule(d)
	setReadyCondition(d, scErr, schedErr)
	d.Status.ObservedGeneration = d.Generation

	run := &runState{drill: d, scenario: sc, policy: policy, now: now}
	// Phase 1: a run whose Incident resolved or went away ends and is graded.
	if err := r.observeActive(ctx, run); err != nil {
		return ctrl.Result{}, err
	}
	// Phase 2: a run starts when asked for or due, unless one is under way.
	wait := r.startDue(ctx, run, sched)
	if run.err != nil {
		return ctrl.Result{}, run.err
	}
	// Phase 3: the injects due play; the time limit ends the run.
	if err := r.play(ctx, run); err != nil {
		return ctrl.Result{}, err
	}
	wait = minPositive(wait, run.wait)
	// Phase 4: finished runs whose post-mortem criterion waits on the post-mortem get it.
	pmWait, err := r.regradePostmortems(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	wait = minPositive(wait, pmWait)

	if equality.Semantic.DeepEqual(before.Status, d.Status) {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	for _, f := range run.events {
		if err := r.Recorder.Record(ctx, f.obj, f.fact); err != nil {
			log.FromContext(ctx).Error(err, "could not write an Event; the Drill's status keeps the fact", "reason", f.fact.Reason)
		}
	}
	// The optimistic lock makes a reconcile from a stale cache fail rather than play an
	// inject or start a run a second time.
	if err := r.Status().Patch(ctx, d, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	// Stored: what this write recorded counts in the metrics, once.
	for _, p := range run.played {
		injectSkew.Observe(p.PlayedAt.Sub(p.PlannedAt.Time).Seconds())
	}
	for _, res := range run.ended {
		observeEnded(d, res)
	}
	for _, c := range run.decided {
		criteriaTotal.WithLabelValues(d.Namespace, c.Name, string(c.Result)).Inc()
	}
	r.announce(ctx, run)
	return ctrl.Result{RequeueAfter: wait}, nil
}

// policy returns the ResponsePolicy the Drill grades against, nil when it does not exist (the
// defaults apply, as they do for the Incident).
func (r *Reconciler) policy(ctx context.Context, d *v1alpha1.Drill) (*v1alpha1.ResponsePolicy, error) {
	name := "default"
	if d.Spec.PolicyRef != nil {
		name = d.Spec.PolicyRef.Name
	}
	p := &v1alpha1.ResponsePolicy{}
	err := r.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: name}, p)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// SetupWithManager registers the controller. It reconciles on spec changes, on the start
// annotation, on changes of the runs' Incidents (a resolve ends a run) and of the Postmortems
// of finished runs whose post-mortem criterion is pending; its own status
// writes do not trigger it, and timers come from RequeueAfter computed from status.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	drillCollector.Use(mgr.GetCache(), r.Clock, mgr.Elected())
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Drill{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&v1alpha1.Incident{}).
		Watches(&v1alpha1.Postmortem{}, handler.EnqueueRequestsFromMapFunc(r.drillsOfPostmortem)).
		Named("drill").
		Complete(r)
}

func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}
