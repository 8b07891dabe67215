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
	"k8s.io/apimachinery/pkg/types"
)

// PostmortemState is where a post-mortem is in its life.
// +kubebuilder:validation:Enum=Draft;InReview;Published
type PostmortemState string

const (
	// PostmortemDraft: the owner is writing it.
	PostmortemDraft PostmortemState = "Draft"
	// PostmortemInReview: written, being reviewed.
	PostmortemInReview PostmortemState = "InReview"
	// PostmortemPublished: done; it may not go back.
	PostmortemPublished PostmortemState = "Published"
)

// PostmortemSpec is the post-mortem as its authors write it. Its sections follow the formula
// for talking to customers after an incident: apologise, show that you understand what
// happened, explain what you will do so that it does not happen again.
// +kubebuilder:validation:XValidation:rule="self.state == 'Draft' || (has(self.owner) && size(self.owner) > 0)",message="a post-mortem needs an owner before review: set spec.owner to the person accountable for it"
// +kubebuilder:validation:XValidation:rule="self.state != 'Published' || (has(self.apology) && has(self.understanding) && size(self.apology) > 0 && size(self.understanding) > 0)",message="a post-mortem is published with its apology and understanding sections written: fill in spec.apology and spec.understanding"
type PostmortemSpec struct {
	// incidentRef names the Incident, in this namespace, that the post-mortem is about.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="incidentRef cannot change: a post-mortem belongs to one incident"
	IncidentRef LocalReference `json:"incidentRef"`

	// owner is the one person accountable for finishing the post-mortem. The controller
	// proposes the incident's IC in status.proposedOwner, but somebody must confirm the owner
	// by setting this field; until then reminders go out.
	// +optional
	Owner Person `json:"owner,omitempty"`

	// state is Draft, InReview or Published. It moves Draft -> InReview -> Published (or back
	// from InReview to Draft); Published is final.
	// +optional
	// +kubebuilder:default=Draft
	// +kubebuilder:validation:XValidation:rule="oldSelf != 'Published' || self == 'Published'",message="a Published post-mortem stays Published"
	// +kubebuilder:validation:XValidation:rule="oldSelf != 'Draft' || self != 'Published'",message="a Draft goes to InReview before it is Published"
	State PostmortemState `json:"state,omitempty"`

	// dueAt is when the post-mortem must be Published. The controller sets it from the
	// ResponsePolicy's postmortemDue when it creates the post-mortem; people may move it.
	// +optional
	DueAt *metav1.Time `json:"dueAt,omitempty"`

	// apology is what the company says to the people it let down, plainly.
	// +optional
	// +kubebuilder:validation:MaxLength=5000
	Apology string `json:"apology,omitempty"`

	// understanding shows that the team understands what happened: the events in order, the
	// impact, and why it happened. The controller prefills it with the incident's chronology.
	// +optional
	// +kubebuilder:validation:MaxLength=20000
	Understanding string `json:"understanding,omitempty"`

	// remediation lists what will be done so that it does not happen again, each item with an
	// owner.
	// +optional
	// +listType=map
	// +listMapKey=title
	// +kubebuilder:validation:MaxItems=50
	Remediation []RemediationItem `json:"remediation,omitempty"`

	// publishToStatusPage posts the post-mortem, once Published, on the status page that
	// carried the incident's status updates (Statuspage: its postmortem, as a draft during
	// review, then published). Default false: post-mortems stay internal.
	// +optional
	PublishToStatusPage bool `json:"publishToStatusPage,omitempty"`

	// notifySubscribers asks the status page to notify its subscribers when the post-mortem is
	// published.
	// +optional
	NotifySubscribers bool `json:"notifySubscribers,omitempty"`
}

// RemediationItem is one thing that will be done so the incident does not happen again.
type RemediationItem struct {
	// title says what will be done.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`
	// owner is who will do it.
	// +optional
	Owner Person `json:"owner,omitempty"`
	// tracker links the ticket that tracks it.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || (isURL(self) && url(self).getScheme() in ['http', 'https'])",message="tracker must be an absolute http or https URL, such as https://tracker.example.com/OPS-123"
	Tracker string `json:"tracker,omitempty"`
	// done is true once it is done.
	// +optional
	Done bool `json:"done,omitempty"`
}

// IncidentRecord is the incident the post-mortem reviews, kept current while the incident
// exists and kept as it last stood once it is deleted: the facts the post-mortem starts from.
type IncidentRecord struct {
	// uid of the reviewed Incident: a later Incident of the same name is another incident.
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// policy is the name of the ResponsePolicy that applied, whose reminder interval and comms
	// channel still apply once the incident is deleted.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Policy string `json:"policy,omitempty"`
	// statusPageIncident is the status page's incident that customers read about it, the one
	// the post-mortem is attached to.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	StatusPageIncident string `json:"statusPageIncident,omitempty"`
	// title of the incident.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title,omitempty"`
	// drill is true for a training incident.
	// +optional
	Drill bool `json:"drill,omitempty"`
	// highestState is the most severe state the incident reached (Major above Confirmed above
	// Investigating).
	// +optional
	HighestState IncidentState `json:"highestState,omitempty"`
	// openedAt is copied from the Incident's status.
	// +optional
	OpenedAt *metav1.Time `json:"openedAt,omitempty"`
	// confirmedAt is copied from the Incident's status.
	// +optional
	ConfirmedAt *metav1.Time `json:"confirmedAt,omitempty"`
	// majorAt is copied from the Incident's status.
	// +optional
	MajorAt *metav1.Time `json:"majorAt,omitempty"`
	// resolvedAt is copied from the Incident's status.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
	// durations measured from the timestamps.
	// +optional
	Durations IncidentDurations `json:"durations,omitzero"`
	// roles held at resolution.
	// +optional
	Roles Roles `json:"roles,omitzero"`
	// timeline is the incident's timeline, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	Timeline []TimelineEntry `json:"timeline,omitempty"`
	// statusUpdates are the updates customers read, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	StatusUpdates []PublishedUpdate `json:"statusUpdates,omitempty"`
}

// IncidentDurations are the response's durations.
type IncidentDurations struct {
	// toConfirm is from declaration to Confirmed (or Major, if it went straight there).
	// +optional
	ToConfirm *metav1.Duration `json:"toConfirm,omitempty"`
	// toFirstStatusUpdate is from declaration to the first update customers read.
	// +optional
	ToFirstStatusUpdate *metav1.Duration `json:"toFirstStatusUpdate,omitempty"`
	// toResolve is from declaration to resolution.
	// +optional
	ToResolve *metav1.Duration `json:"toResolve,omitempty"`
}

// PublishedUpdate is one status update as customers read it.
type PublishedUpdate struct {
	// name of the StatusUpdate.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// status is the update's status, in the status-page vocabulary.
	// +required
	Status UpdateStatus `json:"status"`
	// message as published.
	// +required
	// +kubebuilder:validation:MaxLength=5000
	Message string `json:"message"`
	// publishedAt is when it reached the status page.
	// +required
	PublishedAt metav1.Time `json:"publishedAt"`
}

// PostmortemPublication is the bookkeeping of posting the post-mortem on the status page.
type PostmortemPublication struct {
	// providerRef is the status page's incident the post-mortem is attached to.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ProviderRef string `json:"providerRef,omitempty"`
	// draftedGeneration is the generation whose text is stored as the provider's draft.
	// +optional
	DraftedGeneration int64 `json:"draftedGeneration,omitempty"`
	// sendingSince is set, before the publish call, while it is under way. Finding it set
	// after a crash means the outcome is unknown: the controller asks the provider whether
	// the post-mortem is public before it publishes again.
	// +optional
	SendingSince *metav1.Time `json:"sendingSince,omitempty"`
	// sendingGeneration is the generation the publish call recorded in sendingSince sent.
	// +optional
	SendingGeneration int64 `json:"sendingGeneration,omitempty"`
	// publishedAt is when the post-mortem became public.
	// +optional
	PublishedAt *metav1.Time `json:"publishedAt,omitempty"`
	// publishedGeneration is the generation whose text is public on the status page. An edit
	// after publication is published as an edit of the page's post-mortem, without notifying
	// subscribers again.
	// +optional
	PublishedGeneration int64 `json:"publishedGeneration,omitempty"`
	// rejectedGeneration is the generation the status page refused; it is not sent again
	// until the post-mortem changes.
	// +optional
	RejectedGeneration int64 `json:"rejectedGeneration,omitempty"`
	// attempts made since the last success.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// nextAttemptAt is when the status page may be called again after a failed attempt;
	// nothing calls it before, whatever wakes the controller.
	// +optional
	NextAttemptAt *metav1.Time `json:"nextAttemptAt,omitempty"`
	// retryHonoured is the last value of the firescope.dev/retry annotation the controller
	// acted on: each new value is honoured once.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RetryHonoured string `json:"retryHonoured,omitempty"`
}

// PostmortemStatus is what the controller observed.
type PostmortemStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions are OwnerAssigned, RemediationOwned, OnSchedule and Published.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// proposedOwner is the incident's IC at resolution, proposed as the owner.
	// +optional
	ProposedOwner Person `json:"proposedOwner,omitempty"`
	// incident is what the post-mortem starts from, kept current while the incident changes
	// (a reopen adds to it; the post-mortem stays one).
	// +optional
	Incident IncidentRecord `json:"incident,omitzero"`
	// remindersSent are the keys of the reminders already sent, newest last.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=128
	RemindersSent []string `json:"remindersSent,omitempty"`
	// publication is the status page bookkeeping.
	// +optional
	Publication PostmortemPublication `json:"publication,omitzero"`
	// outbox holds the reminders recorded for the comms channel and not yet delivered, as
	// the Incident's outbox holds its announcements.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Outbox []OutboxItem `json:"outbox,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pm,categories=firescope
// +kubebuilder:printcolumn:name="Incident",type=string,JSONPath=`.spec.incidentRef.name`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Due",type=string,JSONPath=`.spec.dueAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="On Schedule",type=string,JSONPath=`.status.conditions[?(@.type=="OnSchedule")].reason`,priority=1

// Postmortem is the review of one resolved Incident, owned by one person and due by a date.
// The controller creates it when the Incident resolves, named after the Incident, and records
// it in the Incident's status.postmortem, so there is one per Incident across reopens and one
// deleted on purpose is not created again.
type Postmortem struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// spec is the post-mortem.
	// +required
	Spec PostmortemSpec `json:"spec"`
	// status is what the controller observed.
	// +optional
	Status PostmortemStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// PostmortemList contains a list of Postmortem.
type PostmortemList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Postmortem `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &Postmortem{}, &PostmortemList{})
		return nil
	})
}

// Condition types and reasons of a Postmortem.
const (
	// ConditionOwnerAssigned is True once spec.owner names the accountable person.
	ConditionOwnerAssigned = "OwnerAssigned"
	// ConditionRemediationOwned is False while an open remediation item has no owner.
	ConditionRemediationOwned = "RemediationOwned"
	// ConditionOnSchedule is False once the due date has passed before publication.
	ConditionOnSchedule = "OnSchedule"
	// ConditionPostmortemPublished (type "Published") says whether the post-mortem is on the
	// status page; present only when spec.publishToStatusPage asks for it.
	ConditionPostmortemPublished = ConditionPublished

	// ReasonOwnerConfirmed (OwnerAssigned=True): somebody set spec.owner.
	ReasonOwnerConfirmed = "OwnerConfirmed"
	// ReasonOwnerMissing (OwnerAssigned=False): nobody is accountable yet.
	ReasonOwnerMissing = "OwnerMissing"
	// ReasonAllOwned (RemediationOwned=True): every open item has an owner.
	ReasonAllOwned = "AllOwned"
	// ReasonUnowned (RemediationOwned=False): the message lists the items without an owner.
	ReasonUnowned = "Unowned"
	// ReasonNotDue (OnSchedule=True): the due date is ahead.
	ReasonNotDue = "NotDue"
	// ReasonDone (OnSchedule=True): the post-mortem is Published.
	ReasonDone = "Done"
	// ReasonPastDue (OnSchedule=False): the due date passed before publication.
	ReasonPastDue = "PastDue"
	// ReasonNoPublicIncident (Published=False): customers never read a status update about
	// the incident, so there is no status page incident to attach the post-mortem to.
	ReasonNoPublicIncident = "NoPublicIncident"
	// ReasonDrafted (Published=False): the text is on the status page as a draft, for review.
	ReasonDrafted = "Drafted"
	// ReasonUnsupported (Published=False): the StatusPage's provider cannot hold post-mortems.
	ReasonUnsupported = "Unsupported"
)

// Event reasons of a Postmortem.
const (
	// EventPostmortemCreated: the controller opened the post-mortem of a resolved incident.
	EventPostmortemCreated = "PostmortemCreated"
	// EventPostmortemOwnerMissing (Warning): nobody has confirmed ownership.
	EventPostmortemOwnerMissing = "PostmortemOwnerMissing"
	// EventRemediationUnowned (Warning): remediation items have no owner.
	EventRemediationUnowned = "RemediationUnowned"
	// EventPostmortemPublished: the post-mortem is on the status page.
	EventPostmortemPublished = "PostmortemPublished"
	// EventPostmortemPublishFailed (Warning): the status page refused the post-mortem.
	EventPostmortemPublishFailed = "PostmortemPublishFailed"
)
