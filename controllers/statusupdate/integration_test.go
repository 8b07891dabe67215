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
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/mock/webhook"
	"firescope.dev/firescope/internal/testenv"
)

// The tests share one control plane and one running manager, started on first use.
func TestMain(m *testing.M) { testenv.Main(m) }

func startEnv(t *testing.T) *testenv.Env { return testenv.Shared(t) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// namespace creates the test's namespace. Its StatusUpdates are deleted when the test ends:
// one still retrying would reach whatever server takes its page's port next, another test's
// fake Statuspage included, which accepts the same key for the same page.
func namespace(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	must(t, e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	t.Cleanup(func() {
		if err := e.Client.DeleteAllOf(context.Background(), &v1alpha1.StatusUpdate{}, client.InNamespace(ns)); err != nil {
			t.Errorf("deleting the test's status updates: %v", err)
		}
	})
}

// page creates a namespace whose default ResponsePolicy publishes to a fake Statuspage.
func page(t *testing.T, e *testenv.Env, allowDrills bool) (string, *statuspage.Server) {
	t.Helper()
	ctx := context.Background()
	sp := statuspage.New()
	t.Cleanup(sp.Close)
	sp.AddComponent("cmp0postgres", "Postgres provisioning")
	ns := strings.ToLower(t.Name())
	namespace(t, e, ns)
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1"), Name: "statuspage", Namespace: ns},
		StringData: map[string]string{"api-key": statuspage.APIKey}}))
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, URL: sp.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "api-key"},
			Components:           []v1alpha1.ComponentMapping{{Name: "Postgres provisioning", ID: "cmp0postgres"}},
			AllowDrills:          allowDrills}}))
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}}))
	return ns, sp
}

func incident(ns string, drill bool) *v1alpha1.Incident {
	return &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: ns},
		Spec: v1alpha1.IncidentSpec{Title: "AWS EC2 API problems", State: v1alpha1.StateMajor, Drill: drill,
			Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}}
}

func update(ns, name string, status v1alpha1.UpdateStatus, msg string) *v1alpha1.StatusUpdate {
	return &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "ec2-api-errors"}, Status: status, Message: msg,
			Components: []v1alpha1.UpdateComponent{{Name: "Postgres provisioning", Status: "partial_outage"}}}}
}

func condition(t *testing.T, c client.Client, ns, name string) *metav1.Condition {
	t.Helper()
	su := &v1alpha1.StatusUpdate{}
	must(t, c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, su))
	return meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
}

func TestIntegrationThreeUpdatesMakeOneProviderIncidentInOrder(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	// The updates come first: they wait for their Incident.
	msgs := []string{"Provisioning Postgres is failing; we are investigating.", "We identified the failing API and are working around it.", "Provisioning works again; we are monitoring."}
	for i, st := range []v1alpha1.UpdateStatus{"investigating", "identified", "monitoring"} {
		must(t, e.Client.Create(ctx, update(ns, fmt.Sprintf("u%d", i+1), st, msgs[i])))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if c := condition(t, e.Client, ns, "u1"); c == nil || c.Reason != v1alpha1.ReasonPublishPending || !strings.Contains(c.Message, "Waiting for Incident") {
			return fmt.Errorf("u1 %+v", c)
		}
		return nil
	})
	must(t, e.Client.Create(ctx, incident(ns, false)))
	testenv.Eventually(t, 20*time.Second, func() error {
		for _, n := range []string{"u1", "u2", "u3"} {
			if c := condition(t, e.Client, ns, n); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: %+v", n, c)
			}
		}
		return nil
	})
	incs := sp.Incidents()
	if len(incs) != 1 {
		t.Fatalf("%d provider incidents, want 1", len(incs))
	}
	// The object carries what the admission warnings said.
	su := &v1alpha1.StatusUpdate{}
	must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "u1"}, su))
	if c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionWordingOK); c == nil || c.Status != metav1.ConditionFalse ||
		!strings.Contains(c.Message, "missing-what-customers-can-do") {
		t.Fatalf("WordingOK %+v", c)
	}
	var got []string
	for _, u := range incs[0].Updates {
		got = append(got, u.Body)
	}
	if strings.Join(got, "|") != strings.Join(msgs, "|") {
		t.Fatalf("updates out of order or repeated:\n got %q\nwant %q", got, msgs)
	}
	if reqs := sp.Requests(); len(reqs) != 3 {
		var lines []string
		for _, r := range reqs {
			lines = append(lines, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
		t.Fatalf("%d provider requests for 3 updates:\n%s", len(reqs), strings.Join(lines, "\n"))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ec2-api-errors"}, inc))
		if s := inc.Status.StatusUpdates; s == nil || s.Published != 3 || s.ProviderRef != incs[0].ID {
			return fmt.Errorf("incident status.statusUpdates %+v", s)
		}
		if !meta.IsStatusConditionTrue(inc.Status.Conditions, v1alpha1.ConditionCustomersInformed) {
			return fmt.Errorf("CustomersInformed is not True")
		}
		if !slices.ContainsFunc(inc.Status.Timeline, func(e v1alpha1.TimelineEntry) bool {
			return e.Type == v1alpha1.TimelineStatusUpdate && e.Message == "Status update 3 published to customers"
		}) {
			return fmt.Errorf("the timeline has no entry for the third update: %+v", inc.Status.Timeline)
		}
		return nil
	})
}

func TestIntegrationADroppedCallIsNeitherLostNorDoubled(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	sp.DropNext(1)
	must(t, e.Client.Create(ctx, incident(ns, false)))
	must(t, e.Client.Create(ctx, update(ns, "u1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	testenv.Eventually(t, 20*time.Second, func() error {
		if c := condition(t, e.Client, ns, "u1"); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("u1 %+v", c)
		}
		return nil
	})
	if n := len(sp.Incidents()); n != 1 || len(sp.Incidents()[0].Updates) != 1 {
		t.Fatalf("after a dropped call: %d incidents %+v", n, sp.Incidents())
	}
}

func TestIntegrationDrillsStayOffAPublicPage(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	must(t, e.Client.Create(ctx, incident(ns, true)))
	must(t, e.Client.Create(ctx, update(ns, "u1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	testenv.Eventually(t, 10*time.Second, func() error {
		if c := condition(t, e.Client, ns, "u1"); c == nil || c.Reason != v1alpha1.ReasonDrill {
			return fmt.Errorf("u1 %+v", c)
		}
		return nil
	})
	if n := len(sp.Requests()); n != 0 {
		t.Fatalf("a drill made %d requests to the public page", n)
	}
	// Comms wrote the update in time: the drill counts customers as told, as a real incident
	// would, so nobody is nagged for doing their job; the timeline says it was held.
	testenv.Eventually(t, 10*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ec2-api-errors"}, inc))
		if c := meta.FindStatusCondition(inc.Status.Conditions, v1alpha1.ConditionCustomersInformed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("CustomersInformed %+v", c)
		}
		if !slices.ContainsFunc(inc.Status.Timeline, func(e v1alpha1.TimelineEntry) bool {
			return e.Message == "Status update 1 written (drill: held from customers)"
		}) {
			return fmt.Errorf("timeline %+v", inc.Status.Timeline)
		}
		return nil
	})
}

func TestIntegrationUnmappedComponentIsRejectedWithAClearMessage(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	must(t, e.Client.Create(ctx, incident(ns, false)))
	su := update(ns, "u1", "investigating", "Routing is failing; we are investigating.")
	su.Spec.Components[0].Name = "Routing"
	must(t, e.Client.Create(ctx, su))
	testenv.Eventually(t, 10*time.Second, func() error {
		c := condition(t, e.Client, ns, "u1")
		if c == nil || c.Reason != v1alpha1.ReasonRejected || !strings.Contains(c.Message, `component "Routing" is not mapped in StatusPage public`) {
			return fmt.Errorf("u1 %+v", c)
		}
		return nil
	})
	if n := len(sp.Requests()); n != 0 {
		t.Fatalf("%d requests for an update that cannot succeed", n)
	}
}

func TestIntegrationWebhookPageGetsEachUpdateOnceThroughALostAnswer(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	recv := webhook.New()
	t.Cleanup(recv.Close)
	ns := strings.ToLower(t.Name())
	namespace(t, e, ns)
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns, Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Webhook, "127.0.0.1")},
		Data: map[string][]byte{"secret": recv.Secret()}}))
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderWebhook, URL: recv.URL,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "hook", Key: "secret"},
			Components:           []v1alpha1.ComponentMapping{{Name: "Postgres provisioning", ID: "postgres"}}}}))
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "hook"}}}))
	must(t, e.Client.Create(ctx, incident(ns, false)))
	// The first attempt's connection drops: whether it arrived is unknown, so it is sent again
	// with the same delivery id, which the receiver deduplicates on.
	recv.DropNext(1)
	must(t, e.Client.Create(ctx, update(ns, "u1", "investigating", "Provisioning Postgres is failing; we are investigating.")))
	must(t, e.Client.Create(ctx, update(ns, "u2", "monitoring", "Provisioning works again; we are monitoring.")))
	testenv.Eventually(t, 20*time.Second, func() error {
		for _, n := range []string{"u1", "u2"} {
			if c := condition(t, e.Client, ns, n); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: %+v", n, c)
			}
		}
		return nil
	})
	got := recv.Announcements()
	if len(got) != 2 || got[0].Text != "Provisioning Postgres is failing; we are investigating." || got[1].Text != "Provisioning works again; we are monitoring." {
		t.Fatalf("the receiver got %+v", got)
	}
	if d := recv.Duplicates(); len(d) != 0 {
		t.Fatalf("delivered twice: %q", d)
	}
}
