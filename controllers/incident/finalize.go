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

package incident

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/paging"
)

// An incident that paged somebody carries a finalizer, so that deleting it (a false alarm
// declared by mistake; a GitOps tool pruning an open incident) first resolves the page: an
// escalation policy would otherwise go on paging people about an incident that is gone. The
// deletion waits for PagerDuty at most resolveGrace; a page that cannot be resolved by then,
// or that PagerDuty refuses, is left to a person, with a Warning Event.

// resolveGrace bounds how long deleting a paged incident waits for PagerDuty.
const resolveGrace = 2 * time.Minute

// holdPage puts the finalizer on an incident with a page to send, before the status write that
// claims it; before and inc move on to the new resourceVersion. A conflict is returned, so
// the reconcile starts again from a fresh read; any other failure (the manager may lack the
// permission after an upgrade) is logged, and the page goes out without the finalizer:
// paging matters more.
func (r *Reconciler) holdPage(ctx context.Context, before, inc *v1alpha1.Incident) error {
	pages := slices.ContainsFunc(inc.Status.Outbox, func(it v1alpha1.OutboxItem) bool { return it.Kind == v1alpha1.OutboxPage })
	if !pages || controllerutil.ContainsFinalizer(inc, v1alpha1.FinalizerResolvePage) {
		return nil
	}
	held := before.DeepCopy()
	controllerutil.AddFinalizer(held, v1alpha1.FinalizerResolvePage)
	if err := r.Patch(ctx, held, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return err
		}
		log.FromContext(ctx).Error(err, "could not put the finalizer that resolves the page on deletion; paging without it")
		return nil
	}
	for _, o := range []*v1alpha1.Incident{before, inc} {
		o.ResourceVersion, o.Finalizers = held.ResourceVersion, held.Finalizers
	}
	return nil
}

// releasePage takes the finalizer off once the page is resolved: deleting a resolved incident
// then waits for nothing. A later page puts it back. Best effort: a failure leaves the
// finalizer, and deleting the incident resolves the page again, which PagerDuty ignores.
func (r *Reconciler) releasePage(ctx context.Context, inc *v1alpha1.Incident, claimed []int) {
	resolved := false
	for _, i := range claimed {
		it := inc.Status.Outbox[i]
		if _, ok := r.delivered.Load(it.ID); ok && it.Kind == v1alpha1.OutboxResolvePage {
			resolved = true
		}
	}
	if !resolved {
		return
	}
	if err := r.removeFinalizer(ctx, inc); err != nil {
		log.FromContext(ctx).Error(err, "could not take off the page finalizer of a resolved page")
	}
}

// removeFinalizer removes the page finalizer only, and only if it is still where it was read:
// other writers of the incident (its status, its post-mortem link) do not make it fail.
func (r *Reconciler) removeFinalizer(ctx context.Context, inc *v1alpha1.Incident) error {
	i := slices.Index(inc.Finalizers, v1alpha1.FinalizerResolvePage)
	if i < 0 {
		return nil
	}
	patch := fmt.Appendf(nil, `[{"op":"test","path":"/metadata/finalizers/%[1]d","value":%[2]q},{"op":"remove","path":"/metadata/finalizers/%[1]d"}]`,
		i, v1alpha1.FinalizerResolvePage)
	return client.IgnoreNotFound(r.Patch(ctx, inc.DeepCopy(), client.RawPatch(types.JSONPatchType, patch)))
}

// finalize resolves the page of an incident being deleted, then lets it go.
func (r *Reconciler) finalize(ctx context.Context, inc *v1alpha1.Incident) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(inc, v1alpha1.FinalizerResolvePage) {
		return ctrl.Result{}, nil
	}
	err := r.resolvePage(ctx, inc)
	f := delivery.Assess(err)
	after, retry := f.After, !f.Terminal
	if left := inc.DeletionTimestamp.Add(resolveGrace).Sub(r.Clock.Now()); err != nil && retry && left > 0 {
		log.FromContext(ctx).Info("Resolving the page of a deleted incident; retrying", "error", err.Error())
		// Within the grace, whatever Retry-After PagerDuty asks for.
		return ctrl.Result{RequeueAfter: min(max(after, 5*time.Second), left)}, nil
	}
	if err != nil {
		notificationsTotal.WithLabelValues("pagerduty", "failed").Inc()
		msg := fmt.Sprintf("The incident was deleted but its page could not be resolved: %v; resolve it in PagerDuty (dedup key %s)", err, dedupKey(inc))
		if rerr := r.Recorder.Record(ctx, inc, eventrecord.Fact{Key: "PageNotResolved", Type: corev1.EventTypeWarning,
			Reason: v1alpha1.EventNotificationFailed, Note: msg}); rerr != nil {
			log.FromContext(ctx).Error(rerr, "could not write an Event", "reason", v1alpha1.EventNotificationFailed)
		}
	} else {
		notificationsTotal.WithLabelValues("pagerduty", "delivered").Inc()
	}
	r.pagers.Delete(inc.UID)
	return ctrl.Result{}, r.removeFinalizer(ctx, inc)
}

// resolvePage sends the resolve of the incident's page. PagerDuty ignores the resolve of a
// page that is resolved already, so a resolved incident is no special case. When the
// ResponsePolicy or its routing key cannot be read any more (a namespace being deleted takes
// them with the incident), the pager that sent the page resolves it, if this process sent it.
func (r *Reconciler) resolvePage(ctx context.Context, inc *v1alpha1.Incident) error {
	pager, err := r.pager(ctx, inc)
	if err != nil {
		sent, ok := r.pagers.Load(inc.UID)
		if !ok {
			return err
		}
		pager = sent.(paging.Pager)
	}
	return r.resolve(ctx, inc, pager)
}

// pager is the pager the incident's ResponsePolicy names now.
func (r *Reconciler) pager(ctx context.Context, inc *v1alpha1.Incident) (paging.Pager, error) {
	p, err := r.policy(ctx, inc)
	if err != nil {
		return nil, &delivery.RetryableError{Err: err}
	}
	if p == nil || p.Spec.Paging == nil {
		return nil, delivery.Terminal("PolicyChanged", fmt.Errorf("the ResponsePolicy %q no longer names paging", inc.PolicyName()))
	}
	pager, err := r.Notifiers.Pager(ctx, inc.Namespace, p.Spec.Paging)
	if err != nil {
		return nil, &delivery.RetryableError{Err: err}
	}
	return pager, nil
}

// resolve resolves the incident's page, which then needs no pager kept for it.
func (r *Reconciler) resolve(ctx context.Context, inc *v1alpha1.Incident, pager paging.Pager) error {
	if err := pager.Resolve(ctx, dedupKey(inc)); err != nil {
		return err
	}
	r.pagers.Delete(inc.UID)
	return nil
}
