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

package atlassian_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
)

func TestSubmitMetricAddsPointsTheDocumentAccepts(t *testing.T) {
	s, p := fake(t)
	s.AddMetric("mtr0avail001")
	m := p.(publish.MetricPublisher)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i, v := range []float64{99.9, 97.25, 93} {
		if err := m.SubmitMetric(ctx, publish.MetricPoint{Metric: "mtr0avail001", At: t0.Add(time.Duration(i) * 30 * time.Second), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	valid(t, s)
	got := s.MetricPoints("mtr0avail001")
	if len(got) != 3 || got[0] != (statuspage.MetricPoint{Timestamp: t0.Unix(), Value: 99.9}) || got[2].Value != 93 {
		t.Fatalf("points = %+v", got)
	}
}

func TestSubmitMetricNamesAnUnknownMetricAndNeverTheKey(t *testing.T) {
	s, p := fake(t)
	m := p.(publish.MetricPublisher)
	err := m.SubmitMetric(ctx, publish.MetricPoint{Metric: "nosuchmetric", At: time.Now(), Value: 1})
	if err == nil || !strings.Contains(err.Error(), "statuspageMetricID") || strings.Contains(err.Error(), statuspage.APIKey) {
		t.Fatalf("an unknown metric: %v", err)
	}
	if retry := !delivery.Assess(err).Terminal; retry {
		t.Fatalf("an unknown metric is permanent: %v", err)
	}
	if err := m.SubmitMetric(ctx, publish.MetricPoint{Metric: "m", At: time.Now(), Value: math.NaN()}); err == nil {
		t.Fatal("NaN was sent")
	}
	wrong := atlassian.New(statuspage.PageID, "wrong-key-0123456789", s.URL, nil, nil).(publish.MetricPublisher)
	if err := wrong.SubmitMetric(ctx, publish.MetricPoint{Metric: "nosuchmetric", At: time.Now(), Value: 1}); err == nil || strings.Contains(err.Error(), "wrong-key-0123456789") {
		t.Fatalf("a wrong key: %v", err)
	}
	valid(t, s)
}
