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

package incident

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/leadergauge"
	"k8s.io/utils/clock"
)

func sitrepAt(d time.Duration, summary string) v1alpha1.Sitrep {
	return v1alpha1.Sitrep{At: mt(d), Author: "alice", Summary: summary}
}

// TestObservationsFollowOneIncidentsLife drives one incident through recordChanges, as the
// controller does, and checks what each recorded step puts in the response metrics.
func TestObservationsFollowOneIncidentsLife(t *testing.T) {
	cadence := map[v1alpha1.IncidentState]time.Duration{
		v1alpha1.StateInvestigating: 30 * time.Minute, v1alpha1.StateConfirmed: time.Hour, v1alpha1.StateMajor: 20 * time.Minute,
	}
	state := func(s v1alpha1.IncidentState) func(*v1alpha1.Incident) {
		return func(inc *v1alpha1.Incident) { inc.Spec.State = s }
	}
	sitrep := func(d time.Duration) func(*v1alpha1.Incident) {
		return func(inc *v1alpha1.Incident) {
			inc.Spec.Sitreps = append(inc.Spec.Sitreps, sitrepAt(d, "PX dynos cannot scale"))
		}
	}
	published := func(n int32, d time.Duration) func(*v1alpha1.Incident) {
		return func(inc *v1alpha1.Incident) {
			inc.Status.StatusUpdates = &v1alpha1.StatusUpdatesSummary{Published: n, LastPublishedAt: mt(d), LastStatus: "identified"}
		}
	}
	nothing := func(*v1alpha1.Incident) {}
	steps := []struct {
		name   string
		at     time.Duration
		change func(*v1alpha1.Incident)
		want   []observation
	}{
		{"declared Investigating: nothing to measure yet", time.Second, nothing, nil},
		{"a resync records nothing and observes nothing", 2 * time.Second, nothing, nil},
		{"a sitrep before its due time is early", 20 * time.Minute, sitrep(20 * time.Minute),
			[]observation{{obsSitrep, v1alpha1.StateInvestigating, -600}}},
		{"confirmed 25 minutes in", 25 * time.Minute, state(v1alpha1.StateConfirmed),
			[]observation{{obsTimeToConfirm, v1alpha1.StateConfirmed, 1500}}},
		{"customers first hear 40 minutes in", 41 * time.Minute, published(1, 40*time.Minute),
			[]observation{{obsTimeToFirstUpdate, v1alpha1.StateConfirmed, 2400}}},
		{"a second update is not a first", 50 * time.Minute, published(2, 50*time.Minute), nil},
		{"escalating to Major after confirming measures nothing", 60 * time.Minute, state(v1alpha1.StateMajor), nil},
		// Major's 20-minute cadence runs from the last sitrep (20m): due at 40m, posted at 70m.
		{"a sitrep half an hour after its due time is late", 70 * time.Minute, sitrep(70 * time.Minute),
			[]observation{{obsSitrep, v1alpha1.StateMajor, 1800}}},
		{"two sitreps recorded together are each measured from the one before", 80 * time.Minute,
			func(inc *v1alpha1.Incident) { sitrep(85 * time.Minute)(inc); sitrep(110 * time.Minute)(inc) },
			[]observation{{obsSitrep, v1alpha1.StateMajor, -300}, {obsSitrep, v1alpha1.StateMajor, 300}}},
		{"resolved: time to resolve under the highest state reached", 2 * time.Hour, state(v1alpha1.StateResolved),
			[]observation{{obsTimeToResolve, v1alpha1.StateMajor, 7200}}},
		{"a sitrep while Resolved was not due and is not measured", 121 * time.Minute, sitrep(121 * time.Minute), nil},
		{"reopened", 3 * time.Hour, state(v1alpha1.StateInvestigating), []observation{{obsReopen, v1alpha1.StateInvestigating, 0}}},
		// The sitrep clock restarts at the reopen: due at 3h30m.
		{"after a reopen, sitreps are due from the reopen", 3*time.Hour + 10*time.Minute, sitrep(3*time.Hour + 10*time.Minute),
			[]observation{{obsSitrep, v1alpha1.StateInvestigating, -1200}}},
		{"resolving again does not count the incident twice", 4 * time.Hour, state(v1alpha1.StateResolved), nil},
		{"a restart that finds everything recorded observes nothing", 5 * time.Hour, nothing, nil},
	}
	inc := declared(v1alpha1.StateInvestigating)
	for _, s := range steps {
		before := inc.DeepCopy()
		s.change(inc)
		recordTrusted(inc, at(s.at))
		if got := observations(before, inc, cadence); !slices.Equal(got, s.want) {
			t.Fatalf("%s: observed %+v, want %+v", s.name, got, s.want)
		}
	}
}

func TestObservationsOfDeclarationsAndDirectMoves(t *testing.T) {
	cadence := DefaultSitrepCadence
	for _, tc := range []struct {
		name     string
		declared v1alpha1.IncidentState
		moves    []v1alpha1.IncidentState
		want     []observation
	}{
		{"declared Confirmed: confirmed at once", v1alpha1.StateConfirmed, nil,
			[]observation{{obsTimeToConfirm, v1alpha1.StateConfirmed, 0}}},
		{"declared Major: confirmed as Major at once", v1alpha1.StateMajor, nil,
			[]observation{{obsTimeToConfirm, v1alpha1.StateMajor, 0}}},
		{"straight from Investigating to Major: confirmed as Major", v1alpha1.StateInvestigating, []v1alpha1.IncidentState{v1alpha1.StateMajor},
			[]observation{{obsTimeToConfirm, v1alpha1.StateMajor, 600}}},
		{"a false alarm: resolved from Investigating, never confirmed", v1alpha1.StateInvestigating, []v1alpha1.IncidentState{v1alpha1.StateResolved},
			[]observation{{obsTimeToResolve, v1alpha1.StateInvestigating, 600}}},
		{"downgraded from Major: resolved under Major", v1alpha1.StateMajor, []v1alpha1.IncidentState{v1alpha1.StateConfirmed, v1alpha1.StateResolved},
			[]observation{{obsTimeToConfirm, v1alpha1.StateMajor, 0}, {obsTimeToResolve, v1alpha1.StateMajor, 1200}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := declared(tc.declared)
			before := inc.DeepCopy()
			recordTrusted(inc, at(time.Second))
			got := observations(before, inc, cadence)
			for i, s := range tc.moves {
				before := inc.DeepCopy()
				inc.Spec.State = s
				recordTrusted(inc, at(time.Duration(i+1)*10*time.Minute))
				got = append(got, observations(before, inc, cadence)...)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("observed %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestObservationsNeverGoNegativeWhenClocksDisagree(t *testing.T) {
	// The declaration time is the API server's; the manager's clock may be a little behind.
	inc := declared(v1alpha1.StateInvestigating)
	recordTrusted(inc, at(time.Second))
	before := inc.DeepCopy()
	inc.Spec.State = v1alpha1.StateConfirmed
	recordTrusted(inc, at(-2*time.Second))
	got := observations(before, inc, DefaultSitrepCadence)
	if want := []observation{{obsTimeToConfirm, v1alpha1.StateConfirmed, 0}}; !slices.Equal(got, want) {
		t.Fatalf("observed %+v, want %+v", got, want)
	}
}

func TestObserveRecordedLabelsDrillsAndPunctuality(t *testing.T) {
	ns := "observe-recorded"
	for _, drill := range []bool{false, true} {
		inc := declared(v1alpha1.StateInvestigating)
		inc.Namespace, inc.Spec.Drill = ns, drill
		recordTrusted(inc, at(time.Second))
		before := inc.DeepCopy()
		inc.Spec.State = v1alpha1.StateConfirmed
		inc.Spec.Sitreps = []v1alpha1.Sitrep{sitrepAt(10*time.Minute, "on time"), sitrepAt(2*time.Hour, "late")}
		recordTrusted(inc, at(2*time.Hour))
		observeRecorded(before, inc, DefaultSitrepCadence)
	}
	for _, drill := range []string{"false", "true"} {
		if n := counter(t, sitrepsTotal.WithLabelValues(ns, "Confirmed", drill, "on_time")); n != 1 {
			t.Errorf("drill=%s: %v sitreps on time, want 1", drill, n)
		}
		// Due an hour after the first sitrep (Confirmed), posted at 2h: 50 minutes late.
		if n := counter(t, sitrepsTotal.WithLabelValues(ns, "Confirmed", drill, "late")); n != 1 {
			t.Errorf("drill=%s: %v sitreps late, want 1", drill, n)
		}
	}
	for _, drill := range []string{"false", "true"} {
		if n, sum := histogram(t, sitrepLateness.WithLabelValues(ns, "Confirmed", drill)); n != 2 || sum != 3000 {
			t.Errorf("drill=%s: lateness %d observations summing %vs, want 2 summing 3000s (0 + 50m)", drill, n, sum)
		}
		if n, sum := histogram(t, timeToConfirm.WithLabelValues(ns, "Confirmed", drill)); n != 1 || sum != 7200 {
			t.Errorf("drill=%s: time to confirm %d observations summing %vs, want 1 of 7200s", drill, n, sum)
		}
	}
}

// counter reads one counter series.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// histogram reads one histogram series' count and sum.
func histogram(t *testing.T, o prometheus.Observer) (uint64, float64) {
	t.Helper()
	m := &dto.Metric{}
	if err := o.(prometheus.Metric).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// Only the leader reports the gauges: a standby's cache holds the same incidents, and a sum
// over replicas would count each twice.
func TestOnlyTheLeaderReportsTheGauges(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team"}, Spec: v1alpha1.IncidentSpec{State: v1alpha1.StateMajor}}
	elected := make(chan struct{})
	c := leadergauge.New(collectIncidents, incidentsDesc, overdueDesc)
	c.Use(fake.NewClientBuilder().WithScheme(scheme).WithObjects(inc).Build(), clock.RealClock{}, elected)
	count := func() int {
		ch := make(chan prometheus.Metric, 16)
		c.Collect(ch)
		close(ch)
		return len(ch)
	}
	if n := count(); n != 0 {
		t.Fatalf("a standby reported %d gauges", n)
	}
	close(elected)
	if n := count(); n == 0 {
		t.Fatal("the leader reported no gauges")
	}
}
