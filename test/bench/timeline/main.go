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
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/test/bench/internal/benchenv"
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
	ctx := context.Background()
	e, err := benchenv.Start(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl := e.Client
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

	before := e.Scrape()
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
	afterCreate := e.Scrape()

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
	afterHandoff := e.Scrape()

	fmt.Println("Latency                                   p50        p99        max")
	row("API server: create Incident", createLat)
	row("create -> timeline shows IC", declareLat)
	row("API server: patch spec.roles.commander", patchLat)
	row("patch -> timeline shows hand-off", handoffLat)
	fmt.Printf("\nRatio p50 (hand-off in timeline / API patch): %.1fx\n", float64(benchenv.Quantile(handoffLat, 0.5))/float64(benchenv.Quantile(patchLat, 0.5)))

	// A restarted manager lists every Incident and reconciles each once: a no-op resync.
	events := e.CountEvents(ctx, ns)
	e.StopManager()
	if err := e.StartManager(ctx); err != nil {
		return err
	}
	restart0 := benchenv.Metrics{} // a new process counts from zero
	if err := waitReconciles(e, n); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let any stray write land before counting
	restart1 := e.Scrape()
	eventsAfter := e.CountEvents(ctx, ns)

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

func row(name string, d []time.Duration) {
	fmt.Printf("%-40s %8.1fms %8.1fms %8.1fms\n", name, benchenv.Ms(benchenv.Quantile(d, 0.5)), benchenv.Ms(benchenv.Quantile(d, 0.99)), benchenv.Ms(benchenv.Quantile(d, 1)))
}

func waitReconciles(e *benchenv.Env, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if e.Scrape().Reconciles >= float64(n) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the restarted manager did not reconcile %d incidents", n)
}

func writes(name string, a, b benchenv.Metrics) {
	r, p := b.Reconciles-a.Reconciles, b.Patches-a.Patches
	per := 0.0
	if r > 0 {
		per = p / r
	}
	fmt.Printf("%-50s %10.0f %15.0f %14.2f\n", name, r, p, per)
}
