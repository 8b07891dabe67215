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

package drill

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"firescope.dev/firescope/api/v1alpha1"
)

func inject(at time.Duration, msg string) v1alpha1.Inject {
	return v1alpha1.Inject{At: metav1.Duration{Duration: at}, Type: v1alpha1.InjectNote, Message: msg}
}

func messages(p []v1alpha1.PlayedInject) []string {
	var m []string
	for _, x := range p {
		m = append(m, x.Message)
	}
	return m
}

func TestPlanOrdersInjectsByOffsetKeepingTies(t *testing.T) {
	sc := &v1alpha1.DrillScenarioSpec{Injects: []v1alpha1.Inject{inject(5*time.Minute, "c"), inject(0, "a"), inject(5*time.Minute, "d"), inject(2*time.Minute, "b")}}
	var got []string
	for _, i := range plan(sc) {
		got = append(got, i.Message)
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("got %v", got)
	}
}

func TestPlayDuePlaysEachInjectOnceOnTime(t *testing.T) {
	start := at("2026-12-03T09:00:00Z")
	clk := clocktesting.NewFakePassiveClock(start)
	injects := []v1alpha1.Inject{inject(0, "a"), inject(2*time.Minute, "b"), inject(5*time.Minute, "c")}
	run := &v1alpha1.DrillRun{StartedAt: metav1.NewTime(start)}

	steps := []struct {
		advance time.Duration
		played  []string
		wait    time.Duration
	}{
		{0, []string{"a"}, 2 * time.Minute},
		{time.Minute, nil, time.Minute},
		{time.Minute, []string{"b"}, 3 * time.Minute},
		{time.Second, nil, 3*time.Minute - time.Second},
		{3*time.Minute - time.Second, []string{"c"}, 0},
		{time.Hour, nil, 0},
	}
	for i, s := range steps {
		clk.SetTime(clk.Now().Add(s.advance))
		played, wait := playDue(run, injects, clk.Now())
		if !slices.Equal(messages(played), s.played) || wait != s.wait {
			t.Fatalf("step %d: played %v, wait %s; want %v, %s", i, messages(played), wait, s.played, s.wait)
		}
	}
	for _, p := range run.Injects {
		if !p.PlayedAt.Equal(&p.PlannedAt) {
			t.Errorf("inject %d played at %s, planned %s", p.Index, p.PlayedAt, p.PlannedAt)
		}
	}
}

func TestPlayDueAfterARestartResumesWithoutRepeatingOrSkipping(t *testing.T) {
	start := at("2026-12-03T09:00:00Z")
	injects := []v1alpha1.Inject{inject(0, "a"), inject(time.Minute, "b"), inject(2*time.Minute, "c"), inject(10*time.Minute, "d")}
	run := &v1alpha1.DrillRun{StartedAt: metav1.NewTime(start)}
	playDue(run, injects, start.Add(30*time.Second))
	// The manager was down from +30s to +4m: the status it stored is all the new one knows.
	stored := run.DeepCopy()
	played, wait := playDue(stored, injects, start.Add(4*time.Minute))
	if !slices.Equal(messages(played), []string{"b", "c"}) || wait != 6*time.Minute {
		t.Fatalf("played %v, wait %s; want b and c once, then d in 6m", messages(played), wait)
	}
	if late := played[0].PlayedAt.Sub(played[0].PlannedAt.Time); late != 3*time.Minute {
		t.Fatalf("b's lateness %s; want 3m recorded", late)
	}
	if got := messages(stored.Injects); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("recorded %v", got)
	}
}

func TestPlayDueRecordsTheSignalValueAHealthSignalInjectSets(t *testing.T) {
	start := at("2026-12-03T09:00:00Z")
	sig := v1alpha1.Inject{At: metav1.Duration{Duration: time.Minute}, Type: v1alpha1.InjectHealthSignal, Message: "availability drops to 97%",
		Signal: &v1alpha1.InjectedSignal{Name: "availability", Value: "97"}}
	run := &v1alpha1.DrillRun{StartedAt: metav1.NewTime(start)}
	played, _ := playDue(run, []v1alpha1.Inject{inject(0, "a"), sig}, start.Add(time.Minute))
	if len(played) != 2 || played[0].Signal != nil || played[1].Signal == nil || *played[1].Signal != *sig.Signal || run.Injects[1].Signal == sig.Signal {
		t.Fatalf("played %+v; want the second to carry its own copy of the signal value", played)
	}
}

func TestCheckScenarioWantsASignalOnHealthSignalInjectsOnly(t *testing.T) {
	sig := &v1alpha1.InjectedSignal{Name: "availability", Value: "97"}
	cases := []struct {
		name   string
		inject v1alpha1.Inject
		want   string
	}{
		{"a HealthSignal inject with its signal", v1alpha1.Inject{Type: v1alpha1.InjectHealthSignal, Message: "m", Signal: sig}, ""},
		{"a HealthSignal inject without one", v1alpha1.Inject{Type: v1alpha1.InjectHealthSignal, Message: "m"}, "a HealthSignal inject needs signal"},
		{"a Note with a signal", v1alpha1.Inject{Type: v1alpha1.InjectNote, Message: "m", Signal: sig}, "only a HealthSignal inject has one"},
		{"a value that is not a number", v1alpha1.Inject{Type: v1alpha1.InjectHealthSignal, Message: "m", Signal: &v1alpha1.InjectedSignal{Name: "a", Value: "97%"}},
			`signal value "97%" is not a decimal number`},
	}
	for _, tc := range cases {
		err := checkScenario(&v1alpha1.DrillScenarioSpec{Title: "t", Injects: []v1alpha1.Inject{tc.inject}})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
