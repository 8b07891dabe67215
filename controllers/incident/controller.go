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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/attribution"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/outbox"
	"firescope.dev/firescope/internal/ratelimit"
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
	// Attribution checks the webhook's signature of who changed what; without it, every
	// change is recorded as made by an unknown user.
	Attribution attribution.Keys
	// Workers is how many Incidents are reconciled at once; DefaultWorkers when zero.
	Workers int
	// OutboundPerNamespace is how many deliveries of one namespace run at once: as many as
	// the namespace may have vendor calls in flight. ratelimit.DefaultPerNamespace when zero.
	OutboundPerNamespace int

	// delivered holds the IDs of outbox items this process delivered whose removal is not
	// stored yet. Another process (a new leader, a restart) does not have them, and so treats
	// such items as of unknown outcome: never as to be sent again.
	delivered sync.Map
	// pagers holds, by incident UID, the pager that sent an incident's open page, so that
	// deleting the incident resolves it even when its ResponsePolicy or routing key went
	// first: deleting a namespace deletes them all at once.
	pagers sync.Map
	// deliveries runs the deliveries off the workers (dispatch.go); nil, as in a test that
	// calls Reconcile, delivers within the reconcile.
	deliveries *dispatcher
}

// FieldOwner is the field manager of the incident controller's status writes. It owns every
// field of an Incident's status but status.postmortem, which the post-mortem controller
// applies under its own.
const FieldOwner = "firescope-incident"

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
// +kubebuilder:rbac:groups=firescope.dev,resources=statusupdates,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile records what is new about one Incident and delivers what it must announce, in
// three steps: plan (a pure function of the Incident, what it depends on and the time),
// record (one status write, then the Events of the new facts) and deliver (the outbox items
// the plan claimed, off the worker: while they are sent, the incident's reconciles wait).
//
// It writes status at most once before delivering, and not at all when nothing changed: the
// write records the facts and marks their deliveries as started. Only when a delivery fails is
// the outcome written again after the calls; a delivered item leaves status with the next
// write. Each fact's Event is named after the fact, as the change from what status recorded,
// and written once the status that records it is stored: a write that fails (a conflict, a
// refusal) reports nothing, so no Event tells of a fact the timeline does not hold, and the
// timeline waits for one API write, not two. A crash between the two loses those Events; the
// timeline keeps the facts.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.deliveries.busy(req.NamespacedName) {
		// Its delivery brings it back when it ends.
		return ctrl.Result{}, nil
	}
	inc := &v1alpha1.Incident{}
	if err := r.Get(ctx, req.NamespacedName, inc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !inc.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, inc)
	}
	in, err := r.inputs(ctx, inc)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := inc.DeepCopy()
	p := plan(inc, in, r.Clock.Now(), r.wasDelivered)
	if err := r.record(ctx, before, inc, p); err != nil {
		return ctrl.Result{}, err
	}
	return r.deliverClaimed(ctx, inc, in.policy, p)
}

// inputs reads what the plan depends on besides the Incident, from the cache.
func (r *Reconciler) inputs(ctx context.Context, inc *v1alpha1.Incident) (inputs, error) {
	policy, err := r.policy(ctx, inc)
	if err != nil {
		return inputs{}, err
	}
	updates, err := r.statusUpdatesOf(ctx, inc)
	if err != nil {
		return inputs{}, err
	}
	maintenances, err := r.maintenancesOf(ctx, inc, policy)
	if err != nil {
		return inputs{}, err
	}
	return inputs{policy: policy, updates: updates, by: attribution.Verified(r.Attribution, inc), maintenances: maintenances}, nil
}

func (r *Reconciler) wasDelivered(id string) bool {
	_, ok := r.delivered.Load(id)
	return ok
}

// record stores the status that records the plan's facts, in one write with an optimistic
// lock, and then reports them as Events; it writes nothing when the plan changed nothing.
// Only once that write succeeded do its facts count in the metrics and get their Events, and
// does observedGeneration say the generation was reconciled. An incident about to page first
// gets the finalizer that resolves the page if it is deleted: a conflict there retries the
// reconcile with nothing stored.
func (r *Reconciler) record(ctx context.Context, before, inc *v1alpha1.Incident, p planned) error {
	if err := r.holdPage(ctx, before, inc); err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(before.Status, inc.Status) {
		return nil
	}
	if err := r.patchStatus(ctx, before, inc); err != nil {
		return err
	}
	r.report(ctx, inc, p.facts)
	for _, it := range p.unknown {
		notificationsTotal.WithLabelValues(outbox.Channel(it.Kind), "unknown").Inc()
		log.FromContext(ctx).Info("dropped an announcement whose delivery outcome is unknown, so as never to post it twice", "message", it.Message)
	}
	if p.skew >= 0 {
		reminderSkew.Observe(p.skew.Seconds())
	}
	observeRecorded(before, inc, p.cadence)
	for _, id := range p.settled {
		r.delivered.Delete(id)
	}
	return nil
}

// deliverClaimed sends the items the plan claimed, off the worker when the Reconciler has a
// dispatcher with a slot free, and returns when the reconcile should come back: the next
// timer, the next item due, or the removal of delivered items from the outbox. A delivery
// off the worker that fails brings the incident back itself, once the outcome is stored.
func (r *Reconciler) deliverClaimed(ctx context.Context, inc *v1alpha1.Incident, policy *v1alpha1.ResponsePolicy, p planned) (ctrl.Result, error) {
	if len(p.claimed) == 0 {
		return ctrl.Result{RequeueAfter: r.until(p.at, p.wait)}, nil
	}
	// Read before the delivery owns inc: items due beyond those claimed come back at once
	// (and wait for the delivery to end).
	wait := minPositive(minPositive(r.until(p.at, p.wait), outbox.Wait(inc.Status.Outbox, r.Clock.Now())), cleanupAfter)
	if r.deliveries != nil && r.deliveries.start(ctx, client.ObjectKeyFromObject(inc), func(ctx context.Context) (bool, error) {
		return r.deliverNow(ctx, inc, policy, p.claimed)
	}) {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	store, err := r.deliverNow(ctx, inc, policy, p.claimed)
	if err != nil {
		return ctrl.Result{}, err
	}
	_, outboxWait := claimDue(inc.DeepCopy(), r.Clock.Now())
	wait = minPositive(r.until(p.at, p.wait), outboxWait)
	if !store {
		wait = minPositive(wait, cleanupAfter)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// deliverNow sends the claimed items, and stores their outcome now only if something failed,
// which it reports.
func (r *Reconciler) deliverNow(ctx context.Context, inc *v1alpha1.Incident, policy *v1alpha1.ResponsePolicy, claimed []int) (bool, error) {
	before := inc.DeepCopy()
	failures, store, removed := r.deliver(ctx, inc, policy, claimed)
	r.releasePage(ctx, before, claimed)
	if !store {
		return false, nil
	}
	appendTimeline(inc, failures)
	// No optimistic lock here: this status was stored by the reconcile that claimed the items,
	// and nothing of this controller's was written since (the incident's reconciles wait for
	// its delivery); a conflict with an unrelated spec change would leave delivered items
	// marked Sending.
	if err := r.Status().Patch(ctx, inc, client.MergeFrom(before), client.FieldOwner(FieldOwner)); err != nil {
		return true, err
	}
	statusPatches.Inc()
	r.report(ctx, inc, failures)
	for _, id := range removed {
		r.delivered.Delete(id)
	}
	return true, nil
}

// until is how long from now until wait has passed since from (the plan's time), zero for
// no wait. The timers count from the plan's time, but the queue counts a requeue from the
// reconcile's return: without this, every reminder would go out late by the time the
// previous reconcile spent on its writes and calls after planning.
func (r *Reconciler) until(from time.Time, wait time.Duration) time.Duration {
	if wait <= 0 {
		return 0
	}
	return max(from.Add(wait).Sub(r.Clock.Now()), time.Millisecond)
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
func (r *Reconciler) report(ctx context.Context, inc *v1alpha1.Incident, facts []fact) {
	for _, f := range facts {
		if err := r.Recorder.Record(ctx, inc, eventrecord.Fact{
			Key: f.key, Type: f.eventType, Reason: f.eventReason, Note: f.entry.Message,
		}); err != nil {
			eventsFailed.Inc()
			log.FromContext(ctx).Error(err, "could not write an Event; the timeline keeps the fact", "reason", f.eventReason)
		}
	}
}

// patchStatus writes the status with an optimistic lock: a reconcile that started from a stale
// cache fails instead of recording the same facts again, and its retry sees the stored status.
func (r *Reconciler) patchStatus(ctx context.Context, before, inc *v1alpha1.Incident) error {
	if err := r.Status().Patch(ctx, inc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner)); err != nil {
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
// which the page finalizer waits on, bumps the generation too), on changes of the
// ResponsePolicies that apply, on changes of the Incident's StatusUpdates, on changes of a
// Maintenance that holds its page back, and when a delivery off the workers ends with
// something left to do; its own status writes do not trigger it, and timers come from
// RequeueAfter computed from the timestamps in status.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if err := IndexStatusUpdates(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	collector.Use(mgr.GetCache(), r.Clock, mgr.Elected())
	r.deliveries = newDispatcher(cmp.Or(r.OutboundPerNamespace, ratelimit.DefaultPerNamespace))
	if err := mgr.Add(r.deliveries); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Incident{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.ResponsePolicy{}, handler.EnqueueRequestsFromMapFunc(r.incidentsOfPolicy)).
		Watches(&v1alpha1.StatusUpdate{}, handler.EnqueueRequestsFromMapFunc(incidentOfStatusUpdate), builder.WithPredicates(statusUpdateCounted)).
		Watches(&v1alpha1.Maintenance{}, handler.EnqueueRequestsFromMapFunc(r.incidentsHeldBy), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.deliveries.wake, &handler.EnqueueRequestForObject{})).
		Named("incident").
		// Incidents are independent: a burst of them, or one slow channel, must not queue the
		// rest. Reconciles mostly wait on the API server and on channels, not on CPU.
		WithOptions(controller.Options{MaxConcurrentReconciles: cmp.Or(r.Workers, DefaultWorkers)}).
		Complete(r)
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
