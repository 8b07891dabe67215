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

package statusupdate

import (
	"context"
	"net/http"
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
	statusPageRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firescope_statuspage_requests_total",
		Help: "Requests to status pages (StatusUpdates and post-mortems) by namespace, StatusPage and result (ok, client_error, server_error, unreachable).",
	}, []string{"namespace", "statuspage", "result"})
	unpublishedDesc = prometheus.NewDesc("firescope_statusupdates_unpublished_seconds",
		"The longest time a StatusUpdate whose Published condition has this reason (Retrying, NeedsAttention) has been unpublished, by namespace.",
		[]string{"namespace", "reason"}, nil)
)

func init() {
	metrics.Registry.MustRegister(statusPageRequests, suCollector)
}

// countRequests returns c with every request counted under the StatusPage it is for, so
// that an alert can tell a status page the manager cannot reach from one that refuses.
func countRequests(c *http.Client, page *v1alpha1.StatusPage) *http.Client {
	counted := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	counted.Transport = countingTransport{next: next, namespace: page.Namespace, page: page.Name}
	return &counted
}

type countingTransport struct {
	next            http.RoundTripper
	namespace, page string
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	statusPageRequests.WithLabelValues(t.namespace, t.page, requestResult(resp, err)).Inc()
	return resp, err
}

// requestResult classifies one request: no answer at all (refused, timed out, DNS, TLS) is
// unreachable.
func requestResult(resp *http.Response, err error) string {
	switch {
	case err != nil || resp == nil:
		return "unreachable"
	case resp.StatusCode >= 500:
		return "server_error"
	case resp.StatusCode >= 400:
		return "client_error"
	}
	return "ok"
}

// suCollector reports, at scrape time from the cache, how long the updates that need a retry
// or a person have gone unpublished.
var suCollector = leadergauge.New(collectUnpublished, unpublishedDesc)

func collectUnpublished(ctx context.Context, r client.Reader, now time.Time, ch chan<- prometheus.Metric) {
	list := &v1alpha1.StatusUpdateList{}
	if err := r.List(ctx, list); err != nil {
		return
	}
	type key struct{ ns, reason string }
	longest := map[key]float64{}
	for _, su := range list.Items {
		if reason, age, ok := Stalled(su.Status.Conditions, now); ok {
			k := key{su.Namespace, reason}
			longest[k] = max(longest[k], age)
		}
	}
	for k, age := range longest {
		ch <- prometheus.MustNewConstMetric(unpublishedDesc, prometheus.GaugeValue, age, k.ns, k.reason)
	}
}

// Stalled reports, when the Published condition in conds says Retrying or NeedsAttention, the
// reason and how long the condition has been False: how long the object has gone unpublished.
// The post-mortem controller, whose Published condition has the same reasons, reports it too.
func Stalled(conds []metav1.Condition, now time.Time) (reason string, seconds float64, ok bool) {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionPublished)
	if c == nil || c.Status != metav1.ConditionFalse || (c.Reason != v1alpha1.ReasonRetrying && c.Reason != v1alpha1.ReasonNeedsAttention) {
		return "", 0, false
	}
	return c.Reason, max(0, now.Sub(c.LastTransitionTime.Time).Seconds()), true
}
