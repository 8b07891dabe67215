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

package install

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"
)

// promtool is Prometheus' own checker, from Debian's prometheus package
// (hack/install-test-deps.sh, which `make test-deps` runs).
func promtool(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool is missing: run hack/install-test-deps.sh (make test does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "promtool", args...)
	cmd.Dir, cmd.Stdin = dir, strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestTheAlertingRulesPassTheirUnitTests(t *testing.T) {
	dir := filepath.Join(root, "config", "prometheus")
	t.Log(strings.TrimSpace(promtool(t, dir, "", "check", "rules", "rules.yaml")))
	t.Log(strings.TrimSpace(promtool(t, dir, "", "test", "rules", "rules_test.yaml")))
}

// The PrometheusRule and the plain rules file are one set of alerts in two shapes.
func TestThePrometheusRuleHoldsTheRulesFile(t *testing.T) {
	var plain struct {
		Groups []any `json:"groups"`
	}
	var rule struct {
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	for file, into := range map[string]any{"rules.yaml": &plain, "prometheusrule.yaml": &rule} {
		b, err := os.ReadFile(filepath.Join(root, "config", "prometheus", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, into); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	if len(plain.Groups) == 0 || !reflect.DeepEqual(plain.Groups, rule.Spec.Groups) {
		t.Fatal("config/prometheus/prometheusrule.yaml's spec.groups differ from the groups of rules.yaml: copy them over")
	}
}

// ruleMetricNames are the metric names the alerting rules query.
func ruleMetricNames(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names = append(names, regexp.MustCompile(`\b(firescope|controller_runtime|leader_election)_[a-z_]+`).FindAllString(r.Expr, -1)...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// checkMetrics scrapes a running manager binary: promtool must find nothing to lint in the
// exposition, the webhook certificate's expiry must be there, and every metric an alert
// queries must be one the manager exports (scraped, or registered and not yet observed).
func checkMetrics(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", resp.Status, err)
	}
	promtool(t, "", string(body), "check", "metrics")

	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) `).FindAllStringSubmatch(string(body), -1) {
		exported[m[1]] = true
	}
	if !exported["firescope_webhook_certificate_expiry_timestamp_seconds"] {
		t.Fatal("the manager does not export the webhook certificate's expiry")
	}
	// Vectors without a sample yet are not in a scrape; the manager's registry, which this
	// test binary shares through internal/manager, describes them.
	descs := make(chan *prometheus.Desc, 1000)
	go func() { metrics.Registry.(prometheus.Collector).Describe(descs); close(descs) }()
	for d := range descs {
		if m := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String()); m != nil {
			exported[m[1]] = true
		}
	}
	for _, name := range ruleMetricNames(t) {
		if !exported[name] {
			t.Errorf("config/prometheus/rules.yaml queries %s, which the manager does not export", name)
		}
	}
}
