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

package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

func signalJSON(name, thresholds string) string {
	return fmt.Sprintf(`{"name":%q,"query":"sum(up)","prometheus":{"url":"https://prometheus.example.com"},"thresholds":%s}`, name, thresholds)
}

func TestAPIServerValidatesHealthSignals(t *testing.T) {
	ctx := context.Background()
	below := `{"badWhen":"Below","degraded":"99.5","down":"95"}`
	cases := []struct {
		name, signals string
		want          []string // substrings of the refusal; none means accepted
	}{
		{"three signals", "[" + signalJSON("availability", below) + "," + signalJSON("api-errors", `{"badWhen":"Above","degraded":"1","down":"5"}`) + "," +
			signalJSON("logins", `{"badWhen":"Below","degraded":"100","down":"100"}`) + "]", nil},
		{"a fourth signal", "[" + signalJSON("a", below) + "," + signalJSON("b", below) + "," + signalJSON("c", below) + "," + signalJSON("d", below) + "]",
			[]string{"spec.healthSignals", "at most 3 health signals", "no more than 2-3 high-level metrics"}},
		{"down better than degraded, lower is worse", "[" + signalJSON("availability", `{"badWhen":"Below","degraded":"95","down":"99"}`) + "]",
			[]string{"spec.healthSignals[0]", "thresholds.down must be at least as bad as thresholds.degraded"}},
		{"down better than degraded, higher is worse", "[" + signalJSON("latency", `{"badWhen":"Above","degraded":"500","down":"200"}`) + "]",
			[]string{"thresholds.down must be at least as bad as thresholds.degraded"}},
		{"a threshold that is not a number", "[" + signalJSON("availability", `{"badWhen":"Below","degraded":"99.5%","down":"95"}`) + "]",
			[]string{"spec.healthSignals[0].thresholds.degraded"}},
		{"no direction", "[" + signalJSON("availability", `{"badWhen":"Sideways","degraded":"99.5","down":"95"}`) + "]",
			[]string{"spec.healthSignals[0].thresholds.badWhen", "Below", "Above"}},
		{"a name that is not a DNS label", "[" + signalJSON("HTTP Availability", below) + "]", []string{"spec.healthSignals[0].name"}},
		{"two signals of one name", "[" + signalJSON("availability", below) + "," + signalJSON("availability", below) + "]", []string{"Duplicate value"}},
		{"a metric id without publish", `[{"name":"availability","query":"up","prometheus":{"url":"https://p.example.com"},"thresholds":` + below + `,"statuspageMetricID":"m1"}]`,
			[]string{"statuspageMetricID is only used when publish is true"}},
		{"published with a metric id", `[{"name":"availability","query":"up","prometheus":{"url":"https://p.example.com"},"thresholds":` + below + `,"publish":true,"statuspageMetricID":"m1"}]`, nil},
		{"credentials in the URL", `[{"name":"availability","query":"up","prometheus":{"url":"https://user:pw@p.example.com"},"thresholds":` + below + `}]`,
			[]string{"spec.healthSignals[0].prometheus.url", "credentials belong in the Secret"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := fmt.Sprintf(`{"apiVersion":"firescope.dev/v1alpha1","kind":"ResponsePolicy","metadata":{"name":"health-%d","namespace":"default"},"spec":{"healthSignals":%s}}`, i, tc.signals)
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			err := k8s.Create(ctx, u)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want a refusal saying %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal does not say %q: %v", w, err)
				}
			}
		})
	}
}

func TestAPIServerValidatesHealthInterval(t *testing.T) {
	raw := `{"apiVersion":"firescope.dev/v1alpha1","kind":"ResponsePolicy","metadata":{"name":"health-interval","namespace":"default"},"spec":{"healthInterval":"500ms"}}`
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	err := k8s.Create(context.Background(), u)
	if err == nil || !strings.Contains(err.Error(), "spec.healthInterval") || !strings.Contains(err.Error(), "at least 1s") {
		t.Fatalf("want the duration message on spec.healthInterval, got %v", err)
	}
}

func TestAPIServerAcceptsThePolicySamples(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "config", "samples", "policies")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("policy samples in %s: %v, %v", dir, files, err)
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "policy-samples"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &u.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u.SetNamespace("policy-samples")
		if err := k8s.Create(ctx, u); err != nil {
			t.Errorf("%s is refused: %v", filepath.Base(f), err)
		}
	}
}

func TestKubectlGetIncidentsWideShowsTheHealth(t *testing.T) {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "incidents.firescope.dev"}, crd); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		cols, _, _ := unstructured.NestedSlice(v.(map[string]any), "additionalPrinterColumns")
		for _, c := range cols {
			col := c.(map[string]any)
			if col["name"] == "Health" {
				if col["jsonPath"] != ".status.health.summary" || col["priority"] != int64(1) {
					t.Fatalf("the Health column: %v; want .status.health.summary at -o wide (priority 1)", col)
				}
				return
			}
		}
	}
	t.Fatal("kubectl get incidents has no Health column")
}
