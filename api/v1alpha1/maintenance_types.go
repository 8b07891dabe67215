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
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MaintenancePhase is where a maintenance window stands.
// +kubebuilder:validation:Enum=Scheduled;InProgress;Completed
type MaintenancePhase string

const (
	// MaintenanceScheduled: the window has not started.
	MaintenanceScheduled MaintenancePhase = "Scheduled"
	// MaintenanceInProgress: the window has started and not ended.
	MaintenanceInProgress MaintenancePhase = "InProgress"
	// MaintenanceCompleted: the window has ended.
	MaintenanceCompleted MaintenancePhase = "Completed"
)

// MaintenanceSpec is planned work announced to customers ahead of time.
type MaintenanceSpec struct {
	// statusPageRef names the StatusPage, in this namespace, that announces the maintenance.
	// It cannot change: the announcement lives on one page.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="statusPageRef cannot change: create a new Maintenance for another page"
	StatusPageRef LocalReference `json:"statusPageRef"`

	// title is what customers see as the maintenance's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Title string `json:"title"`

	// message is what customers read: what is done, what they will notice, what they can do.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=5000
	Message string `json:"message"`

	// components are the components under maintenance, by their status-page names. They show
	// as under_maintenance while the window runs, and incidents that touch only these
	// components do not page during it.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	Components []string `json:"components"`

	// window is when the work happens. The maintenance starts and completes by itself at
	// its edges.
	// +required
	Window MaintenanceWindow `json:"window"`

	// notify asks the status page to notify its subscribers when the maintenance is
	// announced, starts and completes.
	// +optional
	Notify bool `json:"notify,omitempty"`
}

// MaintenanceWindow is a span of time.
// +kubebuilder:validation:XValidation:rule="self.end > self.start",message="window.end must be after window.start"
// +kubebuilder:validation:XValidation:rule="self.end - self.start <= duration('168h')",message="a maintenance window is at most 7 days long: split longer work into several Maintenances"
type MaintenanceWindow struct {
	// start is when the maintenance begins, in RFC 3339 (2026-12-03T22:00:00Z).
	// +required
	Start metav1.Time `json:"start"`
	// end is when the maintenance is over, in RFC 3339; after start.
	// +required
	End metav1.Time `json:"end"`
}

// MaintenanceStatus is where the maintenance stands and what the status page shows of it.
type MaintenanceStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// phase is Scheduled before the window, InProgress during it and Completed after it. It
	// never goes back: moving the window later does not unstart a maintenance.
	// +optional
	Phase MaintenancePhase `json:"phase,omitempty"`
	// conditions are Published.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// providerRef is the provider's id of the announcement (Statuspage: the scheduled
	// incident).
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ProviderRef string `json:"providerRef,omitempty"`
	// publishedPhase is the phase the status page shows.
	// +optional
	PublishedPhase MaintenancePhase `json:"publishedPhase,omitempty"`
	// publishedGeneration is the generation whose text the status page shows.
	// +optional
	PublishedGeneration int64 `json:"publishedGeneration,omitempty"`
	// sendingSince is set, before the call to the provider, while a publication is under way.
	// Finding it set after a crash means the outcome is unknown: the controller asks the
	// provider what it holds before sending again.
	// +optional
	SendingSince *metav1.Time `json:"sendingSince,omitempty"`
	// sendingPhase is the phase the call recorded in sendingSince sent.
	// +optional
	SendingPhase MaintenancePhase `json:"sendingPhase,omitempty"`
	// sendingGeneration is the generation the call recorded in sendingSince sent.
	// +optional
	SendingGeneration int64 `json:"sendingGeneration,omitempty"`
	// rejected is the phase and generation ("InProgress/3") the status page refused for good.
	// It is not sent again until the maintenance changes, its phase moves on, or a new value
	// of the firescope.dev/retry annotation asks for it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Rejected string `json:"rejected,omitempty"`
	// attempts counts the failed calls to the status page since the last success; the wait
	// before the next one grows with it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts int32 `json:"attempts,omitempty"`
	// nextAttemptAt is when the status page may be called again after a failed call.
	// +optional
	NextAttemptAt *metav1.Time `json:"nextAttemptAt,omitempty"`
	// retryHonoured is the last value of the firescope.dev/retry annotation acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RetryHonoured string `json:"retryHonoured,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mw,categories=firescope
// +kubebuilder:printcolumn:name="Page",type=string,JSONPath=`.spec.statusPageRef.name`
// +kubebuilder:printcolumn:name="Start",type=string,JSONPath=`.spec.window.start`
// +kubebuilder:printcolumn:name="End",type=string,JSONPath=`.spec.window.end`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Published",type=string,JSONPath=`.status.conditions[?(@.type=="Published")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Maintenance is planned work on some components, announced on a StatusPage ahead of time.
// It moves from Scheduled to InProgress to Completed by itself at its window's edges, each
// step published once; while it is InProgress, incidents that touch only its components do
// not page.
type Maintenance struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// spec is the planned work.
	// +required
	Spec MaintenanceSpec `json:"spec"`
	// status is where it stands.
	// +optional
	Status MaintenanceStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// MaintenanceList contains a list of Maintenance.
type MaintenanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Maintenance `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &Maintenance{}, &MaintenanceList{})
		return nil
	})
}

// phaseRank orders the phases; a maintenance only moves forward.
var phaseRank = map[MaintenancePhase]int{"": 0, MaintenanceScheduled: 1, MaintenanceInProgress: 2, MaintenanceCompleted: 3}

// After reports whether phase a comes after phase b.
func (a MaintenancePhase) After(b MaintenancePhase) bool { return phaseRank[a] > phaseRank[b] }

// PhaseAt is the phase of the maintenance at now: the window's phase, but never one before
// the phase its status records, so that moving the window later does not unstart it.
func (m *Maintenance) PhaseAt(now time.Time) MaintenancePhase {
	p := MaintenanceScheduled
	switch w := m.Spec.Window; {
	case !now.Before(w.End.Time):
		p = MaintenanceCompleted
	case !now.Before(w.Start.Time):
		p = MaintenanceInProgress
	}
	if m.Status.Phase.After(p) {
		return m.Status.Phase
	}
	return p
}

// NextEdge is how long after now the maintenance next changes phase by itself; 0 once it is
// Completed.
func (m *Maintenance) NextEdge(now time.Time) time.Duration {
	switch m.PhaseAt(now) {
	case MaintenanceScheduled:
		return m.Spec.Window.Start.Sub(now)
	case MaintenanceInProgress:
		if d := m.Spec.Window.End.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Covers reports whether the maintenance is InProgress at now and every one of components
// is among its own. An empty list is covered by none: an incident that names no component
// may touch anything.
func (m *Maintenance) Covers(components []string, now time.Time) bool {
	if len(components) == 0 || m.PhaseAt(now) != MaintenanceInProgress {
		return false
	}
	for _, c := range components {
		if !slices.Contains(m.Spec.Components, c) {
			return false
		}
	}
	return true
}

// FinalizerCompleteMaintenance is on a Maintenance the status page may show: deleting it
// first completes it there (a scheduled one as cancelled), so that no page keeps announcing
// work that is no longer planned.
const FinalizerCompleteMaintenance = "firescope.dev/complete-maintenance"

// Condition reasons and Events of a Maintenance. The Published condition type is
// ConditionPublished, with the StatusUpdate's reasons Published, Pending, Retrying,
// Rejected and NeedsAttention.
const (
	// EventMaintenancePublished: the status page shows the maintenance's new phase.
	EventMaintenancePublished = "MaintenancePublished"
	// EventMaintenancePublishFailed (Warning): the status page refused the maintenance.
	EventMaintenancePublishFailed = "MaintenancePublishFailed"
	// EventPagingSuppressedByMaintenance: an Incident did not page because a Maintenance in
	// progress covers every component it touches; the message names the Maintenance.
	EventPagingSuppressedByMaintenance = "PagingSuppressedByMaintenance"
)
