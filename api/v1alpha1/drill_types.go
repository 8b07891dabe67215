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

// AnnotationStartDrill asks for a one-off run of a Drill now. Its value is a token (the plugin
// writes the time); each new value starts one run, and a value already handled starts none, so
// that re-applying the same object never starts a second run.
const AnnotationStartDrill = "firescope.dev/start-drill"

// ScenarioConfigMapKey is the key of a scenario ConfigMap that holds the scenario, as YAML or
// JSON in the form of DrillScenarioSpec.
const ScenarioConfigMapKey = "scenario.yaml"

// MaxInjects is the most injects a scenario holds.
const MaxInjects = 50

// InjectType says what an inject does to the drill.
// +kubebuilder:validation:Enum=Note;Pressure;Impact;HealthSignal
type InjectType string

const (
	// InjectNote announces news from outside the team to the comms channel and records it in
	// the run: "AWS confirms elevated EC2 API error rates in us-east-1", "health signal
	// availability drops to 97%".
	InjectNote InjectType = "Note"
	// InjectPressure is an escalation prompt addressed to the IC: "customers are tweeting",
	// "the CEO asks for an ETA". It is announced as "@<IC>: ...".
	InjectPressure InjectType = "Pressure"
	// InjectImpact changes the drill Incident's spec.impact, as a responder learning more would,
	// and announces the change.
	InjectImpact InjectType = "Impact"
	// InjectHealthSignal sets a health signal of the drill Incident's policy to a value, as
	// the evaluator would read it in a real incident: a drill never queries Prometheus.
	InjectHealthSignal InjectType = "HealthSignal"
)

// Inject is one timed event of a scenario.
// +kubebuilder:validation:XValidation:rule="self.type != 'Impact' || has(self.impact)",message="an Impact inject needs impact: the impact the drill Incident takes, such as {description: \"PX dynos cannot scale\", customersAffected: 120}"
// +kubebuilder:validation:XValidation:rule="self.type == 'Impact' || !has(self.impact)",message="impact is only for injects of type Impact: use type Impact, or put the news in message"
// +kubebuilder:validation:XValidation:rule="(self.type == 'HealthSignal') == has(self.signal)",message="an inject of type HealthSignal needs signal (name and value, such as {name: availability, value: \"97\"}), and only such an inject has one"
type Inject struct {
	// at is when the inject plays, as an offset from the start of the run, such as 2m.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('0s')",message="must be an offset from the start of the run, such as 0s, 90s, 5m or 1h30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	At metav1.Duration `json:"at"`

	// type says what the inject does: Note, Pressure or Impact.
	// +required
	Type InjectType `json:"type"`

	// message is what the responders hear, without the [DRILL] mark, which Firescope adds.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=400
	Message string `json:"message"`

	// impact is the Incident's new spec.impact, for injects of type Impact.
	// +optional
	Impact *Impact `json:"impact,omitempty"`

	// signal is the health signal's new value, for injects of type HealthSignal.
	// +optional
	Signal *InjectedSignal `json:"signal,omitempty"`
}

// InjectedSignal is a value a drill gives one of its policy's health signals.
type InjectedSignal struct {
	// name of the health signal, as the ResponsePolicy names it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// value is a decimal number, such as "97".
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^-?[0-9]+(\.[0-9]+)?$`
	Value string `json:"value"`
}

// DrillScenarioSpec is what happens in a drill: how it starts and what happens when.
type DrillScenarioSpec struct {
	// title is the drill Incident's title.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`

	// state is the state the drill Incident is declared in. Default Investigating.
	// +optional
	// +kubebuilder:default=Investigating
	// +kubebuilder:validation:XValidation:rule="self != 'Resolved'",message="a drill cannot start Resolved: start it Investigating, Confirmed or Major"
	State IncidentState `json:"state,omitempty"`

	// impact is what is known to be broken at the start.
	// +optional
	Impact *Impact `json:"impact,omitempty"`

	// injects are the scenario's timed events, played in order of at.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	Injects []Inject `json:"injects,omitempty"`

	// expectHandoff asks the team to practise handing off command: the grade then has a
	// criterion HandoffPractised, passed by an IC hand-off during the run.
	// +optional
	ExpectHandoff bool `json:"expectHandoff,omitempty"`
}

// DrillScenario is the scenario of a Drill: inline, or in a ConfigMap that several Drills share.
// +kubebuilder:validation:XValidation:rule="has(self.inline) != has(self.configMapRef)",message="set exactly one of scenario.inline and scenario.configMapRef"
type DrillScenario struct {
	// inline is the scenario itself.
	// +optional
	Inline *DrillScenarioSpec `json:"inline,omitempty"`

	// configMapRef names a ConfigMap in the Drill's namespace whose key scenario.yaml holds
	// the scenario, in the form of inline.
	// +optional
	ConfigMapRef *LocalReference `json:"configMapRef,omitempty"`
}

// DrillSpec is a drill to run on a schedule or on request.
// +kubebuilder:validation:XValidation:rule="!has(self.startingDeadlineSeconds) || has(self.schedule)",message="startingDeadlineSeconds applies only to a schedule: set schedule, or remove startingDeadlineSeconds"
// +kubebuilder:validation:XValidation:rule="!has(self.scenario.inline) || !has(self.scenario.inline.injects) || self.scenario.inline.injects.all(i, duration(i.at) < duration(self.timeLimit))",message="every inject must play before timeLimit: raise timeLimit or move the inject earlier"
type DrillSpec struct {
	// scenario is what happens in the drill.
	// +required
	Scenario DrillScenario `json:"scenario"`

	// commander is the person drafted as Incident Commander of each run, normally the on-call.
	// +required
	Commander Person `json:"commander"`

	// participants are the other people taking part; they are named in the run's announcement.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	Participants []Person `json:"participants,omitempty"`

	// schedule is a cron expression in UTC: five fields, six with leading seconds (for drills
	// every few seconds, in tests), or a descriptor such as @weekly. A Drill without one runs
	// only when asked, with the firescope.dev/start-drill annotation.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Schedule string `json:"schedule,omitempty"`

	// suspend stops scheduled runs; a run under way goes on, and a one-off start still works.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// startingDeadlineSeconds is how late a scheduled run may start, for instance after the
	// manager was down. A run missed by more is skipped. However many runs were missed, at most
	// one starts: the latest. Default: no deadline.
	// +optional
	// +kubebuilder:validation:Minimum=1
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// policyRef names the ResponsePolicy the drill Incident follows and is graded against.
	// When empty, the policy named "default" applies.
	// +optional
	PolicyRef *PolicyReference `json:"policyRef,omitempty"`

	// timeLimit is how long a run lasts at most: a run still open then is resolved by
	// Firescope and graded.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="must be a duration between 1s and 24h, such as 30s, 15m or 1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	TimeLimit metav1.Duration `json:"timeLimit"`

	// historyLimit is how many graded runs status keeps, newest last. Default 5.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	HistoryLimit int32 `json:"historyLimit,omitempty"`
}

// PlayedInject is an inject that has played.
type PlayedInject struct {
	// index is the inject's position in the scenario's injects, ordered by at.
	// +required
	// +kubebuilder:validation:Minimum=0
	Index int32 `json:"index"`
	// type is the inject's type.
	// +required
	Type InjectType `json:"type"`
	// plannedAt is when the inject was due.
	// +required
	PlannedAt metav1.Time `json:"plannedAt"`
	// playedAt is when it played.
	// +required
	PlayedAt metav1.Time `json:"playedAt"`
	// message is the inject's message.
	// +optional
	// +kubebuilder:validation:MaxLength=400
	Message string `json:"message,omitempty"`
	// signal is the health signal value a HealthSignal inject set.
	// +optional
	Signal *InjectedSignal `json:"signal,omitempty"`
}

// DrillRun is the run under way.
type DrillRun struct {
	// incident names the run's drill Incident.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Incident string `json:"incident"`
	// startedAt is when the run started.
	// +required
	StartedAt metav1.Time `json:"startedAt"`
	// endsAt is when the time limit ends the run.
	// +required
	EndsAt metav1.Time `json:"endsAt"`
	// injects are the injects played so far, in order. An inject is recorded here before it
	// is announced, so a restart never plays one twice.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	Injects []PlayedInject `json:"injects,omitempty"`
}

// DrillEndReason says how a run ended.
// +kubebuilder:validation:Enum=Resolved;TimeLimit;IncidentDeleted
type DrillEndReason string

const (
	// DrillEndResolved: the IC resolved the drill Incident.
	DrillEndResolved DrillEndReason = "Resolved"
	// DrillEndTimeLimit: the time limit passed with the Incident still open.
	DrillEndTimeLimit DrillEndReason = "TimeLimit"
	// DrillEndIncidentDeleted: the drill Incident was deleted during the run.
	DrillEndIncidentDeleted DrillEndReason = "IncidentDeleted"
)

// CriterionResult is the outcome of one grading criterion.
// +kubebuilder:validation:Enum=Pass;Fail;NotApplicable;Pending
type CriterionResult string

const (
	// CriterionPass: the team did what the procedure asks.
	CriterionPass CriterionResult = "Pass"
	// CriterionFail: the team did not; the evidence says what was missing.
	CriterionFail CriterionResult = "Fail"
	// CriterionNotApplicable: the run gave no occasion for it (no hand-off was asked for, the
	// incident never became Confirmed...). It does not count in the grade.
	CriterionNotApplicable CriterionResult = "NotApplicable"
	// CriterionPending: it is decided after the run, such as the post-mortem before its due
	// date; it does not count in the grade until then.
	CriterionPending CriterionResult = "Pending"
)

// Criterion is one graded part of the procedure.
type Criterion struct {
	// name of the criterion: Confirmed, CommsStaffed, CustomersInformed, SitrepsOnCadence,
	// UpdateWording, ChangesAnnounced, HandoffPractised, ResolvedInTime, PostmortemWritten.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`
	// result is Pass, Fail, NotApplicable or Pending.
	// +required
	Result CriterionResult `json:"result"`
	// evidence says why, quoting the timeline entry that decided it, with its offset from the
	// start of the run ("+2m10s Comms -> keiko").
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Evidence string `json:"evidence,omitempty"`
}

// DrillRunResult is one finished, graded run.
type DrillRunResult struct {
	// incident names the run's drill Incident.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Incident string `json:"incident"`
	// startedAt is when the run started.
	// +required
	StartedAt metav1.Time `json:"startedAt"`
	// endedAt is when the run ended.
	// +required
	EndedAt metav1.Time `json:"endedAt"`
	// endReason says how it ended.
	// +required
	EndReason DrillEndReason `json:"endReason"`
	// grade is "passed/graded", such as 5/6: criteria passed out of those that applied.
	// +required
	// +kubebuilder:validation:MaxLength=16
	Grade string `json:"grade"`
	// criteria are the graded parts of the procedure, with their evidence.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Criteria []Criterion `json:"criteria,omitempty"`
	// injects are the injects that played.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	Injects []PlayedInject `json:"injects,omitempty"`
}

// DrillStatus is what the controller observed and did.
type DrillStatus struct {
	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready (the schedule and scenario are usable).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastScheduleTime is the latest scheduled time that was handled: started, or skipped
	// because it was too late or a run was under way.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastStartRequest is the value of the firescope.dev/start-drill annotation last handled.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	LastStartRequest string `json:"lastStartRequest,omitempty"`

	// nextRunAt is when the schedule next starts a run; empty without a schedule or when
	// suspended.
	// +optional
	NextRunAt *metav1.Time `json:"nextRunAt,omitempty"`

	// active is the run under way.
	// +optional
	Active *DrillRun `json:"active,omitempty"`

	// lastRunAt is when the latest graded run started.
	// +optional
	LastRunAt *metav1.Time `json:"lastRunAt,omitempty"`

	// lastGrade is the grade of the latest graded run.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	LastGrade string `json:"lastGrade,omitempty"`

	// runs are the latest graded runs, newest last, at most spec.historyLimit.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Runs []DrillRunResult `json:"runs,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=firescope
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Active",type=string,JSONPath=`.status.active.incident`,priority=1
// +kubebuilder:printcolumn:name="Last Run",type=date,JSONPath=`.status.lastRunAt`
// +kubebuilder:printcolumn:name="Last Grade",type=string,JSONPath=`.status.lastGrade`
// +kubebuilder:printcolumn:name="Next Run",type=string,JSONPath=`.status.nextRunAt`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 230",message="a Drill name is at most 230 characters, so that its runs' Incident names (name-<time>) fit"

// Drill runs a training incident on a schedule or on request, plays its scenario's injects,
// and grades the team's procedure.
type Drill struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the drill.
	// +required
	Spec DrillSpec `json:"spec"`

	// status is what the controller observed and did.
	// +optional
	Status DrillStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// DrillList contains a list of Drill.
type DrillList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Drill `json:"items"`
}

// ConditionDrillReady says whether a Drill's schedule and scenario are usable.
const ConditionDrillReady = "Ready"

// Reasons of ConditionDrillReady.
const (
	// ReasonDrillValid: the schedule parses and the scenario resolves.
	ReasonDrillValid = "Valid"
	// ReasonInvalidSchedule: spec.schedule is not a cron expression.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonScenarioInvalid: the scenario ConfigMap is missing or does not hold a valid scenario.
	ReasonScenarioInvalid = "ScenarioInvalid"
)

// Event reasons of Drills.
const (
	// EventDrillStarted: a run started; the note names its Incident.
	EventDrillStarted = "DrillStarted"
	// EventDrillSkipped: a scheduled or requested run did not start (a run under way, or too late).
	EventDrillSkipped = "DrillSkipped"
	// EventInjectPlayed: an inject played.
	EventInjectPlayed = "InjectPlayed"
	// EventDrillGraded: a run ended and was graded.
	EventDrillGraded = "DrillGraded"
)

// LabelDrill names the Drill on its runs' Incidents.
const LabelDrill = "firescope.dev/drill"

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &Drill{}, &DrillList{})
		return nil
	})
}
