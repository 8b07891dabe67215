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

package statusupdate_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
	"firescope.dev/firescope/internal/testenv"
)

func getUpdate(t *testing.T, c client.Client, ns, name string) *v1alpha1.StatusUpdate {
	t.Helper()
	su := &v1alpha1.StatusUpdate{}
	must(t, c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, su))
	return su
}

// editAndWait changes an update's message and waits until the controller has seen the edit.
func editAndWait(t *testing.T, e *testenv.Env, ns, name, msg string) *v1alpha1.StatusUpdate {
	t.Helper()
	must(t, e.Client.Patch(context.Background(), &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"message":%q}}`, msg))))
	var su *v1alpha1.StatusUpdate
	testenv.Eventually(t, 20*time.Second, func() error {
		su = getUpdate(t, e.Client, ns, name)
		if su.Status.ObservedGeneration != su.Generation {
			return fmt.Errorf("generation %d observed %d", su.Generation, su.Status.ObservedGeneration)
		}
		return nil
	})
	return su
}

func TestIntegrationAnUpdateNeverLeavesItsIncident(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	first := incident(ns, false)
	must(t, e.Client.Create(ctx, first))
	must(t, e.Client.Create(ctx, update(ns, "old-1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	testenv.Eventually(t, 20*time.Second, func() error {
		if c := condition(t, e.Client, ns, "old-1"); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("old-1 %+v", c)
		}
		return nil
	})
	// The update records its Incident and is owned by it, so deleting the Incident deletes it
	// (garbage collection, which this control plane does not run).
	su := getUpdate(t, e.Client, ns, "old-1")
	if su.Status.IncidentUID != first.UID {
		t.Fatalf("status.incidentUID %q, want %q", su.Status.IncidentUID, first.UID)
	}
	if len(su.OwnerReferences) != 1 || su.OwnerReferences[0].UID != first.UID || su.OwnerReferences[0].Kind != "Incident" {
		t.Fatalf("owner references %+v", su.OwnerReferences)
	}

	// The Incident goes; after a restart the update is still what customers read.
	must(t, e.Client.Delete(ctx, first))
	e.StopManager()
	must(t, e.RunManager())
	editAndWait(t, e, ns, "old-1", "Provisioning Postgres works again.")
	if c := condition(t, e.Client, ns, "old-1"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonPublished {
		t.Fatalf("a published update without its Incident says %+v", c)
	}

	// A later Incident of the same name is another incident: the old update is never
	// published to it, and its own updates start a new incident on the page.
	second := incident(ns, false)
	must(t, e.Client.Create(ctx, second))
	must(t, e.Client.Create(ctx, update(ns, "new-1", "investigating", "Routing is slow; we are investigating.")))
	testenv.Eventually(t, 20*time.Second, func() error {
		if c := condition(t, e.Client, ns, "new-1"); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("new-1 %+v", c)
		}
		return nil
	})
	editAndWait(t, e, ns, "old-1", "Provisioning Postgres is fine.")
	incs := sp.Incidents()
	if len(incs) != 2 || len(incs[0].Updates) != 1 || len(incs[1].Updates) != 1 || incs[1].Updates[0].Body != "Routing is slow; we are investigating." ||
		incs[0].Updates[0].Body != "Provisioning Postgres is failing; we are investigating." {
		t.Fatalf("the page holds %+v", incs)
	}
	if su := getUpdate(t, e.Client, ns, "old-1"); su.Status.IncidentUID != first.UID || len(su.OwnerReferences) != 1 || su.OwnerReferences[0].UID != first.UID {
		t.Fatalf("the old update moved to the new Incident: %+v %+v", su.Status, su.OwnerReferences)
	}
}

func TestIntegrationWaitingUpdatesMoveWhenWhatTheyWaitForChanges(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	sp := statuspage.New()
	t.Cleanup(sp.Close)
	sp.AddComponent("cmp0postgres", "Postgres provisioning")
	sp.AddComponent("cmp0routing", "Routing")
	ns := "waiting-updates-move"
	namespace(t, e, ns)
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"},
		Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1"), Name: "statuspage", Namespace: ns},
		StringData: map[string]string{"api-key": statuspage.APIKey}}))
	must(t, e.Client.Create(ctx, incident(ns, false)))
	must(t, e.Client.Create(ctx, update(ns, "u1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	waitFor := func(name, reason, text string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			if c := condition(t, e.Client, ns, name); c == nil || c.Reason != reason || !strings.Contains(c.Message, text) {
				return fmt.Errorf("%s: %+v", name, c)
			}
			return nil
		})
	}
	waitFor("u1", v1alpha1.ReasonPublishPending, `Waiting for ResponsePolicy "default"`)
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}}))
	waitFor("u1", v1alpha1.ReasonPublishPending, `Waiting for StatusPage "public"`)
	pg := &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, URL: sp.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "api-key"},
			Components:           []v1alpha1.ComponentMapping{{Name: "Postgres provisioning", ID: "cmp0postgres"}}}}
	must(t, e.Client.Create(ctx, pg))
	waitFor("u1", v1alpha1.ReasonPublished, "Published")

	// An update naming a component the page does not map is refused until the StatusPage
	// maps it; then it is published, with no restart and no edit of the update.
	u2 := update(ns, "u2", "identified", "Routing is failing too; we are working around it.")
	u2.Spec.Components[0].Name = "Routing"
	must(t, e.Client.Create(ctx, u2))
	waitFor("u2", v1alpha1.ReasonRejected, `component "Routing" is not mapped in StatusPage public: add it to spec.components`)
	must(t, e.Client.Patch(ctx, pg, client.RawPatch("application/merge-patch+json",
		[]byte(`{"spec":{"components":[{"name":"Postgres provisioning","id":"cmp0postgres"},{"name":"Routing","id":"cmp0routing"}]}}`))))
	waitFor("u2", v1alpha1.ReasonPublished, "Published")
	if incs := sp.Incidents(); len(incs) != 1 || len(incs[0].Updates) != 2 {
		t.Fatalf("the page holds %+v", incs)
	}
}

func TestIntegrationNeedsAttentionEndsWithTheRetryAnnotation(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	inc := incident(ns, false)
	must(t, e.Client.Create(ctx, inc))
	// The first call is dropped: its outcome is unknown until the page is asked, 15 seconds
	// later. Meanwhile somebody makes two incidents on the page that both carry this
	// Incident's identity, so the answer cannot tell which one is real.
	sp.DropNext(1)
	must(t, e.Client.Create(ctx, update(ns, "u1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	testenv.Eventually(t, 10*time.Second, func() error {
		if su := getUpdate(t, e.Client, ns, "u1"); su.Status.SendingSince == nil || len(sp.Requests()) == 0 {
			return fmt.Errorf("not sent yet: %+v", su.Status)
		}
		return nil
	})
	prov := atlassian.New(statuspage.PageID, statuspage.APIKey, sp.URL, http.DefaultClient, nil)
	key := fmt.Sprintf("%s/%s/%s", ns, inc.Name, inc.UID)
	var dups []string
	for i := range 2 {
		res, err := prov.Publish(ctx, publish.Update{IncidentKey: key, UpdateID: fmt.Sprintf("by-hand-%d", i), Title: "AWS EC2 API problems",
			Status: "investigating", Body: "Posted by hand."})
		must(t, err)
		dups = append(dups, res.ProviderRef)
	}
	testenv.Eventually(t, 40*time.Second, func() error {
		if c := condition(t, e.Client, ns, "u1"); c == nil || c.Reason != v1alpha1.ReasonNeedsAttention || !strings.Contains(c.Message, "firescope.dev/retry") {
			return fmt.Errorf("u1 %+v", c)
		}
		return nil
	})
	// A person keeps one incident (here by taking Firescope's identity off the other), then
	// asks for a retry the way the docs say, with a change the admin role may make.
	_, err := prov.Publish(ctx, publish.Update{IncidentKey: "retired-by-hand", UpdateID: "retired", ProviderRef: dups[1], Status: "resolved", Body: "Duplicate, closed."})
	must(t, err)
	must(t, e.Client.Patch(ctx, &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "u1", Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"firescope.dev/retry":"checked-by-keiko"}}}`))))
	testenv.Eventually(t, 20*time.Second, func() error {
		if c := condition(t, e.Client, ns, "u1"); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("u1 %+v", c)
		}
		return nil
	})
	su := getUpdate(t, e.Client, ns, "u1")
	if su.Status.ProviderRef != dups[0] || su.Status.RetryHonoured != "checked-by-keiko" {
		t.Fatalf("published to %q (want %q), retry honoured %q", su.Status.ProviderRef, dups[0], su.Status.RetryHonoured)
	}
	for _, pi := range sp.Incidents() {
		if pi.ID == dups[0] && (len(pi.Updates) != 2 || pi.Updates[1].Body != "Provisioning Postgres is failing; we are investigating.") {
			t.Fatalf("the kept incident holds %+v", pi.Updates)
		}
	}
}

func TestIntegrationABurstPublishesInTheOrderItWasCreated(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	must(t, e.Client.Create(ctx, incident(ns, false)))
	// Created one after the other, as `kubectl create -f` of a list does, and named so that
	// name order is the reverse of creation order.
	var want []string
	seconds := map[int64]int{}
	for i := 20; i > 0; i-- {
		msg := fmt.Sprintf("Update %d of the burst: provisioning Postgres is failing; we are investigating.", 21-i)
		su := update(ns, fmt.Sprintf("burst-%02d", i), "investigating", msg)
		must(t, e.Client.Create(ctx, su))
		want = append(want, msg)
		seconds[su.CreationTimestamp.Unix()]++
		if _, err := time.Parse(time.RFC3339Nano, su.Annotations[v1alpha1.AnnotationCreatedAt]); err != nil {
			t.Fatalf("%s was not stamped with its creation time: %v", su.Name, su.Annotations)
		}
	}
	if len(seconds) == len(want) {
		t.Fatalf("no two updates were created within one second (%v): the burst shows nothing", seconds)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		if incs := sp.Incidents(); len(incs) != 1 || len(incs[0].Updates) != len(want) {
			return fmt.Errorf("the page holds %d incidents", len(incs))
		}
		return nil
	})
	var got []string
	for _, u := range sp.Incidents()[0].Updates {
		got = append(got, u.Body)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("published out of creation order:\n%s", strings.Join(got, "\n"))
	}
	// The stamp is fixed at creation.
	err := e.Client.Patch(ctx, &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "burst-01", Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"firescope.dev/created-at":"2020-01-01T00:00:00Z"}}}`)))
	if err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Fatalf("changing the creation stamp: %v", err)
	}
}
