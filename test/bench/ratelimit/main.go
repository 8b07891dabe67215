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

// Command ratelimit measures how long a burst of StatusUpdates for one incident takes to
// reach a fake Atlassian Statuspage that enforces a minimum gap between the requests of one
// API key and fails a fraction of the writes with 503, next to the least time the gap
// allows, on a local control plane with the manager binary. It also counts the provider
// requests per update and the 429s.
//
//	go run ./test/bench/ratelimit -n 20 -min-gap 1s -fail-writes 0.3
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 20, "status updates created at once for one incident")
	gap := flag.Duration("min-gap", time.Second, "the fake Statuspage's minimum gap between two requests of one API key")
	fail := flag.Float64("fail-writes", 0.3, "fraction of writes the fake Statuspage answers with 503")
	seed := flag.Uint64("seed", 17, "seed of the failing writes")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(*n, *gap, *fail, *seed, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, gap time.Duration, fail float64, seed uint64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e, err := benchenv.Start(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	sp := statuspage.New()
	defer sp.Close()
	sp.MinGap(gap)
	sp.FailWrites(fail, seed)
	ns, cl := "bench", e.Client
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "statuspage", Namespace: ns, Labels: map[string]string{"firescope.dev/credential": "true"},
			Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1")},
			StringData: map[string]string{"key": statuspage.APIKey}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns}, Spec: v1alpha1.StatusPageSpec{
			Provider: v1alpha1.ProviderStatuspage, URL: sp.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"}}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}},
		&v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: ns}, Spec: v1alpha1.IncidentSpec{
			Title: "AWS EC2 API problems", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}},
	} {
		if err := cl.Create(ctx, obj); err != nil {
			return err
		}
	}
	w, err := cl.Watch(ctx, &v1alpha1.StatusUpdateList{}, client.InNamespace(ns))
	if err != nil {
		return err
	}
	defer w.Stop()

	fmt.Printf("Firescope rate-limit benchmark: %d StatusUpdates created at once for one incident; the fake Statuspage refuses a request\n"+
		"within %s of the last of its API key (429) and fails %.0f%% of the writes (503, seed %d)\n\n", n, gap, fail*100, seed)
	var want []string
	start := time.Now()
	for i := range n {
		msg := fmt.Sprintf("Update %d: creating EC2 instances is failing; we are routing around it. Use another region meanwhile.", i)
		want = append(want, msg)
		su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u%03d", i), Namespace: ns},
			Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "ec2-api-errors"}, Status: "identified", Message: msg}}
		if err := cl.Create(ctx, su); err != nil {
			return err
		}
	}
	created := time.Since(start)
	published := map[string]bool{}
	for len(published) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("the watch ended")
			}
			if su, ok := ev.Object.(*v1alpha1.StatusUpdate); ok && meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished) {
				published[su.Name] = true
			}
		case <-ctx.Done():
			return fmt.Errorf("%d of %d published after %s", len(published), n, timeout)
		}
	}
	took := time.Since(start)

	reqs := sp.Requests()
	var limited, failed, writes int
	for _, r := range reqs {
		switch {
		case r.Status == http.StatusTooManyRequests:
			limited++
		case r.Status == http.StatusServiceUnavailable:
			failed++
		}
		if r.Method != http.MethodGet && r.Status != http.StatusTooManyRequests {
			writes++
		}
	}
	incs := sp.Incidents()
	var got []string
	for _, inc := range incs {
		for _, u := range inc.Updates {
			got = append(got, u.Body)
		}
	}
	// The least time the gap allows: the requests that had to be made, one gap apart. Every
	// update needs one write, and every failed write one more.
	floor := time.Duration(n-1) * gap
	floorWithFailures := time.Duration(writes-1) * gap
	row := func(label string, d time.Duration, of time.Duration) {
		fmt.Printf("%-48s %7.1fs", label, d.Seconds())
		if of > 0 {
			fmt.Printf("  (published in %.2fx this)", took.Seconds()/of.Seconds())
		}
		fmt.Println()
	}
	row(fmt.Sprintf("created %d StatusUpdates in", n), created, 0)
	row(fmt.Sprintf("create -> all %d Published", n), took, 0)
	row(fmt.Sprintf("least time the gap allows for %d writes", n), floor, floor)
	row(fmt.Sprintf("... for the %d writes made (%d failed)", writes, failed), floorWithFailures, floorWithFailures)
	fmt.Printf("\nprovider requests: %d (%.2f per update): %d writes, %d answered 503, %d answered 429\n",
		len(reqs), float64(len(reqs))/float64(n), writes, failed, limited)
	inOrder := strings.Join(got, "\n") == strings.Join(want, "\n")
	fmt.Printf("provider incidents: %d; updates on the page: %d; in order, once each: %v\n", len(incs), len(got), inOrder)
	if !inOrder || len(incs) != 1 {
		return fmt.Errorf("the page does not show the %d updates in order, once each", n)
	}
	return nil
}
