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

package firescope_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/statuspage/api"
)

func metrics(t *testing.T, p publish.Provider) publish.MetricPublisher {
	t.Helper()
	mp, ok := p.(publish.MetricPublisher)
	if !ok {
		t.Fatalf("%T does not publish metrics", p)
	}
	return mp
}

func TestAMetricPointIsStoredOnceWithTheSignalsDefinitionAndIncidents(t *testing.T) {
	srv := newPage(t)
	mp := metrics(t, firescope.New(srv.URL, token, srv.Client(), nil))
	at := time.Now().UTC().Truncate(time.Millisecond)
	pt := publish.MetricPoint{Signal: "default/payments/api-errors", Name: "Api errors", Unit: "%", IncidentKeys: []string{key},
		Thresholds: &publish.MetricThresholds{BadAbove: true, Degraded: 1, Down: 5}, At: at, Value: 2.5}
	for range 2 { // the second is a retry after an unknown outcome
		if err := mp.SubmitMetric(ctx, pt); err != nil {
			t.Fatal(err)
		}
	}
	m, ok := srv.page.Metric(firescope.MetricID(pt.Signal))
	if !ok || m.Name != "Api errors" || m.Unit != "%" || len(m.Points) != 1 || m.Points[0].Value != 2.5 || !m.Points[0].Timestamp.Equal(at) ||
		*m.Thresholds != (api.MetricThresholds{BadWhen: api.BadAbove, Degraded: 1, Down: 5}) {
		t.Fatalf("the page holds %+v", m)
	}
	if len(m.Incidents) != 1 || m.Incidents[0] != firescope.ID(key) {
		t.Errorf("the metric is shown on %v, want the incident the provider publishes as %s", m.Incidents, firescope.ID(key))
	}
}

func TestMetricPointFailuresAreClassified(t *testing.T) {
	srv := newPage(t)
	mp := metrics(t, firescope.New(srv.URL, token, srv.Client(), nil))
	now := time.Now()
	good := publish.MetricPoint{Signal: "default/payments/availability", At: now, Value: 99}

	srv.failNext(http.StatusServiceUnavailable)
	err := mp.SubmitMetric(ctx, good)
	if err == nil {
		t.Fatal("a 503 was not an error")
	}
	if f := delivery.Assess(err); f.Terminal || f.After != 2*time.Second || !f.NotApplied {
		t.Errorf("503 with Retry-After 2: %+v, want a wait of 2s, not applied", f)
	}
	srv.failNext(http.StatusBadGateway)
	if f := delivery.Assess(mp.SubmitMetric(ctx, good)); f.Terminal || f.NotApplied {
		t.Errorf("502: %+v, want transient of unknown outcome", f)
	}
	// The page's own refusals say what it refused.
	old := good
	old.At = now.Add(-api.MetricRetention - time.Hour)
	err = mp.SubmitMetric(ctx, old)
	if f := delivery.Assess(err); !f.Terminal || !strings.Contains(err.Error(), "retention") {
		t.Errorf("a point past the retention: %v (%+v), want a terminal refusal that names the retention", err, f)
	}
	if err := mp.SubmitMetric(ctx, good); err != nil {
		t.Fatal(err)
	}
	changed := good
	changed.Value = 50
	if err := mp.SubmitMetric(ctx, changed); !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("another value at a stored time: %v, want a terminal conflict", err)
	}
	bad := metrics(t, firescope.New(srv.URL, "wrong-token-0123456789", srv.Client(), nil))
	if err := bad.SubmitMetric(ctx, good); !delivery.Assess(err).Terminal || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("a wrong token: %v, want a terminal refusal without the token", err)
	}
	// Refused before any request: no signal, or no number.
	n := srv.requestCount()
	for _, pt := range []publish.MetricPoint{{At: now, Value: 1}, {Signal: "a/b/c", At: now, Value: math.NaN()}} {
		if err := mp.SubmitMetric(ctx, pt); err == nil {
			t.Errorf("%+v was sent", pt)
		}
	}
	if srv.requestCount() != n {
		t.Error("an invalid point reached the page")
	}
}
