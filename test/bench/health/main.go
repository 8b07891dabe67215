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

// Command health measures what evaluating health signals costs per open incident. It runs a
// real kube-apiserver (envtest) and a real Prometheus scraping a small exporter, and for each
// count of open incidents under one ResponsePolicy with three signals it runs the health
// evaluator's reconcile of that policy directly: once after the exporter's values changed
// (every incident's status is written) and once with the same values (nothing is written). It
// prints the Prometheus queries, the status writes and the time of each evaluation, in total
// and per incident.
//
//	go run ./test/bench/health -n 1,100,1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/health"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/prometheus/prometheustest"
	"firescope.dev/firescope/internal/safehttp"
	"firescope.dev/firescope/internal/testenv"
)

func main() {
	counts := flag.String("n", "1,100,1000", "comma-separated counts of open incidents under one policy")
	flag.Parse()
	var ns []int
	for f := range strings.SplitSeq(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bench: -n wants positive counts, such as 1,100,1000")
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	if err := run(ns); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// countingSource counts the queries the evaluator makes.
type countingSource struct {
	next    health.Source
	queries atomic.Int64
}

func (c *countingSource) Read(ctx context.Context, ns string, s v1alpha1.HealthSignal, now time.Time) (float64, error) {
	c.queries.Add(1)
	return c.next.Read(ctx, ns, s, now)
}

// countingWriter counts the status writes.
type countingWriter struct {
	client.Client
	writes atomic.Int64
}

func (c *countingWriter) Status() client.SubResourceWriter {
	return &countingStatus{SubResourceWriter: c.Client.Status(), n: &c.writes}
}

type countingStatus struct {
	client.SubResourceWriter
	n *atomic.Int64
}

func (c *countingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func run(counts []int) error {
	ctx := context.Background()
	env, err := testenv.Start(false)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	dir, err := os.MkdirTemp("", "firescope-bench-health-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	prom, stopProm, err := prometheustest.Run(dir)
	if err != nil {
		return err
	}
	defer stopProm()

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: manager.NewScheme(), Cache: manager.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	// The informers the evaluator reads, started before the manager.
	for _, obj := range []client.Object{&v1alpha1.Incident{}, &v1alpha1.ResponsePolicy{}, &v1alpha1.Drill{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return err
		}
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = mgr.Start(mctx) }()
	if !mgr.GetCache().WaitForCacheSync(mctx) {
		return errors.New("the cache did not sync")
	}
	src := &countingSource{next: &health.PrometheusSource{Secrets: mgr.GetAPIReader(), HTTP: safehttp.Loopback().Guard(&http.Client{})}}
	writer := &countingWriter{Client: mgr.GetClient()}
	clk := clocktesting.NewFakeClock(time.Now())
	r := &health.Reconciler{Client: writer, Recorder: &eventrecord.Recorder{Client: mgr.GetClient(), Controller: "firescope.dev/bench"}, Source: src, Clock: clk}

	fmt.Printf("%-10s %-10s | %-38s | %-38s\n", "", "", "values changed", "values unchanged")
	fmt.Printf("%-10s %-10s | %-8s %-12s %-16s | %-8s %-12s %-16s\n", "incidents", "queries", "writes", "total", "per incident", "writes", "total", "per incident")
	for _, n := range counts {
		if err := bench(ctx, env, mgr.GetCache(), r, src, writer, clk, prom, n); err != nil {
			return err
		}
	}
	return nil
}

func bench(ctx context.Context, env *testenv.Env, cache client.Reader, r *health.Reconciler, src *countingSource, writer *countingWriter,
	clk *clocktesting.FakeClock, prom *prometheustest.Server, n int) error {
	ns := fmt.Sprintf("health-%d", n)
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	sig := func(name, metric string, bad v1alpha1.BadDirection, degraded, down string) v1alpha1.HealthSignal {
		return v1alpha1.HealthSignal{Name: name, Query: "sum(" + metric + ")", Prometheus: v1alpha1.PrometheusSource{URL: prom.URL},
			Thresholds: v1alpha1.HealthThresholds{BadWhen: bad, Degraded: degraded, Down: down}}
	}
	policy := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
		HealthInterval: &metav1.Duration{Duration: 30 * time.Second},
		HealthSignals: []v1alpha1.HealthSignal{
			sig("availability", "availability_percent", v1alpha1.BadBelow, "99.5", "95"),
			sig("errors", "error_percent", v1alpha1.BadAbove, "1", "5"),
			sig("integration", "integration_pass_percent", v1alpha1.BadBelow, "98", "90"),
		}}}
	if err := c.Create(ctx, policy); err != nil {
		return err
	}
	for i := range n {
		inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("inc-%04d", i), Namespace: ns},
			Spec: v1alpha1.IncidentSpec{Title: "Elevated API errors", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo"}}}
		if err := c.Create(ctx, inc); err != nil {
			return err
		}
	}
	if err := waitCached(ctx, cache, ns, n); err != nil {
		return err
	}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "default"}}
	setValues := func(v float64) error {
		prom.Exporter.Set("availability_percent", 99-v)
		prom.Exporter.Set("error_percent", 2+v)
		prom.Exporter.Set("integration_pass_percent", 95-v)
		// Until Prometheus has scraped the new values.
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got, err := src.next.Read(ctx, ns, policy.Spec.HealthSignals[1], time.Now())
			if err == nil && got == 2+v {
				return nil
			}
		}
		return errors.New("prometheus did not scrape the new values")
	}
	// A first evaluation gives every incident a health; the rounds measured follow it.
	if err := setValues(0); err != nil {
		return err
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		return err
	}
	round := func(v float64) (queries, writes int64, took time.Duration, err error) {
		if err := setValues(v); err != nil {
			return 0, 0, 0, err
		}
		if err := waitWritten(ctx, cache, ns, n); err != nil {
			return 0, 0, 0, err
		}
		clk.Step(31 * time.Second) // the next interval: the evaluator reads again
		q0, w0 := src.queries.Load(), writer.writes.Load()
		start := time.Now()
		_, err = r.Reconcile(ctx, req)
		took = time.Since(start)
		return src.queries.Load() - q0, writer.writes.Load() - w0, took, err
	}
	q1, w1, t1, err := round(1)
	if err != nil {
		return err
	}
	q2, w2, t2, err := round(1)
	if err != nil {
		return err
	}
	fmt.Printf("%-10d %-10s | %-8d %-12s %-16s | %-8d %-12s %-16s\n", n, fmt.Sprintf("%d, %d", q1, q2),
		w1, t1.Round(time.Millisecond), (t1 / time.Duration(n)).Round(time.Microsecond),
		w2, t2.Round(time.Millisecond), (t2 / time.Duration(n)).Round(time.Microsecond))
	return nil
}

// waitCached waits until the cache holds the namespace's n incidents.
func waitCached(ctx context.Context, cache client.Reader, ns string, n int) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		list := &v1alpha1.IncidentList{}
		if err := cache.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) == n {
			return nil
		}
	}
	return fmt.Errorf("the cache does not hold the %d incidents of %s", n, ns)
}

// waitWritten waits until the cache holds the last evaluation's writes, so that the next
// round compares with what was written.
func waitWritten(ctx context.Context, cache client.Reader, ns string, n int) error {
	var want string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		list := &v1alpha1.IncidentList{}
		if err := cache.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		same := 0
		for _, inc := range list.Items {
			if inc.Status.Health == nil {
				continue
			}
			if want == "" {
				want = inc.Status.Health.Summary
			}
			if inc.Status.Health.Summary == want {
				same++
			}
		}
		if same == n {
			return nil
		}
	}
	return fmt.Errorf("the cache does not show the health of the %d incidents of %s", n, ns)
}
