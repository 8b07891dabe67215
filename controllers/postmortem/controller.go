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

// Package postmortem holds the Postmortem controller. It opens one Postmortem for each
// resolved Incident (named after it, recorded in the Incident's status, kept across reopens), keeps the incident's
// record in the post-mortem's status, reminds people of what is missing (an owner, owners of
// remediation items, the due date) with Events and on the comms channel, and posts a
// Published post-mortem on the status page exactly once when asked to.
package postmortem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/outbox"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/once"
)

// incidentField indexes Postmortems by the Incident they review.
const incidentField = "spec.incidentRef.name"

// EventRecorder reports a fact about an object as an Event, once per fact key.
type EventRecorder interface {
	Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error
}

// Channels builds the comms channel a policy names, with its credentials.
type Channels interface {
	Channel(ctx context.Context, namespace string, c *v1alpha1.CommsChannel) (notify.Channel, error)
}

// Providers builds the publishing provider of a StatusPage, with its credentials.
type Providers interface {
	For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error)
}

// Reconciler reconciles Postmortems, and opens them for resolved Incidents.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, to tell a stale cached sendingSince from a real one.
	APIReader client.Reader
	Recorder  EventRecorder
	Channels  Channels
	Providers Providers
	Clock     clock.PassiveClock
}

// +kubebuilder:rbac:groups=firescope.dev,resources=postmortems,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=firescope.dev,resources=postmortems/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=incidents/status,verbs=patch
// +kubebuilder:rbac:groups=firescope.dev,resources=statuspages;responsepolicies,verbs=get;list;watch

// Reconcile handles the Postmortem named in req, or opens it when it does not exist and the
// Incident of the same name has resolved.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pm := &v1alpha1.Postmortem{}
	if err := r.Get(ctx, req.NamespacedName, pm); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.open(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, err
	}
	if !pm.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if pm.Status.Publication.SendingSince != nil || slices.ContainsFunc(pm.Status.Outbox, func(it v1alpha1.OutboxItem) bool { return it.State == v1alpha1.OutboxSending }) {
		// The cache may still show the intent of a call, or an announcement being sent, that
		// since succeeded; only the API server can say whether an outcome is really unknown.
		if err := r.APIReader.Get(ctx, req.NamespacedName, pm); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	inc, live, err := r.incident(ctx, pm)
	if err != nil {
		return ctrl.Result{}, err
	}
	pol, err := r.policy(ctx, inc)
	if err != nil {
		return ctrl.Result{}, err
	}
	last := pm.DeepCopy()
	now := r.Clock.Now()

	// Keep the incident's record current: a reopen adds to the same post-mortem.
	if live {
		if err := r.observe(ctx, pm, inc); err != nil {
			return ctrl.Result{}, err
		}
		if inc.Status.Postmortem == nil {
			if err := r.link(ctx, inc, pm.Name); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	setConditions(pm, now)
	// Events are named after their reminder, so reporting before the status write that
	// records the reminder can never report it twice.
	due, next := reminders(pm, now, pol.PostmortemRemindEvery())
	for _, rm := range due {
		r.event(ctx, pm, rm.eventKey(), corev1.EventTypeWarning, rm.reason, rm.note)
	}
	res, pubErr := r.publication(ctx, pm, inc, pol, last)
	// Recorded by the last write below, not by publication's intent write, with the outbox
	// items that announce them, claimed for delivery right after that write.
	markSent(pm, due)
	claimed := planOutbox(ctx, pm, inc, pol, due, now)
	if pubErr == nil {
		// Only a reconcile that went through has observed this generation.
		pm.Status.ObservedGeneration = pm.Generation
	}
	if !equality.Semantic.DeepEqual(last.Status, pm.Status) {
		if err := r.Status().Patch(ctx, pm, client.MergeFromWithOptions(last, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.deliverOutbox(ctx, pm, inc, pol, claimed); err != nil {
		return ctrl.Result{}, err
	}
	if !next.IsZero() {
		res.RequeueAfter = sooner(res.RequeueAfter, max(next.Sub(now), time.Second))
	}
	if wait := outbox.Wait(pm.Status.Outbox, r.Clock.Now()); wait > 0 {
		res.RequeueAfter = sooner(res.RequeueAfter, max(wait, time.Second))
	}
	return res, pubErr
}

// sooner is the sooner of two requeues, where zero means none.
func sooner(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// open creates the Postmortem of a resolved Incident, once: not for a drill unless the policy
// asks, and not when one already reviews the incident (one a person created under another
// name counts).
func (r *Reconciler) open(ctx context.Context, key client.ObjectKey) error {
	inc := &v1alpha1.Incident{}
	if err := r.Get(ctx, key, inc); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !resolvedAndRecorded(inc) || !inc.DeletionTimestamp.IsZero() {
		return nil
	}
	pol, err := r.policy(ctx, inc)
	if err != nil || !pol.WantsPostmortem(inc) {
		return err
	}
	if inc.Status.Postmortem != nil {
		return nil // opened once already; deleting it does not bring it back
	}
	existing := &v1alpha1.PostmortemList{}
	if err := r.List(ctx, existing, client.InNamespace(inc.Namespace), client.MatchingFields{incidentField: inc.Name}); err != nil {
		return err
	}
	for _, pm := range existing.Items {
		if reviews(&pm, inc) {
			return r.link(ctx, inc, pm.Name)
		}
	}
	now := r.Clock.Now()
	pm := newPostmortem(inc, pol, now)
	created, err := r.create(ctx, pm, inc)
	if err != nil || !created {
		return err
	}
	if err := r.link(ctx, inc, pm.Name); err != nil {
		return err
	}
	if inc.Status.ResolvedAt != nil {
		openLatency.Observe(now.Sub(inc.Status.ResolvedAt.Time).Seconds())
	}
	note := fmt.Sprintf("Post-mortem %s opened, due at %s; the IC, %s, is proposed as its owner", pm.Name,
		pm.Spec.DueAt.UTC().Format(time.RFC3339), inc.Spec.Roles.Commander)
	r.event(ctx, pm, "PostmortemCreated", corev1.EventTypeNormal, v1alpha1.EventPostmortemCreated, note)
	r.event(ctx, inc, "PostmortemCreated", corev1.EventTypeNormal, v1alpha1.EventPostmortemCreated, note)
	return nil
}

// create creates the post-mortem under the incident's name or, when the post-mortem of an
// earlier incident of the same name holds it, under the name with the incident's uid. It
// reports false, having linked it, when the incident's post-mortem turns out to exist already.
func (r *Reconciler) create(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident) (bool, error) {
	err := r.Create(ctx, pm)
	if !apierrors.IsAlreadyExists(err) {
		return err == nil, err
	}
	taken := &v1alpha1.Postmortem{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pm), taken); err != nil {
		return false, err
	}
	if reviews(taken, inc) {
		return false, r.link(ctx, inc, taken.Name)
	}
	pm.Name = laterName(inc)
	if err := r.Create(ctx, pm); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, r.link(ctx, inc, pm.Name) // named after this incident's uid: its own
		}
		return false, err
	}
	return true, nil
}

// reviews reports whether the post-mortem is the one of this incident, not of an earlier
// incident of the same name. One that has recorded no uid yet counts if it is not older than
// the incident.
func reviews(pm *v1alpha1.Postmortem, inc *v1alpha1.Incident) bool {
	if pm.Spec.IncidentRef.Name != inc.Name {
		return false
	}
	if uid := pm.Status.Incident.UID; uid != "" {
		return uid == inc.UID
	}
	return !pm.CreationTimestamp.Before(&inc.CreationTimestamp)
}

// laterName names the post-mortem of an incident whose name an earlier incident's post-mortem
// holds: the name and the first 8 characters of the incident's uid, within 253 characters.
func laterName(inc *v1alpha1.Incident) string {
	base := inc.Name
	if len(base) > 253-9 {
		base = strings.TrimRight(base[:253-9], "-.")
	}
	uid := string(inc.UID)
	return base + "-" + uid[:min(8, len(uid))]
}

// FieldOwner is the field manager of the post-mortem controller's writes to an Incident's
// status: status.postmortem is the one field of it that the post-mortem controller owns.
const FieldOwner = "firescope-postmortem"

// link records the post-mortem in the Incident's status, so that none is opened again. It is
// a server-side apply of that field alone under the controller's own field owner: the
// incident controller owns the rest of the status, and neither write can undo the other's.
// There is no owner reference: a post-mortem outlives its incident (GitOps tools prune
// resolved incidents).
func (r *Reconciler) link(ctx context.Context, inc *v1alpha1.Incident, name string) error {
	patch := fmt.Appendf(nil, `{"apiVersion":%q,"kind":"Incident","metadata":{"name":%q,"namespace":%q},"status":{"postmortem":{"name":%q}}}`,
		v1alpha1.GroupVersion.String(), inc.Name, inc.Namespace, name)
	return r.Status().Patch(ctx, inc, client.RawPatch(types.ApplyPatchType, patch), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// resolvedAndRecorded reports whether the incident is resolved and its controller has recorded
// the resolution, so that the post-mortem starts from a timeline that ends with it.
func resolvedAndRecorded(inc *v1alpha1.Incident) bool {
	return inc.Spec.State == v1alpha1.StateResolved && inc.Status.Recorded != nil && inc.Status.Recorded.State == v1alpha1.StateResolved && inc.Status.ResolvedAt != nil
}

// incident returns the post-mortem's Incident and whether it is the live object. Once the
// Incident is deleted, or its name belongs to a later incident, it is the one the post-mortem
// recorded (nil when nothing was recorded), so that reminders and publishing go on. A later
// incident of the same name is given its own post-mortem when it resolves.
func (r *Reconciler) incident(ctx context.Context, pm *v1alpha1.Postmortem) (*v1alpha1.Incident, bool, error) {
	inc := &v1alpha1.Incident{}
	err := r.Get(ctx, client.ObjectKey{Namespace: pm.Namespace, Name: pm.Spec.IncidentRef.Name}, inc)
	switch {
	case apierrors.IsNotFound(err):
		return recorded(pm), false, nil
	case err != nil:
		return nil, false, err
	case reviews(pm, inc):
		return inc, true, nil
	}
	if err := r.open(ctx, client.ObjectKeyFromObject(inc)); err != nil {
		return nil, false, err
	}
	return recorded(pm), false, nil
}

// policy returns the incident's ResponsePolicy; nil, meaning the defaults, when it does not
// exist or there is no incident.
func (r *Reconciler) policy(ctx context.Context, inc *v1alpha1.Incident) (*v1alpha1.ResponsePolicy, error) {
	if inc == nil {
		return nil, nil
	}
	pol := &v1alpha1.ResponsePolicy{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inc.Namespace, Name: inc.PolicyName()}, pol); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return pol, nil
}

// observe copies the incident's record and proposed owner into the post-mortem's status.
func (r *Reconciler) observe(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident) error {
	list := &v1alpha1.StatusUpdateList{}
	if err := r.List(ctx, list, client.InNamespace(pm.Namespace)); err != nil {
		return err
	}
	list.Items = slices.DeleteFunc(list.Items, func(su v1alpha1.StatusUpdate) bool {
		// An update that recorded another uid belongs to an earlier incident of the same name.
		return su.Spec.IncidentRef.Name != inc.Name || (su.Status.IncidentUID != "" && su.Status.IncidentUID != inc.UID)
	})
	pm.Status.Incident = record(inc, list.Items)
	pm.Status.ProposedOwner = inc.Spec.Roles.Commander
	return nil
}

// event reports a fact; a refused Event is logged, not retried: the fact stays in status.
func (r *Reconciler) event(ctx context.Context, obj client.Object, key, typ, reason, note string) {
	if err := r.Recorder.Record(ctx, obj, eventrecord.Fact{Key: key, Type: typ, Reason: reason, Note: note}); err != nil {
		log.FromContext(ctx).Error(err, "recording an Event", "reason", reason)
	}
}

// reminderID is the announcement's id, which webhook receivers may deduplicate on.
func reminderID(pm *v1alpha1.Postmortem, key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("%s/%s", pm.UID, hex.EncodeToString(sum[:8]))
}

// SetupWithManager registers the controller, the index of post-mortems by Incident, and the
// watch that opens a post-mortem when an Incident resolves and keeps its record current.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Postmortem{}, incidentField, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Postmortem).Spec.IncidentRef.Name}
	}); err != nil {
		return err
	}
	pmCollector.Use(mgr.GetCache(), r.Clock, mgr.Elected())
	specChanged := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Postmortem{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, retryAsked))).
		Watches(&v1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(r.ofIncident)).
		Watches(&v1alpha1.StatusPage{}, handler.EnqueueRequestsFromMapFunc(r.unpublished), specChanged).
		Watches(&v1alpha1.ResponsePolicy{}, handler.EnqueueRequestsFromMapFunc(r.unpublished), specChanged).
		Named("postmortem").
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

// unpublished maps a StatusPage or ResponsePolicy to the post-mortems of its namespace that
// wait to be published or to have an edit published: the change may be what they wait for.
func (r *Reconciler) unpublished(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.PostmortemList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing post-mortems to wake")
		return nil
	}
	var reqs []reconcile.Request
	for _, pm := range list.Items {
		if pm.Spec.PublishToStatusPage && pm.Status.Publication.PublishedGeneration != pm.Generation {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pm)})
		}
	}
	return reqs
}

// ofIncident maps an Incident to the post-mortems that review it, or, when it is resolved and
// has none, to the one to open.
func (r *Reconciler) ofIncident(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.PostmortemList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{incidentField: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing post-mortems of an incident")
		return nil
	}
	var reqs []reconcile.Request
	for _, pm := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pm)})
	}
	if inc := o.(*v1alpha1.Incident); len(reqs) == 0 && inc.Status.Postmortem == nil && resolvedAndRecorded(inc) {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
	}
	return reqs
}
