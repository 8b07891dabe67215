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
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
)

const pageToken = "page-token-0123456789abcdef"

// ownPage is the Firescope status page server, in process, behind a switch that makes it
// answer with an error instead while fail is set.
type ownPage struct {
	page *statuspage.Page
	url  string

	mu       sync.Mutex
	fail     func(w http.ResponseWriter)
	requests int
}

func startOwnPage(t *testing.T) *ownPage {
	t.Helper()
	page, err := statuspage.OpenPage(filepath.Join(t.TempDir(), "page.db"), statuspage.PageInfo{Name: "Example Status", URL: "https://status.example.com"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = page.Close() })
	o := &ownPage{page: page}
	h := statuspage.NewHandler(page, pageToken, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		fail := o.fail
		o.requests++
		o.mu.Unlock()
		if fail != nil {
			fail(w)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

func (o *ownPage) set(fail func(w http.ResponseWriter)) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fail = fail
	n := o.requests
	o.requests = 0
	return n
}

func ownPublisher(t *testing.T, o *ownPage) (*StatusPagePublisher, *v1alpha1.ResponsePolicy) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	sp := &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: "team"}, Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderFirescope, URL: o.url}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(sp).Build()
	p := &StatusPagePublisher{Client: c, Providers: providersFunc(func(_ context.Context, sp *v1alpha1.StatusPage) (publish.Provider, error) {
		return firescope.New(sp.Spec.URL, pageToken, &http.Client{Timeout: 5 * time.Second}, nil), nil
	})}
	policy := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}, Spec: v1alpha1.ResponsePolicySpec{
		StatusPageRef: &v1alpha1.LocalReference{Name: "own"},
		HealthSignals: []v1alpha1.HealthSignal{
			{Name: "availability", Publish: true, Unit: "%", Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadBelow, Degraded: "99.5", Down: "95"}},
			{Name: "api-errors", Publish: true, Unit: "%", Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadAbove, Degraded: "1", Down: "5"}},
			{Name: "internal", Unit: "%", Thresholds: v1alpha1.HealthThresholds{BadWhen: v1alpha1.BadBelow, Degraded: "1", Down: "0"}},
		}}}
	return p, policy
}

func incident(name string, drill bool) *v1alpha1.Incident {
	return &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", UID: k8stypes.UID("uid-" + name)}, Spec: v1alpha1.IncidentSpec{Drill: drill, State: v1alpha1.StateMajor}}
}

func TestPublishedSignalsBecomePublicMetricsOfTheRealOpenIncidentsOnTheFirescopePage(t *testing.T) {
	o := startOwnPage(t)
	p, policy := ownPublisher(t, o)
	real, drill := incident("outage", false), incident("practice", true)
	t0 := time.Now().UTC().Truncate(time.Second)
	open := []*v1alpha1.Incident{real, drill}
	p.Publish(context.Background(), policy, open, map[string]float64{"availability": 97.5, "api-errors": 2.5, "internal": 1}, t0)
	p.Publish(context.Background(), policy, open, map[string]float64{"availability": 99.9}, t0.Add(30*time.Second))

	m, ok := o.page.Metric(firescope.MetricID("team/default/availability"))
	if !ok {
		t.Fatal("the availability signal has no metric on the page")
	}
	wantIncident := firescope.ID(publish.IncidentKey("team", "outage", "uid-outage"))
	if m.Name != "Availability" || m.Unit != "%" || len(m.Incidents) != 1 || m.Incidents[0] != wantIncident ||
		*m.Thresholds != (api.MetricThresholds{BadWhen: api.BadBelow, Degraded: 99.5, Down: 95}) {
		t.Errorf("the metric is %+v, want it shown on the real incident %s only, with the signal's unit and thresholds", m, wantIncident)
	}
	if len(m.Points) != 2 || m.Points[0].Value != 97.5 || !m.Points[1].Timestamp.Equal(t0.Add(30*time.Second)) {
		t.Errorf("the points are %+v", m.Points)
	}
	if e, ok := o.page.Metric(firescope.MetricID("team/default/api-errors")); !ok || e.Name != "Api errors" || e.Thresholds.BadWhen != api.BadAbove || e.PointCount != 1 {
		t.Errorf("api-errors: %+v", e)
	}
	if _, ok := o.page.Metric(firescope.MetricID("team/default/internal")); ok {
		t.Error("a signal not marked publish reached the page")
	}
}

func TestAPointTheStatusPageCouldNotTakeWaitsForRetryAfterAndIsSentOnce(t *testing.T) {
	o := startOwnPage(t)
	p, policy := ownPublisher(t, o)
	policy.Spec.HealthSignals = policy.Spec.HealthSignals[:1]
	open := []*v1alpha1.Incident{incident("outage", false)}
	id := firescope.MetricID("team/default/availability")
	// The readings are in the page's past: it refuses points from its future.
	t0 := time.Now().UTC().Truncate(time.Second).Add(-2 * backoffMax)
	publishAt := func(d time.Duration, v float64) {
		p.Publish(context.Background(), policy, open, map[string]float64{"availability": v}, t0.Add(d))
	}

	// The page is restarting: 503 with Retry-After 60s. The point waits.
	o.set(func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "60")
		http.Error(w, `{"error":{"code":"unavailable","message":"restarting"}}`, http.StatusServiceUnavailable)
	})
	publishAt(0, 97)
	if n := o.set(nil); n != 1 {
		t.Fatalf("%d requests for the first point, want 1", n)
	}
	// Within the Retry-After, nothing is sent, even to a page that is back.
	publishAt(30*time.Second, 96)
	if n := o.set(nil); n != 0 {
		t.Fatalf("%d requests within the Retry-After, want 0", n)
	}
	// After it, the points wait no more: both, in order, once each.
	publishAt(61*time.Second, 95.5)
	if m, _ := o.page.Metric(id); len(m.Points) != 3 || m.Points[0].Value != 97 || m.Points[2].Value != 95.5 {
		t.Fatalf("after the Retry-After the metric holds %+v, want the 3 readings", m.Points)
	}
	if n := o.set(nil); n != 3 {
		t.Errorf("%d requests after the wait, want 3 (one per point)", n)
	}

	// A refusal that no retry mends drops the point: it is not sent again.
	o.set(func(w http.ResponseWriter) {
		http.Error(w, `{"error":{"code":"unauthorized","message":"missing or wrong bearer token"}}`, http.StatusUnauthorized)
	})
	publishAt(90*time.Second, 94)
	o.set(nil)
	publishAt(120*time.Second, 99)
	if n := o.set(nil); n != 1 {
		t.Errorf("%d requests after a refused point, want 1: the refused one is not sent again", n)
	}
	if m, _ := o.page.Metric(id); len(m.Points) != 4 || m.Points[3].Value != 99 {
		t.Errorf("the metric holds %+v", m.Points)
	}

	// A server error is retried with a backoff: not at once, and later with what came after.
	o.set(func(w http.ResponseWriter) { http.Error(w, "bad gateway", http.StatusBadGateway) })
	publishAt(150*time.Second, 93)
	o.set(nil)
	publishAt(150*time.Second+backoffMax+time.Second, 92)
	if m, _ := o.page.Metric(id); len(m.Points) != 6 {
		t.Errorf("after the backoff the metric holds %d points, want 6", len(m.Points))
	}
}

// waiting is how many points wait for the policy's page.
func (p *StatusPagePublisher) waiting(policy *v1alpha1.ResponsePolicy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bl := p.backlog[client.ObjectKeyFromObject(policy)]; bl != nil {
		return len(bl.points)
	}
	return -1
}

func TestAPolicyThatIsGoneOrPublishesNoMoreLeavesNoPointsWaiting(t *testing.T) {
	for name, tc := range map[string]struct {
		// change is what became of the policy; nil deletes it.
		change func(*v1alpha1.ResponsePolicy)
		kept   bool
	}{
		"deleted":                 {},
		"its status page removed": {change: func(p *v1alpha1.ResponsePolicy) { p.Spec.StatusPageRef = nil }},
		"no signal published": {change: func(p *v1alpha1.ResponsePolicy) {
			for i := range p.Spec.HealthSignals {
				p.Spec.HealthSignals[i].Publish = false
			}
		}},
		"its signals removed": {change: func(p *v1alpha1.ResponsePolicy) { p.Spec.HealthSignals = nil }},
		// Its points are sent with its next reading, when an incident opens.
		"still publishing, no incident open": {change: func(*v1alpha1.ResponsePolicy) {}, kept: true},
	} {
		t.Run(name, func(t *testing.T) {
			o := startOwnPage(t)
			p, policy := ownPublisher(t, o)
			o.set(func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "60")
				http.Error(w, `{"error":{"code":"unavailable","message":"restarting"}}`, http.StatusServiceUnavailable)
			})
			now := time.Now().UTC().Truncate(time.Second)
			p.Publish(context.Background(), policy, []*v1alpha1.Incident{incident("outage", false)}, map[string]float64{"availability": 97, "api-errors": 2}, now)
			if n := p.waiting(policy); n != 2 {
				t.Fatalf("%d points wait after the page answered 503, want 2", n)
			}

			scheme := runtime.NewScheme()
			if err := v1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			b := fake.NewClientBuilder().WithScheme(scheme)
			if tc.change != nil {
				changed := policy.DeepCopy()
				tc.change(changed)
				b = b.WithObjects(changed)
			}
			r := &Reconciler{Client: b.Build(), Publisher: p, Clock: clocktesting.NewFakePassiveClock(now)}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(policy)}); err != nil {
				t.Fatal(err)
			}
			want := -1
			if tc.kept {
				want = 2
			}
			if n := p.waiting(policy); n != want {
				t.Errorf("after the reconcile the policy has %d points waiting (-1: none kept), want %d", n, want)
			}
		})
	}
}
