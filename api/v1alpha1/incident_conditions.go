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

package v1alpha1

// Condition types of an Incident.
const (
	// ConditionSitrepCurrent is True while the latest sitrep is within the cadence of the
	// current state, False once the next one is overdue.
	ConditionSitrepCurrent = "SitrepCurrent"
	// ConditionCustomersInformed is True once customers have been told about a Confirmed or
	// Major incident.
	ConditionCustomersInformed = "CustomersInformed"
	// ConditionRolesAssigned is True when every role the current state needs has a person.
	ConditionRolesAssigned = "RolesAssigned"
	// ConditionImpactKnown is True when the impact has been described.
	ConditionImpactKnown = "ImpactKnown"
	// ConditionPolicyApplied is True when the Incident's ResponsePolicy exists; False when it
	// runs on the documented defaults because its policy is missing.
	ConditionPolicyApplied = "PolicyApplied"
)

// Condition reasons of an Incident. The SitrepCurrent reasons are what the SITREP column of
// `kubectl get incidents` shows.
const (
	// ReasonCurrent: the latest sitrep is within the cadence of the current state.
	ReasonCurrent = "Current"
	// ReasonOverdue: the next sitrep is past its due time.
	ReasonOverdue = "Overdue"
	// ReasonNotRequired: the incident is Resolved, so no sitrep is due.
	ReasonNotRequired = "NotRequired"
	// ReasonAssigned: every role the current state needs has a person.
	ReasonAssigned = "Assigned"
	// ReasonUnassigned: a role the current state needs has nobody; the message names it.
	ReasonUnassigned = "Unassigned"
	// ReasonInformed: at least one status update has been published.
	ReasonInformed = "Informed"
	// ReasonPending: customers must hear soon; the message says by when.
	ReasonPending = "Pending"
	// ReasonNotInformed: the policy's window passed without a published status update.
	ReasonNotInformed = "NotInformed"
	// ReasonDescribed: spec.impact, or a sitrep's impact, describes the impact.
	ReasonDescribed = "Described"
	// ReasonUnknown: nobody has described the impact yet.
	ReasonUnknown = "Unknown"
	// ReasonFound: the ResponsePolicy exists and applies.
	ReasonFound = "Found"
	// ReasonNotFound: the ResponsePolicy does not exist; the defaults apply.
	ReasonNotFound = "NotFound"
)

// Event reasons, on the Incident (events.k8s.io). Message forms are part of the API.
const (
	// EventStateChanged: "Incident Confirmed", "Incident escalated to Major",
	// "Incident Resolved", "Incident reopened".
	EventStateChanged = "StateChanged"
	// EventHandoff: "IC -> ricardo", "Comms -> chris-stolt", "Ops/postgres -> noah".
	EventHandoff = "Handoff"
	// EventSitrepPosted: "Sitrep 3 from ricardo: <summary>".
	EventSitrepPosted = "SitrepPosted"
	// EventSitrepOverdue (Warning): how late, the cadence of the current state, and the IC.
	EventSitrepOverdue = "SitrepOverdue"
	// EventCustomersNotInformed (Warning): no status update within the policy's window.
	EventCustomersNotInformed = "CustomersNotInformed"
	// EventRoleUnassigned (Warning): a role the current state needs has nobody.
	EventRoleUnassigned = "RoleUnassigned"
	// EventHandoffSuggested: one person has held a role past the policy's limit.
	EventHandoffSuggested = "HandoffSuggested"
	// EventImpactUnknown (Warning): a Confirmed or Major incident has no impact description.
	EventImpactUnknown = "ImpactUnknown"
	// EventNotificationFailed (Warning): an announcement or page could not be delivered.
	EventNotificationFailed = "NotificationFailed"
	// EventStatusUpdatePublished: a status update reached the status page.
	EventStatusUpdatePublished = "StatusUpdatePublished"
	// EventStatusUpdateFailed (Warning): a status update could not be published.
	EventStatusUpdateFailed = "StatusUpdateFailed"
	// EventPostmortemOverdue (Warning): a post-mortem is past its due date.
	EventPostmortemOverdue = "PostmortemOverdue"
	// EventAlertFiring: Alertmanager notified that alerts of the incident's group fire
	// ("Alertmanager: 2 firing: HighErrorRate (api, web)").
	EventAlertFiring = "AlertFiring"
	// EventAlertsResolved: Alertmanager notified that every alert of the incident's group is
	// resolved, a hint to the IC, who decides whether the incident is.
	EventAlertsResolved = "AlertsResolved"
)

// Annotations the admission webhook maintains.
const (
	// AnnotationChangedBy holds a JSON object that maps each tracked field ("state",
	// "commander", "communications", "ops/<group>", "sitreps") to the user who last changed
	// it, and "sitrep/<n>" to the user who posted sitrep n. The controller reads it to fill
	// the timeline's "by", only when AnnotationChangedBySignature vouches for it.
	AnnotationChangedBy = "firescope.dev/changed-by"

	// AnnotationChangedBySignature is the webhook's signature of AnnotationChangedBy, bound to
	// the Incident and its generation. The webhook overwrites any value a request carries; an
	// annotation without a matching signature (written while the webhook was down, or by
	// hand) is not believed, and the change shows as made by an unknown user.
	AnnotationChangedBySignature = "firescope.dev/changed-by-signature"

	// FinalizerResolvePage is on an Incident that paged: deleting it first resolves the page,
	// so that nobody is paged on for an incident that no longer exists.
	FinalizerResolvePage = "firescope.dev/resolve-page"
)
