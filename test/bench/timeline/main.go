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

// Command timeline measures, on a local control plane with the real manager binary, how long
// an applied change takes to appear in an Incident's timeline, next to the API server's own
// write latency, and how many status writes the controller makes per reconcile.
//
//	go run ./test/bench/timeline -n 500    (or: make bench)
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/testenv"
)

func main() {
	n := flag.Int("n", 500, "number of incidents")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// seen records when each incident's timeline first showed a given message.
type seen struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *seen) mark(key string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[key]; !ok {
		s.at[key] = t
	}
}

func (s *seen) get(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[key]
	return t, ok
}

func run(n int) error {
	root := testenv.RepoRoot()
	dir, err := os.MkdirTemp("", "firescope-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	c, err := localcluster.Start(ctx, localcluster.Options{
		Dir: dir, Assets: os.Getenv("KUBEBUILDER_ASSETS"),
		CRDs: filepath.Join(root, "config", "crd", "bases"), Webhooks: filepath.Join(root, "config", "webhook"),
		Manager: filepath.Join(root, "bin", "manager"), User: "ricardo",
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return err
	}
	ns := "bench"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}

	s := &seen{at: map[string]time.Time{}}
	w, err := cl.Watch(ctx, &v1alpha1.IncidentList{}, client.InNamespace(ns))
	if err != nil {
		return err
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			now := time.Now()
			inc, ok := ev.Object.(*v1alpha1.Incident)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			for _, e := range inc.Status.Timeline {
				s.mark(inc.Name+"/"+e.Message, now)
			}
		}
	}()

	before := scrape(c.MetricsAddr)
	fmt.Printf("Firescope timeline benchmark: %d incidents, local kube-apiserver v1.37.2 + etcd v3.7.3, manager binary\n\n", n)

	var createLat, declareLat []time.Duration
	for i := range n {
		inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("inc-%04d", i), Namespace: ns},
			Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", Roles: v1alpha1.Roles{Commander: "ricardo"}}}
		start := time.Now()
		if err := cl.Create(ctx, inc); err != nil {
			return err
		}
		createLat = append(createLat, time.Since(start))
		s.mark(inc.Name+"/sent", start)
	}
	if err := waitAll(s, n, "IC -> ricardo"); err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("inc-%04d", i)
		sent, _ := s.get(name + "/sent")
		got, _ := s.get(name + "/IC -> ricardo")
		declareLat = append(declareLat, got.Sub(sent))
	}
	afterCreate := scrape(c.MetricsAddr)

	var patchLat, handoffLat []time.Duration
	for i := range n {
		name := fmt.Sprintf("inc-%04d", i)
		start := time.Now()
		p := []byte(`{"spec":{"roles":{"commander":"greg"}}}`)
		if err := cl.Patch(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, client.RawPatch("application/merge-patch+json", p)); err != nil {
			return err
		}
		patchLat = append(patchLat, time.Since(start))
		s.mark(name+"/handoff-sent", start)
	}
	if err := waitAll(s, n, "IC -> greg"); err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("inc-%04d", i)
		sent, _ := s.get(name + "/handoff-sent")
		got, _ := s.get(name + "/IC -> greg")
		handoffLat = append(handoffLat, got.Sub(sent))
	}
	afterHandoff := scrape(c.MetricsAddr)

	fmt.Println("Latency                                   p50        p99        max")
	row("API server: create Incident", createLat)
	row("create -> timeline shows IC", declareLat)
	row("API server: patch spec.roles.commander", patchLat)
	row("patch -> timeline shows hand-off", handoffLat)
	fmt.Printf("\nRatio p50 (hand-off in timeline / API patch): %.1fx\n", float64(q(handoffLat, 0.5))/float64(q(patchLat, 0.5)))

	// A restarted manager lists every Incident and reconciles each once: a no-op resync.
	events := countEvents(ctx, cl, ns)
	c.StopManager()
	if err := c.StartManager(ctx); err != nil {
		return err
	}
	restart0 := metrics{} // a new process counts from zero
	if err := waitReconciles(c.MetricsAddr, n); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let any stray write land before counting
	restart1 := scrape(c.MetricsAddr)
	eventsAfter := countEvents(ctx, cl, ns)

	fmt.Println("\nAPI writes per reconcile (controller metrics)       reconciles  status patches  per reconcile")
	writes("declare (create)", before, afterCreate)
	writes("hand-off (patch commander)", afterCreate, afterHandoff)
	writes("no-op resync (manager restart)", restart0, restart1)
	fmt.Printf("Events written during the no-op resync: %d\n", eventsAfter-events)
	return nil
}

func waitAll(s *seen, n int, msg string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		done := 0
		for i := range n {
			if _, ok := s.get(fmt.Sprintf("inc-%04d/%s", i, msg)); ok {
				done++
			}
		}
		if done == n {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out waiting for %q in every timeline", msg)
}

func q(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func row(name string, d []time.Duration) {
	fmt.Printf("%-40s %8.1fms %8.1fms %8.1fms\n", name, ms(q(d, 0.5)), ms(q(d, 0.99)), ms(q(d, 1)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type metrics struct{ reconciles, patches float64 }

func scrape(addr string) metrics {
	var m metrics
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch {
		case strings.HasPrefix(line, "controller_runtime_reconcile_total{") && strings.Contains(line, `controller="incident"`):
			m.reconciles += v
		case strings.HasPrefix(line, "firescope_incident_status_patches_total"):
			m.patches += v
		}
	}
	return m
}

func waitReconciles(addr string, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if scrape(addr).reconciles >= float64(n) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the restarted manager did not reconcile %d incidents", n)
}

func writes(name string, a, b metrics) {
	r, p := b.reconciles-a.reconciles, b.patches-a.patches
	per := 0.0
	if r > 0 {
		per = p / r
	}
	fmt.Printf("%-50s %10.0f %15.0f %14.2f\n", name, r, p, per)
}

func countEvents(ctx context.Context, cl client.Client, ns string) int {
	l := &eventsv1.EventList{}
	if err := cl.List(ctx, l, client.InNamespace(ns)); err != nil {
		return -1
	}
	return len(l.Items)
}
