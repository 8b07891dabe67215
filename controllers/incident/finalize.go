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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
)

// An incident that paged somebody carries a finalizer, so that deleting it (a false alarm
// declared by mistake; a GitOps tool pruning an open incident) first resolves the page: an
// escalation policy would otherwise go on paging people about an incident that is gone. The
// deletion waits for PagerDuty at most resolveGrace; a page that cannot be resolved by then,
// or that PagerDuty refuses, is left to a person, with a Warning Event.

// resolveGrace bounds how long deleting a paged incident waits for PagerDuty.
const resolveGrace = 2 * time.Minute

// holdPage puts the finalizer on an incident about to be paged for the first time.
func (r *Reconciler) holdPage(ctx context.Context, inc *v1alpha1.Incident) error {
	pages := slices.ContainsFunc(inc.Status.Outbox, func(it v1alpha1.OutboxItem) bool { return it.Kind == v1alpha1.OutboxPage })
	if !pages || controllerutil.ContainsFinalizer(inc, v1alpha1.FinalizerResolvePage) {
		return nil
	}
	before := inc.DeepCopy()
	controllerutil.AddFinalizer(inc, v1alpha1.FinalizerResolvePage)
	return r.Patch(ctx, inc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// finalize resolves the page of an incident being deleted, then lets it go.
func (r *Reconciler) finalize(ctx context.Context, inc *v1alpha1.Incident) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(inc, v1alpha1.FinalizerResolvePage) {
		return ctrl.Result{}, nil
	}
	err := r.resolvePage(ctx, inc)
	after, retry := delivery.IsRetryable(err)
	if err != nil && retry && r.Clock.Now().Before(inc.DeletionTimestamp.Add(resolveGrace)) {
		log.FromContext(ctx).Info("Resolving the page of a deleted incident; retrying", "error", err.Error())
		return ctrl.Result{RequeueAfter: max(after, 5*time.Second)}, nil
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
	before := inc.DeepCopy()
	controllerutil.RemoveFinalizer(inc, v1alpha1.FinalizerResolvePage)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, inc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})))
}

// resolvePage sends the resolve of the incident's page. PagerDuty ignores the resolve of a
// page that is resolved already, so a resolved incident is no special case.
func (r *Reconciler) resolvePage(ctx context.Context, inc *v1alpha1.Incident) error {
	p, err := r.policy(ctx, inc)
	if err != nil {
		return &delivery.RetryableError{Err: err}
	}
	if p == nil || p.Spec.Paging == nil {
		return fmt.Errorf("the ResponsePolicy %q no longer names paging", inc.PolicyName())
	}
	pager, err := r.Notifiers.Pager(ctx, inc.Namespace, p.Spec.Paging)
	if err != nil {
		return &delivery.RetryableError{Err: err}
	}
	return pager.Resolve(ctx, dedupKey(inc))
}
