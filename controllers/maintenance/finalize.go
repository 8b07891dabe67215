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
	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"firescope.dev/firescope/api/v1alpha1"
)

// completeGrace bounds how long deleting a Maintenance waits for the status page to take it
// off: a page that is down for longer must not hold the deletion forever.
const completeGrace = 10 * time.Minute

// finalize completes a deleted Maintenance on the page (as cancelled when it had not
// started), by the same exactly-once publication as a phase change, then lets it go. One the
// page never showed goes at once; a refusal, or a page still failing completeGrace after the
// deletion, lets it go with a MaintenancePublishFailed Warning saying to check the page.
func (r *Reconciler) finalize(ctx context.Context, m *v1alpha1.Maintenance, now time.Time) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(m, v1alpha1.FinalizerCompleteMaintenance) {
		return ctrl.Result{}, nil
	}
	last := m.DeepCopy()
	shown := func() bool {
		st := m.Status
		return st.SendingSince != nil || st.PublishedPhase != "" && st.PublishedPhase != v1alpha1.MaintenanceCompleted
	}
	if shown() {
		m.Status.Phase = v1alpha1.MaintenanceCompleted
		res, err := r.publication(ctx, m, last, now)
		refused := m.Status.Rejected == revision(v1alpha1.MaintenanceCompleted, m.Generation)
		if shown() && !refused && now.Sub(m.DeletionTimestamp.Time) < completeGrace {
			if !equality.Semantic.DeepEqual(last.Status, m.Status) {
				if perr := r.Status().Patch(ctx, m, client.MergeFromWithOptions(last, client.MergeFromWithOptimisticLock{})); perr != nil {
					return ctrl.Result{}, perr
				}
			}
			if res.RequeueAfter == 0 && err == nil {
				// Waiting for something a watch does not bring (a Secret): ask again.
				res.RequeueAfter = time.Minute
			}
			return res, err
		}
		if shown() {
			r.event(ctx, m, "MaintenanceNotCompleted", corev1.EventTypeWarning, v1alpha1.EventMaintenancePublishFailed,
				fmt.Sprintf("Deleted, but the status page may still show the maintenance as %s: check StatusPage %s and complete it there by hand", last.Status.PublishedPhase, m.Spec.StatusPageRef.Name))
		}
	}
	before := m.DeepCopy()
	controllerutil.RemoveFinalizer(m, v1alpha1.FinalizerCompleteMaintenance)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, m, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})))
}
