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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// IncidentState is the level of an incident: the talk's levels 1, 2 and 3, and back to 0.
// +kubebuilder:validation:Enum=Investigating;Confirmed;Major;Resolved
type IncidentState string

const (
	// StateInvestigating (level 1): something may be wrong and people are looking.
	StateInvestigating IncidentState = "Investigating"
	// StateConfirmed (level 2): customers are affected.
	StateConfirmed IncidentState = "Confirmed"
	// StateMajor (level 3): a large part of the platform or of the customers is affected.
	StateMajor IncidentState = "Major"
	// StateResolved (level 0): everything is normal again.
	StateResolved IncidentState = "Resolved"
)

// Bounds that keep the worst-case Incident below half of etcd's 1.5 MiB object limit: 50
// sitreps of at most ~7.5 KiB, 200 timeline entries of at most ~0.8 KiB and 10 Operations
// groups of 20 members. A test stores the worst case and measures it.
const (
	// MaxSitreps is the most sitreps one Incident holds; a longer response opens a new Incident.
	MaxSitreps = 50
	// MaxTimelineEntries is the most entries status.timeline keeps; see CompactTimeline.
	MaxTimelineEntries = 200
)

// IncidentSpec is what people write, by hand, by plugin or through Git.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.sitreps) || has(self.sitreps) && self.sitreps.size() >= oldSelf.sitreps.size()",fieldPath=".sitreps",message="sitreps are append-only: an earlier sitrep cannot be removed; post a new sitrep that corrects it"
// +kubebuilder:validation:XValidation:rule="(has(self.drill) && self.drill) == (has(oldSelf.drill) && oldSelf.drill)",message="spec.drill cannot change: a drill stays a drill and a real incident stays real; declare a new Incident instead"
type IncidentSpec struct {
	// title names the incident in a few words, as people will say it ("EC2 API errors").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`

	// state is the incident's level. New incidents start Investigating unless declared
	// Confirmed or Major. Transitions follow the table in the Firescope design:
	// Investigating -> Confirmed, Major, Resolved; Confirmed -> Major, Resolved;
	// Major -> Confirmed, Resolved; Resolved -> Investigating, Confirmed, Major (a reopen).
	// +optional
	// +kubebuilder:default=Investigating
	// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self != 'Resolved'",optionalOldSelf=true,message="a new incident cannot start Resolved: declare it Investigating, Confirmed or Major"
	// +kubebuilder:validation:XValidation:rule="oldSelf != 'Confirmed' || self != 'Investigating'",messageExpression="'cannot move the incident from Confirmed to ' + self + ': from Confirmed it can move to Major or Resolved'"
	// +kubebuilder:validation:XValidation:rule="oldSelf != 'Major' || self != 'Investigating'",messageExpression="'cannot move the incident from Major to ' + self + ': from Major it can move to Confirmed or Resolved'"
	State IncidentState `json:"state,omitempty"`

	// roles says who does what. The Incident Commander defaults to the person who declared the
	// incident (the first responder).
	// +optional
	Roles Roles `json:"roles,omitzero"`

	// impact describes what is broken and how widespread it is, as far as it is known.
	// +optional
	Impact *Impact `json:"impact,omitempty"`

	// sitreps are the situation reports posted to the whole company, oldest first. The list is
	// append-only: add a new sitrep to correct an earlier one.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.size() < oldSelf.size() || oldSelf.all(i, s, self[i] == s)",message="sitreps are append-only: an earlier sitrep cannot be edited; post a new sitrep that corrects it"
	Sitreps []Sitrep `json:"sitreps,omitempty"`

	// drill marks a training incident: everything runs as for a real one, but nothing reaches
	// customers or pagers, and announcements are marked [DRILL].
	// +optional
	Drill bool `json:"drill,omitempty"`

	// links point to tickets, boards, dashboards and the chat room.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	Links []Link `json:"links,omitempty"`

	// policyRef names the ResponsePolicy in this namespace that applies. When empty, the
	// policy named "default" applies, and without one the documented defaults.
	// +optional
	PolicyRef *PolicyReference `json:"policyRef,omitempty"`

	// alerts is what Alertmanager reported about the alert group that opened the incident.
	// The gateway's Alertmanager intake writes it; the controller records each notification
	// in the timeline. It never changes the state: the IC does.
	// +optional
	Alerts *AlertGroup `json:"alerts,omitempty"`
}

// AlertGroupStatus is the status of an Alertmanager notification.
// +kubebuilder:validation:Enum=firing;resolved
type AlertGroupStatus string

const (
	// AlertsFiring: at least one alert of the group fires.
	AlertsFiring AlertGroupStatus = "firing"
	// AlertsResolved: every alert of the group is resolved.
	AlertsResolved AlertGroupStatus = "resolved"
)

// AlertGroup is one Alertmanager alert group, as its latest notification reported it.
// +kubebuilder:validation:XValidation:rule="self.groupKey == oldSelf.groupKey",message="alerts.groupKey cannot change: an incident follows one alert group; a new group opens its own incident"
// +kubebuilder:validation:XValidation:rule="self.notifications >= oldSelf.notifications",message="alerts.notifications only grows: it counts the notifications received"
type AlertGroup struct {
	// groupKey is Alertmanager's key of the alert group.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	GroupKey string `json:"groupKey"`

	// status of the latest notification: firing while an alert of the group fires, resolved
	// once every one is.
	// +required
	Status AlertGroupStatus `json:"status"`

	// notifications counts the notifications received for the group, the first included.
	// +required
	// +kubebuilder:validation:Minimum=1
	Notifications int32 `json:"notifications"`

	// lastNotifiedAt is when the latest notification was received.
	// +required
	LastNotifiedAt metav1.Time `json:"lastNotifiedAt"`

	// summary of the latest notification: how many alerts fire or are resolved, and which.
	// +optional
	// +kubebuilder:validation:MaxLength=400
	Summary string `json:"summary,omitempty"`
}

// Person is a plain identity: a username or an email address.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
type Person string

// Roles are the Incident Command System roles of one incident.
type Roles struct {
	// commander is the Incident Commander (IC), who has final authority over the response.
	// +optional
	Commander Person `json:"commander,omitempty"`

	// communications keeps customers and the company informed.
	// +optional
	Communications Person `json:"communications,omitempty"`

	// operations are the groups that fix things, each with a supervisor who reports to the IC.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=10
	Operations []OperationsGroup `json:"operations,omitempty"`
}

// OperationsGroup is one group of the Operations section, such as "postgres" or "dynos".
type OperationsGroup struct {
	// name of the group, a DNS label such as "postgres".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// supervisor leads the group and reports to the IC.
	// +optional
	Supervisor Person `json:"supervisor,omitempty"`

	// members work in the group.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	Members []Person `json:"members,omitempty"`
}

// Impact is what is broken and how widespread it is.
type Impact struct {
	// description says in plain words what customers see.
	// +optional
	// +kubebuilder:validation:MaxLength=2000
	Description string `json:"description,omitempty"`

	// customersAffected is the number of customers affected, when known.
	// +optional
	// +kubebuilder:validation:Minimum=0
	CustomersAffected *int64 `json:"customersAffected,omitempty"`

	// appsAffected is the number of applications affected, when known.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AppsAffected *int64 `json:"appsAffected,omitempty"`

	// components are the affected components, by their status-page names.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=100
	Components []string `json:"components,omitempty"`
}

// Sitrep is one situation report: what is broken, how widespread, and what is being done.
type Sitrep struct {
	// at is when the sitrep was posted. The admission webhook sets it when empty and refuses
	// one more than a minute in the future; the controller never takes it as later than when
	// it recorded the sitrep.
	// +optional
	At *metav1.Time `json:"at,omitempty"`

	// author posted the sitrep, normally the IC. The admission webhook sets it to the
	// requesting user when empty. It is what the sitrep claims: the timeline entry's by is
	// who really posted it, from the webhook's signed record.
	// +optional
	Author Person `json:"author,omitempty"`

	// summary says what is broken.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=500
	Summary string `json:"summary"`

	// impact says how widespread the problem is.
	// +optional
	// +kubebuilder:validation:MaxLength=1000
	Impact string `json:"impact,omitempty"`

	// actions says what is being done, and by whom.
	// +optional
	// +kubebuilder:validation:MaxLength=2000
	Actions string `json:"actions,omitempty"`

	// workaround says what customers can do meanwhile.
	// +optional
	// +kubebuilder:validation:MaxLength=1000
	Workaround string `json:"workaround,omitempty"`

	// links point to graphs, tickets or chat threads for this sitrep.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	Links []Link `json:"links,omitempty"`
}

// Link is a named URL.
type Link struct {
	// name says what the link is ("ticket", "dashboard", "chat").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`

	// url is an absolute http or https URL.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an absolute http or https URL"
	URL string `json:"url"`
}

// PolicyReference names a ResponsePolicy in the Incident's namespace.
type PolicyReference struct {
	// name of the ResponsePolicy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// TimelineEntryType says what kind of fact a timeline entry records.
// +kubebuilder:validation:Enum=Declared;StateChanged;Reopened;Handoff;Sitrep;StatusUpdate;Reminder;Alert
type TimelineEntryType string

const (
	// TimelineDeclared records that the incident was declared.
	TimelineDeclared TimelineEntryType = "Declared"
	// TimelineStateChanged records a state change other than a reopen.
	TimelineStateChanged TimelineEntryType = "StateChanged"
	// TimelineReopened records a change from Resolved back to an open state.
	TimelineReopened TimelineEntryType = "Reopened"
	// TimelineHandoff records a change of who holds a role.
	TimelineHandoff TimelineEntryType = "Handoff"
	// TimelineSitrep records a posted sitrep.
	TimelineSitrep TimelineEntryType = "Sitrep"
	// TimelineStatusUpdate records a status update published to customers.
	TimelineStatusUpdate TimelineEntryType = "StatusUpdate"
	// TimelineReminder records a reminder sent to the IC; reminders are compacted first.
	TimelineReminder TimelineEntryType = "Reminder"
	// TimelineAlert records a notification from Alertmanager about the incident's alerts.
	TimelineAlert TimelineEntryType = "Alert"
)

// TimelineEntry is one observed fact of the response.
type TimelineEntry struct {
	// at is when the fact was observed.
	// +required
	At metav1.Time `json:"at"`

	// type says what kind of fact this is.
	// +required
	Type TimelineEntryType `json:"type"`

	// message describes the fact, in the words of the matching Event ("IC -> ricardo").
	// +required
	// +kubebuilder:validation:MaxLength=512
	Message string `json:"message"`

	// by is who made the change, when known.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	By string `json:"by,omitempty"`
}

// RecordedRoles is who held each role when the controller last recorded the incident.
type RecordedRoles struct {
	// commander is the recorded Incident Commander.
	// +optional
	Commander Person `json:"commander,omitempty"`
	// communications is the recorded Communications lead.
	// +optional
	Communications Person `json:"communications,omitempty"`
	// commanderSince is when the recorded IC took the role.
	// +optional
	CommanderSince *metav1.Time `json:"commanderSince,omitempty"`
	// communicationsSince is when the recorded Communications lead took the role.
	// +optional
	CommunicationsSince *metav1.Time `json:"communicationsSince,omitempty"`
	// operations are the recorded Operations groups and their supervisors.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=10
	Operations []RecordedGroup `json:"operations,omitempty"`
}

// RecordedGroup is the recorded supervisor of one Operations group.
type RecordedGroup struct {
	// name of the group.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// supervisor of the group, empty when none.
	// +optional
	Supervisor Person `json:"supervisor,omitempty"`
	// since is when the supervisor took the role.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// Reminders is what the controller has already reminded the IC of, so that no reminder is
// sent twice across restarts and leader changes.
type Reminders struct {
	// sitrepDueAt is the due time the sitrep reminders below count from.
	// +optional
	SitrepDueAt *metav1.Time `json:"sitrepDueAt,omitempty"`
	// sitrepOverdue is how many missed sitrep intervals since sitrepDueAt have been reminded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SitrepOverdue int32 `json:"sitrepOverdue,omitempty"`
	// customersHeardAt is the last status update the reminders below count from.
	// +optional
	CustomersHeardAt *metav1.Time `json:"customersHeardAt,omitempty"`
	// customersUpdatesMissed is how many status-update cadences since customersHeardAt have
	// been reminded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	CustomersUpdatesMissed int32 `json:"customersUpdatesMissed,omitempty"`
	// sent are the keys of one-off reminders already sent, newest last.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	Sent []string `json:"sent,omitempty"`
}

// StatusUpdatesSummary is what customers have been told about the incident.
type StatusUpdatesSummary struct {
	// published is how many StatusUpdates of the incident have been published.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Published int32 `json:"published,omitempty"`
	// firstPublishedAt is when the first one was published.
	// +optional
	FirstPublishedAt *metav1.Time `json:"firstPublishedAt,omitempty"`
	// lastPublishedAt is when the latest one was published.
	// +optional
	LastPublishedAt *metav1.Time `json:"lastPublishedAt,omitempty"`
	// lastStatus is the status (investigating, identified, monitoring, resolved) of the latest
	// published update.
	// +optional
	LastStatus UpdateStatus `json:"lastStatus,omitempty"`
	// providerRef is the status page provider's reference of the public incident.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ProviderRef string `json:"providerRef,omitempty"`
}

// OutboxKind says where an outbox item goes.
// +kubebuilder:validation:Enum=Announce;Page;ResolvePage
type OutboxKind string

const (
	// OutboxAnnounce posts to the comms channel.
	OutboxAnnounce OutboxKind = "Announce"
	// OutboxPage triggers the page of the incident.
	OutboxPage OutboxKind = "Page"
	// OutboxResolvePage resolves the page of the incident.
	OutboxResolvePage OutboxKind = "ResolvePage"
)

// OutboxState is where an outbox item is in its delivery.
// +kubebuilder:validation:Enum=Pending;Sending
type OutboxState string

const (
	// OutboxPending items wait for their next attempt.
	OutboxPending OutboxState = "Pending"
	// OutboxSending items were being sent when their state was last stored. Finding one at the
	// start of a reconcile means the outcome is unknown: pages (idempotent by dedup key) are
	// sent again; announcements are dropped, so that none is ever posted twice.
	OutboxSending OutboxState = "Sending"
)

// OutboxItem is one notification recorded before it is sent.
type OutboxItem struct {
	// id identifies the fact the item reports; receivers may deduplicate on it.
	// +required
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id"`
	// kind says where the item goes.
	// +required
	Kind OutboxKind `json:"kind"`
	// reason is the fact's Event reason, such as Handoff.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// message is the fact, in the Event's words.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Message string `json:"message,omitempty"`
	// sitrep is the 1-based number of the sitrep to announce in full.
	// +optional
	Sitrep int32 `json:"sitrep,omitempty"`
	// state is where the item is in its delivery.
	// +required
	State OutboxState `json:"state"`
	// attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// notBefore is when the next attempt may start (backoff, the server's Retry-After, or the
	// end of the Maintenance that holds a page back).
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`
	// heldBy names the Maintenance in progress that holds this page back until notBefore,
	// the end of its window: the page is sent then, or as soon as the Maintenance no longer
	// covers the incident, if the incident still pages.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	HeldBy string `json:"heldBy,omitempty"`
}

// Recorded is the part of the spec the controller has already recorded in the timeline and
// announced. Comparing it with the spec tells the controller what is new, so that a restart or
// a leader change never records or announces a fact twice.
type Recorded struct {
	// state is the last recorded state.
	// +optional
	State IncidentState `json:"state,omitempty"`
	// roles are the last recorded roles.
	// +optional
	Roles RecordedRoles `json:"roles,omitzero"`
	// sitreps is how many sitreps have been recorded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Sitreps int32 `json:"sitreps,omitempty"`
	// statusUpdates is how many published status updates have been recorded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StatusUpdates int32 `json:"statusUpdates,omitempty"`
	// alertNotifications is how many of spec.alerts.notifications have been recorded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AlertNotifications int32 `json:"alertNotifications,omitempty"`
}

// IncidentStatus is what the controller observed.
type IncidentStatus struct {
	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are SitrepCurrent, CustomersInformed and RolesAssigned.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// openedAt is when the incident was declared.
	// +optional
	OpenedAt *metav1.Time `json:"openedAt,omitempty"`
	// confirmedAt is when the incident first became Confirmed.
	// +optional
	ConfirmedAt *metav1.Time `json:"confirmedAt,omitempty"`
	// majorAt is when the incident first became Major.
	// +optional
	MajorAt *metav1.Time `json:"majorAt,omitempty"`
	// resolvedAt is when the incident was last resolved; cleared by a reopen.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
	// reopenedAt is when the incident was last reopened; the sitrep clock restarts then.
	// +optional
	ReopenedAt *metav1.Time `json:"reopenedAt,omitempty"`
	// stateChangedAt is when the state last changed.
	// +optional
	StateChangedAt *metav1.Time `json:"stateChangedAt,omitempty"`

	// lastSitrepAt is when the latest sitrep was posted.
	// +optional
	LastSitrepAt *metav1.Time `json:"lastSitrepAt,omitempty"`
	// nextSitrepDueAt is when the next sitrep is due; empty when none is due (Resolved).
	// +optional
	NextSitrepDueAt *metav1.Time `json:"nextSitrepDueAt,omitempty"`

	// timeline is the durable record of the response, oldest first. It keeps every state
	// change and hand-off; when full, reminders and then sitrep entries are compacted first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	Timeline []TimelineEntry `json:"timeline,omitempty"`

	// recorded is what the controller has recorded so far; see Recorded.
	// +optional
	Recorded *Recorded `json:"recorded,omitempty"`

	// reminders is what the IC has already been reminded of.
	// +optional
	Reminders *Reminders `json:"reminders,omitempty"`

	// statusUpdates is what customers have been told.
	// +optional
	StatusUpdates *StatusUpdatesSummary `json:"statusUpdates,omitempty"`

	// postmortem names the Postmortem opened when the incident resolved. Once it is set no
	// other is opened, even if that one is deleted.
	// +optional
	Postmortem *LocalReference `json:"postmortem,omitempty"`

	// outbox holds announcements and pages recorded but not yet delivered.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Outbox []OutboxItem `json:"outbox,omitempty"`

	// health is the product's health as the policy's health signals measure it, while the
	// incident is open. The health evaluator owns it and the ProductHealthy condition, and
	// writes them by server-side apply under its own field owner.
	// +optional
	Health *HealthStatus `json:"health,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=inc,categories=firescope
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="IC",type=string,JSONPath=`.spec.roles.commander`
// +kubebuilder:printcolumn:name="Comms",type=string,JSONPath=`.spec.roles.communications`
// +kubebuilder:printcolumn:name="Sitrep",type=string,JSONPath=`.status.conditions[?(@.type=="SitrepCurrent")].reason`
// +kubebuilder:printcolumn:name="Last Sitrep",type=date,JSONPath=`.status.lastSitrepAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Drill",type=boolean,JSONPath=`.spec.drill`,priority=1
// +kubebuilder:printcolumn:name="Title",type=string,JSONPath=`.spec.title`,priority=1
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health.summary`,priority=1

// Incident is one production incident, run the way the Incident Command System runs one.
type Incident struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is what people declare.
	// +required
	Spec IncidentSpec `json:"spec"`

	// status is what the controller observed.
	// +optional
	Status IncidentStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// IncidentList contains a list of Incident.
type IncidentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Incident `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &Incident{}, &IncidentList{})
		return nil
	})
}
