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

package drill

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
)

// CriterionPostmortemWritten is graded after the run: the post-mortem opened, owned and
// Published before its due date.
const CriterionPostmortemWritten = "PostmortemWritten"

// gradePostmortem grades the run's post-mortem as it stands at now: pm is the Postmortem of the
// run's Incident, nil while none has opened. It is Pending until the post-mortem is Published
// or its due date passes. Published on time means published while the post-mortem
// controller's OnSchedule condition still held: published after the due date turns it from
// PastDue to Done, so its transition then is later than the due date.
func gradePostmortem(wanted bool, end v1alpha1.DrillEndReason, pm *v1alpha1.Postmortem, now time.Time) v1alpha1.Criterion {
	switch {
	case !wanted:
		return notApplicable(CriterionPostmortemWritten, "the policy gives drills no post-mortem (postmortemForDrills is false)")
	case end == v1alpha1.DrillEndIncidentDeleted:
		return notApplicable(CriterionPostmortemWritten, "the drill Incident was deleted, so no post-mortem opened")
	case pm == nil:
		return v1alpha1.Criterion{Name: CriterionPostmortemWritten, Result: v1alpha1.CriterionPending, Evidence: "the post-mortem has not opened yet"}
	}
	owner := string(pm.Spec.Owner)
	if owner == "" {
		owner = "nobody"
	}
	due := "no due date"
	if pm.Spec.DueAt != nil {
		due = "due " + pm.Spec.DueAt.UTC().Format(time.RFC3339)
	}
	onSchedule := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionOnSchedule)
	switch {
	case pm.Spec.State == v1alpha1.PostmortemPublished && onSchedule != nil && onSchedule.Reason == v1alpha1.ReasonDone:
		if pm.Spec.DueAt != nil && onSchedule.LastTransitionTime.After(pm.Spec.DueAt.Time) {
			return fail(CriterionPostmortemWritten, "post-mortem %s Published by %s at %s, after it was %s", pm.Name, owner,
				onSchedule.LastTransitionTime.UTC().Format(time.RFC3339), due)
		}
		return pass(CriterionPostmortemWritten, "post-mortem %s owned by %s and Published, %s", pm.Name, owner, due)
	case pm.Spec.DueAt != nil && !now.Before(pm.Spec.DueAt.Time):
		return fail(CriterionPostmortemWritten, "post-mortem %s is %s, owned by %s, and was %s", pm.Name, pm.Spec.State, owner, due)
	}
	return v1alpha1.Criterion{Name: CriterionPostmortemWritten, Result: v1alpha1.CriterionPending,
		Evidence: fmt.Sprintf("post-mortem %s is %s, owned by %s, %s", pm.Name, pm.Spec.State, owner, due)}
}

// regradePostmortems decides the PostmortemWritten criterion of finished runs still Pending,
// from their post-mortems, and returns how long until the earliest due date of those still
// pending (zero for none). A run whose criterion is decided gets its grade again.
func (r *Reconciler) regradePostmortems(ctx context.Context, s *runState) (time.Duration, error) {
	d := s.drill
	var wait time.Duration
	for i := range d.Status.Runs {
		run := &d.Status.Runs[i]
		c := criterion(run, CriterionPostmortemWritten)
		if c == nil || c.Result != v1alpha1.CriterionPending {
			continue
		}
		pm, err := r.postmortemOf(ctx, d.Namespace, run.Incident)
		if err != nil {
			return 0, err
		}
		*c = gradePostmortem(true, run.EndReason, pm, s.now)
		if c.Result == v1alpha1.CriterionPending {
			if pm != nil && pm.Spec.DueAt != nil {
				wait = minPositive(wait, pm.Spec.DueAt.Sub(s.now)+time.Second)
			}
			continue
		}
		run.Grade, _ = score(run.Criteria)
		if i == len(d.Status.Runs)-1 {
			d.Status.LastGrade = run.Grade
		}
		s.decided = append(s.decided, *c)
		s.event(d, fmt.Sprintf("graded/%s/%s", run.Incident, CriterionPostmortemWritten), corev1.EventTypeNormal, v1alpha1.EventDrillGraded,
			fmt.Sprintf("Run %s: %s %s (%s); grade %s", run.Incident, CriterionPostmortemWritten, c.Result, c.Evidence, run.Grade))
	}
	return wait, nil
}

func criterion(run *v1alpha1.DrillRunResult, name string) *v1alpha1.Criterion {
	for i := range run.Criteria {
		if run.Criteria[i].Name == name {
			return &run.Criteria[i]
		}
	}
	return nil
}

// postmortemOf returns the Postmortem of the incident, from the cache, or nil.
func (r *Reconciler) postmortemOf(ctx context.Context, namespace, incident string) (*v1alpha1.Postmortem, error) {
	list := &v1alpha1.PostmortemList{}
	if err := r.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	for i := range list.Items {
		if list.Items[i].Spec.IncidentRef.Name == incident {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// drillsOfPostmortem maps a Postmortem to the Drills with a run of its incident whose
// post-mortem criterion is pending.
func (r *Reconciler) drillsOfPostmortem(ctx context.Context, obj client.Object) []reconcile.Request {
	pm, ok := obj.(*v1alpha1.Postmortem)
	if !ok {
		return nil
	}
	list := &v1alpha1.DrillList{}
	if err := r.List(ctx, list, client.InNamespace(pm.Namespace)); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		for j := range list.Items[i].Status.Runs {
			run := &list.Items[i].Status.Runs[j]
			if c := criterion(run, CriterionPostmortemWritten); run.Incident == pm.Spec.IncidentRef.Name && c != nil && c.Result == v1alpha1.CriterionPending {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
	}
	return reqs
}
