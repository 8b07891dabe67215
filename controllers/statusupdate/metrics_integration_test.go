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

package statusupdate_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

// sample is the value of the metric name with the given labels in the manager's registry.
func sample(name string, labels map[string]string) (float64, bool) {
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		return 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// A status page nobody answers: the update is Retrying, the requests are counted as
// unreachable, and the gauge the alert reads says how long the update has gone unpublished.
func TestIntegrationAnUnreachableStatusPageShowsInTheMetrics(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, _ := page(t, e, false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := "http://" + l.Addr().String()
	must(t, l.Close())
	sp := &v1alpha1.StatusPage{}
	must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "public"}, sp))
	sp.Spec.URL = closed
	must(t, e.Client.Update(ctx, sp))

	must(t, e.Client.Create(ctx, incident(ns, false)))
	must(t, e.Client.Create(ctx, update(ns, "u1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	testenv.Eventually(t, 30*time.Second, func() error {
		if c := condition(t, e.Client, ns, "u1"); c == nil || c.Reason != v1alpha1.ReasonRetrying {
			return fmt.Errorf("u1 %+v", c)
		}
		if n, _ := sample("firescope_statuspage_requests_total", map[string]string{"namespace": ns, "statuspage": "public", "result": "unreachable"}); n == 0 {
			return fmt.Errorf("no unreachable request counted")
		}
		if _, ok := sample("firescope_statusupdates_unpublished_seconds", map[string]string{"namespace": ns, "reason": v1alpha1.ReasonRetrying}); !ok {
			return fmt.Errorf("no unpublished gauge for %s", ns)
		}
		return nil
	})
	if n, _ := sample("firescope_statuspage_requests_total", map[string]string{"namespace": ns, "statuspage": "public", "result": "ok"}); n != 0 {
		t.Fatalf("%v requests to a closed port counted as answered", n)
	}
}
