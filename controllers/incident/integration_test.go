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

package incident_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/incident"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/testenv"
)

// The integration tests share one control plane with the webhook installed and one running
// manager, started on first use so that the unit tests of this package need neither.
func TestMain(m *testing.M) { testenv.Main(m) }

const namespace = "default"

func startEnv(t *testing.T) *testenv.Env { return testenv.Shared(t) }

func newIncident(name string) *v1alpha1.Incident {
	return &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors",
			Impact: &v1alpha1.Impact{Description: "Postgres cannot be provisioned"}},
	}
}

// eventsFor returns "Reason: note" for every Event about the named Incident, counting a
// series as many times as it happened.
func eventsFor(t *testing.T, c client.Client, name string) []string {
	t.Helper()
	return eventsIn(t, c, namespace, name)
}

func eventsIn(t *testing.T, c client.Client, ns, name string) []string {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name != name || e.Regarding.Kind != "Incident" {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		for range n {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

func timeline(t *testing.T, c client.Client, name string) []v1alpha1.TimelineEntry {
	t.Helper()
	inc := &v1alpha1.Incident{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, inc); err != nil {
		t.Fatal(err)
	}
	return inc.Status.Timeline
}

func hasEntry(tl []v1alpha1.TimelineEntry, typ v1alpha1.TimelineEntryType, msg, by string) bool {
	return slices.ContainsFunc(tl, func(e v1alpha1.TimelineEntry) bool {
		return e.Type == typ && e.Message == msg && e.By == by
	})
}

func TestIntegrationFirstResponderBecomesIC(t *testing.T) {
	e := startEnv(t)
	inc := newIncident("first-responder")
	if err := e.As("ricardo").Create(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	if inc.Spec.Roles.Commander != "ricardo" {
		t.Fatalf("IC = %q, want the first responder ricardo", inc.Spec.Roles.Commander)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if tl := timeline(t, e.Client, inc.Name); !hasEntry(tl, v1alpha1.TimelineHandoff, "IC -> ricardo", "ricardo") {
			return fmt.Errorf("timeline %+v has no IC -> ricardo by ricardo", tl)
		}
		return nil
	})
}

func TestIntegrationServiceAccountMustNameTheIC(t *testing.T) {
	e := startEnv(t)
	sa := e.As("system:serviceaccount:flux-system:kustomize-controller")
	err := sa.Create(context.Background(), newIncident("from-gitops"))
	want := "has no Incident Commander: system:serviceaccount:flux-system:kustomize-controller is a service account " +
		"and cannot be the first responder; set spec.roles.commander to the person in command"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want refusal %q, got %v", want, err)
	}
	inc := newIncident("from-gitops")
	inc.Spec.Roles.Commander = "keiko"
	if err := sa.Create(context.Background(), inc); err != nil {
		t.Fatalf("service account naming an IC refused: %v", err)
	}
	if inc.Spec.Roles.Commander != "keiko" {
		t.Fatalf("IC changed to %q", inc.Spec.Roles.Commander)
	}
}

func TestIntegrationHandoffIsAnnouncedWithWhoMadeIt(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	inc := newIncident("handoff")
	if err := e.As("ricardo").Create(ctx, inc); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(inc.DeepCopy())
	inc.Spec.Roles.Commander = "greg"
	inc.Spec.Roles.Communications = "keiko"
	inc.Spec.Roles.Operations = []v1alpha1.OperationsGroup{{Name: "postgres", Supervisor: "noah"}}
	if err := e.As("ricardo").Patch(ctx, inc, patch); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Second, func() error {
		got := eventsFor(t, e.Client, inc.Name)
		for _, want := range []string{"Handoff: IC -> greg", "Handoff: Comms -> keiko", "Handoff: Ops/postgres -> noah"} {
			if !slices.Contains(got, want) {
				return fmt.Errorf("no Event %q in %q", want, got)
			}
		}
		return nil
	})
	// The Events are written before the status patch that records the timeline, so the
	// timeline may follow them by a moment.
	testenv.Eventually(t, 2*time.Second, func() error {
		tl := timeline(t, e.Client, inc.Name)
		for _, msg := range []string{"IC -> greg", "Comms -> keiko", "Ops/postgres -> noah"} {
			if !hasEntry(tl, v1alpha1.TimelineHandoff, msg, "ricardo") {
				return fmt.Errorf("timeline has no %q by ricardo: %+v", msg, tl)
			}
		}
		return nil
	})
}

func TestIntegrationRestartNeitherRepeatsEventsNorTimeline(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ric := e.As("ricardo")
	inc := newIncident("restart")
	inc.Spec.Roles.Communications = "keiko"
	if err := ric.Create(ctx, inc); err != nil {
		t.Fatal(err)
	}
	for _, s := range []v1alpha1.IncidentState{v1alpha1.StateConfirmed, v1alpha1.StateMajor, v1alpha1.StateResolved, v1alpha1.StateConfirmed} {
		waitRecorded(t, e.Client, inc.Name, func(r *v1alpha1.Recorded) bool { return r.State == inc.Spec.State })
		patch := client.MergeFrom(inc.DeepCopy())
		inc.Spec.State = s
		if s == v1alpha1.StateMajor {
			inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{Summary: "PX dynos cannot scale"})
		}
		if err := ric.Patch(ctx, inc, patch); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"StateChanged: Incident declared (Investigating)",
		"Handoff: IC -> ricardo",
		"Handoff: Comms -> keiko",
		"StateChanged: Incident Confirmed",
		"StateChanged: Incident escalated to Major",
		"SitrepPosted: Sitrep 1 from ricardo: PX dynos cannot scale",
		"StateChanged: Incident Resolved",
		"StateChanged: Incident reopened",
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if got := incidentControllerEvents(t, e.Client, inc.Name); !slices.Equal(got, want) {
			return fmt.Errorf("events\n got %q\nwant %q", got, want)
		}
		if tl := timeline(t, e.Client, inc.Name); len(tl) != len(want) {
			return fmt.Errorf("timeline has %d entries, want %d: %+v", len(tl), len(want), tl)
		}
		return nil
	})
	before := timeline(t, e.Client, inc.Name)

	// A new manager starts from an empty cache and reconciles everything again.
	e.StopManager()
	if err := e.RunManager(); err != nil {
		t.Fatal(err)
	}
	// One new fact after the restart: once it is recorded, the new manager has certainly
	// reconciled this Incident, so anything repeated would be there too.
	patch := client.MergeFrom(inc.DeepCopy())
	inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{Summary: "Postgres provisioning restored"})
	if err := ric.Patch(ctx, inc, patch); err != nil {
		t.Fatal(err)
	}
	want = append(want, "SitrepPosted: Sitrep 2 from ricardo: Postgres provisioning restored")
	// Events are written just after the status that records them: wait for both.
	testenv.Eventually(t, 5*time.Second, func() error {
		if got := incidentControllerEvents(t, e.Client, inc.Name); !slices.Equal(got, want) {
			return fmt.Errorf("events after restart\n got %q\nwant %q", got, want)
		}
		if n := len(timeline(t, e.Client, inc.Name)); n <= len(before) {
			return fmt.Errorf("the new sitrep is not in the timeline yet")
		}
		return nil
	})
	after := timeline(t, e.Client, inc.Name)
	if len(after) != len(before)+1 || !slices.EqualFunc(after[:len(before)], before, func(a, b v1alpha1.TimelineEntry) bool { return a.Message == b.Message && a.At.Equal(&b.At) }) {
		t.Fatalf("timeline after restart is not the old one plus the new sitrep:\nbefore %+v\nafter  %+v", before, after)
	}
}

// incidentControllerEvents are the Events about the named Incident less the post-mortem
// controller's, whose timing relative to the incident's own facts varies; the one post-mortem
// a resolution opens must still be reported exactly once.
func incidentControllerEvents(t *testing.T, c client.Client, name string) []string {
	t.Helper()
	var out []string
	opened := 0
	for _, ev := range eventsFor(t, c, name) {
		if strings.HasPrefix(ev, v1alpha1.EventPostmortemCreated+":") {
			opened++
			continue
		}
		out = append(out, ev)
	}
	if opened > 1 {
		t.Fatalf("%d PostmortemCreated Events for one incident", opened)
	}
	return out
}

func waitRecorded(t *testing.T, c client.Client, name string, ok func(*v1alpha1.Recorded) bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, inc); err != nil {
			return err
		}
		if inc.Status.Recorded == nil || !ok(inc.Status.Recorded) {
			return fmt.Errorf("not recorded yet: %+v", inc.Status.Recorded)
		}
		return nil
	})
}

func TestIntegrationReconcileWritesNothingWhenNothingChanged(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	inc := newIncident("quiet")
	if err := e.As("ricardo").Create(ctx, inc); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, e.Client, inc.Name, func(r *v1alpha1.Recorded) bool { return r.Roles.Commander == "ricardo" })
	stored := &v1alpha1.Incident{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(inc), stored); err != nil {
		t.Fatal(err)
	}

	// A second reconciler, with a cache of its own as a restarted manager has, reconciles the
	// recorded Incident as a resync would: it must neither write nor announce anything.
	cached := freshCache(t, e)
	rec := &countingRecorder{}
	r := &incident.Reconciler{Client: cached, Recorder: rec, Clock: clock.RealClock{}}
	res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inc)})
	if err != nil {
		t.Fatal(err)
	}
	after := &v1alpha1.Incident{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(inc), after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != stored.ResourceVersion {
		t.Fatalf("a no-op reconcile wrote the Incident: resourceVersion %s -> %s", stored.ResourceVersion, after.ResourceVersion)
	}
	if len(rec.facts) != 0 {
		t.Fatalf("a no-op reconcile reported %+v", rec.facts)
	}
	// It asks to come back when the next sitrep falls due, not on a fixed period.
	due := time.Until(after.Status.NextSitrepDueAt.Time)
	if res.RequeueAfter <= 0 || res.RequeueAfter > due+time.Second {
		t.Fatalf("requeue after %s, next sitrep due in %s", res.RequeueAfter, due)
	}
}

// freshCache returns a client that reads from a new cache of its own, synced, with the
// indexes the incident controller lists by.
func freshCache(t *testing.T, e *testenv.Env) client.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(e.Config, cache.Options{Scheme: e.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := incident.IndexStatusUpdates(ctx, c); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	// Informers start on first use: ask for every kind the reconcile reads, then wait.
	for _, o := range []client.Object{&v1alpha1.Incident{}, &v1alpha1.ResponsePolicy{}, &v1alpha1.StatusUpdate{}, &v1alpha1.Maintenance{}} {
		if _, err := c.GetInformer(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	cl, err := client.New(e.Config, client.Options{Scheme: e.Client.Scheme(), Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

type countingRecorder struct{ facts []eventrecord.Fact }

func (c *countingRecorder) Record(_ context.Context, _ client.Object, f eventrecord.Fact) error {
	c.facts = append(c.facts, f)
	return nil
}
