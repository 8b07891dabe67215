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
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	readsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "firescope_health_signal_reads_total",
		Help: "Health signal queries made: one per signal per policy interval, however many incidents are open.",
	})
	readFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_health_signal_read_failures_total",
		Help: "Health signal queries that yielded no value, by reason (Unreachable, Timeout, QueryRefused, NoData, ...).",
	}, []string{"reason"})
	publishes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_health_signal_publishes_total",
		Help: "Health signal values sent to status pages, by result: published; failed (refused, dropped); retrying (kept to send again after a backoff); dropped (the oldest kept, past the bound); skipped (no statuspageMetricID).",
	}, []string{"result"})
	statusWrites = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "firescope_health_status_writes_total",
		Help: "Incident status writes of the health evaluator: one per incident whose health changed.",
	})
)

func init() {
	metrics.Registry.MustRegister(readsTotal, readFailures, publishes, statusWrites)
}
