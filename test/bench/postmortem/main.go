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

// Command postmortem measures how long a resolved Incident waits for its Postmortem, on a
// local control plane with the manager binary: from the API server's answer to the patch that
// resolves it to the Postmortem appearing in a watch.
//
//	go run ./test/bench/postmortem -n 200
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 200, "incidents to declare and resolve, one after the other")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	ctx := context.Background()
	e, err := benchenv.Start(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	ns := "bench-postmortem"
	cl := e.Client
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	for i := range n {
		if err := cl.Create(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: ns}, Spec: v1alpha1.IncidentSpec{
			Title: "AWS EC2 API problems", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}}); err != nil {
			return err
		}
	}
	// Let the incident controller record every declaration first, so that only resolving
	// is measured.
	time.Sleep(5 * time.Second)
	w, err := cl.Watch(ctx, &v1alpha1.PostmortemList{}, client.InNamespace(ns))
	if err != nil {
		return err
	}
	defer w.Stop()

	fmt.Printf("Firescope post-mortem benchmark: %d incidents resolved one after the other\n\n", n)
	var patched, opened []time.Duration
	for i := range n {
		start := time.Now()
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"state":"Resolved"}}`))
		if err := cl.Patch(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: ns}}, patch); err != nil {
			return err
		}
		patched = append(patched, time.Since(start))
		if err := waitCreated(w, name(i)); err != nil {
			return err
		}
		opened = append(opened, time.Since(start))
	}
	fmt.Println("Latency                                   p50        p99        max")
	row("API server: patch state Resolved", patched)
	row("resolve -> Postmortem created", opened)
	fmt.Printf("\nRatio of p50s (post-mortem / API patch): %.1f\n", float64(benchenv.Quantile(opened, 0.5))/float64(benchenv.Quantile(patched, 0.5)))
	list := &v1alpha1.PostmortemList{}
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	fmt.Printf("Post-mortems: %d for %d incidents\n", len(list.Items), n)
	return nil
}

func name(i int) string { return fmt.Sprintf("inc-%03d", i) }

func waitCreated(w watch.Interface, name string) error {
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("the watch ended")
			}
			if pm, isPM := ev.Object.(*v1alpha1.Postmortem); isPM && ev.Type == watch.Added && pm.Name == name {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("no post-mortem for %s within a minute", name)
		}
	}
}

func row(name string, d []time.Duration) {
	fmt.Printf("%-40s %8.1fms %8.1fms %8.1fms\n", name, benchenv.Ms(benchenv.Quantile(d, 0.5)), benchenv.Ms(benchenv.Quantile(d, 0.99)), benchenv.Ms(benchenv.Quantile(d, 1)))
}
