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

package postmortem

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/statusupdate"
	"firescope.dev/firescope/internal/leadergauge"
)

var (
	openLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "firescope_postmortem_open_seconds",
		Help:    "Time from an incident's recorded resolution to its post-mortem being created.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
	})
	reminderAnnouncements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_postmortem_reminders_announced_total",
		Help: "Post-mortem reminders told to the comms channel, by result (delivered, retried, failed, unknown, dropped).",
	}, []string{"result"})
	postmortemsDesc = prometheus.NewDesc("firescope_postmortems", "Post-mortems by namespace, state and drill.",
		[]string{"namespace", "state", "drill"}, nil)
	overdueDesc = prometheus.NewDesc("firescope_postmortems_overdue", "Post-mortems past their due date and not Published, by namespace and drill.",
		[]string{"namespace", "drill"}, nil)
	unpublishedDesc = prometheus.NewDesc("firescope_postmortems_unpublished_seconds",
		"The longest time a post-mortem whose Published condition has this reason (Retrying, NeedsAttention) has been unpublished, by namespace.",
		[]string{"namespace", "reason"}, nil)
)

// pmCollector counts post-mortems from the cache at scrape time, so the gauges are right
// after a restart and need no bookkeeping in the reconciler.
var pmCollector = leadergauge.New(collectPostmortems, postmortemsDesc, overdueDesc, unpublishedDesc)

func init() {
	metrics.Registry.MustRegister(openLatency, reminderAnnouncements, pmCollector)
}

func collectPostmortems(ctx context.Context, r client.Reader, now time.Time, ch chan<- prometheus.Metric) {
	list := &v1alpha1.PostmortemList{}
	if err := r.List(ctx, list); err != nil {
		return
	}
	type key struct{ ns, state, drill string }
	counts := map[key]int{}
	type nsDrill struct{ ns, drill string }
	late := map[nsDrill]int{}
	type nsReason struct{ ns, reason string }
	unpublished := map[nsReason]float64{}
	for _, pm := range list.Items {
		drill := "false"
		if pm.Status.Incident.Drill {
			drill = "true"
		}
		counts[key{pm.Namespace, string(pm.Spec.State), drill}]++
		late[nsDrill{pm.Namespace, drill}] += 0 // zero, not absent, for namespaces on schedule
		if overdue(&pm, now) {
			late[nsDrill{pm.Namespace, drill}]++
		}
		if reason, age, ok := statusupdate.Stalled(pm.Status.Conditions, now); ok {
			k := nsReason{pm.Namespace, reason}
			unpublished[k] = max(unpublished[k], age)
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(postmortemsDesc, prometheus.GaugeValue, float64(n), k.ns, k.state, k.drill)
	}
	for k, n := range late {
		ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(n), k.ns, k.drill)
	}
	for k, age := range unpublished {
		ch <- prometheus.MustNewConstMetric(unpublishedDesc, prometheus.GaugeValue, age, k.ns, k.reason)
	}
}
