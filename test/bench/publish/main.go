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

// Command publish measures how long a StatusUpdate takes from kubectl apply to published, on a
// local control plane with the manager binary and a fake Atlassian Statuspage, and counts the
// provider requests per update.
//
//	go run ./test/bench/publish -n 200
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 200, "status updates, one after the other, for one incident")
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
	sp := statuspage.New()
	defer sp.Close()
	ns := "bench"
	cl := e.Client
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "statuspage", Namespace: ns, Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1")},
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

	fmt.Printf("Firescope publish benchmark: %d StatusUpdates for one incident, applied one after the other, to a fake Atlassian Statuspage\n\n", n)
	var created, published []time.Duration
	for i := range n {
		su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u%03d", i), Namespace: ns},
			Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "ec2-api-errors"}, Status: "identified",
				Message: fmt.Sprintf("Update %d: creating Postgres databases is failing; we are rolling out a fix. Use an existing database meanwhile.", i)}}
		start := time.Now()
		if err := cl.Create(ctx, su); err != nil {
			return err
		}
		created = append(created, time.Since(start))
		if err := waitPublished(w, su.Name); err != nil {
			return err
		}
		published = append(published, time.Since(start))
	}
	fmt.Println("Latency                                   p50        p99        max")
	row("API server: create StatusUpdate", created)
	row("create -> Published=True", published)
	incs := sp.Incidents()
	updates := 0
	for _, inc := range incs {
		updates += len(inc.Updates)
	}
	fmt.Printf("\nProvider incidents: %d; updates on the page: %d; provider requests: %d (%.2f per update)\n",
		len(incs), updates, len(sp.Requests()), float64(len(sp.Requests()))/float64(n))
	return nil
}

func waitPublished(w watch.Interface, name string) error {
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("the watch ended")
			}
			su, isSU := ev.Object.(*v1alpha1.StatusUpdate)
			if isSU && su.Name == name && meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished) {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("%s was not published within a minute", name)
		}
	}
}

func row(name string, d []time.Duration) {
	fmt.Printf("%-40s %8.1fms %8.1fms %8.1fms\n", name, benchenv.Ms(benchenv.Quantile(d, 0.5)), benchenv.Ms(benchenv.Quantile(d, 0.99)), benchenv.Ms(benchenv.Quantile(d, 1)))
}
