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

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/testenv"
)

// TestE2EFaultHarnessKillNineWhileUpdatesFlow SIGKILLs the manager 50 times at random moments
// while StatusUpdates are created and published to a fake Statuspage, then compares what the
// page received with what was applied: no duplicate, none lost, order kept.
func TestE2EFaultHarnessKillNineWhileUpdatesFlow(t *testing.T) {
	const kills, updates = 50, 40
	ctx := context.Background()
	sp := statuspage.New()
	defer sp.Close()
	sp.AddComponent("cmp0postgres", "Postgres provisioning")
	cfg, err := cluster.Config()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	ns := "faults"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1"), Name: "statuspage", Namespace: ns}, StringData: map[string]string{"key": statuspage.APIKey}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns}, Spec: v1alpha1.StatusPageSpec{
			Provider: v1alpha1.ProviderStatuspage, URL: sp.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"},
			Components:           []v1alpha1.ComponentMapping{{Name: "Postgres provisioning", ID: "cmp0postgres"}}}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}},
		&v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "flaky", Namespace: ns}, Spec: v1alpha1.IncidentSpec{
			Title: "Postgres provisioning errors", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}},
	} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	// Updates flow while the manager is killed and restarted at random moments.
	var want []string
	created := make(chan error, 1)
	go func() {
		for i := range updates {
			msg := fmt.Sprintf("Update %02d: creating Postgres databases is failing; we are working on it.", i+1)
			su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u%02d", i+1), Namespace: ns},
				Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "flaky"}, Status: "identified", Message: msg}}
			if err := cl.Create(ctx, su); err != nil {
				created <- err
				return
			}
			time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
		}
		created <- nil
	}()
	for i := range updates {
		want = append(want, fmt.Sprintf("Update %02d: creating Postgres databases is failing; we are working on it.", i+1))
	}
	for range kills {
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		cluster.KillManager()
		if err := cluster.StartManager(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, func() error {
		list := &v1alpha1.StatusUpdateList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		n := 0
		for _, su := range list.Items {
			if c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished); c != nil && c.Status == metav1.ConditionTrue {
				n++
			} else if c != nil && c.Reason == v1alpha1.ReasonNeedsAttention {
				return fmt.Errorf("%s needs attention: %s", su.Name, c.Message)
			}
		}
		if n != updates {
			return fmt.Errorf("%d of %d published", n, updates)
		}
		return nil
	})
	incs := sp.Incidents()
	if len(incs) != 1 {
		t.Fatalf("%d provider incidents, want 1", len(incs))
	}
	var got []string
	for _, u := range incs[0].Updates {
		got = append(got, u.Body)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after %d kills the page holds %d updates, want the %d applied in order:\n got %q\nwant %q", kills, len(got), len(want), got, want)
	}
	t.Logf("%d kills, %d updates, %d provider requests (%d incident lookups after an unknown outcome)",
		kills, updates, len(sp.Requests()), countMethod(sp, "GET"))
}

func countMethod(sp *statuspage.Server, method string) int {
	n := 0
	for _, r := range sp.Requests() {
		if r.Method == method {
			n++
		}
	}
	return n
}
