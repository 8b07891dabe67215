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

// Command reminders measures how punctual sitrep reminders are under load: it declares n
// Confirmed incidents on 10-second cadences on a local control plane with the manager binary
// and a fake Slack channel, lets them go overdue for a while, and prints the skew of each
// SitrepOverdue Event against its due time, and the API writes per reminder.
//
//	go run ./test/bench/reminders -n 1000 -for 45s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 1000, "open incidents")
	window := flag.Duration("for", 45*time.Second, "how long to let reminders run after the last incident is declared")
	profile := flag.String("profile", "", "write the manager's CPU profile of 10s of the window to this file, and its goroutines to this file + .goroutines")
	flag.Parse()
	if err := run(*n, *window, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const cadence = 10 * time.Second

func run(n int, window time.Duration, profile string) error {
	ctx := context.Background()
	var args []string
	pprofAddr, err := localcluster.FreeAddr()
	if err != nil {
		return err
	}
	if profile != "" {
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	e, err := benchenv.Start(ctx, args...)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl := e.Client
	sl := slack.New()
	defer sl.Close()
	ns := "bench"
	d := &metav1.Duration{Duration: cadence}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1"), Name: "comms", Namespace: ns}, StringData: map[string]string{"url": sl.WebhookURL()}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
			Purpose:       v1alpha1.PurposeDrill, // cadences of seconds
			SitrepCadence: v1alpha1.SitrepCadence{Investigating: d, Confirmed: d, Major: d},
			CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}},
		}},
	} {
		if err := cl.Create(ctx, obj); err != nil {
			return err
		}
	}

	fmt.Printf("Firescope reminder benchmark: %d Confirmed incidents declared evenly over %s, sitreps every %s, announced to a fake Slack\n\n", n, cadence, cadence)
	apiRate, err := e.WriteThroughput(ctx, ns, 16, 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("API server's own write throughput (16 writers creating ConfigMaps for 5s): %.0f writes/s\n\n", apiRate)
	// Declarations are spread evenly over one cadence, as independent incidents would be, so
	// the steady load is n reminders per cadence rather than one synchronized burst.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	tick := time.NewTicker(cadence / time.Duration(n))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("inc-%04d", i), Namespace: ns},
				Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateConfirmed,
					Roles:  v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"},
					Impact: &v1alpha1.Impact{Description: "Postgres cannot be provisioned"}}}
			if err := cl.Create(ctx, inc); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// Let the declarations settle before counting, so the figures cover reminders only.
	time.Sleep(cadence / 2)
	m0, events0 := e.Scrape(), e.CountEvents(ctx, ns)
	start := time.Now()
	if profile != "" {
		go func() {
			_ = benchenv.Save("http://"+pprofAddr+"/debug/pprof/goroutine?debug=1", profile+".goroutines")
			_ = benchenv.Save("http://"+pprofAddr+"/debug/pprof/profile?seconds=10", profile)
		}()
	}
	time.Sleep(window)
	m1, events1 := e.Scrape(), e.CountEvents(ctx, ns)
	took := time.Since(start)

	skews, err := benchenv.ReminderSkews(ctx, cl, ns, start, start.Add(took), cadence)
	if err != nil {
		return err
	}
	if len(skews) == 0 {
		return fmt.Errorf("no SitrepOverdue Events in %s", window)
	}
	slices.Sort(skews)
	q := func(p float64) time.Duration { return benchenv.Quantile(skews, p) }
	fmt.Printf("SitrepOverdue Events in %s: %d (expected about %d: one per incident per %s)\n", window, len(skews), int(float64(n)*window.Seconds()/cadence.Seconds()), cadence)
	fmt.Printf("Reminder skew (Event time - due time): p50 %.0fms  p99 %.0fms  max %.0fms\n\n",
		benchenv.Ms(q(0.5)), benchenv.Ms(q(0.99)), benchenv.Ms(q(1)))
	reminders := float64(len(skews))
	patches := m1.Patches - m0.Patches
	events := float64(events1 - events0)
	fmt.Printf("API writes per reminder: %.2f status patches + %.2f Events = %.2f (reconciles per reminder %.2f)\n",
		patches/reminders, events/reminders, (patches+events)/reminders, (m1.Reconciles-m0.Reconciles)/reminders)
	delta := m1.Sub(m0)
	fmt.Printf("Manager API requests per reminder: %.2f POST, %.2f PATCH, %.2f GET; mean %.0fms in the work queue, %.0fms reconciling\n",
		delta.Requests["POST"]/reminders, delta.Requests["PATCH"]/reminders, delta.Requests["GET"]/reminders, 1000*delta.QueueSeconds/max(delta.Queued, 1), 1000*delta.ReconcileSeconds/max(delta.Reconciles, 1))
	fmt.Printf("Reconciles that failed and were retried (conflicts): %.0f\n", delta.Errors)
	fmt.Printf("Slack messages received: %d\n", len(sl.Texts()))
	fmt.Printf("Reminders per second: %.1f sent, %.1f due; manager writes %.0f/s against the API server's %.0f/s\n",
		reminders/took.Seconds(), float64(n)/cadence.Seconds(), delta.Writes()/took.Seconds(), apiRate)
	fmt.Printf("Manager memory: RSS %.0f MiB, Go heap in use %.0f MiB\n", m1.RSS/(1<<20), m1.Heap/(1<<20))
	return nil
}
