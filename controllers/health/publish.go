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
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/ratelimit"
)

// Publisher shows the values of a policy's published signals on its status page.
type Publisher interface {
	// Publish submits the values read (by signal name) of the signals marked publish. It is
	// called only while a real incident of the policy is open, never for drills, and is best
	// effort: a failure is logged and counted, and never holds up the incidents' status.
	Publish(ctx context.Context, policy *v1alpha1.ResponsePolicy, values map[string]float64, now time.Time)
}

// Providers builds the provider of a StatusPage, with its credentials.
type Providers interface {
	For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error)
}

// StatusPagePublisher publishes to the policy's StatusPage: on Atlassian Statuspage, each
// value is a point of the signal's system metric (statuspageMetricID).
type StatusPagePublisher struct {
	Client    client.Reader
	Providers Providers
}

// publishTimeout bounds one point's submission, so that a slow status page does not hold
// the policy's next evaluation: 10s for the call, after the part of the deadline the
// credential's rate limit gate keeps for recording outcomes.
const publishTimeout = ratelimit.DefaultReserve + 10*time.Second

// Publish implements Publisher.
func (p *StatusPagePublisher) Publish(ctx context.Context, policy *v1alpha1.ResponsePolicy, values map[string]float64, now time.Time) {
	var points []publish.MetricPoint
	for _, s := range policy.Spec.HealthSignals {
		v, ok := values[s.Name]
		if s.Publish && ok {
			points = append(points, publish.MetricPoint{Metric: s.StatuspageMetricID, At: now, Value: v})
		}
	}
	if len(points) == 0 || policy.Spec.StatusPageRef == nil {
		return
	}
	logger := log.FromContext(ctx).WithValues("statusPage", policy.Spec.StatusPageRef.Name)
	page := &v1alpha1.StatusPage{}
	if err := p.Client.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: policy.Spec.StatusPageRef.Name}, page); err != nil {
		logger.Error(err, "reading the StatusPage to publish health signals")
		publishes.WithLabelValues("failed").Add(float64(len(points)))
		return
	}
	if page.Spec.Provider != v1alpha1.ProviderStatuspage {
		return
	}
	prov, err := p.Providers.For(ctx, page)
	if err != nil {
		logger.Error(err, "building the status page provider to publish health signals")
		publishes.WithLabelValues("failed").Add(float64(len(points)))
		return
	}
	mp, ok := prov.(publish.MetricPublisher)
	if !ok {
		return
	}
	for _, pt := range points {
		if pt.Metric == "" {
			logger.Info("a published health signal has no statuspageMetricID; give it the Statuspage metric's id")
			publishes.WithLabelValues("skipped").Inc()
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := mp.SubmitMetric(ctx, pt)
		cancel()
		if err != nil {
			logger.Error(err, "publishing a health signal as a system metric", "metric", pt.Metric)
			publishes.WithLabelValues("failed").Inc()
			continue
		}
		publishes.WithLabelValues("published").Inc()
	}
}
