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
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/prometheus/prometheustest"
	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/testenv"
)

func TestPublishedSignalsAreChartedOnTheIncidentsFirescopeStatusPage(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	const ns = "health-own-page"
	const token = "own-page-write-token-0123456789"
	setup(t, e, ns)
	prom := prometheustest.Start(t)
	prom.Exporter.Set("availability_percent", 97.25)
	page, err := statuspage.OpenPage(filepath.Join(t.TempDir(), "page.db"), statuspage.PageInfo{Name: "Example Status", URL: "https://status.example.com"}, time.Now)
	must(t, err)
	t.Cleanup(func() { _ = page.Close() })
	srv := httptest.NewServer(statuspage.NewHandler(page, token, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)

	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "own-page", Namespace: ns,
		Labels: map[string]string{credentials.Label: "true"}, Annotations: credentials.Annotations(credentials.Firescope, "127.0.0.1")},
		StringData: map[string]string{"token": token}}))
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderFirescope, URL: srv.URL,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "own-page", Key: "token"}}}))
	published := signal("availability", "availability_percent", prom.URL, "%", v1alpha1.BadBelow, "99.5", "95")
	published.Publish = true
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
		HealthInterval: dur(time.Second), StatusPageRef: &v1alpha1.LocalReference{Name: "public"},
		HealthSignals: []v1alpha1.HealthSignal{published, signal("internal", "availability_percent", prom.URL, "%", v1alpha1.BadBelow, "99.5", "95")},
	}}))
	must(t, e.Client.Create(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "outage", Namespace: ns},
		Spec: v1alpha1.IncidentSpec{Title: "Elevated API errors", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo"}}}))
	must(t, e.Client.Create(ctx, &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "outage"}, Status: v1alpha1.UpdateStatus("investigating"),
			Message: "Some API requests are failing. We are investigating; retrying failed requests works for most customers."}}))

	// The StatusUpdate controller creates the incident on the page; the health evaluator's
	// readings reach its chart, through the page's write API.
	read := func(path string) (string, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return "", err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s = %d", path, resp.StatusCode)
		}
		return string(b), err
	}
	var incidentPath string
	testenv.Eventually(t, 60*time.Second, func() error {
		front, err := read("/")
		if err != nil {
			return err
		}
		i := strings.Index(front, `href="/incidents/`)
		if i < 0 {
			return fmt.Errorf("no incident on the front page yet")
		}
		incidentPath = front[i+len(`href="`):]
		incidentPath = incidentPath[:strings.IndexByte(incidentPath, '"')]
		if !strings.Contains(front, "Last reading <strong>97.25%</strong>") {
			return fmt.Errorf("the front page has no chart of the reading yet")
		}
		return nil
	})
	prom.Exporter.Set("availability_percent", 93.5)
	testenv.Eventually(t, 60*time.Second, func() error {
		html, err := read(incidentPath)
		if err != nil {
			return err
		}
		for _, want := range []string{`<title id="chart-`, ">Availability</title>", "Last reading <strong>93.5%</strong>", `st-down">Down<`, "Down below 95%"} {
			if !strings.Contains(html, want) {
				return fmt.Errorf("the incident page lacks %q", want)
			}
		}
		if strings.Contains(html, ">Internal</title>") {
			return fmt.Errorf("a signal not marked publish is charted")
		}
		return nil
	})
	metrics, err := read("/api/v2/metrics.json")
	must(t, err)
	if !strings.Contains(metrics, `"name":"Availability"`) || !strings.Contains(metrics, `"value":93.5`) {
		t.Errorf("metrics.json = %s", metrics)
	}
}
