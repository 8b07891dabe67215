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
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/leadergauge"
)

var (
	// statusPatches counts the status writes of the incident controller. Together with
	// controller_runtime_reconcile_total{controller="incident"} it shows writes per reconcile.
	statusPatches = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "firescope_incident_status_patches_total",
		Help: "Status patches written by the incident controller.",
	})
	reminderSkew = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "firescope_reminder_skew_seconds",
		Help:    "How late a sitrep reminder went out: actual time minus due time.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
	})
	eventsFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "firescope_events_failed_total",
		Help: "Events the API server refused; the facts stay in the timeline.",
	})
	notificationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_notifications_total",
		Help: "Announcements and pages by channel (comms, pagerduty) and result (delivered, retried, failed, dropped, unknown).",
	}, []string{"channel", "result"})

	incidentsDesc = prometheus.NewDesc("firescope_incidents", "Incidents by namespace, state and drill.",
		[]string{"namespace", "state", "drill"}, nil)
	overdueDesc = prometheus.NewDesc("firescope_sitreps_overdue", "Open incidents whose sitrep is overdue, by namespace and drill.",
		[]string{"namespace", "drill"}, nil)
)

// Response metrics: how the response went, for improving it outside incidents. Each is
// observed once per fact, when the status write that records the fact succeeds (see
// observeRecorded), never on a plain reconcile. Drills are observed under drill="true", so
// that a drill's figures can be read on their own and kept out of the real ones.
var (
	// Response times are minutes to hours; the buckets follow the policy cadences people use.
	responseBuckets = []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600}
	// Lateness of zero is a sitrep on time; the first bucket counts them.
	latenessBuckets = []float64{0, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600}

	timeToConfirm = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "firescope_incident_time_to_confirm_seconds",
		Help:    "From declaration until the incident was first Confirmed or Major (state: the one reached), once per incident.",
		Buckets: responseBuckets,
	}, []string{"namespace", "state", "drill"})
	timeToFirstUpdate = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "firescope_incident_time_to_first_update_seconds",
		Help:    "From declaration until the first status update was published to customers (state: the highest reached by then), once per incident.",
		Buckets: responseBuckets,
	}, []string{"namespace", "state", "drill"})
	timeToResolve = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "firescope_incident_time_to_resolve_seconds",
		Help:    "From declaration until the incident was first Resolved (state: the highest reached), once per incident.",
		Buckets: responseBuckets,
	}, []string{"namespace", "state", "drill"})
	sitrepLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "firescope_sitrep_lateness_seconds",
		Help:    "How long after it was due each sitrep was posted, zero when on time (state: whose cadence applied).",
		Buckets: latenessBuckets,
	}, []string{"namespace", "state", "drill"})
	sitrepsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_sitreps_total",
		Help: "Sitreps posted while one was due, by punctuality (on_time, late).",
	}, []string{"namespace", "state", "drill", "punctuality"})
	reopensTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_incident_reopens_total",
		Help: "Resolved incidents that were reopened.",
	}, []string{"namespace", "drill"})
)

func init() {
	metrics.Registry.MustRegister(statusPatches, reminderSkew, eventsFailed, notificationsTotal, collector,
		timeToConfirm, timeToFirstUpdate, timeToResolve, sitrepLateness, sitrepsTotal, reopensTotal)
}

// collector reports the incidents' gauges from the cache at scrape time.
var collector = leadergauge.New(collectIncidents, incidentsDesc, overdueDesc)

func collectIncidents(ctx context.Context, r client.Reader, _ time.Time, ch chan<- prometheus.Metric) {
	list := &v1alpha1.IncidentList{}
	// Read only, so the cache's own objects: a copy of every Incident per scrape is the
	// largest allocation of a manager with thousands of them.
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ ns, state, drill string }
	counts := map[key]int{}
	type nsDrill struct{ ns, drill string }
	overdue := map[nsDrill]int{}
	for _, inc := range list.Items {
		drill := strconv.FormatBool(inc.Spec.Drill)
		counts[key{inc.Namespace, string(inc.Spec.State), drill}]++
		if meta.IsStatusConditionFalse(inc.Status.Conditions, v1alpha1.ConditionSitrepCurrent) {
			overdue[nsDrill{inc.Namespace, drill}]++
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(incidentsDesc, prometheus.GaugeValue, float64(n), k.ns, k.state, k.drill)
	}
	for k, n := range overdue {
		ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(n), k.ns, k.drill)
	}
}

// observationKind names a response metric.
type observationKind string

const (
	obsTimeToConfirm     observationKind = "time_to_confirm"
	obsTimeToFirstUpdate observationKind = "time_to_first_update"
	obsTimeToResolve     observationKind = "time_to_resolve"
	obsSitrep            observationKind = "sitrep"
	obsReopen            observationKind = "reopen"
)

// observation is one response fact for the metrics. For a sitrep, seconds is how late it was
// (negative: early); for the others, the time since the declaration.
type observation struct {
	kind    observationKind
	state   v1alpha1.IncidentState
	seconds float64
}

// observations returns the response facts that a status write from before to after records.
// It compares what the two statuses recorded, so that a write which records nothing new (a
// resync, a restart, a retry after a conflict) observes nothing:
//   - time to confirm, when the incident first has confirmedAt or majorAt;
//   - time to first update, when the first published status update is recorded;
//   - time to resolve, when the incident is resolved for the first time (a reopened incident
//     is counted as a reopen, and its later resolutions are not observed again, so that every
//     incident counts once in the response times);
//   - each newly recorded sitrep against the due time of the cadence then in force; sitreps
//     posted while none is due (Resolved) are not scheduled and not counted.
func observations(before, after *v1alpha1.Incident, cadence map[v1alpha1.IncidentState]time.Duration) []observation {
	b, a := before.Status, after.Status
	opened := a.OpenedAt
	if opened == nil {
		return nil
	}
	recB, recA := recordedOf(b), recordedOf(a)
	highest := highestState(a)
	var out []observation
	if b.ConfirmedAt == nil && b.MajorAt == nil {
		switch {
		case a.ConfirmedAt != nil && (a.MajorAt == nil || !a.MajorAt.Before(a.ConfirmedAt)):
			out = append(out, observation{obsTimeToConfirm, v1alpha1.StateConfirmed, since(opened, a.ConfirmedAt)})
		case a.MajorAt != nil:
			out = append(out, observation{obsTimeToConfirm, v1alpha1.StateMajor, since(opened, a.MajorAt)})
		}
	}
	if recB.StatusUpdates == 0 && recA.StatusUpdates > 0 && a.StatusUpdates != nil && a.StatusUpdates.LastPublishedAt != nil {
		first := a.StatusUpdates.FirstPublishedAt
		if first == nil { // summarized before firstPublishedAt existed
			first = a.StatusUpdates.LastPublishedAt
		}
		out = append(out, observation{obsTimeToFirstUpdate, highest, since(opened, first)})
	}
	if recB.State != v1alpha1.StateResolved && recA.State == v1alpha1.StateResolved && b.ReopenedAt == nil && a.ResolvedAt != nil {
		out = append(out, observation{obsTimeToResolve, highest, since(opened, a.ResolvedAt)})
	}
	if recB.State == v1alpha1.StateResolved && recA.State.IsOpen() {
		out = append(out, observation{kind: obsReopen, state: recA.State})
	}
	out = append(out, sitrepObservations(after, recB.Sitreps, recA.Sitreps, b.LastSitrepAt, cadence)...)
	return out
}

// sitrepObservations measures sitreps from..to-1 (0-based) against their due times: one
// cadence of the recorded state after the latest of the declaration, the last reopen and the
// sitrep before, as the SitrepCurrent condition computes it.
func sitrepObservations(inc *v1alpha1.Incident, from, to int32, last *metav1.Time, cadence map[v1alpha1.IncidentState]time.Duration) []observation {
	st := inc.Status
	state := recordedOf(st).State
	every, ok := cadence[state]
	if !ok || !state.IsOpen() {
		return nil
	}
	var out []observation
	for i := int(from); i < int(to) && i < len(inc.Spec.Sitreps); i++ {
		at := inc.Spec.Sitreps[i].At
		if at == nil {
			// Without the webhook a sitrep has no time of its own; the controller stamped it.
			at = st.LastSitrepAt
		}
		if at == nil {
			continue
		}
		base := st.OpenedAt.Time
		for _, t := range []*metav1.Time{st.ReopenedAt, last} {
			if t != nil && t.After(base) {
				base = t.Time
			}
		}
		out = append(out, observation{obsSitrep, state, at.Sub(base.Add(every)).Seconds()})
		last = at
	}
	return out
}

func recordedOf(st v1alpha1.IncidentStatus) v1alpha1.Recorded {
	if st.Recorded == nil {
		return v1alpha1.Recorded{}
	}
	return *st.Recorded
}

// highestState is the most severe state the incident has reached.
func highestState(st v1alpha1.IncidentStatus) v1alpha1.IncidentState {
	switch {
	case st.MajorAt != nil:
		return v1alpha1.StateMajor
	case st.ConfirmedAt != nil:
		return v1alpha1.StateConfirmed
	}
	return v1alpha1.StateInvestigating
}

// since is the time from a to b in seconds; never negative, as the declaration time comes
// from the API server's clock and the others from the manager's.
func since(a, b *metav1.Time) float64 {
	return max(0, b.Sub(a.Time).Seconds())
}

// observeRecorded puts the response facts of a stored status write into the metrics. Call it
// only after the write succeeded: the optimistic lock makes every fact's write succeed once,
// so each fact is observed once; a crash just after the write loses the observation with the
// rest of the process's metrics rather than repeating it.
func observeRecorded(before, after *v1alpha1.Incident, cadence map[v1alpha1.IncidentState]time.Duration) {
	ns, drill := after.Namespace, strconv.FormatBool(after.Spec.Drill)
	for _, o := range observations(before, after, cadence) {
		state := string(o.state)
		switch o.kind {
		case obsTimeToConfirm:
			timeToConfirm.WithLabelValues(ns, state, drill).Observe(o.seconds)
		case obsTimeToFirstUpdate:
			timeToFirstUpdate.WithLabelValues(ns, state, drill).Observe(o.seconds)
		case obsTimeToResolve:
			timeToResolve.WithLabelValues(ns, state, drill).Observe(o.seconds)
		case obsReopen:
			reopensTotal.WithLabelValues(ns, drill).Inc()
		case obsSitrep:
			punctuality := "on_time"
			if o.seconds > 0 {
				punctuality = "late"
			}
			sitrepsTotal.WithLabelValues(ns, state, drill, punctuality).Inc()
			sitrepLateness.WithLabelValues(ns, state, drill).Observe(max(0, o.seconds))
		}
	}
}
