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
// Exactly once: before the call to the provider, status.sendingSince is stored. Finding it
// set means a previous attempt's outcome is unknown (a crash, a timeout), so the controller
// looks the provider incident up by the Firescope identity stored on it and adopts the update
// if it landed, and sends it only if it did not. If it cannot be known, it stops with
// Published=False, reason NeedsAttention. Deleting a StatusUpdate never touches the page.
package statusupdate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/publish/webhook"
	"firescope.dev/firescope/internal/wording"
)

// incidentField indexes StatusUpdates by the Incident they belong to.
const incidentField = "spec.incidentRef.name"

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
}

// +kubebuilder:rbac:groups=firescope.dev,resources=statusupdates,verbs=get;list;watch
// +kubebuilder:rbac:groups=firescope.dev,resources=statusupdates/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=firescope.dev,resources=statuspages,verbs=get;list;watch

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
		// The cache may still show the intent of an attempt that since succeeded; only the
		// API server can say whether an outcome is really unknown.
		if err := r.APIReader.Get(ctx, req.NamespacedName, su); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	last := &stored{su.DeepCopy()}
	setWordingCondition(su)
	res, err := r.reconcile(ctx, su, last)
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

// reconcile decides what the update waits for, or publishes it.
func (r *Reconciler) reconcile(ctx context.Context, su *v1alpha1.StatusUpdate, last *stored) (ctrl.Result, error) {
	inc := &v1alpha1.Incident{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: su.Namespace, Name: su.Spec.IncidentRef.Name}, inc); err != nil {
		if apierrors.IsNotFound(err) {
			setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, fmt.Sprintf("Waiting for Incident %q, which does not exist yet", su.Spec.IncidentRef.Name))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if published(su) && su.Status.PublishedGeneration == su.Generation {
		return ctrl.Result{}, r.summarize(ctx, inc)
	}
	page, waiting, err := r.page(ctx, inc)
	if err != nil || waiting != "" {
		if waiting != "" {
			setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, waiting)
		}
		return ctrl.Result{}, err
	}
	if inc.Spec.Drill && !page.Spec.AllowDrills {
		setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonDrill, fmt.Sprintf("Incident %s is a drill and StatusPage %s does not allow drills: nothing reaches customers", inc.Name, page.Name))
		return ctrl.Result{}, r.summarize(ctx, inc, su)
	}
	if earlier, err := r.earlierUnpublished(ctx, su); err != nil || earlier != "" {
		if earlier != "" {
			setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, fmt.Sprintf("Waiting for StatusUpdate %s, created before it, to be published first", earlier))
		}
		return ctrl.Result{}, err
	}
	u, err := update(su, inc, page)
	if err != nil {
		setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonRejected, err.Error())
		return ctrl.Result{}, r.failed(ctx, su, inc, err)
	}
	prov, err := r.Providers.For(ctx, page)
	if err != nil {
		setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonRetrying, err.Error())
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	if published(su) {
		return r.edit(ctx, su, prov)
	}
	return r.publish(ctx, su, inc, prov, u, last)
}

// edit sends a changed message of a published update as an edit of that update, not as a new
// one. Editing is idempotent, so a failed edit is simply tried again.
func (r *Reconciler) edit(ctx context.Context, su *v1alpha1.StatusUpdate, prov publish.Provider) (ctrl.Result, error) {
	err := prov.Edit(ctx, su.Status.ProviderRef, su.Status.ProviderUpdateRef, su.Spec.Message)
	if _, retry := delivery.IsRetryable(err); retry {
		after, _ := delivery.IsRetryable(err)
		setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published; sending the edited message: "+err.Error())
		return ctrl.Result{RequeueAfter: max(after, 5*time.Second)}, nil
	}
	if err != nil {
		setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published, but the edited message was not: "+err.Error())
		return ctrl.Result{}, nil
	}
	su.Status.PublishedGeneration = su.Generation
	setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published to the status page; the edited message too")
	return ctrl.Result{}, nil
}

// settleAfterUnknown is how long after an attempt whose outcome is unknown the controller waits
// before asking the provider whether it landed: longer than the providers' 10-second request
// timeout.
const settleAfterUnknown = 15 * time.Second

// publish sends the update, after settling a previous attempt whose outcome is unknown.
func (r *Reconciler) publish(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, prov publish.Provider, u publish.Update, last *stored) (ctrl.Result, error) {
	if su.Status.SendingSince != nil {
		// Ask only once the attempt has settled: a call still in flight on the provider's
		// side would otherwise look lost, and be made twice.
		if wait := su.Status.SendingSince.Add(settleAfterUnknown).Sub(r.Clock.Now()); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		f, ok, err := prov.Find(ctx, u.IncidentKey)
		switch {
		case errors.Is(err, publish.ErrAmbiguous):
			setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonNeedsAttention, "Cannot tell whether this update was published: "+err.Error()+". Check the status page, keep one incident, then clear status.sendingSince.")
			return ctrl.Result{}, nil
		case err != nil:
			return r.retry(su, err)
		case ok && (f.LastUpdateID == u.UpdateID || slices.ContainsFunc(f.Updates, func(x publish.FoundUpdate) bool { return x.Body == u.Body && x.Status == u.Status })):
			// It landed before the outcome was lost: adopt it.
			return ctrl.Result{}, r.markPublished(ctx, su, inc, f.ProviderRef)
		case ok:
			u.ProviderRef = f.ProviderRef
		case u.ProviderRef != "":
			setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonNeedsAttention, fmt.Sprintf("The provider incident %s that earlier updates went to cannot be found, so whether this update was published cannot be known. Check the status page, then clear status.sendingSince.", u.ProviderRef))
			return ctrl.Result{}, nil
		}
	}
	// Record the intent before the call: a crash after this point is found above.
	now := metav1.NewTime(r.Clock.Now())
	su.Status.SendingSince = &now
	if err := r.Status().Patch(ctx, su, client.MergeFromWithOptions(last.su, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	last.su = su.DeepCopy()
	res, err := prov.Publish(ctx, u)
	if err != nil {
		if _, retry := delivery.IsRetryable(err); retry {
			return r.retry(su, err)
		}
		su.Status.SendingSince = nil
		setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonRejected, "Not published: "+err.Error())
		return ctrl.Result{}, r.failed(ctx, su, inc, err)
	}
	su.Status.ProviderUpdateRef = res.UpdateRef
	return ctrl.Result{}, r.markPublished(ctx, su, inc, res.ProviderRef)
}

// retry keeps sendingSince (the outcome is unknown) and comes back after the server's delay or
// a backoff.
func (r *Reconciler) retry(su *v1alpha1.StatusUpdate, err error) (ctrl.Result, error) {
	after, _ := delivery.IsRetryable(err)
	if after <= 0 {
		after = delivery.Backoff(r.retries(su)+1, time.Second, 5*time.Minute)
	}
	setPublished(su, metav1.ConditionFalse, v1alpha1.ReasonRetrying, "Retrying: "+err.Error())
	return ctrl.Result{RequeueAfter: after}, nil
}

// retries estimates how many backoff steps the update has been retrying for, from how long
// its Published condition has said Retrying.
func (r *Reconciler) retries(su *v1alpha1.StatusUpdate) int {
	c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
	if c == nil || c.Reason != v1alpha1.ReasonRetrying {
		return 0
	}
	return int(min(10, r.Clock.Since(c.LastTransitionTime.Time)/(10*time.Second)))
}

func (r *Reconciler) markPublished(ctx context.Context, su *v1alpha1.StatusUpdate, inc *v1alpha1.Incident, providerRef string) error {
	now := metav1.NewTime(r.Clock.Now())
	su.Status.SendingSince = nil
	su.Status.ProviderRef = providerRef
	su.Status.PublishedAt = &now
	su.Status.PublishedGeneration = su.Generation
	setPublished(su, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published to the status page")
	// The Incident's own StatusUpdatePublished Event comes from the incident controller, with
	// the timeline entry, when it sees the count in status.statusUpdates grow.
	msg := fmt.Sprintf("Status update %s published (%s)", su.Name, su.Spec.Status)
	if err := r.Recorder.Record(ctx, su, eventrecord.Fact{Key: "StatusUpdatePublished/" + string(su.UID),
		Type: corev1.EventTypeNormal, Reason: v1alpha1.EventStatusUpdatePublished, Note: msg}); err != nil {
		return err
	}
	return r.summarize(ctx, inc, su)
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

// summarize writes what customers have been told into the Incident's status: the count and
// time of published updates and the provider incident. extra is a just-published update the
// cache may not show yet.
func (r *Reconciler) summarize(ctx context.Context, inc *v1alpha1.Incident, extra ...*v1alpha1.StatusUpdate) error {
	// Counted from the API server: the cache may not show an update published a moment ago.
	list := &v1alpha1.StatusUpdateList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(inc.Namespace)); err != nil {
		return err
	}
	list.Items = slices.DeleteFunc(list.Items, func(su v1alpha1.StatusUpdate) bool { return su.Spec.IncidentRef.Name != inc.Name })
	sum := v1alpha1.StatusUpdatesSummary{}
	seen := map[string]bool{}
	for _, su := range append(extra, ptrs(list.Items)...) {
		if seen[su.Name] {
			continue
		}
		seen[su.Name] = true
		at := su.Status.PublishedAt
		if !published(su) {
			// A drill's update, held from customers, still counts as told, when it was written:
			// the drill trains Comms to write it in time, and must not nag them as if they had not.
			c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
			if !inc.Spec.Drill || c == nil || c.Reason != v1alpha1.ReasonDrill {
				continue
			}
			at = &su.CreationTimestamp
		}
		sum.Published++
		if at != nil && (sum.LastPublishedAt == nil || sum.LastPublishedAt.Before(at)) {
			sum.LastPublishedAt, sum.ProviderRef, sum.LastStatus = at, su.Status.ProviderRef, su.Spec.Status
		}
		if at != nil && (sum.FirstPublishedAt == nil || at.Before(sum.FirstPublishedAt)) {
			sum.FirstPublishedAt = at
		}
	}
	if cur := inc.Status.StatusUpdates; cur != nil && equality.Semantic.DeepEqual(*cur, sum) {
		return nil
	}
	// Only this field of the Incident's status is sent; the incident controller owns the rest.
	patch := client.RawPatch("application/merge-patch+json", mustJSON(map[string]any{"status": map[string]any{"statusUpdates": sum}}))
	return r.Status().Patch(ctx, inc, patch)
}

// earlierUnpublished names a StatusUpdate of the same Incident created before su and not yet
// settled, if there is one: updates publish in creation order.
func (r *Reconciler) earlierUnpublished(ctx context.Context, su *v1alpha1.StatusUpdate) (string, error) {
	list := &v1alpha1.StatusUpdateList{}
	if err := r.List(ctx, list, client.InNamespace(su.Namespace), client.MatchingFields{incidentField: su.Spec.IncidentRef.Name}); err != nil {
		return "", err
	}
	for _, o := range list.Items {
		if o.Name == su.Name || !before(&o, su) || settled(&o) {
			continue
		}
		return o.Name, nil
	}
	return "", nil
}

func before(a, b *v1alpha1.StatusUpdate) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// settled updates no longer hold later ones back: published, refused for good, or drills.
func settled(su *v1alpha1.StatusUpdate) bool {
	c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
	return c != nil && (c.Status == metav1.ConditionTrue || c.Reason == v1alpha1.ReasonRejected || c.Reason == v1alpha1.ReasonDrill)
}

func published(su *v1alpha1.StatusUpdate) bool {
	return meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished)
}

// setWordingCondition records how the message departs from the wording guidelines, so the
// object carries what the admission warnings said.
func setWordingCondition(su *v1alpha1.StatusUpdate) {
	c := metav1.Condition{Type: v1alpha1.ConditionWordingOK, ObservedGeneration: su.Generation,
		Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonFollowsGuidelines, Message: "The message follows the wording guidelines"}
	if findings := wording.Check(string(su.Spec.Status), su.Spec.Message); len(findings) > 0 {
		msgs := make([]string, len(findings))
		for i, f := range findings {
			msgs[i] = f.Rule + ": " + f.Message
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonDepartsFromGuidelines, strings.Join(msgs, "; ")
	}
	meta.SetStatusCondition(&su.Status.Conditions, c)
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
		IncidentKey: fmt.Sprintf("%s/%s/%s", inc.Namespace, inc.Name, inc.UID),
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
	if inc.Status.StatusUpdates != nil {
		u.ProviderRef = inc.Status.StatusUpdates.ProviderRef
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

// SecretProviders reads StatusPage credentials from Secrets by name, uncached.
type SecretProviders struct {
	Secrets client.Reader
	HTTP    *http.Client
}

// Reading Secrets is granted per namespace by binding the ClusterRole
// firescope-credential-reader (config/rbac/credential_reader_role.yaml), not to the manager
// everywhere: see docs/install.md.

// For implements Providers.
func (s *SecretProviders) For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error) {
	key, err := credentials.Read(ctx, s.Secrets, page.Namespace, page.Spec.CredentialsSecretRef)
	if err != nil {
		return nil, fmt.Errorf("StatusPage %s: %w", page.Name, err)
	}
	hc := countRequests(s.HTTP, page)
	switch page.Spec.Provider {
	case v1alpha1.ProviderStatuspage:
		url := page.Spec.URL
		if url == "" {
			url = atlassian.DefaultBaseURL
		}
		return atlassian.New(page.Spec.PageID, key, url, hc), nil
	case v1alpha1.ProviderFirescope:
		return firescope.New(page.Spec.URL, key, hc), nil
	case v1alpha1.ProviderWebhook:
		return webhook.New(page.Spec.URL, []byte(key), hc), nil
	}
	return nil, fmt.Errorf("unknown StatusPage provider %q", page.Spec.Provider)
}

// SetupWithManager registers the controller, the index of updates by Incident, and the watches
// that wake waiting updates: their Incident appearing, and earlier updates settling.
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
	registerCollector(mgr.GetCache(), r.Clock, mgr.Elected())
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.StatusUpdate{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return byIncident(ctx, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool { return false }})).
		Watches(&v1alpha1.StatusUpdate{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			if !settled(o.(*v1alpha1.StatusUpdate)) {
				return nil
			}
			return byIncident(ctx, o.GetNamespace(), o.(*v1alpha1.StatusUpdate).Spec.IncidentRef.Name)
		})).
		Named("statusupdate").
		Complete(r)
}

func ptrs(items []v1alpha1.StatusUpdate) []*v1alpha1.StatusUpdate {
	out := make([]*v1alpha1.StatusUpdate, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
