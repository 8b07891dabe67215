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
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxHealthSignals is the most health signals a ResponsePolicy holds: "no more than 2-3
// high-level metrics to determine whether your product is healthy".
const MaxHealthSignals = 3

// DefaultHealthInterval is how often a policy's health signals are read while one of its
// incidents is open, when the policy does not say.
const DefaultHealthInterval = 30 * time.Second

// HealthSignal is one high-level metric of the product's health, read from Prometheus while an
// incident is open.
// +kubebuilder:validation:XValidation:rule="self.thresholds.badWhen == 'Below' ? double(self.thresholds.down) <= double(self.thresholds.degraded) : double(self.thresholds.down) >= double(self.thresholds.degraded)",message="thresholds.down must be at least as bad as thresholds.degraded: with badWhen Below, down is at or under degraded; with badWhen Above, at or over it"
// +kubebuilder:validation:XValidation:rule="!has(self.statuspageMetricID) || (has(self.publish) && self.publish)",message="statuspageMetricID is only used when publish is true: set publish: true to show the signal on the status page, or remove statuspageMetricID"
type HealthSignal struct {
	// name of the signal, as announcements and `kubectl incident status` show it, such as
	// availability or api-errors.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// query is a PromQL expression that returns one number: a scalar, or an instant vector of
	// exactly one series (wrap it in sum() or max() when it has more).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Query string `json:"query"`

	// prometheus is where the query runs.
	// +required
	Prometheus PrometheusSource `json:"prometheus"`

	// unit is shown after the value, such as %, ms or req/s.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	Unit string `json:"unit,omitempty"`

	// thresholds say which values are healthy, degraded and down.
	// +required
	Thresholds HealthThresholds `json:"thresholds"`

	// publish shows the signal's values on the policy's status page while a real incident is
	// open (never for drills). On a page of provider statuspage each reading is a point of
	// the Atlassian Statuspage system metric statuspageMetricID; on a page of provider
	// firescope, a point of a public metric that the pages of the policy's open incidents
	// chart over the incident's window, with the thresholds shaded. Pages of provider webhook
	// show no metrics. Default false.
	// +optional
	Publish bool `json:"publish,omitempty"`

	// statuspageMetricID is the Atlassian Statuspage metric the values are submitted to, for
	// a status page of provider statuspage.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	StatuspageMetricID string `json:"statuspageMetricID,omitempty"`
}

// PrometheusSource is a Prometheus HTTP API (or one that speaks it: Thanos, Mimir,
// VictoriaMetrics).
type PrometheusSource struct {
	// url of the Prometheus server, such as https://prometheus.example.com; /api/v1/query is
	// appended. It must use https unless the manager's --allow-private-destinations lists its
	// host. With bearerTokenSecretRef, its host must be one the Secret lists in its
	// firescope.dev/hosts annotation.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an absolute http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#') && !self.contains('@')",message="url must have no query ('?'), fragment ('#') or user and password ('@'): paths are appended to it, and credentials belong in the Secret"
	URL string `json:"url"`

	// bearerTokenSecretRef names the Secret key with the bearer token sent as the
	// Authorization header. The Secret is annotated firescope.dev/provider=prometheus and
	// names its hosts. Without it, queries are sent unauthenticated.
	// +optional
	BearerTokenSecretRef *SecretKeyReference `json:"bearerTokenSecretRef,omitempty"`
}

// BadDirection says which way a signal's value gets worse.
// +kubebuilder:validation:Enum=Below;Above
type BadDirection string

const (
	// BadBelow: lower is worse, such as availability or successful logins per minute.
	BadBelow BadDirection = "Below"
	// BadAbove: higher is worse, such as error rate or latency.
	BadAbove BadDirection = "Above"
)

// HealthThresholds divide a signal's values into healthy, degraded and down.
type HealthThresholds struct {
	// badWhen says which way is worse: Below (availability: 99.9 is good, 95 is bad) or Above
	// (error rate, latency).
	// +required
	BadWhen BadDirection `json:"badWhen"`

	// degraded is the value at which the signal is degraded: at or below it with badWhen
	// Below, at or above it with badWhen Above. A decimal number, such as "99.5".
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^-?[0-9]+(\.[0-9]+)?$`
	Degraded string `json:"degraded"`

	// down is the value at which the signal is down, at least as bad as degraded. A decimal
	// number, such as "95".
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^-?[0-9]+(\.[0-9]+)?$`
	Down string `json:"down"`
}

// SignalState is how a health signal's latest value compares with its thresholds.
type SignalState string

const (
	// SignalHealthy: better than the degraded threshold.
	SignalHealthy SignalState = "Healthy"
	// SignalDegraded: at or past the degraded threshold, better than down.
	SignalDegraded SignalState = "Degraded"
	// SignalDown: at or past the down threshold.
	SignalDown SignalState = "Down"
	// SignalUnknown: the value could not be read; the reason and message say why.
	SignalUnknown SignalState = "Unknown"
)

// HealthStatus is the product's health as the incident's policy measures it.
type HealthStatus struct {
	// evaluatedAt is when the values shown were read. Values that do not change are not
	// written again, so it may be older than the policy's interval.
	// +optional
	EvaluatedAt *metav1.Time `json:"evaluatedAt,omitempty"`

	// state is the worst state of the signals: Down, Degraded, Unknown, then Healthy.
	// +optional
	State SignalState `json:"state,omitempty"`

	// summary is one line with every signal, as `kubectl get incidents -o wide` shows it.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Summary string `json:"summary,omitempty"`

	// signals are the latest values, in the policy's order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=3
	Signals []SignalValue `json:"signals,omitempty"`
}

// SignalValue is the latest value of one health signal.
type SignalValue struct {
	// name of the signal.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// value is the latest value as a decimal string; empty when unknown.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Value string `json:"value,omitempty"`

	// unit is the signal's unit.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	Unit string `json:"unit,omitempty"`

	// state is Healthy, Degraded, Down or Unknown.
	// +required
	State SignalState `json:"state"`

	// reason says why a value is unknown (Unreachable, Timeout, QueryRefused, ServerError,
	// BadAnswer, NoData, NotOneSeries, CredentialsInvalid, NotInjected), or Measured when
	// read from Prometheus, Injected when a drill set it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// message says what to fix when the value is unknown, and the thresholds otherwise.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// since is when the signal entered its current state.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// Reasons of a SignalValue that was read.
const (
	// SignalReasonMeasured: the value was read from Prometheus.
	SignalReasonMeasured = "Measured"
	// SignalReasonInjected: a drill inject set the value.
	SignalReasonInjected = "Injected"
	// SignalReasonNotInjected: a drill incident never queries; no inject has set this signal.
	SignalReasonNotInjected = "NotInjected"
)

// Condition ProductHealthy and its reasons.
const (
	// ConditionProductHealthy is True while every health signal of the policy is healthy,
	// False while one is degraded or down, Unknown while one cannot be read and none is bad.
	ConditionProductHealthy = "ProductHealthy"
	// ReasonSignalsHealthy: every signal is healthy.
	ReasonSignalsHealthy = "Healthy"
	// ReasonSignalsDegraded: a signal is degraded, none is down.
	ReasonSignalsDegraded = "Degraded"
	// ReasonSignalsDown: a signal is down.
	ReasonSignalsDown = "Down"
	// ReasonSignalsUnknown: a signal cannot be read, and none is degraded or down.
	ReasonSignalsUnknown = "SignalsUnknown"
)

// Events of the health evaluator, on the Incident.
const (
	// EventHealthSignalRecovered: "Signal availability recovered: 99.9% (healthy above
	// 99.5); the IC decides when the incident is resolved". A hint, never a resolution.
	EventHealthSignalRecovered = "HealthSignalRecovered"
	// EventHealthSignalWorsened (Warning): "Signal availability is Down: 93.1% (down at or
	// below 95)".
	EventHealthSignalWorsened = "HealthSignalWorsened"
)

// HealthEvery returns how often the policy's health signals are read while an incident is open.
func (p *ResponsePolicy) HealthEvery() time.Duration {
	if p == nil {
		return DefaultHealthInterval
	}
	return or(p.Spec.HealthInterval, DefaultHealthInterval)
}

// Thresholds returns the thresholds as numbers. The API server checked that they parse.
func (t HealthThresholds) Thresholds() (degraded, down float64, err error) {
	if degraded, err = strconv.ParseFloat(t.Degraded, 64); err != nil {
		return 0, 0, err
	}
	down, err = strconv.ParseFloat(t.Down, 64)
	return degraded, down, err
}
