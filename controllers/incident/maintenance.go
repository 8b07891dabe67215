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
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
)

// +kubebuilder:rbac:groups=firescope.dev,resources=maintenances,verbs=get;list;watch

// maintenancesOf lists the Maintenances of the incident's namespace, from the cache, when
// suppressPaging could use them: the incident names components and its policy pages.
func (r *Reconciler) maintenancesOf(ctx context.Context, inc *v1alpha1.Incident, policy *v1alpha1.ResponsePolicy) ([]v1alpha1.Maintenance, error) {
	if inc.Spec.Impact == nil || len(inc.Spec.Impact.Components) == 0 || policy == nil || policy.Spec.Paging == nil {
		return nil, nil
	}
	list := &v1alpha1.MaintenanceList{}
	if err := r.List(ctx, list, client.InNamespace(inc.Namespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// suppressPaging holds back the page triggers waiting to be sent while a Maintenance in
// progress at now covers every component the incident touches: planned work on exactly
// those components is not worth waking anyone for. A held trigger stays in the outbox, named
// by heldBy and due at the end of the window, so that an incident still open when the work
// is over pages then. One released early (the Maintenance deleted, shortened or no longer
// covering) is due at once. It returns the fact that says which Maintenance kept the
// incident from paging. Resolving a page is never held back, and an incident that names no
// component, or one outside the maintenance, pages as usual.
func suppressPaging(inc *v1alpha1.Incident, maintenances []v1alpha1.Maintenance, now time.Time) []fact {
	var comps []string
	if inc.Spec.Impact != nil {
		comps = inc.Spec.Impact.Components
	}
	i := holding(maintenances, comps, now)
	var held []string
	for j := range inc.Status.Outbox {
		it := &inc.Status.Outbox[j]
		if it.Kind != v1alpha1.OutboxPage || it.State != v1alpha1.OutboxPending {
			continue
		}
		if i < 0 {
			if it.HeldBy != "" {
				it.HeldBy, it.NotBefore = "", nil
			}
			continue
		}
		m := &maintenances[i]
		if it.HeldBy == "" {
			held = append(held, it.ID)
		}
		if end := m.Spec.Window.End; it.HeldBy != m.Name || it.NotBefore == nil || !it.NotBefore.Equal(&end) {
			it.HeldBy, it.NotBefore = m.Name, end.DeepCopy()
		}
	}
	if len(held) == 0 {
		return nil
	}
	m := maintenances[i]
	msg := fmt.Sprintf("Not paged: Maintenance %s is in progress until %s on every component this incident touches (%s); the page goes out then if the incident still pages",
		m.Name, m.Spec.Window.End.UTC().Format(time.RFC3339), strings.Join(comps, ", "))
	return []fact{{key: "PagingSuppressedByMaintenance/" + strings.Join(held, "/"), eventReason: v1alpha1.EventPagingSuppressedByMaintenance,
		eventType: corev1.EventTypeNormal, entry: v1alpha1.TimelineEntry{Message: msg}}}
}

// holding is the index of the Maintenance that holds the incident's page back at now, -1 for
// none: of those in progress that cover every component, the one that ends last (then by
// name), so that the hold does not move between reconciles and lasts as long as any of them
// does. One being deleted covers nothing: it is calling the work off.
func holding(maintenances []v1alpha1.Maintenance, comps []string, now time.Time) int {
	best := -1
	for i := range maintenances {
		m := &maintenances[i]
		if !m.DeletionTimestamp.IsZero() || !m.Covers(comps, now) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := &maintenances[best]
		if c := m.Spec.Window.End.Compare(b.Spec.Window.End.Time); c > 0 || c == 0 && m.Name < b.Name {
			best = i
		}
	}
	return best
}

// incidentsHeldBy maps a Maintenance to the Incidents whose page it may hold back: those the
// cache shows held by it, and those whose components it covers, whose hold may not be in the
// cache yet. Deleting it, or changing its window or components, then sends their pages at
// once when it no longer covers them.
func (r *Reconciler) incidentsHeldBy(ctx context.Context, obj client.Object) []reconcile.Request {
	m, ok := obj.(*v1alpha1.Maintenance)
	if !ok {
		return nil
	}
	list := &v1alpha1.IncidentList{}
	if err := r.List(ctx, list, client.InNamespace(m.Namespace)); err != nil {
		log.FromContext(ctx).Error(err, "listing incidents for a Maintenance change")
		return nil
	}
	var reqs []reconcile.Request
	for _, inc := range list.Items {
		held := slices.ContainsFunc(inc.Status.Outbox, func(it v1alpha1.OutboxItem) bool { return it.HeldBy == m.Name })
		if held || inc.Spec.Impact != nil && len(inc.Spec.Impact.Components) > 0 &&
			!slices.ContainsFunc(inc.Spec.Impact.Components, func(c string) bool { return !slices.Contains(m.Spec.Components, c) }) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&inc)})
		}
	}
	return reqs
}
