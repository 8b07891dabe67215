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

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
)

// The incident controller is the only writer of status.statusUpdates: it counts the
// Incident's StatusUpdates from its cache, woken by their changes, instead of each published
// update listing its siblings from the API server and patching the Incident.

// incidentUIDField indexes StatusUpdates by status.incidentUID, the Incident they belong to.
const incidentUIDField = "status.incidentUID"

// IndexStatusUpdates registers the index of StatusUpdates by the Incident they belong to,
// which the controller lists them by.
func IndexStatusUpdates(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &v1alpha1.StatusUpdate{}, incidentUIDField, indexIncidentUID)
}

func indexIncidentUID(o client.Object) []string {
	if uid := o.(*v1alpha1.StatusUpdate).Status.IncidentUID; uid != "" {
		return []string{string(uid)}
	}
	return nil
}

// statusUpdatesOf lists, from the cache, the StatusUpdates that belong to this Incident: an
// update for an earlier Incident of the same name is not counted.
func (r *Reconciler) statusUpdatesOf(ctx context.Context, inc *v1alpha1.Incident) ([]v1alpha1.StatusUpdate, error) {
	list := &v1alpha1.StatusUpdateList{}
	if err := r.List(ctx, list, client.InNamespace(inc.Namespace), client.MatchingFields{incidentUIDField: string(inc.UID)}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// summarizeStatusUpdates is what customers have been told about the incident: how many of its
// updates are published, the first and latest time, and the provider incident and status of
// the latest. A drill's update that was held from customers (Published=False, reason Drill)
// counts as told when it was written: the drill trains Comms to write it in time, and must not
// nag them as if they had not. It returns nil when nothing counts.
func summarizeStatusUpdates(inc *v1alpha1.Incident, updates []v1alpha1.StatusUpdate) *v1alpha1.StatusUpdatesSummary {
	sum := v1alpha1.StatusUpdatesSummary{}
	for i := range updates {
		su := &updates[i]
		if su.Status.IncidentUID != inc.UID {
			continue
		}
		at, ok := toldAt(inc, su)
		if !ok {
			continue
		}
		sum.Published++
		if at == nil {
			continue
		}
		if sum.LastPublishedAt == nil || sum.LastPublishedAt.Before(at) {
			sum.LastPublishedAt, sum.ProviderRef, sum.LastStatus = at, su.Status.ProviderRef, su.Spec.Status
		}
		if sum.FirstPublishedAt == nil || at.Before(sum.FirstPublishedAt) {
			sum.FirstPublishedAt = at
		}
	}
	if sum == (v1alpha1.StatusUpdatesSummary{}) {
		return nil
	}
	return &sum
}

// toldAt reports whether customers count as told by the update, and since when.
func toldAt(inc *v1alpha1.Incident, su *v1alpha1.StatusUpdate) (*metav1.Time, bool) {
	c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
	switch {
	case c == nil:
		return nil, false
	case c.Status == metav1.ConditionTrue:
		return su.Status.PublishedAt, true
	case inc.Spec.Drill && c.Reason == v1alpha1.ReasonDrill:
		at := su.CreationTimestamp
		return &at, true
	}
	return nil, false
}

// incidentOfStatusUpdate maps a StatusUpdate to the Incident it names.
func incidentOfStatusUpdate(_ context.Context, o client.Object) []reconcile.Request {
	su := o.(*v1alpha1.StatusUpdate)
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: su.Namespace, Name: su.Spec.IncidentRef.Name}}}
}

// statusUpdateCounted passes the StatusUpdate changes that can change the summary: a new or
// deleted update, and a change of its spec or status. Its other metadata cannot.
var statusUpdateCounted = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.StatusUpdate), e.ObjectNew.(*v1alpha1.StatusUpdate)
		return o.Generation != n.Generation || !equality.Semantic.DeepEqual(o.Status, n.Status)
	},
}
