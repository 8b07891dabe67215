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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
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
	overdueDesc = prometheus.NewDesc("firescope_sitreps_overdue", "Open incidents whose sitrep is overdue, by namespace.",
		[]string{"namespace"}, nil)
)

func init() {
	metrics.Registry.MustRegister(statusPatches, reminderSkew, eventsFailed, notificationsTotal, collector)
}

// incidentCollector reports gauges computed from the manager's cache at scrape time, so they
// are never stale and cost nothing between scrapes.
type incidentCollector struct {
	mu     sync.Mutex
	reader client.Reader
}

var collector = &incidentCollector{}

// registerIncidentCollector points the gauges at a manager's cache.
func registerIncidentCollector(r client.Reader) {
	collector.mu.Lock()
	defer collector.mu.Unlock()
	collector.reader = r
}

func (c *incidentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- incidentsDesc
	ch <- overdueDesc
}

func (c *incidentCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	r := c.reader
	c.mu.Unlock()
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &v1alpha1.IncidentList{}
	if err := r.List(ctx, list); err != nil {
		return
	}
	type key struct{ ns, state, drill string }
	counts := map[key]int{}
	overdue := map[string]int{}
	for _, inc := range list.Items {
		counts[key{inc.Namespace, string(inc.Spec.State), strconv.FormatBool(inc.Spec.Drill)}]++
		if meta.IsStatusConditionFalse(inc.Status.Conditions, v1alpha1.ConditionSitrepCurrent) {
			overdue[inc.Namespace]++
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(incidentsDesc, prometheus.GaugeValue, float64(n), k.ns, k.state, k.drill)
	}
	for ns, n := range overdue {
		ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(n), ns)
	}
}
