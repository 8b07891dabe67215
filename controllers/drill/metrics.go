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
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/leadergauge"
)

var (
	runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_drill_runs_total",
		Help: "Drill runs ended and graded, by namespace, drill and how they ended (Resolved, TimeLimit, IncidentDeleted).",
	}, []string{"namespace", "drill", "end"})
	criteriaTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_drill_criteria_total",
		Help: "Graded criteria of drill runs, by namespace, criterion and result (Pass, Fail, NotApplicable).",
	}, []string{"namespace", "criterion", "result"})
	injectSkew = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "firescope_drill_inject_skew_seconds",
		Help:    "How late each drill inject played against its planned time.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
	})
	injectAnnouncements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_drill_injects_announced_total",
		Help: "Drill injects and starts told to the comms channel, by result (delivered, failed).",
	}, []string{"result"})
	gradeDesc = prometheus.NewDesc("firescope_drill_last_grade_ratio",
		"Criteria passed out of those graded in the latest run of each Drill (0 to 1).", []string{"namespace", "drill"}, nil)
)

func init() {
	metrics.Registry.MustRegister(runsTotal, criteriaTotal, injectSkew, injectAnnouncements, drillCollector)
}

// drillCollector reports each Drill's latest grade from the cache at scrape time, so the
// gauge is right after a restart and needs no bookkeeping in the reconciler.
var drillCollector = leadergauge.New(collectGrades, gradeDesc)

func collectGrades(ctx context.Context, r client.Reader, _ time.Time, ch chan<- prometheus.Metric) {
	list := &v1alpha1.DrillList{}
	if err := r.List(ctx, list); err != nil {
		return
	}
	for _, d := range list.Items {
		if n := len(d.Status.Runs); n > 0 {
			_, ratio := score(d.Status.Runs[n-1].Criteria)
			ch <- prometheus.MustNewConstMetric(gradeDesc, prometheus.GaugeValue, ratio, d.Namespace, d.Name)
		}
	}
}

// observeEnded counts a run that this reconcile stored as ended.
func observeEnded(d *v1alpha1.Drill, res v1alpha1.DrillRunResult) {
	runsTotal.WithLabelValues(d.Namespace, d.Name, string(res.EndReason)).Inc()
	for _, c := range res.Criteria {
		// A pending criterion counts once decided (regradePostmortems).
		if c.Result != v1alpha1.CriterionPending {
			criteriaTotal.WithLabelValues(d.Namespace, c.Name, string(c.Result)).Inc()
		}
	}
}
