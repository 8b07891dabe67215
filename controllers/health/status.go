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

package health

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// reading is one signal's value as read (from Prometheus, or a drill's inject), or why it
// could not be.
type reading struct {
	value float64
	ok    bool
	// reason is Measured or Injected when ok, else why not.
	reason  string
	message string
}

// classify says how value compares with the thresholds: at or past degraded is Degraded, at
// or past down is Down, in the direction t.BadWhen names.
func classify(t v1alpha1.HealthThresholds, value float64) (v1alpha1.SignalState, error) {
	degraded, down, err := t.Thresholds()
	if err != nil {
		return v1alpha1.SignalUnknown, err
	}
	worse := func(v, limit float64) bool { return v >= limit }
	if t.BadWhen == v1alpha1.BadBelow {
		worse = func(v, limit float64) bool { return v <= limit }
	}
	switch {
	case worse(value, down):
		return v1alpha1.SignalDown, nil
	case worse(value, degraded):
		return v1alpha1.SignalDegraded, nil
	}
	return v1alpha1.SignalHealthy, nil
}

// thresholdText says where the signal's current state begins, for people.
func thresholdText(s v1alpha1.HealthSignal, st v1alpha1.SignalState) string {
	t := s.Thresholds
	at, other := "at or below", "above"
	if t.BadWhen == v1alpha1.BadAbove {
		at, other = "at or above", "below"
	}
	switch st {
	case v1alpha1.SignalDown:
		return fmt.Sprintf("down %s %s%s", at, t.Down, s.Unit)
	case v1alpha1.SignalDegraded:
		return fmt.Sprintf("degraded %s %s%s, down %s %s%s", at, t.Degraded, s.Unit, at, t.Down, s.Unit)
	}
	return fmt.Sprintf("healthy %s %s%s", other, t.Degraded, s.Unit)
}

// formatValue shows a value with at most four significant decimals, so that noise in the last
// digits of a rate neither clutters the status nor rewrites it.
func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// healthOf is the incident's health from the readings of the policy's signals, in the
// policy's order. A signal keeps its since time while its state does not change. evaluatedAt
// is now only when something shown changed; otherwise prev's, so that an unchanged reading
// writes nothing.
func healthOf(signals []v1alpha1.HealthSignal, readings map[string]reading, prev *v1alpha1.HealthStatus, now time.Time) *v1alpha1.HealthStatus {
	h := &v1alpha1.HealthStatus{State: v1alpha1.SignalHealthy}
	var summary []string
	for _, s := range signals {
		r := readings[s.Name]
		v := v1alpha1.SignalValue{Name: s.Name, Unit: s.Unit, State: v1alpha1.SignalUnknown, Reason: r.reason, Message: r.message}
		if r.ok {
			st, err := classify(s.Thresholds, r.value)
			if err != nil {
				v.Reason, v.Message = "InvalidThresholds", "the thresholds are not decimal numbers: "+err.Error()
			} else {
				v.Value, v.State, v.Message = formatValue(r.value), st, thresholdText(s, st)
			}
		}
		v.Since = &metav1.Time{Time: now}
		if p := find(prev, s.Name); p != nil && p.State == v.State && p.Since != nil {
			v.Since = p.Since
		}
		h.Signals = append(h.Signals, v)
		h.State = worst(h.State, v.State)
		shown := "unknown"
		if v.Value != "" {
			shown = v.Value + s.Unit
		}
		summary = append(summary, fmt.Sprintf("%s %s %s", s.Name, shown, v.State))
	}
	h.Summary = strings.Join(summary, ", ")
	h.EvaluatedAt = &metav1.Time{Time: now}
	if prev != nil && prev.EvaluatedAt != nil && sameShown(prev, h) {
		h.EvaluatedAt = prev.EvaluatedAt
	}
	return h
}

func sameShown(a, b *v1alpha1.HealthStatus) bool {
	if a.State != b.State || a.Summary != b.Summary || len(a.Signals) != len(b.Signals) {
		return false
	}
	for i := range a.Signals {
		x, y := a.Signals[i], b.Signals[i]
		if x.Name != y.Name || x.Value != y.Value || x.State != y.State || x.Reason != y.Reason || x.Message != y.Message || x.Unit != y.Unit ||
			!x.Since.Equal(y.Since) {
			return false
		}
	}
	return true
}

func find(h *v1alpha1.HealthStatus, name string) *v1alpha1.SignalValue {
	if h == nil {
		return nil
	}
	for i := range h.Signals {
		if h.Signals[i].Name == name {
			return &h.Signals[i]
		}
	}
	return nil
}

// rank orders states from best to worst: an unknown signal is worse than a healthy one (the
// product cannot be said to be healthy) and better than a degraded one (a bad reading is news).
var rank = map[v1alpha1.SignalState]int{v1alpha1.SignalHealthy: 0, v1alpha1.SignalUnknown: 1, v1alpha1.SignalDegraded: 2, v1alpha1.SignalDown: 3}

func worst(a, b v1alpha1.SignalState) v1alpha1.SignalState {
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// productHealthyCondition is the ProductHealthy condition of health, keeping the transition
// time of prev (the Incident's current condition, if any) while its status holds.
func productHealthyCondition(h *v1alpha1.HealthStatus, prev *metav1.Condition, generation int64, now time.Time) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionProductHealthy, ObservedGeneration: generation, Message: h.Summary}
	switch h.State {
	case v1alpha1.SignalHealthy:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonSignalsHealthy
	case v1alpha1.SignalDegraded:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonSignalsDegraded
	case v1alpha1.SignalDown:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonSignalsDown
	default:
		c.Status, c.Reason = metav1.ConditionUnknown, v1alpha1.ReasonSignalsUnknown
	}
	c.LastTransitionTime = metav1.Time{Time: now}
	if prev != nil && prev.Status == c.Status {
		c.LastTransitionTime = prev.LastTransitionTime
	}
	return c
}

// currentCondition returns the Incident's ProductHealthy condition, or nil.
func currentCondition(inc *v1alpha1.Incident) *metav1.Condition {
	return meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionProductHealthy)
}

// signalEvent is a signal's move worth telling the IC, as an Event.
type signalEvent struct {
	key, eventType, reason, note string
}

// signalEvents are the Events of the signals whose state changed from prev to next: a
// recovery to Healthy is a hint that the IC may consider resolving (never a resolution); a
// move to a worse state is a warning, a better one short of Healthy is not news. Moves from or
// to Unknown are not news about the
// product, and a first reading is not a move.
func signalEvents(prev, next *v1alpha1.HealthStatus) []signalEvent {
	var out []signalEvent
	for _, v := range next.Signals {
		p := find(prev, v.Name)
		if p == nil || p.State == v.State || p.State == v1alpha1.SignalUnknown || v.State == v1alpha1.SignalUnknown {
			continue
		}
		key := fmt.Sprintf("health/%s/%s/%d", v.Name, v.State, v.Since.Unix())
		shown := v.Value + v.Unit
		if v.State == v1alpha1.SignalHealthy {
			out = append(out, signalEvent{key: key, eventType: corev1.EventTypeNormal, reason: v1alpha1.EventHealthSignalRecovered,
				note: fmt.Sprintf("Signal %s recovered: %s (%s); the IC decides when the incident is resolved", v.Name, shown, v.Message)})
			continue
		}
		if rank[v.State] < rank[p.State] {
			continue
		}
		out = append(out, signalEvent{key: key, eventType: corev1.EventTypeWarning, reason: v1alpha1.EventHealthSignalWorsened,
			note: fmt.Sprintf("Signal %s is %s: %s (%s)", v.Name, v.State, shown, v.Message)})
	}
	return out
}
