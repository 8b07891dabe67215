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
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/ratelimit"
)

// Publisher shows the values of a policy's published signals on its status page.
type Publisher interface {
	// Publish submits the values read (by signal name) of the signals marked publish, for the
	// policy's open incidents. It is called only while a real incident of the policy is open;
	// drills among open are never published. It is best effort: a failure is logged and
	// counted, and never holds up the incidents' status.
	Publish(ctx context.Context, policy *v1alpha1.ResponsePolicy, open []*v1alpha1.Incident, values map[string]float64, now time.Time)
	// Forget drops what it keeps for a policy that is gone or publishes nothing any more. It
	// is called from the policy's reconcile, never alongside a Publish for the same policy.
	Forget(policy types.NamespacedName)
}

// Providers builds the provider of a StatusPage, with its credentials.
type Providers interface {
	For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error)
}

// StatusPagePublisher publishes to the policy's StatusPage: on Atlassian Statuspage, each
// value is a point of the signal's system metric (statuspageMetricID); on the Firescope
// status page, a point of the signal's public metric, charted on the pages of the open
// incidents. A point that fails for a reason that may pass waits, with the points read after
// it, for the next reading after the page's Retry-After or a backoff: points are idempotent,
// so sending one again is harmless, and the chart keeps no gap.
type StatusPagePublisher struct {
	Client    client.Reader
	Providers Providers

	mu sync.Mutex
	// backlog holds each policy's points that wait to be sent again. It is memory only: a
	// restart loses them (at most maxBacklog a policy), and Forget drops those of a policy
	// that is gone or publishes no more, which no round would ever send.
	backlog map[types.NamespacedName]*backlog
}

type backlog struct {
	points []publish.MetricPoint
	// failures counts the rounds that failed in a row, for the backoff; notBefore is when
	// the next round may send.
	failures  int
	notBefore time.Time
}

const (
	// publishTimeout bounds one point's submission, so that a slow status page does not
	// hold the policy's next evaluation: 10s for the call, after the part of the deadline
	// the credential's rate limit gate keeps for recording outcomes.
	publishTimeout = ratelimit.DefaultReserve + 10*time.Second
	// maxBacklog bounds the points that wait per policy, the latest: ten readings of three
	// signals.
	maxBacklog = 30
	// backoffBase and backoffMax bound the wait after a failed round.
	backoffBase, backoffMax = 10 * time.Second, 5 * time.Minute
)

// Publish implements Publisher.
func (p *StatusPagePublisher) Publish(ctx context.Context, policy *v1alpha1.ResponsePolicy, open []*v1alpha1.Incident, values map[string]float64, now time.Time) {
	if !publishing(policy) {
		return
	}
	logger := log.FromContext(ctx).WithValues("statusPage", policy.Spec.StatusPageRef.Name)
	page := &v1alpha1.StatusPage{}
	if err := p.Client.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: policy.Spec.StatusPageRef.Name}, page); err != nil {
		logger.Error(err, "reading the StatusPage to publish health signals")
		publishes.WithLabelValues("failed").Add(float64(len(newPoints(policy, v1alpha1.ProviderFirescope, open, values, now, nil))))
		return
	}
	if page.Spec.Provider != v1alpha1.ProviderStatuspage && page.Spec.Provider != v1alpha1.ProviderFirescope {
		return
	}
	points := newPoints(policy, page.Spec.Provider, open, values, now, func(s string) {
		logger.Info("a published health signal has no statuspageMetricID; give it the Statuspage metric's id", "signal", s)
		publishes.WithLabelValues("skipped").Inc()
	})
	key := client.ObjectKeyFromObject(policy)
	bl := p.take(key, points, now)
	if bl == nil {
		return
	}
	defer p.put(key, bl)
	prov, err := p.Providers.For(ctx, page)
	if err != nil {
		wait := p.failed(bl, 0, now)
		logger.Error(err, "building the status page provider to publish health signals", "retryIn", wait)
		publishes.WithLabelValues("retrying").Add(float64(len(bl.points)))
		return
	}
	mp, ok := prov.(publish.MetricPublisher)
	if !ok {
		bl.points = nil
		return
	}
	for len(bl.points) > 0 {
		pt := bl.points[0]
		cctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := mp.SubmitMetric(cctx, pt)
		cancel()
		if err == nil {
			publishes.WithLabelValues("published").Inc()
			bl.points, bl.failures = bl.points[1:], 0
			continue
		}
		f := delivery.Assess(err)
		if f.Terminal {
			// Sending it again cannot help: it is dropped, and the next points are tried.
			logger.Error(err, "the status page refused a health signal's point", "signal", pt.Signal, "reason", f.Reason)
			publishes.WithLabelValues("failed").Inc()
			bl.points = bl.points[1:]
			continue
		}
		wait := p.failed(bl, f.After, now)
		logger.Info("a health signal's point will be sent again", "signal", pt.Signal, "err", err.Error(),
			"notApplied", f.NotApplied, "retryIn", wait, "waiting", len(bl.points))
		publishes.WithLabelValues("retrying").Inc()
		return
	}
}

// newPoints builds the points of the signals marked publish that were read. A signal
// without statuspageMetricID cannot be sent to Atlassian Statuspage: skipped, if set,
// reports it.
func newPoints(policy *v1alpha1.ResponsePolicy, provider v1alpha1.StatusPageProvider, open []*v1alpha1.Incident,
	values map[string]float64, now time.Time, skipped func(signal string)) []publish.MetricPoint {
	var keys []string
	for _, inc := range open {
		if !inc.Spec.Drill {
			keys = append(keys, publish.IncidentKey(inc.Namespace, inc.Name, string(inc.UID)))
		}
	}
	var points []publish.MetricPoint
	for _, s := range policy.Spec.HealthSignals {
		v, ok := values[s.Name]
		if !s.Publish || !ok {
			continue
		}
		if provider == v1alpha1.ProviderStatuspage && s.StatuspageMetricID == "" {
			if skipped != nil {
				skipped(s.Name)
			}
			continue
		}
		pt := publish.MetricPoint{Metric: s.StatuspageMetricID, Signal: policy.Namespace + "/" + policy.Name + "/" + s.Name,
			Name: displayName(s.Name), Unit: s.Unit, IncidentKeys: keys, At: now, Value: v}
		if degraded, down, err := s.Thresholds.Thresholds(); err == nil {
			pt.Thresholds = &publish.MetricThresholds{BadAbove: s.Thresholds.BadWhen == v1alpha1.BadAbove, Degraded: degraded, Down: down}
		}
		points = append(points, pt)
	}
	return points
}

// displayName is how the status page titles a signal: "api-errors" is "Api errors".
func displayName(signal string) string {
	s := strings.ReplaceAll(signal, "-", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// publishing reports whether the policy publishes signals: it has a status page and a signal
// marked publish.
func publishing(policy *v1alpha1.ResponsePolicy) bool {
	if policy.Spec.StatusPageRef == nil {
		return false
	}
	for _, s := range policy.Spec.HealthSignals {
		if s.Publish {
			return true
		}
	}
	return false
}

// Forget implements Publisher: the points the policy left waiting are dropped, and counted as
// such.
func (p *StatusPagePublisher) Forget(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bl := p.backlog[key]; bl != nil {
		publishes.WithLabelValues("dropped").Add(float64(len(bl.points)))
		delete(p.backlog, key)
	}
}

// take adds the points to the policy's backlog and returns it to send now, or nil while the
// backoff runs. The caller puts it back.
func (p *StatusPagePublisher) take(key types.NamespacedName, points []publish.MetricPoint, now time.Time) *backlog {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.backlog == nil {
		p.backlog = map[types.NamespacedName]*backlog{}
	}
	bl := p.backlog[key]
	if bl == nil {
		bl = &backlog{}
	}
	bl.points = append(bl.points, points...)
	if n := len(bl.points) - maxBacklog; n > 0 {
		publishes.WithLabelValues("dropped").Add(float64(n))
		bl.points = bl.points[n:]
	}
	if now.Before(bl.notBefore) {
		p.backlog[key] = bl
		return nil
	}
	delete(p.backlog, key)
	return bl
}

func (p *StatusPagePublisher) put(key types.NamespacedName, bl *backlog) {
	if len(bl.points) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backlog[key] = bl
}

// failed starts the wait after a failed round: the page's Retry-After if it gave one, a
// backoff otherwise.
func (p *StatusPagePublisher) failed(bl *backlog, after time.Duration, now time.Time) time.Duration {
	bl.failures++
	wait := after
	if wait <= 0 {
		wait = delivery.Backoff(bl.failures, backoffBase, backoffMax)
	}
	bl.notBefore = now.Add(wait)
	return wait
}
