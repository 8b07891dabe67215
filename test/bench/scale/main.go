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

// Command scale measures the manager with many open incidents on a local control plane: n
// incidents across many namespaces on the default cadences, plus drills on 10-second cadences
// announced to a fake Slack. It prints the drills' reminder skew, the manager's memory, a
// burst of StatusUpdates published in order to a fake Statuspage, and the writes of a no-op
// resync (a manager restart) of every incident.
//
//	go run ./test/bench/scale -n 10000 -namespaces 50 -drills 500 -drill-namespaces 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 10000, "open incidents on the default cadences")
	namespaces := flag.Int("namespaces", 50, "namespaces the open incidents are spread over")
	drills := flag.Int("drills", 500, "drills on 10-second cadences")
	drillNamespaces := flag.Int("drill-namespaces", 100, "namespaces the drills are spread over, each announcing to a Slack webhook of its own: Slack takes one message a second per webhook, which 500 drills on 100 use half of, on 50 all of, and on 1 fifty times over")
	window := flag.Duration("for", 60*time.Second, "how long to let the drills' reminders run")
	updates := flag.Int("updates", 10, "StatusUpdates created back to back for one incident during the window")
	profile := flag.String("profile", "", "write CPU profiles of the window, the manager's to this file and the API server's to this file + .apiserver, and the manager's heap at its end to this file + .heap")
	memLimit := flag.String("gomemlimit", "", "run the manager with this GOMEMLIMIT (such as 120MiB); empty leaves it unset")
	flag.Parse()
	if err := run(*n, *namespaces, *drills, *drillNamespaces, *window, *updates, *profile, *memLimit); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const (
	cadence = 10 * time.Second
	pageNS  = "updates"
	writers = 16
)

var states = []v1alpha1.IncidentState{v1alpha1.StateInvestigating, v1alpha1.StateConfirmed, v1alpha1.StateMajor}

func incident(ns, name string, state v1alpha1.IncidentState, drill bool) *v1alpha1.Incident {
	return &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: state, Drill: drill,
			Roles:  v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"},
			Impact: &v1alpha1.Impact{Description: "Postgres cannot be provisioned"}}}
}

// drill names drill i and its namespace.
func drill(i, namespaces int) (ns, name string) {
	return fmt.Sprintf("drills-%02d", i%namespaces), fmt.Sprintf("drill-%04d", i)
}

func drillIncident(i, namespaces int) *v1alpha1.Incident {
	ns, name := drill(i, namespaces)
	return incident(ns, name, v1alpha1.StateConfirmed, true)
}

func run(n, namespaces, drills, drillNamespaces int, window time.Duration, updates int, profile, memLimit string) error {
	ctx := context.Background()
	var env, args []string
	if memLimit != "" {
		env = append(env, "GOMEMLIMIT="+memLimit)
	}
	var pprofAddr string
	if profile != "" {
		addr, err := localcluster.FreeAddr()
		if err != nil {
			return err
		}
		pprofAddr = addr
		args = append(args, "--pprof-bind-address="+addr)
	}
	e, err := benchenv.StartWithEnv(ctx, env, args...)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl := e.Client
	sl := slack.New()
	defer sl.Close()
	sp := statuspage.New()
	defer sp.Close()
	if err := setup(ctx, cl, namespaces, drillNamespaces, sl, sp); err != nil {
		return err
	}
	fmt.Printf("Firescope scale benchmark: %d open incidents over %d namespaces on the default cadences, %d drills on %s cadences over %d namespaces, each announcing to a fake Slack webhook of its own; manager GOMEMLIMIT %q\n\n",
		n, namespaces, drills, cadence, drillNamespaces, memLimit)
	apiRate, err := e.WriteThroughput(ctx, pageNS, writers, 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("API server's own write throughput (%d writers creating ConfigMaps for 5s): %.0f writes/s\n", writers, apiRate)

	// The open incidents, as fast as the writers go; each is settled once its declaration is stored.
	m0 := e.Scrape()
	start := time.Now()
	if err := parallel(n, func(i int) error {
		return cl.Create(ctx, incident(fmt.Sprintf("scale-%02d", i%namespaces), fmt.Sprintf("inc-%05d", i), states[i%len(states)], false))
	}); err != nil {
		return err
	}
	created := time.Since(start)
	if err := waitPatches(e, m0.Patches+float64(n), 10*time.Minute); err != nil {
		return err
	}
	settled := time.Since(start)
	declared := e.Scrape().Sub(m0)
	fmt.Printf("Declared %d incidents in %.1fs (%.0f/s) and all were recorded after %.1fs: %.2f API writes per declaration (%.0f/s)\n",
		n, created.Seconds(), float64(n)/created.Seconds(), settled.Seconds(), declared.Writes()/float64(n), declared.Writes()/settled.Seconds())
	idle := e.Scrape()
	fmt.Printf("Manager memory with %d incidents cached: RSS %.0f MiB (%s), Go heap in use %.0f MiB\n\n", n, idle.RSS/(1<<20), benchenv.ReadResident("manager"), idle.Heap/(1<<20))

	// Drills spread evenly over one cadence, so the steady load is drills reminders per cadence.
	tick := time.NewTicker(cadence / time.Duration(max(drills, 1)))
	for i := range drills {
		<-tick.C
		if err := cl.Create(ctx, drillIncident(i, drillNamespaces)); err != nil {
			tick.Stop()
			return err
		}
	}
	tick.Stop()
	time.Sleep(cadence / 2)
	m1, cpu1 := e.Scrape(), benchenv.ReadCPU()
	windowStart := time.Now()
	probe := e.ProbeWrites(ctx, pageNS, 100*time.Millisecond)
	profiled := captureProfiles(e, pprofAddr, profile, window)
	names, err := createUpdates(ctx, cl, updates)
	if err != nil {
		return err
	}
	time.Sleep(window)
	m2, cpu := e.Scrape(), benchenv.ReadCPU().Sub(cpu1)
	took := time.Since(windowStart)
	writeLatency := probe()
	if err := profiled(); err != nil {
		return err
	}

	var skews []time.Duration
	for i := range min(drills, drillNamespaces) {
		ns, _ := drill(i, drillNamespaces)
		s, err := benchenv.ReminderSkews(ctx, cl, ns, windowStart, windowStart.Add(took), cadence)
		if err != nil {
			return err
		}
		skews = append(skews, s...)
	}
	if len(skews) == 0 {
		return fmt.Errorf("no SitrepOverdue Events in %s", window)
	}
	q := func(p float64) float64 { return benchenv.Ms(benchenv.Quantile(skews, p)) }
	d := m2.Sub(m1)
	fmt.Printf("Drills: %d SitrepOverdue reminders in %s (expected about %d); skew p50 %.0fms p99 %.0fms max %.0fms\n",
		len(skews), window, int(float64(drills)*window.Seconds()/cadence.Seconds()), q(0.5), q(0.99), q(1))
	fmt.Printf("Reminders per second %.1f; manager API writes per reminder %.2f (%.0f writes/s against the API server's %.0f/s)\n",
		float64(len(skews))/took.Seconds(), d.Writes()/float64(len(skews)), d.Writes()/took.Seconds(), apiRate)
	a := d.Announcements
	fmt.Printf("Announcements to the drills' Slack webhooks: %.0f delivered, %.0f retried (paced to Slack's one a second per webhook, or failed), %.0f failed, %.0f dropped\n",
		a["delivered"], a["retried"], a["failed"], a["dropped"])
	fmt.Printf("Manager: %.0f reconciles, mean %.0fms in the work queue, %.0fms reconciling; %.0f reconciles failed and were retried\n",
		d.Reconciles, 1000*d.QueueSeconds/max(d.Queued, 1), 1000*d.ReconcileSeconds/max(d.Reconciles, 1), d.Errors)
	fmt.Printf("Manager's API requests: mean PATCH %.0fms (%.0f), POST %.0fms (%.0f), GET %.0fms (%.0f)\n",
		d.MeanRequest("PATCH"), d.Timed["PATCH"], d.MeanRequest("POST"), d.Timed["POST"], d.MeanRequest("GET"), d.Timed["GET"])
	w := func(p float64) float64 { return benchenv.Ms(benchenv.Quantile(writeLatency, p)) }
	fmt.Printf("API server's own small write meanwhile (a ConfigMap create every 100ms, %d): p50 %.0fms p99 %.0fms; reminder skew / write latency: p50 %.1fx, p99 %.1fx\n",
		len(writeLatency), w(0.5), w(0.99), q(0.5)/w(0.5), q(0.99)/w(0.99))
	fmt.Printf("CPU during the window: %s\n", cpu.String(len(skews), "reminder"))
	if profile != "" {
		fmt.Printf("CPU profiles of the window: %s (manager), %s.apiserver; the manager's heap at its end: %s.heap (go tool pprof -top FILE)\n", profile, profile, profile)
	}
	fmt.Printf("Manager memory with %d incidents cached and reminding: RSS %.0f MiB (%s), Go heap in use %.0f MiB\n", n+drills+1, m2.RSS/(1<<20), benchenv.ReadResident("manager"), m2.Heap/(1<<20))
	if err := checkUpdates(ctx, cl, sp, names); err != nil {
		return err
	}

	// A restart reconciles every incident again with nothing new: it must write nothing. The
	// drills, which remind on their own, go first.
	if err := parallel(drills, func(i int) error {
		ns, name := drill(i, drillNamespaces)
		return cl.Delete(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	}); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	e.StopManager()
	restart := time.Now()
	if err := e.StartManager(ctx); err != nil {
		return err
	}
	if err := waitReconciles(e, float64(n+1), 5*time.Minute); err != nil {
		return err
	}
	resynced := time.Since(restart)
	time.Sleep(2 * time.Second) // let any stray write land before counting
	r := e.Scrape()             // a new process counts from zero
	fmt.Printf("No-op resync of %d incidents (manager restart to every incident reconciled): %.1fs, %.0f reconciles, %.0f API writes, %.0f status patches; RSS %.0f MiB (%s), Go heap in use %.0f MiB\n",
		n+1, resynced.Seconds(), r.Reconciles, r.Writes(), r.Patches, r.RSS/(1<<20), benchenv.ReadResident("manager"), r.Heap/(1<<20))
	return nil
}

// captureProfiles starts CPU profiles of the manager and the API server over the window and
// returns a function that waits for them and then saves the manager's heap; it does nothing
// without a file.
func captureProfiles(e *benchenv.Env, pprofAddr, file string, window time.Duration) func() error {
	if file == "" {
		return func() error { return nil }
	}
	seconds := fmt.Sprintf("seconds=%d", int(window.Seconds())-1)
	manager, apiserver := make(chan error, 1), make(chan error, 1)
	go func() { manager <- benchenv.Save("http://"+pprofAddr+"/debug/pprof/profile?"+seconds, file) }()
	go func() {
		apiserver <- e.SaveAPIServer(context.Background(), "/debug/pprof/profile?"+seconds, file+".apiserver")
	}()
	return func() error {
		if err := errors.Join(<-manager, <-apiserver); err != nil {
			return err
		}
		return benchenv.Save("http://"+pprofAddr+"/debug/pprof/heap", file+".heap")
	}
}

func setup(ctx context.Context, cl client.Client, namespaces, drillNamespaces int, sl *slack.Server, sp *statuspage.Server) error {
	d := &metav1.Duration{Duration: cadence}
	credential := map[string]string{"firescope.dev/credential": "true"}
	var objs []client.Object
	for i := range drillNamespaces {
		ns, _ := drill(i, drillNamespaces)
		objs = append(objs,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: credential, Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1"), Name: "comms", Namespace: ns}, StringData: map[string]string{"url": fmt.Sprintf("%s-%02d", sl.WebhookURL(), i)}},
			&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
				Purpose:       v1alpha1.PurposeDrill, // cadences of seconds
				SitrepCadence: v1alpha1.SitrepCadence{Investigating: d, Confirmed: d, Major: d},
				CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}},
			}})
	}
	objs = append(objs,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pageNS}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: credential, Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1"), Name: "statuspage", Namespace: pageNS}, StringData: map[string]string{"key": statuspage.APIKey}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: pageNS}, Spec: v1alpha1.StatusPageSpec{
			Provider: v1alpha1.ProviderStatuspage, URL: sp.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"}}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: pageNS},
			Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}},
		incident(pageNS, "ec2-api-errors", v1alpha1.StateMajor, false),
	)
	for i := range namespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%02d", i)}})
	}
	for _, obj := range objs {
		if err := cl.Create(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// createUpdates creates StatusUpdates for the page's incident one right after another and
// returns their names in creation order.
func createUpdates(ctx context.Context, cl client.Client, n int) ([]string, error) {
	var names []string
	for i := range n {
		su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u%02d", i), Namespace: pageNS},
			Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "ec2-api-errors"}, Status: "identified",
				Message: fmt.Sprintf("Update %d: creating Postgres databases is failing; we are rolling out a fix. Use an existing database meanwhile.", i)}}
		if err := cl.Create(ctx, su); err != nil {
			return nil, err
		}
		names = append(names, su.Name)
	}
	return names, nil
}

// checkUpdates waits until every StatusUpdate is Published and checks that the page shows
// each once, in the order they were created.
func checkUpdates(ctx context.Context, cl client.Client, sp *statuspage.Server, names []string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		l := &v1alpha1.StatusUpdateList{}
		if err := cl.List(ctx, l, client.InNamespace(pageNS)); err != nil {
			return err
		}
		published := 0
		for _, su := range l.Items {
			if meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished) {
				published++
			}
		}
		if published == len(names) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d StatusUpdates published within three minutes", published, len(names))
		}
		time.Sleep(time.Second)
	}
	var got []string
	for _, inc := range sp.Incidents() {
		for _, u := range inc.Updates {
			got = append(got, strings.SplitN(u.Body, ":", 2)[0])
		}
	}
	var want []string
	for i := range names {
		want = append(want, fmt.Sprintf("Update %d", i))
	}
	fmt.Printf("StatusUpdates: %d created back to back during the window, %d on the page", len(names), len(got))
	if !slices.Equal(got, want) {
		fmt.Println()
		return fmt.Errorf("the page shows %q, not %q", got, want)
	}
	fmt.Println(", each once, in creation order")
	return nil
}

// parallel runs op(0..n-1) with the benchmark's writers.
func parallel(n int, op func(int) error) error {
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				if errs[w] = op(i); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func waitPatches(e *benchenv.Env, patches float64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if e.Scrape().Patches >= patches {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("the manager did not record every declaration within %s", timeout)
}

func waitReconciles(e *benchenv.Env, n float64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if e.Scrape().Reconciles >= n {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("the restarted manager did not reconcile %.0f incidents within %s", n, timeout)
}
