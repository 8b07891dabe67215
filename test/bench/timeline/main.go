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

// Command timeline measures, on a local control plane with the real manager binary and from
// outside through the API server only, how long a declaration takes to reach an Incident's
// status and a hand-off its timeline, next to the API server's own ConfigMap create-to-watch
// latency measured in the same run under the same load: first with one writer, then with
// several writers declaring and handing off a burst of incidents at once. It then restarts the
// manager (a no-op resync) and prints its writes.
//
//	go run ./test/bench/timeline -n 200 -writers 8 -burst 300    (or: make bench)
package main

import (
	"context"
	"errors"
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
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 200, "incidents declared and handed off by one writer")
	writers := flag.Int("writers", 8, "concurrent writers in the burst")
	burst := flag.Int("burst", 300, "incidents declared and handed off in the burst")
	profile := flag.String("profile", "", "write the manager's CPU profile of the burst to this file, and its goroutines a second into the burst to this file + .goroutines")
	flag.Parse()
	if err := run(*n, *writers, *burst, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// seen records when the watches first showed something: "<name>/<message>" for a timeline
// entry, "<name>/status" for an Incident's first status, "<name>" for a ConfigMap.
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

// since is the latency from the time marked under from to the time marked under to, for each name.
func (s *seen) since(names []string, from, to string) []time.Duration {
	var d []time.Duration
	for _, name := range names {
		a, _ := s.get(name + from)
		b, _ := s.get(name + to)
		d = append(d, b.Sub(a))
	}
	return d
}

// wait waits until every name has key suffix marked.
func (s *seen) wait(names []string, suffix string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		done := 0
		for _, name := range names {
			if _, ok := s.get(name + suffix); ok {
				done++
			}
		}
		if done == len(names) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("timed out waiting for %q", suffix)
}

const ns = "bench"

// phase is one load pattern: writers declare their incidents, then hand each off, while a
// ConfigMap probe samples the API server's own latency.
type phase struct {
	name    string
	writers int
	names   []string
}

// result is what a phase measured.
type result struct {
	cmDeclare, create, declare, cmHandoff, patch, handoff []time.Duration
	metrics                                               benchenv.Metrics
	took                                                  time.Duration
}

func run(n, writers, burst int, profile string) error {
	ctx := context.Background()
	var args []string
	var pprofAddr string
	if profile != "" {
		addr, err := localcluster.FreeAddr()
		if err != nil {
			return err
		}
		pprofAddr = addr
		args = append(args, "--pprof-bind-address="+addr)
	}
	e, err := benchenv.Start(ctx, args...)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl := e.Client
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	s := &seen{at: map[string]time.Time{}}
	stop, err := watchAll(ctx, cl, s)
	if err != nil {
		return err
	}
	defer stop()

	fmt.Printf("Firescope timeline benchmark: local kube-apiserver v1.37.2 + etcd v3.7.3, manager binary\n")
	fmt.Printf("one writer: %d incidents; burst: %d writers, %d incidents; a ConfigMap probe every 10ms samples the API server meanwhile\n\n", n, writers, burst)

	one, err := runPhase(ctx, e, s, phase{name: "one", writers: 1, names: names("one", n)}, "", "")
	if err != nil {
		return err
	}
	many, err := runPhase(ctx, e, s, phase{name: "burst", writers: writers, names: names("burst", burst)}, pprofAddr, profile)
	if err != nil {
		return err
	}
	if profile != "" {
		fmt.Printf("Manager CPU profile of the burst: %s (go tool pprof -top %s)\n\n", profile, profile)
	}
	for _, p := range []struct {
		title string
		r     result
	}{{"One writer", one}, {fmt.Sprintf("%d writers, %d incidents at once", writers, burst), many}} {
		fmt.Printf("%s (%.1fs)                p50        p99        max\n", p.title, p.r.took.Seconds())
		row("API server: ConfigMap create -> watch", p.r.cmDeclare)
		row("API server: Incident create (webhook)", p.r.create)
		row("Incident create -> first status", p.r.declare)
		row("API server: ConfigMap create -> watch", p.r.cmHandoff)
		row("API server: hand-off patch (webhook)", p.r.patch)
		row("hand-off patch -> timeline", p.r.handoff)
		fmt.Printf("  (ConfigMap probes: %d while declaring, %d while handing off)\n", len(p.r.cmDeclare), len(p.r.cmHandoff))
		fmt.Printf("hand-off / ConfigMap create-to-watch: p50 %.1fx, p99 %.1fx\n", ratio(p.r.handoff, p.r.cmHandoff, 0.5), ratio(p.r.handoff, p.r.cmHandoff, 0.99))
		fmt.Printf("first status / ConfigMap create-to-watch: p50 %.1fx, p99 %.1fx\n", ratio(p.r.declare, p.r.cmDeclare, 0.5), ratio(p.r.declare, p.r.cmDeclare, 0.99))
		m := p.r.metrics
		fmt.Printf("manager: %.0f reconciles, mean %.1fms in the work queue and %.1fms reconciling; %.2f API writes and %.2f status patches per reconcile\n\n",
			m.Reconciles, 1000*m.QueueSeconds/max(m.Queued, 1), 1000*m.ReconcileSeconds/max(m.Reconciles, 1), m.Writes()/max(m.Reconciles, 1), m.Patches/max(m.Reconciles, 1))
	}

	// A restarted manager lists every Incident and reconciles each once: a no-op resync.
	total := n + burst
	events := e.CountEvents(ctx, ns)
	e.StopManager()
	if err := e.StartManager(ctx); err != nil {
		return err
	}
	if err := waitReconciles(e, total); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let any stray write land before counting
	resync := e.Scrape()        // a new process counts from zero
	eventsAfter := e.CountEvents(ctx, ns)
	fmt.Printf("No-op resync (manager restart) of %d incidents: %.0f reconciles, %.0f status patches, %.0f API writes, %d Events\n",
		total, resync.Reconciles, resync.Patches, resync.Writes(), eventsAfter-events)
	return nil
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// runPhase declares every incident of the phase, its writers working at once, waits for every
// first status, hands every incident off, and waits for every hand-off in the timelines.
func runPhase(ctx context.Context, e *benchenv.Env, s *seen, p phase, pprofAddr, profile string) (result, error) {
	cl := e.Client
	before := e.Scrape()
	start := time.Now()
	var done func() error
	if profile != "" {
		done = captureProfile(pprofAddr, profile)
	}
	write := func(name, sent string, op func(context.Context) error) error {
		at := time.Now()
		if err := op(ctx); err != nil {
			return err
		}
		s.mark(name+sent, at)
		s.mark(name+sent+"-returned", time.Now())
		return nil
	}
	declare := func(name string) error {
		return write(name, "/declare-sent", func(ctx context.Context) error {
			return cl.Create(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", Roles: v1alpha1.Roles{Commander: "ricardo"}}})
		})
	}
	handoff := func(name string) error {
		return write(name, "/handoff-sent", func(ctx context.Context) error {
			patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"roles":{"commander":"greg"}}}`))
			return cl.Patch(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, patch)
		})
	}
	// Each half (declare, then hand off) runs until every incident shows it, while a probe
	// samples the API server's own create-to-watch latency under that load.
	stopProbe := probe(ctx, cl, s, p.name+"-declare")
	if err := parallel(p.writers, p.names, declare); err != nil {
		return result{}, err
	}
	err := s.wait(p.names, "/status")
	cmDeclare, perr := stopProbe()
	if err = errors.Join(err, perr); err != nil {
		return result{}, err
	}
	stopProbe = probe(ctx, cl, s, p.name+"-handoff")
	if err := parallel(p.writers, p.names, handoff); err != nil {
		return result{}, err
	}
	err = s.wait(p.names, "/IC -> greg")
	cmHandoff, perr := stopProbe()
	if err = errors.Join(err, perr); err != nil {
		return result{}, err
	}
	took := time.Since(start)
	if done != nil {
		if err := done(); err != nil {
			return result{}, err
		}
	}
	return result{
		cmDeclare: cmDeclare,
		create:    s.since(p.names, "/declare-sent", "/declare-sent-returned"),
		declare:   s.since(p.names, "/declare-sent", "/status"),
		patch:     s.since(p.names, "/handoff-sent", "/handoff-sent-returned"),
		cmHandoff: cmHandoff,
		handoff:   s.since(p.names, "/handoff-sent", "/IC -> greg"),
		metrics:   e.Scrape().Sub(before),
		took:      took,
	}, nil
}

// probe creates ConfigMaps one after another, 10ms apart, until the returned function is
// called; that function waits for the watch to show each and returns their create-to-watch
// latencies: the API server's own, under whatever load runs meanwhile.
func probe(ctx context.Context, cl client.Client, s *seen, prefix string) func() ([]time.Duration, error) {
	stop := make(chan struct{})
	done := make(chan error, 1)
	var created []string
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(10 * time.Millisecond):
			}
			name := fmt.Sprintf("%s-%05d", prefix, i)
			at := time.Now()
			if err := cl.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
				done <- err
				return
			}
			s.mark(name+"/sent", at)
			created = append(created, name)
		}
	}()
	return func() ([]time.Duration, error) {
		close(stop)
		if err := <-done; err != nil {
			return nil, err
		}
		if len(created) == 0 {
			return nil, fmt.Errorf("no ConfigMap was created during %s", prefix)
		}
		if err := s.wait(created, ""); err != nil {
			return nil, err
		}
		return s.since(created, "/sent", ""), nil
	}
}

// parallel runs op on every name with w writers, writer i taking every w-th name.
func parallel(w int, names []string, op func(string) error) error {
	errs := make([]error, w)
	var wg sync.WaitGroup
	for i := range w {
		wg.Go(func() {
			for j := i; j < len(names); j += w {
				if err := op(names[j]); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// watchAll marks Incidents' statuses and timeline entries, and ConfigMaps, as the watches see them.
func watchAll(ctx context.Context, cl client.WithWatch, s *seen) (func(), error) {
	iw, err := cl.Watch(ctx, &v1alpha1.IncidentList{}, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	cw, err := cl.Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns))
	if err != nil {
		iw.Stop()
		return nil, err
	}
	go func() {
		for ev := range iw.ResultChan() {
			now := time.Now()
			inc, ok := ev.Object.(*v1alpha1.Incident)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			if inc.Status.ObservedGeneration > 0 {
				s.mark(inc.Name+"/status", now)
			}
			for _, e := range inc.Status.Timeline {
				s.mark(inc.Name+"/"+e.Message, now)
			}
		}
	}()
	go func() {
		for ev := range cw.ResultChan() {
			now := time.Now()
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type == watch.Added {
				s.mark(cm.Name, now)
			}
		}
	}()
	return func() { iw.Stop(); cw.Stop() }, nil
}

// captureProfile starts the manager's CPU profile, and a second later saves its goroutines;
// the returned function waits for the profile and writes it.
func captureProfile(addr, path string) func() error {
	base := "http://" + addr + "/debug/pprof/"
	got := make(chan error, 1)
	go func() { got <- benchenv.Save(base+"profile?seconds=10", path) }()
	go func() {
		time.Sleep(time.Second)
		_ = benchenv.Save(base+"goroutine?debug=1", path+".goroutines")
	}()
	return func() error { return <-got }
}

func row(name string, d []time.Duration) {
	fmt.Printf("  %-40s %8.1fms %8.1fms %8.1fms\n", name, benchenv.Ms(benchenv.Quantile(d, 0.5)), benchenv.Ms(benchenv.Quantile(d, 0.99)), benchenv.Ms(benchenv.Quantile(d, 1)))
}

func ratio(a, b []time.Duration, p float64) float64 {
	return float64(benchenv.Quantile(a, p)) / float64(benchenv.Quantile(b, p))
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
