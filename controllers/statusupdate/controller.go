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

// Package statusupdate holds the StatusUpdate controller: it publishes each update to the
// StatusPage its Incident's ResponsePolicy names, exactly once and in creation order.
//
// Exactly once follows internal/publish/once: status.sendingSince is stored before the call
// to the provider. Finding it set means a previous attempt's outcome is unknown (a crash, a
// timeout), so the controller looks the provider incident up by the Firescope identity stored
// on it and adopts the update only if the page names this update's own uid as the last one
// applied, and sends it only if it did not land. If it cannot be known, it stops with
// Published=False, reason NeedsAttention, asks again every few minutes, and at once when the
// firescope.dev/retry annotation gets a new value. Deleting a StatusUpdate never touches the
// page.
//
// An update belongs to the Incident it first saw, by uid (status.incidentUID, and an owner
// reference so that deleting the Incident deletes its updates): an Incident created later
// under the same name never gets it, and a published update is never shown as unpublished.
package statusupdate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/once"
	"firescope.dev/firescope/internal/wording"
)

// incidentField indexes StatusUpdates by the Incident they belong to.
const incidentField = "spec.incidentRef.name"

// Workers is how many StatusUpdates are reconciled at once. Updates of one Incident still
// publish one at a time and in order: each waits for the earlier ones to settle, and the
// sends of one Incident are serialised (sendOrder).
const Workers = 4

// EventRecorder reports a fact about an object as an Event, once per fact key.
type EventRecorder interface {
	Record(ctx context.Context, obj client.Object, f eventrecord.Fact) error
}

// Providers builds the publishing provider of a StatusPage, with its credentials.
type Providers interface {
	For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error)
}

// Reconciler reconciles StatusUpdates.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, to tell a stale cached sendingSince from a real one.
	APIReader client.Reader
	Recorder  EventRecorder
	Providers Providers
	Clock     clock.PassiveClock

	order sendOrder
}

// +kubebuilder:rbac:groups=firescope.dev,resources=statusupdates,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=statusupdates/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=statuspages,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=responsepolicies,verbs=get;list;watch

// Reconcile publishes one StatusUpdate when its turn has come.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	su := &v1alpha1.StatusUpdate{}
	if err := r.Get(ctx, req.NamespacedName, su); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !su.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if su.Status.SendingSince != nil {
		// The cache may still show the intent of an attempt that since succeeded; only the API
		// server can say whether an outcome is really unknown.
		if err := r.APIReader.Get(ctx, req.NamespacedName, su); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	inc, err := r.incident(ctx, su)
	if err != nil {
		return ctrl.Result{}, err
	}
	last := &stored{su.DeepCopy()}
	setWordingCondition(su)
	res, err := r.reconcile(ctx, su, inc, last)
	su.Status.ObservedGeneration = su.Generation
	if !equality.Semantic.DeepEqual(last.su.Status, su.Status) {
		if perr := r.Status().Patch(ctx, su, client.MergeFromWithOptions(last.su, client.MergeFromWithOptimisticLock{})); perr != nil {
			return ctrl.Result{}, perr
		}
	}
	return res, err
}

// stored is the StatusUpdate as last written, the base of the next status patch.
type stored struct{ su *v1alpha1.StatusUpdate }

// incident returns the update's Incident, nil while it does not exist. The first time the
// update meets its Incident it records the uid (written with the status) and puts an owner
// reference on the update, so that deleting the Incident deletes its updates.
func (r *Reconciler) incident(ctx context.Context, su *v1alpha1.StatusUpdate) (*v1alpha1.Incident, error) {
	inc := &v1alpha1.Incident{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: su.Namespace, Name: su.Spec.IncidentRef.Name}, inc); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if !belongs(su, inc) || !inc.DeletionTimestamp.IsZero() || slices.ContainsFunc(su.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == inc.UID }) {
		return inc, nil
	}
	withOwner := su.DeepCopy()
	if err := controllerutil.SetOwnerReference(inc, withOwner, r.Scheme()); err != nil {
		return nil, err
	}
	if err := r.Patch(ctx, withOwner, client.MergeFromWithOptions(su, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, err
	}
	withOwner.Status = su.Status // the answer's status may be older than the API reader's
	*su = *withOwner
	return inc, nil
}

// belongs reports whether the update is the Incident's: it recorded that Incident's uid, or
// it recorded none and was not published before the Incident was created (then it was
// published for an earlier Incident of the same name).
func belongs(su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident) bool {
	if uid := su.Status.IncidentUID; uid != "" {
		return uid == inc.UID
	}
	return su.Status.PublishedAt == nil || !su.Status.PublishedAt.Before(&inc.CreationTimestamp)
}

// reconcile decides what the update waits for, or publishes it.
func (r *Reconciler) reconcile(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, last *stored) (ctrl.Result, error) {
	if inc == nil {
		setNotPublished(su, v1alpha1.ReasonPublishPending, fmt.Sprintf("Waiting for Incident %q, which does not exist yet", su.Spec.IncidentRef.Name))
		return ctrl.Result{}, nil
	}
	if !belongs(su, inc) {
		setNotPublished(su, v1alpha1.ReasonRejected, fmt.Sprintf("This update belongs to an earlier Incident named %s, deleted since: it is never published for the Incident of that name created at %s. Create a new StatusUpdate for it.",
			inc.Name, inc.CreationTimestamp.UTC().Format(time.RFC3339)))
		return ctrl.Result{}, nil
	}
	su.Status.IncidentUID = inc.UID
	s := state(su)
	defer func() { setState(su, s) }()
	if once.Decide(s, r.Clock.Now()).Action == once.Done {
		return ctrl.Result{}, nil
	}
	page, waiting, err := r.page(ctx, inc)
	if err != nil || waiting != "" {
		if waiting != "" {
			setNotPublished(su, v1alpha1.ReasonPublishPending, waiting)
		}
		return ctrl.Result{}, err
	}
	if inc.Spec.Drill && !page.Spec.AllowDrills {
		setNotPublished(su, v1alpha1.ReasonDrill, fmt.Sprintf("Incident %s is a drill and StatusPage %s does not allow drills: nothing reaches customers", inc.Name, page.Name))
		return ctrl.Result{}, nil
	}
	// The rest reads the other updates and may call the page: one update of an Incident at a
	// time, so that what one worker sends the next one sees.
	unlock := r.order.lock(inc.UID)
	defer unlock()
	c, err := r.chain(ctx, su, inc)
	if err != nil || c.earlier != "" {
		if c.earlier != "" {
			setNotPublished(su, v1alpha1.ReasonPublishPending, fmt.Sprintf("Waiting for StatusUpdate %s, created before it, to be published first", c.earlier))
		}
		return ctrl.Result{}, err
	}
	u, err := update(su, inc, page)
	if err != nil {
		// Checked again whenever the StatusPage changes: mapping the component publishes it.
		setNotPublished(su, v1alpha1.ReasonRejected, err.Error())
		return ctrl.Result{}, r.failed(ctx, su, inc, err)
	}
	if u.ProviderRef = cmp.Or(c.providerRef, r.order.providerRef(inc.UID)); u.ProviderRef == "" {
		if u.ProviderRef, err = r.recordedProviderRef(ctx, inc); err != nil {
			return ctrl.Result{}, err
		}
	}
	retried := once.HonourRetry(&s)
	if later := r.order.after(inc.UID, su, c.later, c.order.before); later != "" && s.PublishedGeneration == 0 && s.SendingSince.IsZero() {
		setNotPublished(su, v1alpha1.ReasonRejected, fmt.Sprintf("StatusUpdate %s, created after this one, is already on the status page: publishing this one now would show customers an older update as the latest. Create a new StatusUpdate instead.", later))
		return ctrl.Result{}, nil
	}
	return r.send(ctx, su, inc, page, u, &s, c.order, retried, last)
}

// send takes the update through the publication state machine (internal/publish/once): settle
// an unknown outcome, publish, or send an edit.
func (r *Reconciler) send(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, page *v1alpha1.StatusPage, u publish.Update, s *once.State, order ordering, retried bool, last *stored) (ctrl.Result, error) {
	var prov publish.Provider
	for {
		d := once.Decide(*s, r.Clock.Now())
		switch d.Action {
		case once.Done:
			return ctrl.Result{}, nil
		case once.Held:
			return ctrl.Result{}, nil // the condition says why, until the update changes or a retry
		case once.Wait:
			return ctrl.Result{RequeueAfter: d.After}, nil
		}
		if prov == nil {
			p, err := r.Providers.For(ctx, page)
			if err != nil {
				setNotPublished(su, v1alpha1.ReasonRetrying, err.Error())
				return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
			}
			prov = p
		}
		switch d.Action {
		case once.Find:
			if res, stop, err := r.find(ctx, su, prov, &u, s, retried); stop || err != nil {
				return res, err
			}
		case once.Send:
			return r.publish(ctx, su, inc, prov, u, s, order, last)
		case once.Edit:
			return r.edit(ctx, su, prov, s)
		}
	}
}

// find settles an unknown outcome by asking the provider what landed. It adopts the update
// only by its own uid, recorded by the call that published it, and as the generation that
// call sent. stop is false when the next step may follow at once.
func (r *Reconciler) find(ctx context.Context, su *v1alpha1.StatusUpdate, prov publish.Provider, u *publish.Update, s *once.State, retried bool) (ctrl.Result, bool, error) {
	now := r.Clock.Now()
	f, ok, err := prov.Find(ctx, u.IncidentKey)
	switch {
	case errors.Is(err, publish.ErrAmbiguous):
		wait := once.Unknowable(s, now)
		setNotPublished(su, v1alpha1.ReasonNeedsAttention, "Cannot tell whether this update was published: "+err.Error()+
			". Check the status page and keep one incident; the controller asks again every "+once.Recheck.String()+", or at once when the annotation "+once.RetryAnnotation+" gets a new value.")
		return ctrl.Result{RequeueAfter: wait}, true, nil
	case err != nil:
		// Asking is safe to repeat, so every failure to ask is asked again after a backoff.
		wait := once.Retry(s, now, delivery.Assess(err).After)
		setNotPublished(su, v1alpha1.ReasonRetrying, "Retrying: asking the status page whether the last attempt landed: "+err.Error())
		return ctrl.Result{RequeueAfter: wait}, true, nil
	case ok && f.LastUpdateID == u.UpdateID:
		// It landed before the outcome was lost: adopt it.
		if n := len(f.Updates); n > 0 {
			su.Status.ProviderUpdateRef = f.Updates[n-1].Ref
		}
		once.Landed(s, s.SendingGeneration)
		return ctrl.Result{}, false, r.markPublished(ctx, su, f.ProviderRef)
	case ok:
		u.ProviderRef = f.ProviderRef
	case u.ProviderRef != "" && !retried:
		wait := once.Unknowable(s, now)
		setNotPublished(su, v1alpha1.ReasonNeedsAttention, fmt.Sprintf("The provider incident %s that earlier updates went to cannot be found, so whether this update was published cannot be known. "+
			"Check the status page; to publish this update as a new incident there, set a new value of the annotation %s.", u.ProviderRef, once.RetryAnnotation))
		return ctrl.Result{RequeueAfter: wait}, true, nil
	default:
		u.ProviderRef = "" // a person checked: the update starts a new incident on the page
	}
	once.Lost(s)
	return ctrl.Result{}, false, nil
}

// publish records the intent, then sends the update.
func (r *Reconciler) publish(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, prov publish.Provider, u publish.Update, s *once.State, order ordering, last *stored) (ctrl.Result, error) {
	// Record the intent before the call: a crash after this point is found by find.
	once.Intend(s, r.Clock.Now())
	setState(su, *s)
	if err := r.Status().Patch(ctx, su, client.MergeFromWithOptions(last.su, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	last.su = su.DeepCopy()
	r.order.sent(inc.UID, su, order.before)
	res, err := prov.Publish(ctx, u)
	if err != nil {
		retryable, wait := once.Failed(s, r.Clock.Now(), s.SendingGeneration, err)
		if retryable {
			setNotPublished(su, v1alpha1.ReasonRetrying, "Retrying: "+err.Error())
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		setNotPublished(su, v1alpha1.ReasonRejected, fmt.Sprintf("Not published: %v. Fix the cause, then edit the update or set a new value of the annotation %s to send it again.", err, once.RetryAnnotation))
		return ctrl.Result{}, r.failed(ctx, su, inc, err)
	}
	su.Status.ProviderUpdateRef = res.UpdateRef
	once.Landed(s, s.SendingGeneration)
	if err := r.markPublished(ctx, su, res.ProviderRef); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// edit sends a changed message of a published update as an edit of that update, not as a new
// one. Editing is idempotent, so a failed edit is simply tried again, after a backoff.
func (r *Reconciler) edit(ctx context.Context, su *v1alpha1.StatusUpdate, prov publish.Provider, s *once.State) (ctrl.Result, error) {
	err := prov.Edit(ctx, su.Status.ProviderRef, su.Status.ProviderUpdateRef, su.Spec.Message)
	if err != nil {
		if retryable, wait := once.Failed(s, r.Clock.Now(), s.Generation, err); retryable {
			setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published; sending the edited message: "+err.Error())
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, fmt.Sprintf("Published, but the edited message was refused: %v. Edit it again, or set a new value of the annotation %s to send it again.", err, once.RetryAnnotation))
		return ctrl.Result{}, nil
	}
	once.Landed(s, s.Generation)
	setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published to the status page; the edited message too")
	return ctrl.Result{}, nil
}

func (r *Reconciler) markPublished(ctx context.Context, su *v1alpha1.StatusUpdate, providerRef string) error {
	now := metav1.NewTime(r.Clock.Now())
	su.Status.ProviderRef = providerRef
	su.Status.PublishedAt = &now
	r.order.published(su.Status.IncidentUID, providerRef)
	setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published to the status page")
	// The Incident's own StatusUpdatePublished Event comes from the incident controller, with
	// the timeline entry, when it counts this update in status.statusUpdates.
	msg := fmt.Sprintf("Status update %s published (%s)", su.Name, su.Spec.Status)
	return r.Recorder.Record(ctx, su, eventrecord.Fact{Key: "StatusUpdatePublished/" + string(su.UID),
		Type: corev1.EventTypeNormal, Reason: v1alpha1.EventStatusUpdatePublished, Note: msg})
}

func (r *Reconciler) failed(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, cause error) error {
	msg := fmt.Sprintf("Status update %s was not published: %v", su.Name, cause)
	for _, obj := range []client.Object{su, inc} {
		if err := r.Recorder.Record(ctx, obj, eventrecord.Fact{Key: fmt.Sprintf("StatusUpdateFailed/%s/%d", su.UID, su.Generation),
			Type: corev1.EventTypeWarning, Reason: v1alpha1.EventStatusUpdateFailed, Note: msg}); err != nil {
			return err
		}
	}
	return nil
}

// chain is what the other updates of the same Incident say about this one's turn.
type chain struct {
	// earlier names an update created before this one and not settled: this one waits.
	earlier string
	// providerRef is the provider incident the latest earlier published update went to,
	// carried along the chain from update to update: an update's own status says it in the
	// same write that says it is published, so a cache that shows it published shows it.
	providerRef string
	// later names an update created after this one that is published or being sent.
	later string
	// order is the order of the Incident's updates.
	order ordering
}

// chain reads the Incident's other updates from the cache.
func (r *Reconciler) chain(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident) (chain, error) {
	list := &v1alpha1.StatusUpdateList{}
	if err := r.List(ctx, list, client.InNamespace(su.Namespace), client.MatchingFields{incidentField: su.Spec.IncidentRef.Name}); err != nil {
		return chain{}, err
	}
	c := chain{order: newOrdering(list.Items)}
	before := c.order.before
	var latest *v1alpha1.StatusUpdate
	for i := range list.Items {
		o := &list.Items[i]
		if o.Name == su.Name || !belongs(o, inc) {
			continue
		}
		switch {
		case !before(o, su):
			if published(o) || o.Status.SendingSince != nil {
				c.later = o.Name
			}
		case !settled(o):
			c.earlier = o.Name
		case o.Status.ProviderRef != "" && (latest == nil || before(latest, o)):
			latest, c.providerRef = o, o.Status.ProviderRef
		}
	}
	return c, nil
}

// recordedProviderRef is the provider incident the Incident's status records, read from the
// API server: for an update whose earlier updates are gone, so that it does not open a second
// incident on the page.
func (r *Reconciler) recordedProviderRef(ctx context.Context, inc *v1alpha1.Incident) (string, error) {
	live := &v1alpha1.Incident{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(inc), live); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if live.UID != inc.UID || live.Status.StatusUpdates == nil {
		return "", nil
	}
	return live.Status.StatusUpdates.ProviderRef, nil
}

// ordering orders the updates of one Incident by when they were created. Within one second of
// creationTimestamp, updates go by the webhook's stamp when every update of that second has
// one, and by name when one lacks it (the webhook was down): a whole second in name order
// keeps the order total, so no two updates ever wait for each other.
type ordering struct {
	// unstamped holds the seconds in which an update has no stamp to believe.
	unstamped map[int64]bool
}

func newOrdering(updates []v1alpha1.StatusUpdate) ordering {
	o := ordering{unstamped: map[int64]bool{}}
	for i := range updates {
		if _, ok := stamp(&updates[i]); !ok {
			o.unstamped[updates[i].CreationTimestamp.Unix()] = true
		}
	}
	return o
}

// before reports whether a was created before b.
func (o ordering) before(a, b *v1alpha1.StatusUpdate) bool {
	sa, sb := a.CreationTimestamp.Unix(), b.CreationTimestamp.Unix()
	if sa != sb {
		return sa < sb
	}
	if !o.unstamped[sa] {
		ta, _ := stamp(a)
		tb, _ := stamp(b)
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
	}
	return a.Name < b.Name
}

// stamp is when the admission webhook saw the update created, to the nanosecond. It is taken
// just before the API server sets creationTimestamp, so one far from it was not the
// webhook's and is not believed.
func stamp(su *v1alpha1.StatusUpdate) (time.Time, bool) {
	created := su.CreationTimestamp.Time
	t, err := time.Parse(time.RFC3339Nano, su.Annotations[v1alpha1.AnnotationCreatedAt])
	return t, err == nil && !t.Before(created.Add(-5*time.Second)) && t.Before(created.Add(time.Second))
}

// settled updates no longer hold later ones back: published, refused for good, or drills.
func settled(su *v1alpha1.StatusUpdate) bool {
	c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
	return c != nil && (c.Status == metav1.ConditionTrue || c.Reason == v1alpha1.ReasonRejected || c.Reason == v1alpha1.ReasonDrill)
}

// unsettled updates are those a change of their StatusPage, policy or Incident may move on:
// not yet published, or published with an edit not yet on the page.
func unsettled(su *v1alpha1.StatusUpdate) bool {
	return !published(su) || su.Status.PublishedGeneration != su.Generation
}

func published(su *v1alpha1.StatusUpdate) bool {
	return meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished)
}

// setWordingCondition records how the message departs from the wording guidelines, so the
// object carries what the admission warnings said.
func setWordingCondition(su *v1alpha1.StatusUpdate) {
	c := metav1.Condition{Type: v1alpha1.ConditionWordingOK, ObservedGeneration: su.Generation,
		Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonFollowsGuidelines, Message: "The message follows the wording guidelines"}
	if findings := wording.Check(string(su.Spec.Status), su.Spec.Message, su.Spec.ComponentNames()...); len(findings) > 0 {
		msgs := make([]string, len(findings))
		for i, f := range findings {
			msgs[i] = f.Rule + ": " + f.Message
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonDepartsFromGuidelines, strings.Join(msgs, "; ")
	}
	meta.SetStatusCondition(&su.Status.Conditions, c)
}

// setNotPublished says why the update, or its latest edit, is not on the page. A published
// update stays Published: what customers read does not change because an edit waits.
func setNotPublished(su *v1alpha1.StatusUpdate, reason, msg string) {
	if published(su) {
		setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published; the edited message is not: "+msg)
		return
	}
	setPublished(su, metav1.ConditionFalse, reason, msg)
}

func setPublished(su *v1alpha1.StatusUpdate, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&su.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionPublished,
		Status: status, Reason: reason, Message: msg, ObservedGeneration: su.Generation})
}

// page finds the StatusPage the Incident's ResponsePolicy names, or says what is missing.
func (r *Reconciler) page(ctx context.Context, inc *v1alpha1.Incident) (*v1alpha1.StatusPage, string, error) {
	name := inc.PolicyName()
	pol := &v1alpha1.ResponsePolicy{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inc.Namespace, Name: name}, pol); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("Waiting for ResponsePolicy %q, which names the StatusPage to publish to", name), nil
		}
		return nil, "", err
	}
	if pol.Spec.StatusPageRef == nil {
		return nil, fmt.Sprintf("ResponsePolicy %q names no StatusPage (spec.statusPageRef)", name), nil
	}
	page := &v1alpha1.StatusPage{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inc.Namespace, Name: pol.Spec.StatusPageRef.Name}, page); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("Waiting for StatusPage %q", pol.Spec.StatusPageRef.Name), nil
		}
		return nil, "", err
	}
	return page, "", nil
}

// update builds the provider update; an unmapped component is an error a person must fix.
func update(su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, page *v1alpha1.StatusPage) (publish.Update, error) {
	u := publish.Update{
		IncidentKey: publish.IncidentKey(inc.Namespace, inc.Name, string(inc.UID)),
		UpdateID:    string(su.UID),
		Title:       inc.Spec.Title,
		Status:      string(su.Spec.Status),
		Body:        su.Spec.Message,
		Notify:      true,
	}
	if inc.Spec.State == v1alpha1.StateMajor {
		// Otherwise the provider derives the impact from the components.
		u.Impact = "major"
	}
	for _, c := range su.Spec.Components {
		i := slices.IndexFunc(page.Spec.Components, func(m v1alpha1.ComponentMapping) bool { return m.Name == c.Name })
		if i < 0 {
			return u, fmt.Errorf("component %q is not mapped in StatusPage %s: add it to spec.components", c.Name, page.Name)
		}
		u.Components = append(u.Components, publish.Component{ProviderID: page.Spec.Components[i].ID, Status: string(c.Status)})
	}
	return u, nil
}

// SetupWithManager registers the controller, the index of updates by Incident, and the watches
// that wake waiting updates: their Incident appearing, earlier updates settling, and the
// StatusPage and ResponsePolicy they wait for being created or changed. Credential Secrets
// are not watched: the manager may only get them by name (config/rbac), so an update waiting
// for one retries every 30 seconds.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.StatusUpdate{}, incidentField, func(o client.Object) []string {
		return []string{o.(*v1alpha1.StatusUpdate).Spec.IncidentRef.Name}
	}); err != nil {
		return err
	}
	// byIncident wakes the updates of an Incident that still wait; settled ones have nothing
	// to do, and waking them all on every publication would cost work per update squared.
	byIncident := func(ctx context.Context, ns, name string) []reconcile.Request {
		list := &v1alpha1.StatusUpdateList{}
		if err := r.List(ctx, list, client.InNamespace(ns), client.MatchingFields{incidentField: name}); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, su := range list.Items {
			if !settled(&su) {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&su)})
			}
		}
		return reqs
	}
	suCollector.Use(mgr.GetCache(), r.Clock, mgr.Elected())
	// inNamespace wakes every update of the namespace that a change of its StatusPage or
	// ResponsePolicy may move on, refused ones included: mapping a component publishes them.
	inNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		list := &v1alpha1.StatusUpdateList{}
		if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, su := range list.Items {
			if unsettled(&su) {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&su)})
			}
		}
		return reqs
	})
	specChanged := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.StatusUpdate{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, retryAsked))).
		Watches(&v1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return byIncident(ctx, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool { return false }})).
		Watches(&v1alpha1.StatusUpdate{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			if !settled(o.(*v1alpha1.StatusUpdate)) {
				return nil
			}
			return byIncident(ctx, o.GetNamespace(), o.(*v1alpha1.StatusUpdate).Spec.IncidentRef.Name)
		})).
		Watches(&v1alpha1.StatusPage{}, inNamespace, specChanged).
		Watches(&v1alpha1.ResponsePolicy{}, inNamespace, specChanged).
		WithOptions(controller.Options{MaxConcurrentReconciles: Workers}).
		Named("statusupdate").
		Complete(r)
}

// retryAsked passes a new value of the retry annotation, which changes no generation.
var retryAsked = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	DeleteFunc: func(event.DeleteEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[once.RetryAnnotation] != e.ObjectNew.GetAnnotations()[once.RetryAnnotation]
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}
