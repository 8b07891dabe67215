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

package postmortem

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
)

// settleAfterUnknown is how long after an attempt whose outcome is unknown the controller waits
// before asking the provider about it: longer than the providers' request timeout, so that a
// call still in flight on the provider's side has landed by then and is not made twice.
const settleAfterUnknown = 30 * time.Second

// publication posts the post-mortem on the status page that carried the incident's status
// updates, when spec.publishToStatusPage asks: its text as the provider's draft while it is
// InReview, then published once it is Published.
//
// Exactly once: status.publication.sendingSince is written before the publish call. Finding
// it set means an earlier call's outcome is unknown, so the controller asks the provider
// whether the post-mortem is public and adopts it if so. Drafts replace each other, so they
// need no such care. A Published post-mortem is not edited on the page afterwards.
func (r *Reconciler) publication(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy, last *v1alpha1.Postmortem) (ctrl.Result, error) {
	pub := &pm.Status.Publication
	if !pm.Spec.PublishToStatusPage || pub.PublishedAt != nil || pm.Spec.State == v1alpha1.PostmortemDraft {
		if !pm.Spec.PublishToStatusPage && pub.PublishedAt == nil {
			meta.RemoveStatusCondition(&pm.Status.Conditions, v1alpha1.ConditionPostmortemPublished)
		}
		if pm.Spec.PublishToStatusPage && pub.PublishedAt == nil {
			setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, "Waiting for the post-mortem to go to review (spec.state: InReview)")
		}
		return ctrl.Result{}, nil
	}
	if pub.RejectedGeneration == pm.Generation {
		return ctrl.Result{}, nil // refused; the Rejected condition says why, until the next edit
	}
	if inc == nil {
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, fmt.Sprintf("Incident %q does not exist", pm.Spec.IncidentRef.Name))
		return ctrl.Result{}, nil
	}
	page, waiting, err := r.page(ctx, inc, pol)
	if err != nil || waiting != "" {
		if waiting != "" {
			setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, waiting)
		}
		return ctrl.Result{}, err
	}
	if inc.Spec.Drill && !page.Spec.AllowDrills {
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonDrill, fmt.Sprintf("Incident %s is a drill and StatusPage %s does not allow drills: nothing reaches customers", inc.Name, page.Name))
		return ctrl.Result{}, nil
	}
	if inc.Status.StatusUpdates == nil || inc.Status.StatusUpdates.ProviderRef == "" {
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonNoPublicIncident, "Customers read no status update about this incident, so there is no status page incident to attach the post-mortem to")
		return ctrl.Result{}, nil
	}
	if pub.ProviderRef == "" || (pub.DraftedGeneration == 0 && pub.SendingSince == nil) {
		pub.ProviderRef = inc.Status.StatusUpdates.ProviderRef // then fixed: the draft is there
	}
	if wait := r.notBefore(pm).Sub(r.Clock.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	prov, err := r.Providers.For(ctx, page)
	if err != nil {
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonRetrying, err.Error())
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	pp, ok := prov.(publish.PostmortemPublisher)
	if !ok {
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonUnsupported, fmt.Sprintf("StatusPage %s (provider %s) cannot hold post-mortems", page.Name, page.Spec.Provider))
		return ctrl.Result{}, nil
	}
	if pub.SendingSince != nil {
		f, found, err := pp.Postmortem(ctx, pub.ProviderRef)
		if _, retry := delivery.IsRetryable(err); retry {
			return r.retry(pm, err)
		}
		if err != nil {
			// Asking is harmless, so keep asking, slowly: a fixed credential heals it.
			res, _ := r.retry(pm, err)
			setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonNeedsAttention, "Cannot tell whether the post-mortem was published: "+err.Error()+
				". Asking again later; to publish anyway, check the status page, then clear status.publication.sendingSince.")
			return res, nil
		}
		if found && f.Published() {
			// It became public before the outcome was lost: adopt it.
			return ctrl.Result{}, r.markPublished(ctx, pm, metav1.NewTime(f.PublishedAt))
		}
	}
	if pub.DraftedGeneration != pm.Generation {
		if err := pp.DraftPostmortem(ctx, pub.ProviderRef, body(pm)); err != nil {
			return r.failedOrRetry(ctx, pm, err)
		}
		pub.DraftedGeneration = pm.Generation
	}
	if pm.Spec.State == v1alpha1.PostmortemInReview {
		pub.Attempts, pub.NextAttemptAt = 0, nil
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonDrafted, "The text is on the status page as a draft, for review; it is published when spec.state is Published")
		return ctrl.Result{}, nil
	}
	// Record the intent before the call: a crash after this point is found above.
	now := metav1.NewTime(r.Clock.Now())
	pub.SendingSince = &now
	if err := r.Status().Patch(ctx, pm, client.MergeFromWithOptions(last, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	pm.DeepCopyInto(last)
	if err := pp.PublishPostmortem(ctx, pub.ProviderRef, pm.Spec.NotifySubscribers); err != nil {
		return r.failedOrRetry(ctx, pm, err)
	}
	return ctrl.Result{}, r.markPublished(ctx, pm, metav1.NewTime(r.Clock.Now()))
}

// page finds the StatusPage the policy names, or says what is missing.
func (r *Reconciler) page(ctx context.Context, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy) (*v1alpha1.StatusPage, string, error) {
	if pol == nil || pol.Spec.StatusPageRef == nil {
		return nil, fmt.Sprintf("ResponsePolicy %q names no StatusPage (spec.statusPageRef)", inc.PolicyName()), nil
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

func (r *Reconciler) markPublished(ctx context.Context, pm *v1alpha1.Postmortem, at metav1.Time) error {
	pub := &pm.Status.Publication
	pub.SendingSince, pub.PublishedAt, pub.Attempts, pub.NextAttemptAt = nil, &at, 0, nil
	setPublished(pm, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published on the status page")
	r.event(ctx, pm, "PostmortemPublished", corev1.EventTypeNormal, v1alpha1.EventPostmortemPublished,
		fmt.Sprintf("Post-mortem %s published on the status page", pm.Name))
	return nil
}

// failedOrRetry keeps sendingSince and backs off when the outcome is unknown; a refusal stops
// with Rejected until the post-mortem changes.
func (r *Reconciler) failedOrRetry(ctx context.Context, pm *v1alpha1.Postmortem, err error) (ctrl.Result, error) {
	if _, retry := delivery.IsRetryable(err); retry {
		return r.retry(pm, err)
	}
	pub := &pm.Status.Publication
	pub.SendingSince, pub.Attempts, pub.NextAttemptAt = nil, 0, nil
	pub.RejectedGeneration = pm.Generation
	msg := "Not published: " + err.Error()
	setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonRejected, msg)
	r.event(ctx, pm, fmt.Sprintf("PostmortemPublishFailed/%d", pm.Generation), corev1.EventTypeWarning, v1alpha1.EventPostmortemPublishFailed, msg)
	return ctrl.Result{}, nil
}

func (r *Reconciler) retry(pm *v1alpha1.Postmortem, err error) (ctrl.Result, error) {
	pub := &pm.Status.Publication
	pub.Attempts++
	after, _ := delivery.IsRetryable(err)
	if after <= 0 {
		after = delivery.Backoff(int(min(pub.Attempts, 10)), time.Second, 5*time.Minute)
	}
	next := metav1.NewTime(r.Clock.Now().Add(after))
	pub.NextAttemptAt = &next
	setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonRetrying, "Retrying: "+err.Error())
	return ctrl.Result{RequeueAfter: after}, nil
}

// notBefore is when the status page may be called: not before the backoff of the last failed
// attempt ends, nor, after an attempt whose outcome is unknown, before that attempt has
// settled, whatever wakes the controller meanwhile.
func (r *Reconciler) notBefore(pm *v1alpha1.Postmortem) time.Time {
	var t time.Time
	pub := pm.Status.Publication
	if pub.NextAttemptAt != nil {
		t = pub.NextAttemptAt.Time
	}
	if pub.SendingSince != nil {
		if settled := pub.SendingSince.Add(settleAfterUnknown); settled.After(t) {
			t = settled
		}
	}
	return t
}

func setPublished(pm *v1alpha1.Postmortem, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&pm.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionPostmortemPublished,
		Status: status, Reason: reason, Message: msg, ObservedGeneration: pm.Generation})
}
