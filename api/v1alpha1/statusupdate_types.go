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

// UpdateStatus is the status-page vocabulary for where an incident stands.
// +kubebuilder:validation:Enum=investigating;identified;monitoring;resolved
type UpdateStatus string

// ComponentStatus is the status-page vocabulary for a component.
// +kubebuilder:validation:Enum=operational;degraded_performance;partial_outage;major_outage;under_maintenance
type ComponentStatus string

// StatusUpdateSpec is one customer-facing update for one Incident.
type StatusUpdateSpec struct {
	// incidentRef names the Incident, in this namespace, that the update is about. It cannot
	// change: an update belongs to one incident's public history.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="incidentRef cannot change: create a new StatusUpdate for another incident"
	IncidentRef LocalReference `json:"incidentRef"`

	// status is where the incident stands, in the status-page vocabulary.
	// +required
	Status UpdateStatus `json:"status"`

	// message is what customers read: what is broken, what is being done, what they can do.
	// Editing it after publication edits the published update.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=5000
	Message string `json:"message"`

	// components are the affected components and their status, by their status-page names.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	Components []UpdateComponent `json:"components,omitempty"`
}

// ComponentNames are the names of the components the update marks.
func (s *StatusUpdateSpec) ComponentNames() []string {
	names := make([]string, len(s.Components))
	for i, c := range s.Components {
		names[i] = c.Name
	}
	return names
}

// UpdateComponent is one component's status in an update.
type UpdateComponent struct {
	// name of the component, as the StatusPage maps it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Name string `json:"name"`
	// status of the component.
	// +required
	Status ComponentStatus `json:"status"`
}

// StatusUpdateStatus is what the controller did with the update.
type StatusUpdateStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions are Published and WordingOK.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// publishedAt is when the update reached the status page.
	// +optional
	PublishedAt *metav1.Time `json:"publishedAt,omitempty"`
	// providerRef is the provider's id of the public incident.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ProviderRef string `json:"providerRef,omitempty"`
	// providerUpdateRef is the provider's id of this update, when it has one.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ProviderUpdateRef string `json:"providerUpdateRef,omitempty"`
	// sendingSince is set, before the call to the provider, while a publication is under way.
	// Finding it set after a crash means the outcome is unknown: the controller looks the
	// provider incident up and adopts what it finds rather than posting again.
	// +optional
	SendingSince *metav1.Time `json:"sendingSince,omitempty"`
	// sendingGeneration is the generation the call recorded in sendingSince sent. Adopting
	// that call records this generation as published, never a later edit, which is then sent
	// as an edit.
	// +optional
	SendingGeneration int64 `json:"sendingGeneration,omitempty"`
	// publishedGeneration is the generation whose message is on the page.
	// +optional
	PublishedGeneration int64 `json:"publishedGeneration,omitempty"`
	// rejectedGeneration is the generation the status page refused for good. It is not sent
	// again until the update changes or a new value of the firescope.dev/retry annotation asks
	// for it, so a restart never sends an old update after newer ones.
	// +optional
	RejectedGeneration int64 `json:"rejectedGeneration,omitempty"`
	// attempts counts the failed calls to the status page since the last success; the wait
	// before the next one grows with it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts int32 `json:"attempts,omitempty"`
	// nextAttemptAt is when the status page may be called again after a failed call; nothing
	// calls it before, whatever wakes the controller.
	// +optional
	NextAttemptAt *metav1.Time `json:"nextAttemptAt,omitempty"`
	// retryHonoured is the last value of the firescope.dev/retry annotation the controller
	// acted on: each new value is honoured once.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RetryHonoured string `json:"retryHonoured,omitempty"`
	// incidentUID is the uid of the Incident this update belongs to, recorded the first time
	// the controller sees the Incident. An Incident created later under the same name is
	// another incident: the update is never published to it nor counted for it.
	// +optional
	IncidentUID types.UID `json:"incidentUID,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=su,categories=firescope
// +kubebuilder:printcolumn:name="Incident",type=string,JSONPath=`.spec.incidentRef.name`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.spec.status`
// +kubebuilder:printcolumn:name="Published",type=string,JSONPath=`.status.conditions[?(@.type=="Published")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// StatusUpdate is one customer-facing update for one Incident, published to the StatusPage
// its ResponsePolicy names, exactly once and in creation order.
type StatusUpdate struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// spec is the update.
	// +required
	Spec StatusUpdateSpec `json:"spec"`
	// status is what happened to it.
	// +optional
	Status StatusUpdateStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// StatusUpdateList contains a list of StatusUpdate.
type StatusUpdateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []StatusUpdate `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &StatusUpdate{}, &StatusUpdateList{})
		return nil
	})
}

// Annotations of a StatusUpdate.
const (
	// AnnotationCreatedAt is when the update was created, in RFC 3339 with nanoseconds,
	// stamped by the admission webhook on create and refused as a change afterwards. Updates of
	// one Incident publish in this order: creationTimestamp has whole seconds, so a burst
	// created within one second would otherwise publish in name order. Updates go by
	// creationTimestamp's second first; within one second, by this stamp when every update of
	// that second has one, and by name when one lacks it (the webhook was down) or has one more
	// than 5 seconds before or any second after its creationTimestamp.
	AnnotationCreatedAt = "firescope.dev/created-at"
	// AnnotationRetry asks the controller to try again what it stopped trying (a refused
	// update, or one whose outcome it cannot tell) once a person has checked: each new value
	// is honoured once. It is a plain metadata change, which the incident-admin and
	// incident-editor roles allow. Postmortems honour it too.
	AnnotationRetry = "firescope.dev/retry"
)

// Condition types and reasons of a StatusUpdate.
const (
	// ConditionPublished is True once the update is on the status page.
	ConditionPublished = "Published"
	// ConditionWordingOK is False when the message departs from the wording guidelines; the
	// message lists how.
	ConditionWordingOK = "WordingOK"

	// ReasonFollowsGuidelines (WordingOK=True): the message follows the wording guidelines.
	ReasonFollowsGuidelines = "FollowsGuidelines"
	// ReasonDepartsFromGuidelines (WordingOK=False): the message lists the findings.
	ReasonDepartsFromGuidelines = "DepartsFromGuidelines"

	// ReasonPublished: the update is on the status page.
	ReasonPublished = "Published"
	// ReasonPublishPending: the update waits for its Incident, its StatusPage or earlier updates.
	ReasonPublishPending = "Pending"
	// ReasonRetrying: the provider failed in a way that may pass; the next attempt is scheduled.
	ReasonRetrying = "Retrying"
	// ReasonRejected: the provider refused the update in a way that will not pass (bad key,
	// unknown component); the message says what to fix.
	ReasonRejected = "Rejected"
	// ReasonDrill: the update belongs to a drill and its StatusPage does not allow drills.
	ReasonDrill = "Drill"
	// ReasonNeedsAttention: whether the update was published cannot be known; the message says
	// what a person should check, and that a new value of the firescope.dev/retry annotation
	// asks again once they have.
	ReasonNeedsAttention = "NeedsAttention"
)
