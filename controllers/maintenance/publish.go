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

package maintenance

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/once"
)

// Each phase reaches the page once, by the rules of internal/publish/once: the intent
// (sendingSince, sendingPhase, sendingGeneration) is stored before the call, since the
// call that announces, starts or completes a maintenance may notify subscribers. Finding it
// set means the outcome is unknown: the page is asked what it holds (FindMaintenance, by the
// Maintenance's identity and the revision the call stored) and what landed is adopted. An
// edit of the title or message within a phase is sent the same way, without notifying.

// publication publishes the maintenance's current phase and text, and says when to come back.
// Edits are sent as the first call is, intent and all: every call may notify subscribers.
func (r *Reconciler) publication(ctx context.Context, m *v1alpha1.Maintenance, last *v1alpha1.Maintenance, now time.Time) (ctrl.Result, error) {
	phase := m.Status.Phase
	s := pubState(m, phase)
	defer func() { setPubState(m, s) }()
	retried := once.HonourRetry(&s)
	d := once.Decide(s, now)
	switch d.Action {
	case once.Done, once.Held:
		return ctrl.Result{}, nil // Held: the Rejected condition says why
	case once.Wait:
		return ctrl.Result{RequeueAfter: d.After}, nil
	}
	page, pub, err := r.publisher(ctx, m)
	if err != nil || pub == nil {
		return ctrl.Result{}, err
	}
	if d.Action == once.Find {
		sendingPhase, sendingGen := unrev(s.SendingGeneration)
		f, found, err := pub.FindMaintenance(ctx, key(m))
		switch {
		case err != nil && !retried:
			wait := once.Retry(&s, now, delivery.Assess(err).After)
			setNotPublished(m, v1alpha1.ReasonNeedsAttention, fmt.Sprintf("Cannot tell whether the status page shows the maintenance as %s: %v. Asking again; to send it anyway, check the status page, then set a new value of the annotation %s.",
				sendingPhase, err, once.RetryAnnotation))
			return ctrl.Result{RequeueAfter: wait}, nil
		case err == nil && found && f.Revision != "" && f.Revision == revision(sendingPhase, sendingGen):
			r.markPublished(ctx, m, &s, page, f.ProviderRef, s.SendingGeneration)
			if once.Decide(s, now).Action == once.Done {
				return ctrl.Result{}, nil
			}
		default:
			// Not there, or not this revision: sending again is safe, onto the maintenance
			// the page already holds if an earlier answer was lost.
			once.Lost(&s)
			if err == nil && found && m.Status.ProviderRef == "" {
				m.Status.ProviderRef = f.ProviderRef
			}
		}
	}
	ids, missing := componentIDs(page, m.Spec.Components)
	if missing != "" {
		setNotPublished(m, v1alpha1.ReasonPublishPending, fmt.Sprintf("StatusPage %s maps no component %q (spec.components): add it there", page.Name, missing))
		return ctrl.Result{}, nil
	}
	shown, _ := unrev(s.PublishedGeneration)
	once.Intend(&s, now)
	setPubState(m, s)
	if err := r.Status().Patch(ctx, m, client.MergeFromWithOptions(last, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	m.DeepCopyInto(last)
	ref, err := pub.PublishMaintenance(ctx, publish.Maintenance{Key: key(m), Revision: revision(phase, m.Generation), Title: m.Spec.Title,
		Status: providerStatus[phase], Body: body(m, phase), ScheduledFor: m.Spec.Window.Start.Time, ScheduledUntil: m.Spec.Window.End.Time,
		ComponentIDs: ids, Notify: m.Spec.Notify && shown != phase, ProviderRef: m.Status.ProviderRef})
	if err != nil {
		return r.failed(ctx, m, &s, phase, now, err), nil
	}
	r.markPublished(ctx, m, &s, page, ref, s.SendingGeneration)
	return ctrl.Result{}, nil
}

// publisher finds the StatusPage and its maintenance publisher, or says in the condition
// what is missing (a nil publisher with no error).
func (r *Reconciler) publisher(ctx context.Context, m *v1alpha1.Maintenance) (*v1alpha1.StatusPage, publish.MaintenancePublisher, error) {
	page := &v1alpha1.StatusPage{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.StatusPageRef.Name}, page); err != nil {
		if apierrors.IsNotFound(err) {
			setNotPublished(m, v1alpha1.ReasonPublishPending, fmt.Sprintf("Waiting for StatusPage %q", m.Spec.StatusPageRef.Name))
			return nil, nil, nil
		}
		return nil, nil, err
	}
	prov, err := r.Providers.For(ctx, page)
	if err != nil {
		// A missing or unbound Secret is fixed by a person; the Secret is not watched.
		setNotPublished(m, v1alpha1.ReasonRetrying, err.Error())
		return nil, nil, &delivery.RetryableError{Err: err}
	}
	pub, ok := prov.(publish.MaintenancePublisher)
	if !ok {
		setNotPublished(m, v1alpha1.ReasonRejected, fmt.Sprintf("StatusPage %s (provider %s) cannot announce maintenances", page.Name, page.Spec.Provider))
		return nil, nil, nil
	}
	return page, pub, nil
}

// componentIDs maps component names to the page's ids, or names the first it does not map.
func componentIDs(page *v1alpha1.StatusPage, names []string) (ids []string, missing string) {
	byName := map[string]string{}
	for _, c := range page.Spec.Components {
		byName[c.Name] = c.ID
	}
	for _, n := range names {
		id, ok := byName[n]
		if !ok {
			return nil, n
		}
		ids = append(ids, id)
	}
	return ids, ""
}

// key is the Maintenance's identity at the provider: a Maintenance created again under the
// same name is another maintenance.
func key(m *v1alpha1.Maintenance) string { return m.Namespace + "/" + m.Name + "/" + string(m.UID) }

// markPublished records that the page shows the revision sent (a rev), reporting each
// phase once. A refusal of an earlier revision is history then.
func (r *Reconciler) markPublished(ctx context.Context, m *v1alpha1.Maintenance, s *once.State, page *v1alpha1.StatusPage, ref string, sent int64) {
	phase, _ := unrev(sent)
	shown, _ := unrev(s.PublishedGeneration)
	once.Landed(s, sent)
	s.RejectedGeneration = 0
	if ref != "" {
		m.Status.ProviderRef = ref
	}
	setPublished(m, metav1.ConditionTrue, v1alpha1.ReasonPublished, fmt.Sprintf("StatusPage %s shows the maintenance as %s", page.Name, phase))
	if shown != phase {
		r.event(ctx, m, "MaintenancePublished/"+string(phase), corev1.EventTypeNormal, v1alpha1.EventMaintenancePublished,
			fmt.Sprintf("StatusPage %s shows maintenance %s as %s", page.Name, m.Name, phase))
	}
}

// failed backs off when the outcome may pass; a refusal stops with Rejected until the
// maintenance changes, its phase moves on, or a person asks for a retry.
func (r *Reconciler) failed(ctx context.Context, m *v1alpha1.Maintenance, s *once.State, phase v1alpha1.MaintenancePhase, now time.Time, err error) ctrl.Result {
	if retry, wait := once.Failed(s, now, s.Generation, err); retry {
		setNotPublished(m, v1alpha1.ReasonRetrying, "Retrying: "+err.Error())
		return ctrl.Result{RequeueAfter: wait}
	}
	msg := fmt.Sprintf("Not published as %s: %v. Fix the cause, then edit the maintenance or set a new value of the annotation %s to send it again.", phase, err, once.RetryAnnotation)
	setNotPublished(m, v1alpha1.ReasonRejected, msg)
	r.event(ctx, m, "MaintenancePublishFailed/"+revision(phase, m.Generation), corev1.EventTypeWarning, v1alpha1.EventMaintenancePublishFailed, msg)
	return ctrl.Result{}
}
