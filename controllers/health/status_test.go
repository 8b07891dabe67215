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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

var (
	availability = v1alpha1.HealthSignal{Name: "availability", Unit: "%",
		Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadBelow, Degraded: "99.5", Down: "95"}}
	latency = v1alpha1.HealthSignal{Name: "latency", Unit: "ms",
		Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadAbove, Degraded: "300", Down: "1000"}}
)

func TestClassifyHonoursTheDirectionAndTheBoundaries(t *testing.T) {
	cases := []struct {
		signal v1alpha1.HealthSignal
		value  float64
		want   v1alpha1.SignalState
	}{
		{availability, 99.99, v1alpha1.SignalHealthy},
		{availability, 99.51, v1alpha1.SignalHealthy},
		{availability, 99.5, v1alpha1.SignalDegraded}, // at the threshold is past it
		{availability, 97, v1alpha1.SignalDegraded},
		{availability, 95, v1alpha1.SignalDown},
		{availability, 0, v1alpha1.SignalDown},
		{latency, 120, v1alpha1.SignalHealthy},
		{latency, 300, v1alpha1.SignalDegraded},
		{latency, 999, v1alpha1.SignalDegraded},
		{latency, 1000, v1alpha1.SignalDown},
		{latency, -5, v1alpha1.SignalHealthy},
		// degraded and down may be the same value: then there is no degraded band.
		{v1alpha1.HealthSignal{Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadBelow, Degraded: "1", Down: "1"}}, 1, v1alpha1.SignalDown},
		{v1alpha1.HealthSignal{Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadBelow, Degraded: "1", Down: "1"}}, 1.5, v1alpha1.SignalHealthy},
	}
	for _, tc := range cases {
		got, err := classify(tc.signal.Thresholds, tc.value)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v: got %s, %v; want %s", tc.signal.Name, tc.value, got, err, tc.want)
		}
	}
	if _, err := classify(v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadAbove, Degraded: "x", Down: "1"}, 1); err == nil {
		t.Error("thresholds that do not parse: no error")
	}
}

func TestHealthOfShowsEverySignalAndTheWorstState(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	signals := []v1alpha1.HealthSignal{availability, latency}
	cases := []struct {
		name     string
		readings map[string]reading
		state    v1alpha1.SignalState
		summary  string
		cond     metav1.ConditionStatus
		reason   string
	}{
		{"both healthy", map[string]reading{"availability": {value: 99.98, ok: true, reason: "Measured"}, "latency": {value: 120.123456, ok: true, reason: "Measured"}},
			v1alpha1.SignalHealthy, "availability 99.98% Healthy, latency 120.1ms Healthy", metav1.ConditionTrue, v1alpha1.ReasonSignalsHealthy},
		{"one degraded", map[string]reading{"availability": {value: 97, ok: true}, "latency": {value: 120, ok: true}},
			v1alpha1.SignalDegraded, "availability 97% Degraded, latency 120ms Healthy", metav1.ConditionFalse, v1alpha1.ReasonSignalsDegraded},
		{"down beats degraded and unknown", map[string]reading{"availability": {reason: "Timeout", message: "Prometheus did not answer in time"}, "latency": {value: 5000, ok: true}},
			v1alpha1.SignalDown, "availability unknown Unknown, latency 5000ms Down", metav1.ConditionFalse, v1alpha1.ReasonSignalsDown},
		{"degraded beats unknown", map[string]reading{"availability": {value: 99, ok: true}},
			v1alpha1.SignalDegraded, "availability 99% Degraded, latency unknown Unknown", metav1.ConditionFalse, v1alpha1.ReasonSignalsDegraded},
		{"unknown beats healthy", map[string]reading{"availability": {value: 100, ok: true}, "latency": {reason: "NoData", message: "no series"}},
			v1alpha1.SignalUnknown, "availability 100% Healthy, latency unknown Unknown", metav1.ConditionUnknown, v1alpha1.ReasonSignalsUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := healthOf(signals, tc.readings, nil, now)
			if h.State != tc.state || h.Summary != tc.summary || len(h.Signals) != 2 || h.Signals[0].Name != "availability" {
				t.Fatalf("got %s %q %+v", h.State, h.Summary, h.Signals)
			}
			for _, v := range h.Signals {
				r := tc.readings[v.Name]
				if !r.ok && (v.Value != "" || v.Reason != r.reason || v.Message != r.message) {
					t.Errorf("unknown %s: got %+v; want the reading's reason and message", v.Name, v)
				}
			}
			c := productHealthyCondition(h, nil, 3, now)
			if c.Type != v1alpha1.ConditionProductHealthy || c.Status != tc.cond || c.Reason != tc.reason || c.Message != tc.summary || c.ObservedGeneration != 3 {
				t.Fatalf("condition %+v", c)
			}
		})
	}
}

func TestHealthOfWritesNothingNewWhileNothingShownChanges(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	signals := []v1alpha1.HealthSignal{availability}
	first := healthOf(signals, map[string]reading{"availability": {value: 97.00001, ok: true}}, nil, t0)
	// A value that differs past the fourth significant digit is the same value shown.
	same := healthOf(signals, map[string]reading{"availability": {value: 97.00002, ok: true}}, first, t0.Add(time.Minute))
	if !same.EvaluatedAt.Equal(first.EvaluatedAt) || !same.Signals[0].Since.Equal(first.Signals[0].Since) || same.Summary != first.Summary {
		t.Fatalf("an unchanged reading moved the times: %+v then %+v", first, same)
	}
	// A new value in the same state keeps since, and moves evaluatedAt.
	lower := healthOf(signals, map[string]reading{"availability": {value: 96, ok: true}}, same, t0.Add(2*time.Minute))
	if !lower.EvaluatedAt.Time.Equal(t0.Add(2*time.Minute)) || !lower.Signals[0].Since.Time.Equal(t0) {
		t.Fatalf("a new degraded value: evaluatedAt %v since %v", lower.EvaluatedAt, lower.Signals[0].Since)
	}
	// A new state starts since again, and the condition's transition follows its status.
	down := healthOf(signals, map[string]reading{"availability": {value: 90, ok: true}}, lower, t0.Add(3*time.Minute))
	if !down.Signals[0].Since.Time.Equal(t0.Add(3 * time.Minute)) {
		t.Fatalf("since did not move with the state: %v", down.Signals[0].Since)
	}
	prev := productHealthyCondition(lower, nil, 1, t0)
	if c := productHealthyCondition(down, &prev, 1, t0.Add(3*time.Minute)); !c.LastTransitionTime.Time.Equal(t0) || c.Reason != v1alpha1.ReasonSignalsDown {
		t.Fatalf("False to False moved the transition time: %+v", c)
	}
	healthy := healthOf(signals, map[string]reading{"availability": {value: 99.9, ok: true}}, down, t0.Add(4*time.Minute))
	if c := productHealthyCondition(healthy, &prev, 1, t0.Add(4*time.Minute)); !c.LastTransitionTime.Time.Equal(t0.Add(4 * time.Minute)) {
		t.Fatalf("False to True kept the transition time: %+v", c)
	}
}

func TestSignalEventsHintAtRecoveryAndWarnOfWorse(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	signals := []v1alpha1.HealthSignal{availability}
	at := func(v float64, ok bool, prev *v1alpha1.HealthStatus, d time.Duration) *v1alpha1.HealthStatus {
		return healthOf(signals, map[string]reading{"availability": {value: v, ok: ok, reason: "Timeout"}}, prev, t0.Add(d))
	}
	healthy := at(99.9, true, nil, 0)
	degraded := at(97, true, healthy, time.Minute)
	down := at(90, true, degraded, 2*time.Minute)
	better := at(97, true, down, 3*time.Minute)
	unknown := at(0, false, better, 4*time.Minute)
	recovered := at(99.9, true, better, 5*time.Minute)
	cases := []struct {
		name       string
		prev, next *v1alpha1.HealthStatus
		reason     string // "" means no Event
		typ, note  string
	}{
		{"a first reading is not a move", nil, degraded, "", "", ""},
		{"healthy to degraded warns", healthy, degraded, v1alpha1.EventHealthSignalWorsened, corev1.EventTypeWarning, "Signal availability is Degraded: 97% (degraded at or below 99.5%, down at or below 95%)"},
		{"degraded to down warns", degraded, down, v1alpha1.EventHealthSignalWorsened, corev1.EventTypeWarning, "Signal availability is Down: 90% (down at or below 95%)"},
		{"down to degraded is not news", down, better, "", "", ""},
		{"to unknown is not news about the product", better, unknown, "", "", ""},
		{"from unknown is not news either", unknown, at(99.9, true, unknown, 6*time.Minute), "", "", ""},
		{"degraded to healthy is a hint, not a resolution", better, recovered, v1alpha1.EventHealthSignalRecovered, corev1.EventTypeNormal,
			"Signal availability recovered: 99.9% (healthy above 99.5%); the IC decides when the incident is resolved"},
		{"unchanged is not news", degraded, at(96, true, degraded, 7*time.Minute), "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := signalEvents(tc.prev, tc.next)
			if tc.reason == "" {
				if len(evs) != 0 {
					t.Fatalf("want no Event, got %+v", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].reason != tc.reason || evs[0].eventType != tc.typ || evs[0].note != tc.note {
				t.Fatalf("got %+v; want %s %s %q", evs, tc.typ, tc.reason, tc.note)
			}
			if again := signalEvents(tc.prev, tc.next); again[0].key != evs[0].key || !strings.HasPrefix(evs[0].key, "health/availability/") {
				t.Fatalf("the Event's key is not a function of the fact: %q, %q", evs[0].key, again[0].key)
			}
		})
	}
}

func TestInjectedReadingsAreTheLatestInjectOfTheActiveRun(t *testing.T) {
	signals := []v1alpha1.HealthSignal{availability, latency}
	played := func(name, value string, at time.Time) v1alpha1.PlayedInject {
		return v1alpha1.PlayedInject{Type: v1alpha1.InjectHealthSignal, PlayedAt: metav1.NewTime(at), Signal: &v1alpha1.InjectedSignal{Name: name, Value: value}}
	}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	d := &v1alpha1.Drill{Status: v1alpha1.DrillStatus{Active: &v1alpha1.DrillRun{Incident: "run-1", Injects: []v1alpha1.PlayedInject{
		{Type: v1alpha1.InjectNote, Message: "AWS confirms"},
		played("availability", "97", t0),
		played("unknown-signal", "1", t0),
		played("availability", "93.5", t0.Add(time.Minute)),
	}}}}
	got := injected(signals, d, "run-1")
	if a := got["availability"]; !a.ok || a.value != 93.5 || a.reason != v1alpha1.SignalReasonInjected {
		t.Fatalf("availability: %+v; want the latest inject, 93.5", a)
	}
	if l := got["latency"]; l.ok || l.reason != v1alpha1.SignalReasonNotInjected {
		t.Fatalf("latency: %+v; want unknown, NotInjected", l)
	}
	if _, ok := got["unknown-signal"]; ok || len(got) != 2 {
		t.Fatalf("a signal the policy does not have was taken: %+v", got)
	}
	if other := injected(signals, d, "run-0"); other["availability"].ok {
		t.Fatal("the injects of another run were taken")
	}
	if none := injected(signals, nil, "run-1"); none["availability"].ok || none["availability"].reason != v1alpha1.SignalReasonNotInjected {
		t.Fatal("a drill that is gone: want NotInjected")
	}
}
