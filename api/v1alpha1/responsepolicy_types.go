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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultPolicyName is the ResponsePolicy that applies to an Incident without a policyRef.
const DefaultPolicyName = "default"

// Defaults of a ResponsePolicy, used for every field it leaves empty and for Incidents whose
// policy does not exist.
const (
	DefaultSitrepInvestigating     = 30 * time.Minute
	DefaultSitrepConfirmed         = 60 * time.Minute
	DefaultSitrepMajor             = 30 * time.Minute
	DefaultCustomersInformedWithin = 15 * time.Minute
	DefaultStatusUpdateCadence     = 60 * time.Minute
	DefaultMaxRoleHold             = 4 * time.Hour
	DefaultPostmortemDue           = 5 * 24 * time.Hour
	DefaultPostmortemReminder      = 24 * time.Hour
)

// ResponsePolicySpec is how a team responds, defined in advance. Its repeating cadences are
// at least a minute, except in a policy for drills and tests (purpose: Drill).
// +kubebuilder:validation:XValidation:rule="(has(self.purpose) && self.purpose == 'Drill') || !has(self.sitrepCadence) || !has(self.sitrepCadence.investigating) || !self.sitrepCadence.investigating.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || duration(self.sitrepCadence.investigating) >= duration('1m')",fieldPath=".sitrepCadence.investigating",message="sitrepCadence.investigating below 1m is for drills and tests only: use at least 1m, or give a policy that only drills and tests use purpose: Drill"
// +kubebuilder:validation:XValidation:rule="(has(self.purpose) && self.purpose == 'Drill') || !has(self.sitrepCadence) || !has(self.sitrepCadence.confirmed) || !self.sitrepCadence.confirmed.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || duration(self.sitrepCadence.confirmed) >= duration('1m')",fieldPath=".sitrepCadence.confirmed",message="sitrepCadence.confirmed below 1m is for drills and tests only: use at least 1m, or give a policy that only drills and tests use purpose: Drill"
// +kubebuilder:validation:XValidation:rule="(has(self.purpose) && self.purpose == 'Drill') || !has(self.sitrepCadence) || !has(self.sitrepCadence.major) || !self.sitrepCadence.major.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || duration(self.sitrepCadence.major) >= duration('1m')",fieldPath=".sitrepCadence.major",message="sitrepCadence.major below 1m is for drills and tests only: use at least 1m, or give a policy that only drills and tests use purpose: Drill"
// +kubebuilder:validation:XValidation:rule="(has(self.purpose) && self.purpose == 'Drill') || !has(self.statusUpdateCadence) || !self.statusUpdateCadence.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || duration(self.statusUpdateCadence) >= duration('1m')",fieldPath=".statusUpdateCadence",message="statusUpdateCadence below 1m is for drills and tests only: use at least 1m, or give a policy that only drills and tests use purpose: Drill"
// +kubebuilder:validation:XValidation:rule="(has(self.purpose) && self.purpose == 'Drill') || !has(self.postmortemReminderInterval) || !self.postmortemReminderInterval.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || duration(self.postmortemReminderInterval) >= duration('1m')",fieldPath=".postmortemReminderInterval",message="postmortemReminderInterval below 1m is for drills and tests only: use at least 1m, or give a policy that only drills and tests use purpose: Drill"
type ResponsePolicySpec struct {
	// purpose is what the policy is for: Response (the default), real incidents, whose
	// sitrep, status update and post-mortem reminder cadences are at least a minute; or
	// Drill, drills, demos and tests, whose cadences may be as short as a second so that
	// reminders show within a minute. Name a Drill policy only from drill Incidents.
	// +optional
	// +kubebuilder:validation:Enum=Response;Drill
	Purpose PolicyPurpose `json:"purpose,omitempty"`

	// sitrepCadence is how often the IC posts a sitrep in each open state.
	// +optional
	SitrepCadence SitrepCadence `json:"sitrepCadence,omitzero"`

	// customersInformedWithin is how soon after an incident becomes Confirmed or Major the
	// first status update must be published. Default 15m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	CustomersInformedWithin *metav1.Duration `json:"customersInformedWithin,omitempty"`

	// statusUpdateCadence is how often customers should hear while the incident is Confirmed
	// or Major: Comms is reminded when an interval passes without a new status update. Default 60m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	StatusUpdateCadence *metav1.Duration `json:"statusUpdateCadence,omitempty"`

	// maxRoleHold is how long one person may hold a role before a hand-off is suggested
	// ("does anybody need a break or sleep?"). Default 4h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	MaxRoleHold *metav1.Duration `json:"maxRoleHold,omitempty"`

	// commsChannel is the dedicated channel that hears every state change, hand-off, sitrep
	// and overdue reminder.
	// +optional
	CommsChannel *CommsChannel `json:"commsChannel,omitempty"`

	// paging pages the IC's on-call through PagerDuty. Drills never page.
	// +optional
	Paging *Paging `json:"paging,omitempty"`

	// statusPageRef names the StatusPage that status updates are published to.
	// +optional
	StatusPageRef *LocalReference `json:"statusPageRef,omitempty"`

	// statusUpdateWording says what happens when a StatusUpdate's message departs from the
	// wording guidelines (no ETA, no presumed root cause, no blame; say what is broken, what
	// is being done, what customers can do): Warn (the default) returns admission warnings;
	// Enforce refuses the StatusUpdate.
	// +optional
	// +kubebuilder:validation:Enum=Warn;Enforce
	StatusUpdateWording WordingPolicy `json:"statusUpdateWording,omitempty"`

	// postmortemDue is how long after resolution the post-mortem is due. Default 120h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	PostmortemDue *metav1.Duration `json:"postmortemDue,omitempty"`

	// postmortemForDrills gives resolved drills a post-mortem too, so a team can practise
	// writing one. Default false: drills get none.
	// +optional
	PostmortemForDrills bool `json:"postmortemForDrills,omitempty"`

	// postmortemReminderInterval is how often the post-mortem's owner (or, while there is
	// none, the comms channel) is reminded of what is missing: an owner, owners of remediation
	// items, or a post-mortem past its due date. Default 24h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	PostmortemReminderInterval *metav1.Duration `json:"postmortemReminderInterval,omitempty"`

	// alerts says how the gateway's Alertmanager intake opens incidents from alerts in this
	// namespace (docs/alertmanager.md). It applies from the policy named "default".
	// +optional
	Alerts *AlertIntake `json:"alerts,omitempty"`

	// healthSignals are the product's two or three high-level health metrics, read from
	// Prometheus while an incident under this policy is open and shown in its status, its
	// sitrep announcements and, when a signal says publish, on the status page. At most
	// three (the schema's bound of 10 only caps the cost of validating a longer list).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:XValidation:rule="size(self) <= 3",message="at most 3 health signals: no more than 2-3 high-level metrics should say whether the product is healthy; keep the ones that tell customers' experience and move the rest to dashboards"
	HealthSignals []HealthSignal `json:"healthSignals,omitempty"`

	// healthInterval is how often the health signals are read while an incident is open;
	// each is read once per interval for all of the policy's open incidents. Default 30s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	HealthInterval *metav1.Duration `json:"healthInterval,omitempty"`

	// chatChannel says how `/incident declare` in Slack gives an incident its channel. By
	// default it links the channel the command was typed in.
	// +optional
	ChatChannel *ChatChannel `json:"chatChannel,omitempty"`
}

// ChatChannel is how an incident declared from Slack gets its channel.
type ChatChannel struct {
	// create makes `/incident declare` create a dedicated channel for the incident, named
	// prefix + the incident's name (conversations.create), invite its roles
	// (conversations.invite) and link that channel instead of the one typed in.
	// +optional
	Create bool `json:"create,omitempty"`

	// prefix of a dedicated channel's name. Default "inc-".
	// +optional
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^[a-z0-9_-]*$`
	Prefix string `json:"prefix,omitempty"`
}

// DefaultChatChannelPrefix begins the name of an incident's dedicated Slack channel.
const DefaultChatChannelPrefix = "inc-"

// AlertIntake is how incidents opened by Alertmanager's notifications start.
type AlertIntake struct {
	// defaultIncidentCommander is the IC of an incident opened from an alert. The intake acts
	// as a service account, which cannot be first responder, and PagerDuty's Events API does
	// not say who is on call: the on-call the policy's paging pages takes over with a
	// hand-off.
	// +required
	DefaultIncidentCommander Person `json:"defaultIncidentCommander"`

	// stateLabel names the alert label whose value, through states, picks the state the
	// incident opens in. Default "severity".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	StateLabel string `json:"stateLabel,omitempty"`

	// states maps values of stateLabel to the state an incident opens in, such as
	// critical: Major. An incident opens in the most severe state its firing alerts map to;
	// Investigating when none maps. Later notifications never change the state: the IC does.
	// +optional
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k] != 'Resolved')",message="states map to an open state: an alert cannot open a Resolved incident"
	States map[string]IncidentState `json:"states,omitempty"`

	// componentsLabel names the alert label whose values, across the firing alerts, become
	// impact.components (status-page component names). Default: none.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	ComponentsLabel string `json:"componentsLabel,omitempty"`
}

// DefaultAlertStateLabel is the alert label that picks an alert-opened incident's state.
const DefaultAlertStateLabel = "severity"

// PolicyPurpose says what a ResponsePolicy is for.
type PolicyPurpose string

const (
	// PurposeResponse is a policy for real incidents: cadences of at least a minute.
	PurposeResponse PolicyPurpose = "Response"
	// PurposeDrill is a policy for drills, demos and tests: cadences down to a second.
	PurposeDrill PolicyPurpose = "Drill"
)

// WordingPolicy says how the wording guidelines apply to status updates.
type WordingPolicy string

const (
	// WordingWarn returns the guidelines' findings as admission warnings.
	WordingWarn WordingPolicy = "Warn"
	// WordingEnforce refuses status updates with findings.
	WordingEnforce WordingPolicy = "Enforce"
)

// SitrepCadence is the sitrep interval per open state.
type SitrepCadence struct {
	// investigating defaults to 30m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	Investigating *metav1.Duration `json:"investigating,omitempty"`
	// confirmed defaults to 60m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	Confirmed *metav1.Duration `json:"confirmed,omitempty"`
	// major defaults to 30m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('1s')",message="must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	Major *metav1.Duration `json:"major,omitempty"`
}

// CommsChannel is a Slack incoming webhook, a Microsoft Teams Workflows webhook, a Mattermost
// incoming webhook or a generic signed webhook.
// +kubebuilder:validation:XValidation:rule="[has(self.slack), has(self.teams), has(self.mattermost), has(self.webhook)].filter(x, x).size() == 1",message="set exactly one of slack, teams, mattermost or webhook"
type CommsChannel struct {
	// slack posts to a Slack incoming webhook.
	// +optional
	Slack *SlackChannel `json:"slack,omitempty"`
	// teams posts an Adaptive Card to a Microsoft Teams Workflows webhook (a flow from the
	// template "Post to a channel when a webhook request is received").
	// +optional
	Teams *TeamsChannel `json:"teams,omitempty"`
	// mattermost posts to a Mattermost incoming webhook.
	// +optional
	Mattermost *MattermostChannel `json:"mattermost,omitempty"`
	// webhook posts JSON signed with HMAC-SHA256 over the body
	// (header X-Firescope-Signature-256: sha256=<hex>).
	// +optional
	Webhook *WebhookChannel `json:"webhook,omitempty"`
}

// SlackChannel is a Slack incoming webhook.
type SlackChannel struct {
	// webhookURLSecretRef names the Secret key holding the incoming webhook URL, which is
	// itself a credential.
	// +required
	WebhookURLSecretRef SecretKeyReference `json:"webhookURLSecretRef"`
}

// TeamsChannel is a Microsoft Teams Workflows webhook.
type TeamsChannel struct {
	// webhookURLSecretRef names the Secret key holding the workflow's URL, which is itself a
	// credential (its sig parameter signs the request).
	// +required
	WebhookURLSecretRef SecretKeyReference `json:"webhookURLSecretRef"`
}

// MattermostChannel is a Mattermost incoming webhook.
type MattermostChannel struct {
	// webhookURLSecretRef names the Secret key holding the incoming webhook URL, which is
	// itself a credential.
	// +required
	WebhookURLSecretRef SecretKeyReference `json:"webhookURLSecretRef"`
	// channel overrides the webhook's channel (its name, as in the channel's URL); the
	// webhook must not be locked to its channel.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9_-]+$`
	Channel string `json:"channel,omitempty"`
	// username overrides the name the posts show, where the Mattermost administrator allows
	// integrations to override it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Username string `json:"username,omitempty"`
}

// WebhookChannel is a generic HTTPS endpoint.
type WebhookChannel struct {
	// url receives the announcements. It must use https unless the manager's
	// --allow-private-destinations lists its host, and its host must be one the signing key's
	// Secret lists in its firescope.dev/hosts annotation.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an absolute http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#') && !self.contains('@')",message="url must have no query ('?'), fragment ('#') or user and password ('@'): paths are appended to it, and credentials belong in the Secret"
	URL string `json:"url"`
	// signingSecretRef names the Secret key holding the HMAC-SHA256 signing key.
	// +required
	SigningSecretRef SecretKeyReference `json:"signingSecretRef"`
}

// Paging sends PagerDuty Events API v2 events.
type Paging struct {
	// pagerDuty holds the routing key.
	// +required
	PagerDuty PagerDuty `json:"pagerDuty"`
	// states that page when an incident is declared in or reaches them. Default: every open
	// state, so that declaring any incident pages.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:XValidation:rule="self != 'Resolved'",message="Resolved does not page; resolving an incident resolves its page"
	States []IncidentState `json:"states,omitempty"`
}

// PagerDuty is an Events API v2 integration.
type PagerDuty struct {
	// routingKeySecretRef names the Secret key holding the integration's routing key.
	// +required
	RoutingKeySecretRef SecretKeyReference `json:"routingKeySecretRef"`
	// url of the Events API; defaults to https://events.pagerduty.com/v2/enqueue. Another host
	// must be listed in the routing key's Secret's firescope.dev/hosts annotation.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an absolute http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#') && !self.contains('@')",message="url must have no query ('?'), fragment ('#') or user and password ('@'): paths are appended to it, and credentials belong in the Secret"
	URL string `json:"url,omitempty"`
}

// SecretKeyReference names one key of a Secret in the same namespace. The manager reads the
// Secret by name only when it needs it, and never logs its value.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// LocalReference names an object in the same namespace.
type LocalReference struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=rpol,categories=firescope
// +kubebuilder:printcolumn:name="Investigating",type=string,JSONPath=`.spec.sitrepCadence.investigating`
// +kubebuilder:printcolumn:name="Confirmed",type=string,JSONPath=`.spec.sitrepCadence.confirmed`
// +kubebuilder:printcolumn:name="Major",type=string,JSONPath=`.spec.sitrepCadence.major`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ResponsePolicy is how a team responds to incidents, defined in advance: sitrep cadence,
// how soon customers hear, the comms channel, paging and the status page. The policy named
// "default" applies to every Incident in its namespace that names no other.
type ResponsePolicy struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// spec is the policy.
	// +optional
	Spec ResponsePolicySpec `json:"spec,omitzero"`
}

// +kubebuilder:object:root=true

// ResponsePolicyList contains a list of ResponsePolicy.
type ResponsePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ResponsePolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &ResponsePolicy{}, &ResponsePolicyList{})
		return nil
	})
}

// SitrepEvery returns the sitrep cadence of an open state, from the policy or the defaults.
// A nil policy means the defaults.
func (p *ResponsePolicy) SitrepEvery(s IncidentState) (time.Duration, bool) {
	var c SitrepCadence
	if p != nil {
		c = p.Spec.SitrepCadence
	}
	switch s {
	case StateInvestigating:
		return or(c.Investigating, DefaultSitrepInvestigating), true
	case StateConfirmed:
		return or(c.Confirmed, DefaultSitrepConfirmed), true
	case StateMajor:
		return or(c.Major, DefaultSitrepMajor), true
	}
	return 0, false
}

// CustomersWithin returns how soon customers must hear about a Confirmed or Major incident.
func (p *ResponsePolicy) CustomersWithin() time.Duration {
	if p == nil {
		return DefaultCustomersInformedWithin
	}
	return or(p.Spec.CustomersInformedWithin, DefaultCustomersInformedWithin)
}

// StatusUpdateEvery returns how often customers should hear while an incident is Confirmed or
// Major.
func (p *ResponsePolicy) StatusUpdateEvery() time.Duration {
	if p == nil {
		return DefaultStatusUpdateCadence
	}
	return or(p.Spec.StatusUpdateCadence, DefaultStatusUpdateCadence)
}

// RoleHoldLimit returns how long one person may hold a role before a hand-off is suggested.
func (p *ResponsePolicy) RoleHoldLimit() time.Duration {
	if p == nil {
		return DefaultMaxRoleHold
	}
	return or(p.Spec.MaxRoleHold, DefaultMaxRoleHold)
}

// PagesIn reports whether reaching state s pages, under this policy.
func (p *ResponsePolicy) PagesIn(s IncidentState) bool {
	if p == nil || p.Spec.Paging == nil || !s.IsOpen() {
		return false
	}
	if len(p.Spec.Paging.States) == 0 {
		return true
	}
	for _, x := range p.Spec.Paging.States {
		if x == s {
			return true
		}
	}
	return false
}

func or(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// PostmortemDueAfter returns how long after resolution a post-mortem is due.
func (p *ResponsePolicy) PostmortemDueAfter() time.Duration {
	if p == nil {
		return DefaultPostmortemDue
	}
	return or(p.Spec.PostmortemDue, DefaultPostmortemDue)
}

// PostmortemRemindEvery returns how often a post-mortem's gaps are repeated as reminders.
func (p *ResponsePolicy) PostmortemRemindEvery() time.Duration {
	if p == nil {
		return DefaultPostmortemReminder
	}
	return or(p.Spec.PostmortemReminderInterval, DefaultPostmortemReminder)
}

// WantsPostmortem reports whether a resolved incident gets a post-mortem under this policy:
// every real incident does; a drill only when the policy asks.
func (p *ResponsePolicy) WantsPostmortem(inc *Incident) bool {
	return !inc.Spec.Drill || (p != nil && p.Spec.PostmortemForDrills)
}
