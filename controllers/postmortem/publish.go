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
	"firescope.dev/firescope/internal/publish/once"
)

// publication posts the post-mortem on the status page that carried the incident's status
// updates, when spec.publishToStatusPage asks: its text as the provider's draft while it is
// InReview, then published once it is Published. An edit after publication is published as an
// edit of the page's post-mortem, without notifying subscribers again, so the page never keeps
// an older text than the object without saying so.
//
// Exactly once follows internal/publish/once, as for StatusUpdates: status.publication
// .sendingSince is written before the first publish call. Finding it set means an earlier
// call's outcome is unknown, so the controller asks the provider whether the post-mortem is
// public with the stored draft's text and adopts it if so. Drafts replace each other, and
// publishing an edit again shows the same text, so they need no such care.
func (r *Reconciler) publication(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy, last *v1alpha1.Postmortem) (ctrl.Result, error) {
	pub := &pm.Status.Publication
	if !pm.Spec.PublishToStatusPage || pm.Spec.State == v1alpha1.PostmortemDraft {
		switch {
		case pub.PublishedAt != nil:
			setPublished(pm, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published on the status page; later edits are not, since spec.publishToStatusPage is false")
		case !pm.Spec.PublishToStatusPage:
			meta.RemoveStatusCondition(&pm.Status.Conditions, v1alpha1.ConditionPostmortemPublished)
		default:
			setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonPublishPending, "Waiting for the post-mortem to go to review (spec.state: InReview)")
		}
		return ctrl.Result{}, nil
	}
	s := pubState(pm)
	defer func() { setPubState(pm, s) }()
	retried := once.HonourRetry(&s)
	if d := once.Decide(s, r.Clock.Now()); d.Action == once.Done || d.Action == once.Held {
		return ctrl.Result{}, nil // Held: refused; the Rejected condition says why, until the next edit
	}
	if inc == nil {
		setNotPublished(pm, v1alpha1.ReasonPublishPending, fmt.Sprintf("Incident %q does not exist", pm.Spec.IncidentRef.Name))
		return ctrl.Result{}, nil
	}
	page, waiting, err := r.page(ctx, inc, pol)
	if err != nil || waiting != "" {
		if waiting != "" {
			setNotPublished(pm, v1alpha1.ReasonPublishPending, waiting)
		}
		return ctrl.Result{}, err
	}
	if inc.Spec.Drill && !page.Spec.AllowDrills {
		setNotPublished(pm, v1alpha1.ReasonDrill, fmt.Sprintf("Incident %s is a drill and StatusPage %s does not allow drills: nothing reaches customers", inc.Name, page.Name))
		return ctrl.Result{}, nil
	}
	if pub.ProviderRef == "" && (inc.Status.StatusUpdates == nil || inc.Status.StatusUpdates.ProviderRef == "") {
		setNotPublished(pm, v1alpha1.ReasonNoPublicIncident, "Customers read no status update about this incident, so there is no status page incident to attach the post-mortem to")
		return ctrl.Result{}, nil
	}
	if pub.ProviderRef == "" || (pub.DraftedGeneration == 0 && s.SendingSince.IsZero()) {
		pub.ProviderRef = inc.Status.StatusUpdates.ProviderRef // then fixed: the draft is there
	}
	if d := once.Decide(s, r.Clock.Now()); d.Action == once.Wait {
		return ctrl.Result{RequeueAfter: d.After}, nil
	}
	prov, err := r.Providers.For(ctx, page)
	if err != nil {
		setNotPublished(pm, v1alpha1.ReasonRetrying, err.Error())
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	pp, ok := prov.(publish.PostmortemPublisher)
	if !ok {
		setNotPublished(pm, v1alpha1.ReasonUnsupported, fmt.Sprintf("StatusPage %s (provider %s) cannot hold post-mortems", page.Name, page.Spec.Provider))
		return ctrl.Result{}, nil
	}
	public := pub.PublishedAt != nil
	if once.Decide(s, r.Clock.Now()).Action == once.Find {
		f, found, err := pp.Postmortem(ctx, pub.ProviderRef)
		switch {
		case err != nil && !retried:
			fail := delivery.Assess(err)
			wait := once.Retry(&s, r.Clock.Now(), fail.After)
			if !fail.Terminal {
				setNotPublished(pm, v1alpha1.ReasonRetrying, "Retrying: "+err.Error())
			} else {
				// Asking is harmless, so keep asking, slowly: a fixed credential heals it.
				setNotPublished(pm, v1alpha1.ReasonNeedsAttention, "Cannot tell whether the post-mortem was published: "+err.Error()+
					". Asking again later; to publish anyway, check the status page, then set a new value of the annotation "+once.RetryAnnotation+".")
			}
			return ctrl.Result{RequeueAfter: wait}, nil
		case err == nil && found && f.Published() && f.Body == f.Draft:
			// It became public, with the text sent, before the outcome was lost: adopt it.
			once.Landed(&s, s.SendingGeneration)
			r.markPublished(ctx, pm, metav1.NewTime(f.PublishedAt))
			if once.Decide(s, r.Clock.Now()).Action == once.Done {
				return ctrl.Result{}, nil
			}
			public = true // edited meanwhile: the edit follows, without notifying again
		default:
			once.Lost(&s)
			public = public || (found && f.Published())
		}
	}
	if pub.DraftedGeneration != pm.Generation {
		if err := pp.DraftPostmortem(ctx, pub.ProviderRef, body(pm)); err != nil {
			return r.failed(ctx, pm, &s, pm.Generation, err), nil
		}
		pub.DraftedGeneration = pm.Generation
	}
	if pm.Spec.State == v1alpha1.PostmortemInReview {
		s.Attempts, s.NextAttemptAt = 0, time.Time{}
		setPublished(pm, metav1.ConditionFalse, v1alpha1.ReasonDrafted, "The text is on the status page as a draft, for review; it is published when spec.state is Published")
		return ctrl.Result{}, nil
	}
	if !public {
		// Record the intent before the first publication, which may notify subscribers: a
		// crash after this point is found above.
		once.Intend(&s, r.Clock.Now())
		setPubState(pm, s)
		if err := r.Status().Patch(ctx, pm, client.MergeFromWithOptions(last, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
		pm.DeepCopyInto(last)
	}
	if err := pp.PublishPostmortem(ctx, pub.ProviderRef, pm.Spec.NotifySubscribers && !public); err != nil {
		return r.failed(ctx, pm, &s, pm.Generation, err), nil
	}
	once.Landed(&s, pm.Generation)
	r.markPublished(ctx, pm, metav1.NewTime(r.Clock.Now()))
	return ctrl.Result{}, nil
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

// markPublished records the publication: publishedAt keeps when it first became public, and
// each published edit is reported once.
func (r *Reconciler) markPublished(ctx context.Context, pm *v1alpha1.Postmortem, at metav1.Time) {
	pub := &pm.Status.Publication
	key, note := "PostmortemPublished", fmt.Sprintf("Post-mortem %s published on the status page", pm.Name)
	if pub.PublishedAt == nil {
		pub.PublishedAt = &at
		setPublished(pm, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published on the status page")
	} else {
		key, note = fmt.Sprintf("PostmortemPublished/%d", pm.Generation), fmt.Sprintf("Post-mortem %s: the edited text is published on the status page", pm.Name)
		setPublished(pm, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published on the status page; the latest edit too")
	}
	r.event(ctx, pm, key, corev1.EventTypeNormal, v1alpha1.EventPostmortemPublished, note)
}

// failed backs off when the outcome is unknown (any intent is kept); a refusal stops with
// Rejected until the post-mortem changes or a person asks for a retry.
func (r *Reconciler) failed(ctx context.Context, pm *v1alpha1.Postmortem, s *once.State, gen int64, err error) ctrl.Result {
	if retryable, wait := once.Failed(s, r.Clock.Now(), gen, err); retryable {
		setNotPublished(pm, v1alpha1.ReasonRetrying, "Retrying: "+err.Error())
		return ctrl.Result{RequeueAfter: wait}
	}
	msg := fmt.Sprintf("Not published: %v. Fix the cause, then edit the post-mortem or set a new value of the annotation %s to send it again.", err, once.RetryAnnotation)
	setNotPublished(pm, v1alpha1.ReasonRejected, msg)
	r.event(ctx, pm, fmt.Sprintf("PostmortemPublishFailed/%d", pm.Generation), corev1.EventTypeWarning, v1alpha1.EventPostmortemPublishFailed, msg)
	return ctrl.Result{}
}

// setNotPublished says why the post-mortem, or its latest edit, is not on the page. A
// published post-mortem stays Published: the page still shows it.
func setNotPublished(pm *v1alpha1.Postmortem, reason, msg string) {
	if pm.Status.Publication.PublishedAt != nil {
		setPublished(pm, metav1.ConditionTrue, v1alpha1.ReasonPublished, "Published on the status page; the latest edit is not: "+msg)
		return
	}
	setPublished(pm, metav1.ConditionFalse, reason, msg)
}

func setPublished(pm *v1alpha1.Postmortem, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&pm.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionPostmortemPublished,
		Status: status, Reason: reason, Message: msg, ObservedGeneration: pm.Generation})
}

// pubState is the publication bookkeeping, as internal/publish/once reads it.
func pubState(pm *v1alpha1.Postmortem) once.State {
	p := pm.Status.Publication
	s := once.State{Generation: pm.Generation, PublishedGeneration: p.PublishedGeneration, SendingGeneration: p.SendingGeneration,
		RejectedGeneration: p.RejectedGeneration, Attempts: p.Attempts, RetryHonoured: p.RetryHonoured}
	if v := pm.Annotations[once.RetryAnnotation]; v != "" {
		s.Retry = v[:min(len(v), 253)]
	}
	if p.PublishedAt != nil && s.PublishedGeneration == 0 {
		s.PublishedGeneration = pm.Generation // published before the generation was recorded
	}
	if p.SendingSince != nil {
		s.SendingSince = p.SendingSince.Time
		if s.SendingGeneration == 0 {
			s.SendingGeneration = pm.Generation
		}
	}
	if p.NextAttemptAt != nil {
		s.NextAttemptAt = p.NextAttemptAt.Time
	}
	return s
}

// setPubState writes s back into the publication bookkeeping.
func setPubState(pm *v1alpha1.Postmortem, s once.State) {
	p := &pm.Status.Publication
	p.PublishedGeneration, p.SendingGeneration, p.RejectedGeneration = s.PublishedGeneration, s.SendingGeneration, s.RejectedGeneration
	p.Attempts, p.RetryHonoured = s.Attempts, s.RetryHonoured
	p.SendingSince, p.NextAttemptAt = timeOrNil(s.SendingSince), timeOrNil(s.NextAttemptAt)
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}
