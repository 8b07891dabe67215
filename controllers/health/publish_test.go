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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
)

type providersFunc func(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error)

func (f providersFunc) For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error) {
	return f(ctx, page)
}

func TestPublishSendsOnlyTheSignalsMarkedPublishThatWereRead(t *testing.T) {
	page := statuspage.New()
	t.Cleanup(page.Close)
	page.AddMetric("mtr0avail001")
	page.AddMetric("mtr0error001")
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pages := []*v1alpha1.StatusPage{
		{ObjectMeta: metav1.ObjectMeta{Name: "atlassian", Namespace: "team"}, Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, PageID: statuspage.PageID}},
		{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: "team"}, Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderFirescope, URL: "https://status.example.com"}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pages[0], pages[1]).Build()
	asked := 0
	p := &StatusPagePublisher{Client: c, Providers: providersFunc(func(_ context.Context, sp *v1alpha1.StatusPage) (publish.Provider, error) {
		asked++
		return atlassian.New(sp.Spec.PageID, statuspage.APIKey, page.URL, nil, nil), nil
	})}
	sig := func(name, metric string, published bool) v1alpha1.HealthSignal {
		return v1alpha1.HealthSignal{Name: name, Publish: published, StatuspageMetricID: metric}
	}
	policy := func(pageName string) *v1alpha1.ResponsePolicy {
		pol := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}, Spec: v1alpha1.ResponsePolicySpec{
			HealthSignals: []v1alpha1.HealthSignal{sig("availability", "mtr0avail001", true), sig("errors", "mtr0error001", true),
				sig("internal", "", false), sig("no-metric", "", true)}}}
		if pageName != "" {
			pol.Spec.StatusPageRef = &v1alpha1.LocalReference{Name: pageName}
		}
		return pol
	}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	// errors was not read this time: nothing is sent for it.
	p.Publish(context.Background(), policy("atlassian"), nil, map[string]float64{"availability": 97.5, "internal": 1, "no-metric": 2}, t0)
	if got := page.MetricPoints("mtr0avail001"); len(got) != 1 || got[0] != (statuspage.MetricPoint{Timestamp: t0.Unix(), Value: 97.5}) {
		t.Fatalf("availability: %+v", got)
	}
	if got := page.MetricPoints("mtr0error001"); len(got) != 0 {
		t.Fatalf("a signal that was not read was sent: %+v", got)
	}
	// A policy without a status page shows no metrics.
	asked = 0
	p.Publish(context.Background(), policy(""), nil, map[string]float64{"availability": 90}, t0.Add(time.Minute))
	if asked != 0 || len(page.MetricPoints("mtr0avail001")) != 1 {
		t.Fatalf("published without a status page: asked %d, points %+v", asked, page.MetricPoints("mtr0avail001"))
	}
	if inv := page.Invalid(); len(inv) > 0 {
		t.Fatalf("requests that do not match Statuspage's document: %+v", inv)
	}
}
