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

package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/health"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/prometheus/prometheustest"
	"firescope.dev/firescope/internal/testenv"
)

// The tests share one control plane and one running manager, started on first use.
func TestMain(m *testing.M) { testenv.Main(m) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func signal(name, query, url, unit string, bad v1alpha1.BadDirection, degraded, down string) v1alpha1.HealthSignal {
	return v1alpha1.HealthSignal{Name: name, Query: query, Unit: unit,
		Prometheus: v1alpha1.PrometheusSource{URL: url, BearerTokenSecretRef: &v1alpha1.SecretKeyReference{Name: "prometheus", Key: "token"}},
		Thresholds: v1alpha1.HealthThresholds{BadWhen: bad, Degraded: degraded, Down: down}}
}

func setup(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	ctx := context.Background()
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: ns,
		Labels: map[string]string{credentials.Label: "true"}, Annotations: credentials.Annotations(credentials.Prometheus, "127.0.0.1")},
		StringData: map[string]string{"token": "prometheus-bearer-token-1234"}}))
}

func waitIncident(t *testing.T, e *testenv.Env, ns, name string, ok func(*v1alpha1.Incident) error) *v1alpha1.Incident {
	t.Helper()
	var inc *v1alpha1.Incident
	testenv.Eventually(t, 60*time.Second, func() error {
		inc = &v1alpha1.Incident{}
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, inc); err != nil {
			return err
		}
		return ok(inc)
	})
	return inc
}

// shows checks the incident's health: the summary, and the ProductHealthy condition's status
// and reason.
func shows(summary string, status metav1.ConditionStatus, reason string) func(*v1alpha1.Incident) error {
	return func(inc *v1alpha1.Incident) error {
		h := inc.Status.Health
		if h == nil || h.Summary != summary {
			return fmt.Errorf("health %+v; want summary %q", h, summary)
		}
		c := meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionProductHealthy)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("ProductHealthy %+v; want %s %s", c, status, reason)
		}
		return nil
	}
}

func eventNotes(t *testing.T, e *testenv.Env, ns, name, reason string) []string {
	t.Helper()
	list := &eventsv1.EventList{}
	must(t, e.Client.List(context.Background(), list, client.InNamespace(ns)))
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && ev.Reason == reason {
			out = append(out, ev.Note)
		}
	}
	return out
}

func TestIncidentHealthFollowsARealPrometheusAndAFailingQueryIsUnknown(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	const ns = "health-follows"
	setup(t, e, ns)
	prom := prometheustest.Start(t)
	prom.Exporter.Set("availability_percent", 99.9)
	prom.Exporter.Set(`http_errors_percent{service="api"}`, 0.5)

	policy := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
		HealthInterval: dur(time.Second),
		HealthSignals: []v1alpha1.HealthSignal{
			signal("availability", "availability_percent", prom.URL, "%", v1alpha1.BadBelow, "99.5", "95"),
			signal("errors", `sum(http_errors_percent)`, prom.URL, "%", v1alpha1.BadAbove, "1", "5"),
		},
	}}
	must(t, e.Client.Create(ctx, policy))
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "api-errors", Namespace: ns},
		Spec: v1alpha1.IncidentSpec{Title: "API errors", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo"}}}
	must(t, e.Client.Create(ctx, inc))

	waitIncident(t, e, ns, inc.Name, shows("availability 99.9% Healthy, errors 0.5% Healthy", metav1.ConditionTrue, v1alpha1.ReasonSignalsHealthy))

	prom.Exporter.Set("availability_percent", 97)
	got := waitIncident(t, e, ns, inc.Name, shows("availability 97% Degraded, errors 0.5% Healthy", metav1.ConditionFalse, v1alpha1.ReasonSignalsDegraded))
	if v := got.Status.Health.Signals[0]; v.Value != "97" || v.Reason != v1alpha1.SignalReasonMeasured || v.Message != "degraded at or below 99.5%, down at or below 95%" {
		t.Fatalf("availability: %+v", v)
	}
	prom.Exporter.Set(`http_errors_percent{service="api"}`, 12)
	waitIncident(t, e, ns, inc.Name, shows("availability 97% Degraded, errors 12% Down", metav1.ConditionFalse, v1alpha1.ReasonSignalsDown))

	prom.Exporter.Set("availability_percent", 99.95)
	prom.Exporter.Set(`http_errors_percent{service="api"}`, 0.1)
	got = waitIncident(t, e, ns, inc.Name, shows("availability 99.95% Healthy, errors 0.1% Healthy", metav1.ConditionTrue, v1alpha1.ReasonSignalsHealthy))

	// Recovery is a hint to the IC, never a resolution.
	if got.Spec.State != v1alpha1.StateMajor {
		t.Fatalf("a recovered signal changed the state to %s", got.Spec.State)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		notes := eventNotes(t, e, ns, inc.Name, v1alpha1.EventHealthSignalRecovered)
		if len(notes) != 2 || !strings.Contains(strings.Join(notes, "\n"), "Signal availability recovered: 99.95% (healthy above 99.5%); the IC decides") {
			return fmt.Errorf("recovered Events: %q", notes)
		}
		return nil
	})
	if w := eventNotes(t, e, ns, inc.Name, v1alpha1.EventHealthSignalWorsened); len(w) != 2 {
		t.Fatalf("worsened Events: %q; want availability degraded and errors down", w)
	}
	// The Incident controller's conditions and the evaluator's live side by side, each under
	// its own field owner.
	if meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionSitrepCurrent) == nil {
		t.Fatalf("the incident controller's conditions are gone: %+v", got.Status.Conditions)
	}
	owned := false
	for _, mf := range got.ManagedFields {
		owned = owned || (mf.Manager == health.FieldOwner && mf.Subresource == "status" && strings.Contains(mf.FieldsV1.GetRawString(), `"f:health"`))
	}
	if !owned {
		t.Fatal("status.health is not owned by the health evaluator's field manager")
	}

	// A signal whose query fails is unknown with the reason; the others keep being read, and
	// the rest of the incident's reconcile goes on.
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(policy), policy))
	policy.Spec.HealthSignals = append(policy.Spec.HealthSignals, signal("logins", "sum(rate(logins_total[5m]", prom.URL, "", v1alpha1.BadBelow, "10", "1"))
	must(t, e.Client.Update(ctx, policy))
	got = waitIncident(t, e, ns, inc.Name, shows("availability 99.95% Healthy, errors 0.1% Healthy, logins unknown Unknown", metav1.ConditionUnknown, v1alpha1.ReasonSignalsUnknown))
	if v := got.Status.Health.Signals[2]; v.State != v1alpha1.SignalUnknown || v.Reason != "QueryRefused" || !strings.Contains(v.Message, "expression browser") ||
		strings.Contains(v.Message, "prometheus-bearer-token-1234") {
		t.Fatalf("logins: %+v", v)
	}
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Sitreps = append(got.Spec.Sitreps, v1alpha1.Sitrep{Summary: "API errors are back to normal", Actions: "watching"})
	must(t, e.Client.Patch(ctx, got, patch))
	waitIncident(t, e, ns, inc.Name, func(inc *v1alpha1.Incident) error {
		if inc.Status.LastSitrepAt == nil {
			return fmt.Errorf("the sitrep is not recorded")
		}
		return nil
	})
	// A Prometheus that is gone makes every signal unknown, Unreachable.
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(policy), policy))
	policy.Spec.HealthSignals = policy.Spec.HealthSignals[:1]
	policy.Spec.HealthSignals[0].Prometheus.URL = "http://127.0.0.1:1"
	must(t, e.Client.Update(ctx, policy))
	got = waitIncident(t, e, ns, inc.Name, shows("availability unknown Unknown", metav1.ConditionUnknown, v1alpha1.ReasonSignalsUnknown))
	if v := got.Status.Health.Signals[0]; v.Reason != "Unreachable" {
		t.Fatalf("availability: %+v", v)
	}
	// A policy without signals leaves no stale health behind.
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(policy), policy))
	policy.Spec.HealthSignals = nil
	must(t, e.Client.Update(ctx, policy))
	waitIncident(t, e, ns, inc.Name, func(inc *v1alpha1.Incident) error {
		if inc.Status.Health != nil || meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionProductHealthy) != nil {
			return fmt.Errorf("health %+v, conditions %+v", inc.Status.Health, inc.Status.Conditions)
		}
		if meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionSitrepCurrent) == nil {
			return fmt.Errorf("the incident controller's conditions went too: %+v", inc.Status.Conditions)
		}
		return nil
	})
}

func TestADrillShowsInjectedValuesAndNeverQueries(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	const ns = "health-drill"
	setup(t, e, ns)
	var queries atomic.Int32
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(prom.Close)
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "drills", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
		Purpose: v1alpha1.PurposeDrill, HealthInterval: dur(time.Second),
		HealthSignals: []v1alpha1.HealthSignal{
			signal("availability", "availability_percent", prom.URL, "%", v1alpha1.BadBelow, "99.5", "95"),
			signal("latency", "latency_ms", prom.URL, "ms", v1alpha1.BadAbove, "300", "1000"),
		},
	}}))
	inject := func(at time.Duration, name, value string) v1alpha1.Inject {
		return v1alpha1.Inject{At: metav1.Duration{Duration: at}, Type: v1alpha1.InjectHealthSignal, Message: name + " is " + value,
			Signal: &v1alpha1.InjectedSignal{Name: name, Value: value}}
	}
	d := &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: "db-outage", Namespace: ns, Annotations: map[string]string{v1alpha1.AnnotationStartDrill: "go"}},
		Spec: v1alpha1.DrillSpec{Commander: "ricardo", PolicyRef: &v1alpha1.PolicyReference{Name: "drills"}, TimeLimit: metav1.Duration{Duration: 10 * time.Minute},
			Scenario: v1alpha1.DrillScenario{Inline: &v1alpha1.DrillScenarioSpec{Title: "Database outage", State: v1alpha1.StateMajor,
				Injects: []v1alpha1.Inject{inject(0, "availability", "97"), inject(3*time.Second, "availability", "93")}}}}}
	must(t, e.Client.Create(ctx, d))
	var run string
	testenv.Eventually(t, 60*time.Second, func() error {
		must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(d), d))
		if d.Status.Active == nil {
			return fmt.Errorf("no run yet")
		}
		run = d.Status.Active.Incident
		return nil
	})
	got := waitIncident(t, e, ns, run, shows("availability 97% Degraded, latency unknown Unknown", metav1.ConditionFalse, v1alpha1.ReasonSignalsDegraded))
	if a, l := got.Status.Health.Signals[0], got.Status.Health.Signals[1]; a.Reason != v1alpha1.SignalReasonInjected || l.Reason != v1alpha1.SignalReasonNotInjected {
		t.Fatalf("signals: %+v", got.Status.Health.Signals)
	}
	waitIncident(t, e, ns, run, shows("availability 93% Down, latency unknown Unknown", metav1.ConditionFalse, v1alpha1.ReasonSignalsDown))
	if n := queries.Load(); n != 0 {
		t.Fatalf("a drill queried Prometheus %d times", n)
	}
}

func TestPublishedSignalsBecomeStatuspageSystemMetrics(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	const ns = "health-publish"
	setup(t, e, ns)
	prom := prometheustest.Start(t)
	prom.Exporter.Set("availability_percent", 98.5)
	page := statuspage.New()
	t.Cleanup(page.Close)
	page.AddMetric("mtr0avail001")
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "statuspage", Namespace: ns,
		Labels: map[string]string{credentials.Label: "true"}, Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1")},
		StringData: map[string]string{"key": statuspage.APIKey}}))
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, URL: page.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"}}}))
	published := signal("availability", "availability_percent", prom.URL, "%", v1alpha1.BadBelow, "99.5", "95")
	published.Publish, published.StatuspageMetricID = true, "mtr0avail001"
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
		HealthInterval: dur(time.Second), StatusPageRef: &v1alpha1.LocalReference{Name: "public"},
		HealthSignals: []v1alpha1.HealthSignal{published, signal("internal", "availability_percent", prom.URL, "%", v1alpha1.BadBelow, "99.5", "95")},
	}}))
	must(t, e.Client.Create(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "outage", Namespace: ns},
		Spec: v1alpha1.IncidentSpec{Title: "Outage", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo"}}}))
	testenv.Eventually(t, 60*time.Second, func() error {
		pts := page.MetricPoints("mtr0avail001")
		if len(pts) < 2 || pts[len(pts)-1].Value != 98.5 {
			return fmt.Errorf("points %+v", pts)
		}
		return nil
	})
	if inv := page.Invalid(); len(inv) > 0 {
		t.Fatalf("requests that do not match Statuspage's document: %+v", inv)
	}
}
