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

package incident_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/webhook"
	"firescope.dev/firescope/internal/testenv"
)

// responseNamespace creates a namespace whose default policy announces to a fake Slack and
// publishes status updates to a fake webhook status page that does not allow drills, with
// hour-long cadences so that no reminder interferes; and a policy "fast" whose sitreps are
// due every second.
func responseNamespace(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	ctx := context.Background()
	sl, page := slack.New(), webhook.New()
	t.Cleanup(sl.Close)
	t.Cleanup(page.Close)
	cred := map[string]string{"firescope.dev/credential": "true"}
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: cred, Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1"), Name: "comms", Namespace: ns},
		StringData: map[string]string{"webhook-url": sl.WebhookURL()}}))
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: cred, Annotations: credentials.Annotations(credentials.Webhook, "127.0.0.1"), Name: "page", Namespace: ns},
		Data: map[string][]byte{"secret": page.Secret()}}))
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderWebhook, URL: page.URL,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "page", Key: "secret"}}}))
	hour, second := &metav1.Duration{Duration: time.Hour}, &metav1.Duration{Duration: time.Second}
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{
			SitrepCadence: v1alpha1.SitrepCadence{Investigating: hour, Confirmed: hour, Major: hour},
			CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "webhook-url"}}},
			StatusPageRef: &v1alpha1.LocalReference{Name: "public"},
		}}))
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "fast", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{Purpose: v1alpha1.PurposeDrill, SitrepCadence: v1alpha1.SitrepCadence{Investigating: second, Confirmed: second, Major: second}}}))
}

// lived is what an incident's status said at each point the metrics measure.
type lived struct {
	opened, confirmed, firstUpdate, firstResolved time.Time
}

// liveThrough runs one incident through a whole response: declared Investigating, a sitrep
// early and one 2 seconds late (their times are given, so lateness does not depend on how
// fast the test runs), Confirmed, a status update, Major, Resolved, a manager restart, then
// reopened and resolved again.
func liveThrough(t *testing.T, e *testenv.Env, ns, name string, drill bool) lived {
	t.Helper()
	ctx := context.Background()
	ric := e.As("ricardo")
	inc := newIncident(name)
	inc.Namespace, inc.Spec.Drill = ns, drill
	inc.Spec.Roles.Communications = "keiko"
	must(t, ric.Create(ctx, inc))
	stored := waitFor(t, e, ns, name, func(i *v1alpha1.Incident) bool { return i.Status.OpenedAt != nil })
	var l lived
	l.opened = stored.Status.OpenedAt.Time

	change := func(mutate func(*v1alpha1.Incident), done func(*v1alpha1.Incident) bool) *v1alpha1.Incident {
		t.Helper()
		patch := client.MergeFrom(inc.DeepCopy())
		mutate(inc)
		must(t, ric.Patch(ctx, inc, patch))
		return waitFor(t, e, ns, name, done)
	}
	sitrepAt := func(d time.Duration) func(*v1alpha1.Incident) {
		return func(i *v1alpha1.Incident) {
			at := metav1.NewTime(l.opened.Add(d))
			i.Spec.Sitreps = append(i.Spec.Sitreps, v1alpha1.Sitrep{At: &at, Summary: "PX dynos cannot scale"})
		}
	}
	sitreps := func(n int32) func(*v1alpha1.Incident) bool {
		return func(i *v1alpha1.Incident) bool { return i.Status.Recorded.Sitreps == n }
	}
	state := func(s v1alpha1.IncidentState) func(*v1alpha1.Incident) {
		return func(i *v1alpha1.Incident) { i.Spec.State = s }
	}
	recorded := func(s v1alpha1.IncidentState) func(*v1alpha1.Incident) bool {
		return func(i *v1alpha1.Incident) bool { return i.Status.Recorded.State == s }
	}
	// A sitrep's time cannot be in the future, so lateness is measured on the fast policy's
	// one-second cadence with times given in the past: the first, dated before the
	// declaration, is early; the second, dated 3s after it, is due 1s after the declaration
	// (the first one predates it) and so 2s late.
	change(sitrepAt(-time.Hour), sitreps(1))
	policy := func(name string) func(*v1alpha1.Incident) {
		return func(i *v1alpha1.Incident) { i.Spec.PolicyRef = &v1alpha1.PolicyReference{Name: name} }
	}
	applies := func(name string) func(*v1alpha1.Incident) bool {
		return func(i *v1alpha1.Incident) bool {
			c := meta.FindStatusCondition(i.Status.Conditions, v1alpha1.ConditionPolicyApplied)
			return c != nil && i.Status.ObservedGeneration == i.Generation && strings.Contains(c.Message, fmt.Sprintf("%q", name))
		}
	}
	change(policy("fast"), applies("fast"))
	time.Sleep(time.Until(l.opened.Add(3 * time.Second)))
	change(sitrepAt(3*time.Second), sitreps(2))
	change(policy("default"), applies("default"))
	l.confirmed = change(state(v1alpha1.StateConfirmed), recorded(v1alpha1.StateConfirmed)).Status.ConfirmedAt.Time

	su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: name}, Status: "identified",
			Message: "Creating Postgres databases is failing. We are restoring provisioning. Existing databases are not affected."}}
	must(t, ric.Create(ctx, su))
	if drill {
		// Held as a drill: customers hear nothing, so there is no first update to measure.
		testenv.Eventually(t, 10*time.Second, func() error {
			got := &v1alpha1.StatusUpdate{}
			must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(su), got))
			if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonDrill {
				return fmt.Errorf("drill update not held: %+v", c)
			}
			return nil
		})
	} else {
		l.firstUpdate = waitFor(t, e, ns, name, func(i *v1alpha1.Incident) bool { return i.Status.Recorded.StatusUpdates == 1 }).Status.StatusUpdates.LastPublishedAt.Time
	}
	change(state(v1alpha1.StateMajor), recorded(v1alpha1.StateMajor))
	l.firstResolved = change(state(v1alpha1.StateResolved), recorded(v1alpha1.StateResolved)).Status.ResolvedAt.Time
	return l
}

// reopenAndResolve reopens a resolved incident and resolves it again.
func reopenAndResolve(t *testing.T, e *testenv.Env, ns, name string) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []v1alpha1.IncidentState{v1alpha1.StateConfirmed, v1alpha1.StateResolved} {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inc))
		patch := client.MergeFrom(inc.DeepCopy())
		inc.Spec.State = s
		must(t, e.As("ricardo").Patch(ctx, inc, patch))
		waitFor(t, e, ns, name, func(i *v1alpha1.Incident) bool { return i.Status.Recorded.State == s })
	}
}

func waitFor(t *testing.T, e *testenv.Env, ns, name string, ok func(*v1alpha1.Incident) bool) *v1alpha1.Incident {
	t.Helper()
	inc := &v1alpha1.Incident{}
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, inc); err != nil {
			return err
		}
		if inc.Status.Recorded == nil || !ok(inc) {
			return fmt.Errorf("%s/%s not there yet: %+v", ns, name, inc.Status.Recorded)
		}
		return nil
	})
	return inc
}

// overdueIncident declares an incident under the one-second policy and waits until its sitrep
// is overdue.
func overdueIncident(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	inc := newIncident("overdue")
	inc.Namespace = ns
	inc.Spec.PolicyRef = &v1alpha1.PolicyReference{Name: "fast"}
	must(t, e.As("ricardo").Create(context.Background(), inc))
	waitFor(t, e, ns, inc.Name, func(i *v1alpha1.Incident) bool {
		return meta.IsStatusConditionFalse(i.Status.Conditions, v1alpha1.ConditionSitrepCurrent)
	})
}

// series returns the series of a metric in the manager's registry whose labels include want.
func series(t *testing.T, name string, want map[string]string) []*dto.Metric {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if func() bool {
				for k, v := range want {
					if labels[k] != v {
						return false
					}
				}
				return true
			}() {
				out = append(out, m)
			}
		}
	}
	return out
}

// histogramIs checks that exactly one series matches and holds one observation of want.
func histogramIs(t *testing.T, name string, labels map[string]string, count uint64, sum float64) {
	t.Helper()
	s := series(t, name, labels)
	if len(s) != 1 {
		t.Errorf("%s%v: %d series, want 1", name, labels, len(s))
		return
	}
	h := s[0].GetHistogram()
	if h.GetSampleCount() != count || h.GetSampleSum() != sum {
		t.Errorf("%s%v: %d observations summing %v, want %d summing %v", name, labels, h.GetSampleCount(), h.GetSampleSum(), count, sum)
	}
}

func counterIs(t *testing.T, name string, labels map[string]string, want float64) {
	t.Helper()
	var got float64
	for _, m := range series(t, name, labels) {
		got += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestIntegrationResponseMetricsCountEachFactOnceAcrossARestart(t *testing.T) {
	e := startEnv(t)
	ns := "response-metrics"
	responseNamespace(t, e, ns)
	real := liveThrough(t, e, ns, "real", false)
	drill := liveThrough(t, e, ns, "drill", true)

	// A new manager reconciles everything again from an empty cache; then both incidents are
	// reopened and resolved again. Once it has recorded that, it has certainly seen them.
	e.StopManager()
	must(t, e.RunManager())
	reopenAndResolve(t, e, ns, "real")
	reopenAndResolve(t, e, ns, "drill")
	overdueIncident(t, e, ns)

	secs := func(a, b time.Time) float64 { return b.Sub(a).Seconds() }
	for _, c := range []struct {
		drill string
		l     lived
	}{{"false", real}, {"true", drill}} {
		histogramIs(t, "firescope_incident_time_to_confirm_seconds", labels("namespace", ns, "drill", c.drill, "state", "Confirmed"), 1, secs(c.l.opened, c.l.confirmed))
		// Resolved twice, reopened once: one time to resolve, under the highest state reached.
		histogramIs(t, "firescope_incident_time_to_resolve_seconds", labels("namespace", ns, "drill", c.drill, "state", "Major"), 1, secs(c.l.opened, c.l.firstResolved))
		counterIs(t, "firescope_incident_reopens_total", labels("namespace", ns, "drill", c.drill), 1)
		counterIs(t, "firescope_sitreps_total", labels("namespace", ns, "drill", c.drill, "state", "Investigating", "punctuality", "on_time"), 1)
		counterIs(t, "firescope_sitreps_total", labels("namespace", ns, "drill", c.drill, "state", "Investigating", "punctuality", "late"), 1)
		histogramIs(t, "firescope_sitrep_lateness_seconds", labels("namespace", ns, "drill", c.drill, "state", "Investigating"), 2, 2)
	}
	histogramIs(t, "firescope_incident_time_to_first_update_seconds", labels("namespace", ns, "drill", "false", "state", "Confirmed"), 1, secs(real.opened, real.firstUpdate))
	// The drill's update was held from customers but written: Comms' time counts, as a drill.
	if s := series(t, "firescope_incident_time_to_first_update_seconds", labels("namespace", ns, "drill", "true")); len(s) != 1 || s[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("a drill's held update is not counted once: %v", s)
	}
	counterIs(t, "firescope_sitreps_overdue", labels("namespace", ns, "drill", "false"), 1)
	counterIs(t, "firescope_incidents", labels("namespace", ns, "drill", "true", "state", "Resolved"), 1)
	counterIs(t, "firescope_incidents", labels("namespace", ns, "drill", "false", "state", "Resolved"), 1)
}

// registeredNames gathers the names Firescope's metrics appear under on the metrics endpoint,
// histograms with their _bucket, _sum and _count series.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

var (
	promString     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promBraces     = regexp.MustCompile(`\{[^{}]*\}|\[[^\[\]]*\]`)
	promGrafanaVar = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promGrouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promWord       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords   = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
		"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true}
)

// metricNames returns the metric names a PromQL expression selects: the words left once
// strings, label matchers, ranges, Grafana variables and grouping clauses are removed, that
// are neither functions nor keywords.
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	for prev := ""; prev != s; {
		prev, s = s, promBraces.ReplaceAllString(s, " ")
	}
	s = promGrafanaVar.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promWord.FindAllStringIndex(s, -1) {
		word := s[m[0]:m[1]]
		// A word after a digit or a dot is part of a number or a duration ("5m", "1e3"); one
		// followed by a parenthesis is a function.
		if m[0] > 0 && strings.ContainsAny(s[m[0]-1:m[0]], "0123456789.") ||
			strings.HasPrefix(strings.TrimLeft(s[m[1]:], " \t\n"), "(") || promKeywords[strings.ToLower(word)] {
			continue
		}
		if !slices.Contains(names, word) {
			names = append(names, word)
		}
	}
	return names
}

func TestMetricNamesFindsTheSelectorsOfAnExpression(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.5, sum by (namespace, le) (increase(firescope_incident_time_to_confirm_seconds_bucket{drill="false", namespace=~"$namespace"}[$__range])))`: {"firescope_incident_time_to_confirm_seconds_bucket"},
		`sum by (namespace) (increase(a_total{x="y(z)"}[5m])) / sum without(le) (b_total)`:                                                                                {"a_total", "b_total"},
		`rate(x[${__rate_interval}]) > bool on(instance) group_left(job) up offset 5m`:                                                                                    {"x", "up"},
		`sum(x_total) * 100 + 1e3 - 0.5e-2`: {"x_total"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
}

// dashboardQueries returns every PromQL expression of the dashboard's panels, by panel title,
// and the metrics its variables read.
func dashboardQueries(t *testing.T) (map[string][]string, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", "firescope-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Type  string
				Query json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	exprs := map[string][]string{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs[p.Title] = append(exprs[p.Title], tg.Expr)
		}
	}
	labelValues := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	var vars []string
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if json.Unmarshal(v.Query, &q) != nil {
			_ = json.Unmarshal(v.Query, &q.Query)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable query %q reads no metric", q.Query)
			continue
		}
		vars = append(vars, m[1])
	}
	return exprs, vars
}

// postmortemsOverdue is exported by the post-mortem controller; the dashboard may use it
// before that controller runs in this package's manager.
const postmortemsOverdue = "firescope_postmortems_overdue"

// drillMetrics are exported by the drill controller, per Drill and per run.
var drillMetrics = []string{"firescope_drill_last_grade_ratio", "firescope_drill_criteria_total", "firescope_drill_runs_total"}

func TestIntegrationDashboardUsesOnlyMetricsFirescopeRegisters(t *testing.T) {
	e := startEnv(t)
	ns := "dashboard-metrics"
	// Every labelled series appears once something was observed: run a response through.
	responseNamespace(t, e, ns)
	liveThrough(t, e, ns, "real", false)
	liveThrough(t, e, ns, "drill", true)
	reopenAndResolve(t, e, ns, "real")
	overdueIncident(t, e, ns)

	registered := registeredNames(t)
	registered[postmortemsOverdue] = true
	// The drill row's series appear once a Drill has run, which no test here does; the drill
	// package tests that it registers them (TestTheDashboardsDrillRowReadsWhatDrillsExport).
	for _, n := range drillMetrics {
		registered[n] = true
	}
	exprs, vars := dashboardQueries(t)
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d panels with queries; did it lose its panels?", len(exprs))
	}
	used := map[string]bool{}
	for title, es := range exprs {
		for _, expr := range es {
			names := metricNames(expr)
			if len(names) == 0 {
				t.Errorf("panel %q: %q selects no metric", title, expr)
			}
			for _, n := range names {
				used[n] = true
				if !registered[n] {
					t.Errorf("panel %q uses %s, which Firescope does not register: %s", title, n, expr)
				}
			}
		}
	}
	for _, n := range vars {
		if !registered[n] {
			t.Errorf("a dashboard variable reads %s, which Firescope does not register", n)
		}
	}
	// The response metrics are what the dashboard is for: each must be on it.
	for _, n := range []string{"firescope_incident_time_to_confirm_seconds_bucket", "firescope_incident_time_to_first_update_seconds_bucket",
		"firescope_incident_time_to_resolve_seconds_bucket", "firescope_sitreps_total", "firescope_sitrep_lateness_seconds_bucket",
		"firescope_incidents", "firescope_sitreps_overdue", postmortemsOverdue, "firescope_notifications_total"} {
		if !used[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
	var all []string
	for n := range used {
		all = append(all, n)
	}
	sort.Strings(all)
	t.Logf("metrics on the dashboard: %s", strings.Join(all, ", "))
}
