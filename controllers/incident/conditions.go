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
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// The Incident's conditions. Each setter is a pure function of the Incident, the policy and
// the time, called once per reconcile after the facts are recorded, and table-tested without
// a client.

// setConditions derives every condition of the Incident.
func setConditions(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, cadence map[v1alpha1.IncidentState]time.Duration, now time.Time) {
	setRolesAssignedCondition(inc)
	setSitrepCurrentCondition(inc, now, cadence)
	setCustomersInformedCondition(inc, p, now)
	setImpactKnownCondition(inc)
	setPolicyAppliedCondition(inc, inc.PolicyName(), p != nil)
}

// setRolesAssignedCondition: True when the IC is set and, for a Confirmed or Major incident,
// Communications is too, and every Operations group has a supervisor.
func setRolesAssignedCondition(inc *v1alpha1.Incident) {
	var missing []string
	roles := inc.Spec.Roles
	if roles.Commander == "" {
		missing = append(missing, "Incident Commander (spec.roles.commander)")
	}
	if (inc.Spec.State == v1alpha1.StateConfirmed || inc.Spec.State == v1alpha1.StateMajor) && roles.Communications == "" {
		missing = append(missing, "Communications (spec.roles.communications)")
	}
	for _, g := range roles.Operations {
		if g.Supervisor == "" {
			missing = append(missing, "supervisor of Operations group "+g.Name)
		}
	}
	c := metav1.Condition{
		Type:               v1alpha1.ConditionRolesAssigned,
		Status:             metav1.ConditionTrue,
		Reason:             v1alpha1.ReasonAssigned,
		Message:            "Every role this incident needs has a person",
		ObservedGeneration: inc.Generation,
	}
	if len(missing) > 0 {
		c.Status = metav1.ConditionFalse
		c.Reason = v1alpha1.ReasonUnassigned
		c.Message = "Nobody holds: " + strings.Join(missing, ", ")
	}
	meta.SetStatusCondition(&inc.Status.Conditions, c)
}

// setSitrepCurrentCondition sets SitrepCurrent and status.nextSitrepDueAt from the timestamps
// in status, and returns how long until the condition would next change (zero when never).
func setSitrepCurrentCondition(inc *v1alpha1.Incident, now time.Time, cadence map[v1alpha1.IncidentState]time.Duration) time.Duration {
	c := metav1.Condition{
		Type:               v1alpha1.ConditionSitrepCurrent,
		ObservedGeneration: inc.Generation,
	}
	due, ok := sitrepDue(inc, cadence)
	var wait time.Duration
	switch {
	case !ok:
		inc.Status.NextSitrepDueAt = nil
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1alpha1.ReasonNotRequired, "No sitrep is due: the incident is "+string(inc.Spec.State)
	case now.Before(due):
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonCurrent
		c.Message = fmt.Sprintf("Next sitrep due at %s (every %s while %s)", due.UTC().Format(time.RFC3339), cadence[inc.Spec.State], inc.Spec.State)
		wait = due.Sub(now)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonOverdue
		c.Message = fmt.Sprintf("Sitrep overdue since %s (every %s while %s); IC: %s", due.UTC().Format(time.RFC3339), cadence[inc.Spec.State], inc.Spec.State, holder(inc.Spec.Roles.Commander))
	}
	if ok {
		d := metav1.NewTime(due.Truncate(time.Second))
		inc.Status.NextSitrepDueAt = &d
	}
	meta.SetStatusCondition(&inc.Status.Conditions, c)
	return wait
}

// setCustomersInformedCondition: True once a status update is published (or while customers
// need not hear yet), False when they must hear soon (Pending) or should have (NotInformed).
func setCustomersInformedCondition(inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, now time.Time) {
	c := metav1.Condition{Type: v1alpha1.ConditionCustomersInformed, ObservedGeneration: inc.Generation}
	start := customersWindowStart(inc)
	switch {
	case published(inc) > 0:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonInformed
		c.Message = fmt.Sprintf("%d status update(s) published", published(inc))
	case !severe(inc.Spec.State) || start == nil:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonNotRequired
		c.Message = "Customers need to hear once the incident is Confirmed or Major"
	case now.Before(start.Add(p.CustomersWithin())):
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonPending
		c.Message = "Publish a status update by " + start.Add(p.CustomersWithin()).UTC().Format(time.RFC3339)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonNotInformed
		c.Message = fmt.Sprintf("No status update published within %s of the incident becoming Confirmed or Major", p.CustomersWithin())
	}
	meta.SetStatusCondition(&inc.Status.Conditions, c)
}

// setImpactKnownCondition says whether anybody has described the impact yet.
func setImpactKnownCondition(inc *v1alpha1.Incident) {
	c := metav1.Condition{Type: v1alpha1.ConditionImpactKnown, ObservedGeneration: inc.Generation,
		Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonDescribed}
	if src := impactSource(inc); src != "" {
		c.Message = src + " describes the impact"
	} else {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonUnknown, "Nobody has described the impact yet: set spec.impact or post a sitrep with its impact"
	}
	meta.SetStatusCondition(&inc.Status.Conditions, c)
}

// setPolicyAppliedCondition says which ResponsePolicy applies, or that the defaults do.
func setPolicyAppliedCondition(inc *v1alpha1.Incident, name string, found bool) {
	c := metav1.Condition{Type: v1alpha1.ConditionPolicyApplied, ObservedGeneration: inc.Generation,
		Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonFound, Message: fmt.Sprintf("ResponsePolicy %q applies", name)}
	if !found {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonNotFound
		c.Message = fmt.Sprintf("ResponsePolicy %q not found: running on the defaults (sitreps every %s Investigating, %s Confirmed, %s Major; customers informed within %s; hand-off suggested after %s; no comms channel, no paging)",
			name, v1alpha1.DefaultSitrepInvestigating, v1alpha1.DefaultSitrepConfirmed, v1alpha1.DefaultSitrepMajor,
			v1alpha1.DefaultCustomersInformedWithin, v1alpha1.DefaultMaxRoleHold)
	}
	meta.SetStatusCondition(&inc.Status.Conditions, c)
}
