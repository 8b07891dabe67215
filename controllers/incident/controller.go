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

// Package incident holds the Incident controller. It records every state change, hand-off and
// sitrep in status.timeline, keeps the timestamps and conditions, runs the IC's checklist
// (sitrep due, customers informed, roles held, impact known), and announces and pages through
// the ResponsePolicy's channels, each fact exactly once.
package incident

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
	Recorder  EventRecorder
	Notifiers Notifiers
	// Clock tells the time; tests inject a fake one.
	Clock clock.PassiveClock
	// Workers is how many Incidents are reconciled at once; DefaultWorkers when zero.
	Workers int

	// delivered holds the IDs of outbox items this process delivered whose removal is not
	// stored yet. Another process (a new leader, a restart) does not have them, and so treats
	// such items as of unknown outcome: never as to be sent again.
	delivered sync.Map
}

// DefaultWorkers is how many Incidents are reconciled at once by default. A reconcile spends
// its time waiting on the API server and the channels, so workers, not CPU, bound how many
// reminders go out on time: on a 2-core machine 8 workers sent about 60 reminders a second
// where 100 were due.
const DefaultWorkers = 64

// cleanupAfter is how soon a reconcile with nothing else to do comes back to remove delivered
// items from the outbox.
const cleanupAfter = 30 * time.Second

// +kubebuilder:rbac:groups=firescope.dev,resources=incidents,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=responsepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile records what is new about one Incident and delivers what it must announce.
//
// It writes status at most once, and not at all when nothing changed: the write records the
// facts and marks their deliveries as started. Only when a delivery fails is the outcome
// written again after the calls; a delivered item leaves status with the next write. Each fact's Event is named
// after the fact, as the change from what status recorded, and written alongside the status
// write that records it, so the timeline does not wait for the Events: a conflict repeats the
// same names, which the API server refuses as existing, so every fact is reported once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	inc := &v1alpha1.Incident{}
	if err := r.Get(ctx, req.NamespacedName, inc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !inc.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, inc)
	}
	policy, err := r.policy(ctx, inc)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := inc.DeepCopy()
	now := r.Clock.Now()
	cadence := cadenceOf(policy)

	// Phase 1: settle deliveries a stopped process left mid-call.
	unknown, settled := recoverOutbox(inc, func(id string) bool { _, ok := r.delivered.Load(id); return ok })
	for _, it := range unknown {
		notificationsTotal.WithLabelValues(channelOf(it.Kind), "unknown").Inc()
		log.FromContext(ctx).Info("dropped an announcement whose delivery outcome is unknown, so as never to post it twice", "message", it.Message)
	}
	// Phase 2: turn what changed in the spec into timeline facts.
	facts := recordChanges(inc, now)
	// Phase 3: the IC's checklist, as reminders due now.
	reminders, wait := r.checklist(inc, policy, cadence, now)
	facts = append(facts, reminders...)
	appendTimeline(inc, reminders)
	// Phase 4: derive the conditions.
	setRolesAssignedCondition(inc)
	setSitrepCurrentCondition(inc, now, cadence)
	setCustomersInformedCondition(inc, policy, now)
	setImpactKnownCondition(inc)
	setPolicyAppliedCondition(inc, inc.PolicyName(), policy != nil)
	inc.Status.ObservedGeneration = inc.Generation
	// Phase 5: record announcements and pages, and claim those due for delivery now.
	enqueue(inc, facts, policy)
	claimed, outboxWait := claimDue(inc, now)
	wait = minPositive(wait, outboxWait)

	// An incident about to page gets the finalizer that resolves the page if it is deleted,
	// before anything is stored: a conflict here retries the reconcile with nothing lost.
	if err := r.holdPage(ctx, before, inc); err != nil {
		return ctrl.Result{}, err
	}
	if equality.Semantic.DeepEqual(before.Status, inc.Status) {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// Phase 6: report the facts while storing the status that records them.
	reported := make(chan error, 1)
	go func(subject *v1alpha1.Incident) { reported <- r.report(ctx, subject, facts) }(inc.DeepCopy())
	if err := errors.Join(r.patchStatus(ctx, before, inc), <-reported); err != nil {
		return ctrl.Result{}, err
	}
	// Stored: the facts this write recorded count in the response metrics, once.
	observeRecorded(before, inc, cadence)
	for _, id := range settled {
		r.delivered.Delete(id)
	}
	if len(claimed) == 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// Phase 7: deliver; store the outcome now only if something failed.
	before = inc.DeepCopy()
	failures, store, removed := r.deliver(ctx, inc, policy, claimed)
	r.releasePage(ctx, before, claimed)
	if store {
		appendTimeline(inc, failures)
		if err := r.report(ctx, inc, failures); err != nil {
			return ctrl.Result{}, err
		}
		// No optimistic lock here: this status was stored a moment ago by this reconcile, and
		// a conflict with an unrelated spec change would leave delivered items marked Sending.
		if err := r.Status().Patch(ctx, inc, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, err
		}
		statusPatches.Inc()
		for _, id := range removed {
			r.delivered.Delete(id)
		}
	}
	_, outboxWait = claimDue(inc.DeepCopy(), r.Clock.Now())
	wait = minPositive(wait, outboxWait)
	if !store {
		wait = minPositive(wait, cleanupAfter)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// checklist runs the IC's event loop for open incidents and returns the reminders due now and
// how long until the next one could be.
func (r *Reconciler) checklist(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, cadence map[v1alpha1.IncidentState]time.Duration, now time.Time) ([]fact, time.Duration) {
	facts, wait, skew := checkSitrepOverdue(inc, cadence, now)
	if skew >= 0 {
		reminderSkew.Observe(skew.Seconds())
	}
	customers, w := checkCustomersInformed(inc, p, now)
	facts, wait = append(facts, customers...), minPositive(wait, w)
	due, w := checkCustomersUpdateDue(inc, p, now)
	facts, wait = append(facts, due...), minPositive(wait, w)
	resolved, w := checkResolvedAnnounced(inc, p, now)
	facts, wait = append(facts, resolved...), minPositive(wait, w)
	facts = append(facts, checkRolesUnassigned(inc, now)...)
	handoffs, w := checkHandoffSuggested(inc, p, now)
	facts, wait = append(facts, handoffs...), minPositive(wait, w)
	facts = append(facts, checkImpactUnknown(inc, now)...)
	return facts, wait
}

// appendTimeline adds facts found outside recordChanges to the bounded timeline. Repeated
// overdue reminders are compacted: one that follows another replaces it, so a long-overdue
// sitrep takes one line of the timeline, not one per interval.
func appendTimeline(inc *v1alpha1.Incident, facts []fact) {
	for _, f := range facts {
		tl := inc.Status.Timeline
		if n := len(tl); n > 0 && f.eventReason == v1alpha1.EventSitrepOverdue && isOverdueEntry(tl[n-1]) {
			tl[n-1] = f.entry
			continue
		}
		inc.Status.Timeline = append(tl, f.entry)
	}
	inc.Status.Timeline = CompactTimeline(inc.Status.Timeline, v1alpha1.MaxTimelineEntries)
}

func isOverdueEntry(e v1alpha1.TimelineEntry) bool {
	return e.Type == v1alpha1.TimelineReminder && strings.HasPrefix(e.Message, "Sitrep overdue by ")
}

// report writes the facts' Events. Events are best effort: the timeline is the record, so an
// API server that refuses Events (rate limits, quotas) must not stop the response.
func (r *Reconciler) report(ctx context.Context, inc *v1alpha1.Incident, facts []fact) error {
	for _, f := range facts {
		if err := r.Recorder.Record(ctx, inc, eventrecord.Fact{
			Key: f.key, Type: f.eventType, Reason: f.eventReason, Note: f.entry.Message,
		}); err != nil {
			eventsFailed.Inc()
			log.FromContext(ctx).Error(err, "could not write an Event; the timeline keeps the fact", "reason", f.eventReason)
		}
	}
	return nil
}

// patchStatus writes the status with an optimistic lock: a reconcile that started from a stale
// cache fails instead of recording the same facts again, and its retry sees the stored status.
func (r *Reconciler) patchStatus(ctx context.Context, before, inc *v1alpha1.Incident) error {
	if err := r.Status().Patch(ctx, inc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	statusPatches.Inc()
	return nil
}

// policy returns the Incident's ResponsePolicy, or nil when it does not exist (the defaults
// apply, and the PolicyApplied condition says so).
func (r *Reconciler) policy(ctx context.Context, inc *v1alpha1.Incident) (*v1alpha1.ResponsePolicy, error) {
	p := &v1alpha1.ResponsePolicy{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inc.Namespace, Name: inc.PolicyName()}, p)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// SetupWithManager registers the controller. It reconciles on spec changes (the webhook's
// changed-by annotation arrives with the spec change it describes; the start of a deletion,
// which the page finalizer waits on, bumps the generation too) and on changes of the
// ResponsePolicies that apply; its own status writes do not trigger it, and timers come from
// RequeueAfter computed from the timestamps in status.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	registerIncidentCollector(mgr.GetCache(), mgr.Elected())
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Incident{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, statusUpdatesChanged))).
		Watches(&v1alpha1.ResponsePolicy{}, handler.EnqueueRequestsFromMapFunc(r.incidentsOfPolicy)).
		Named("incident").
		// Incidents are independent: a burst of them, or one slow channel, must not queue the
		// rest. Reconciles mostly wait on the API server and on channels, not on CPU.
		WithOptions(controller.Options{MaxConcurrentReconciles: cmp.Or(r.Workers, DefaultWorkers)}).
		Complete(r)
}

// statusUpdatesChanged passes the status writes of the StatusUpdate controller, which tell
// whether customers have been informed.
var statusUpdatesChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	DeleteFunc: func(event.DeleteEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Incident), e.ObjectNew.(*v1alpha1.Incident)
		return !equality.Semantic.DeepEqual(o.Status.StatusUpdates, n.Status.StatusUpdates)
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// incidentsOfPolicy maps a ResponsePolicy to the Incidents it applies to.
func (r *Reconciler) incidentsOfPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &v1alpha1.IncidentList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing incidents for a ResponsePolicy change")
		return nil
	}
	var reqs []reconcile.Request
	for _, inc := range list.Items {
		if inc.PolicyName() == obj.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&inc)})
		}
	}
	return reqs
}
