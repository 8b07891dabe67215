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

package maintenance_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/maintenance"
	"firescope.dev/firescope/controllers/statusupdate"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/safehttp"
	sp "firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/testenv"
)

// These tests run the controller against the real API server, reconciling by hand with a
// fake clock, so that the window's edges pass when the test says and each reconcile's
// requeue can be read: the manager's own queue would wait in real time.

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// t0 is near the API server's clock, which stamps deletionTimestamp: the controller compares
// its own clock with that.
var t0 = time.Now().UTC().Truncate(time.Second)

type harness struct {
	t     *testing.T
	ns    string
	clock *clocktesting.FakePassiveClock
	r     *maintenance.Reconciler
}

// newHarness makes a namespace with a StatusPage "public" of provider, at url, whose
// credential is key, mapping the component "Database" to dbID.
func newHarness(t *testing.T, provider v1alpha1.StatusPageProvider, url, key, dbID string) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, ns: strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), clock: clocktesting.NewFakePassiveClock(t0)}
	if len(h.ns) > 60 {
		h.ns = h.ns[:60]
	}
	must(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.ns}}))
	must(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "page", Namespace: h.ns,
		Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Provider(provider), "127.0.0.1")},
		StringData: map[string]string{"key": key}}))
	page := &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: h.ns}, Spec: v1alpha1.StatusPageSpec{
		Provider: provider, URL: url, CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "page", Key: "key"},
		Components: []v1alpha1.ComponentMapping{{Name: "Database", ID: dbID}}}}
	if provider == v1alpha1.ProviderStatuspage {
		page.Spec.PageID = statuspage.PageID
	}
	must(t, env.Client.Create(ctx, page))
	// Short timeouts, so that a delayed answer is a lost one without a long wait.
	httpClient := safehttp.Loopback().Guard(delivery.NewHTTPClient(time.Second))
	h.r = &maintenance.Reconciler{Client: env.Client, APIReader: env.Client,
		Recorder:  &eventrecord.Recorder{Client: env.Client, Controller: "firescope.dev/test"},
		Providers: &statusupdate.SecretProviders{Secrets: env.Client, HTTP: httpClient}, Clock: h.clock}
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// create makes a Maintenance of the Database from start to end after t0, notifying.
func (h *harness) create(name string, start, end time.Duration) *v1alpha1.Maintenance {
	h.t.Helper()
	m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Spec: v1alpha1.MaintenanceSpec{
		StatusPageRef: v1alpha1.LocalReference{Name: "public"}, Title: "Database upgrade",
		Message:    "We are upgrading the primary database. Writes may be slow for a few minutes.",
		Components: []string{"Database"}, Notify: true,
		Window: v1alpha1.MaintenanceWindow{Start: metav1.NewTime(t0.Add(start)), End: metav1.NewTime(t0.Add(end))}}}
	must(h.t, env.Client.Create(context.Background(), m))
	return m
}

// reconcile runs one reconcile at the fake clock's time and returns its requeue and the
// Maintenance as stored.
func (h *harness) reconcile(name string) (time.Duration, *v1alpha1.Maintenance) {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: h.ns, Name: name}})
	if err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	m := &v1alpha1.Maintenance{}
	must(h.t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, m))
	return res.RequeueAfter, m
}

func (h *harness) advance(d time.Duration) { h.clock.SetTime(h.clock.Now().Add(d)) }

func published(m *v1alpha1.Maintenance) string {
	c := meta.FindStatusCondition(m.Status.Conditions, v1alpha1.ConditionPublished)
	if c == nil {
		return "none"
	}
	return string(c.Status) + "/" + c.Reason
}

func TestAMaintenanceMovesItselfAcrossTheWindowOnStatuspage(t *testing.T) {
	fake := statuspage.New()
	t.Cleanup(fake.Close)
	fake.AddComponent("db0000000001", "Database")
	h := newHarness(t, v1alpha1.ProviderStatuspage, fake.URL, statuspage.APIKey, "db0000000001")
	h.create("db-upgrade", 5*time.Minute, 65*time.Minute)

	wait, m := h.reconcile("db-upgrade")
	if wait != 5*time.Minute {
		t.Errorf("requeue after %s, want 5m0s: exactly at the window's start", wait)
	}
	incs := fake.Incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents on Statuspage, want 1", len(incs))
	}
	inc := incs[0]
	if inc.Status != "scheduled" || inc.Schedule == nil || !inc.Schedule.For.Equal(t0.Add(5*time.Minute)) || !inc.Schedule.Until.Equal(t0.Add(65*time.Minute)) ||
		inc.Schedule.AutoInProgress || inc.Schedule.AutoCompleted || !inc.Updates[0].DeliverNotifications {
		t.Fatalf("scheduled incident %+v (schedule %+v)", inc, inc.Schedule)
	}
	if m.Status.Phase != v1alpha1.MaintenanceScheduled || m.Status.PublishedPhase != v1alpha1.MaintenanceScheduled ||
		m.Status.ProviderRef != inc.ID || published(m) != "True/Published" || m.Status.SendingSince != nil {
		t.Fatalf("status %+v", m.Status)
	}

	// Woken before the edge (by a StatusPage change, say), it sends nothing.
	h.advance(time.Minute)
	requests := len(fake.Requests())
	if wait, _ := h.reconcile("db-upgrade"); wait != 4*time.Minute || len(fake.Requests()) != requests {
		t.Errorf("before the edge: requeue %s and %d more requests; want 4m0s and none", wait, len(fake.Requests())-requests)
	}

	h.advance(4 * time.Minute)
	wait, m = h.reconcile("db-upgrade")
	if wait != time.Hour {
		t.Errorf("requeue after %s, want 1h0m0s: exactly at the window's end", wait)
	}
	inc = fake.Incidents()[0]
	if m.Status.Phase != v1alpha1.MaintenanceInProgress || inc.Status != "in_progress" || fake.Components()[0].Status != "under_maintenance" || len(inc.Updates) != 2 {
		t.Fatalf("at the start: phase %s, Statuspage %s with %d updates, component %s", m.Status.Phase, inc.Status, len(inc.Updates), fake.Components()[0].Status)
	}

	h.advance(time.Hour)
	wait, m = h.reconcile("db-upgrade")
	inc = fake.Incidents()[0]
	if wait != 0 || m.Status.Phase != v1alpha1.MaintenanceCompleted || inc.Status != "completed" || fake.Components()[0].Status != "operational" || len(inc.Updates) != 3 {
		t.Fatalf("at the end: requeue %s, phase %s, Statuspage %s with %d updates, component %s", wait, m.Status.Phase, inc.Status, len(inc.Updates), fake.Components()[0].Status)
	}
	if len(fake.Invalid()) != 0 {
		t.Errorf("requests the OpenAPI document refuses: %+v", fake.Invalid())
	}
	wantEvents(t, h.ns, v1alpha1.EventMaintenancePublished, 3)
}

func TestALostAnswerIsAdoptedNotScheduledTwice(t *testing.T) {
	fake := statuspage.New()
	t.Cleanup(fake.Close)
	fake.AddComponent("db0000000001", "Database")
	proxy, lose := losingProxy(t, fake.URL)
	h := newHarness(t, v1alpha1.ProviderStatuspage, proxy, statuspage.APIKey, "db0000000001")
	h.create("db-upgrade", 5*time.Minute, 65*time.Minute)

	// The create lands, but its answer is lost.
	lose.Store(1)
	wait, m := h.reconcile("db-upgrade")
	if m.Status.SendingSince == nil || published(m) != "False/Retrying" || wait <= 0 || len(fake.Incidents()) != 1 {
		t.Fatalf("after a lost answer: requeue %s, %d incidents, status %+v", wait, len(fake.Incidents()), m.Status)
	}
	// Before the outcome settles nothing is sent; after, the page is asked and what it holds
	// is adopted.
	if wait, _ := h.reconcile("db-upgrade"); wait <= 0 || len(fake.Incidents()) != 1 {
		t.Fatalf("before settling: requeue %s, %d incidents", wait, len(fake.Incidents()))
	}
	h.advance(time.Minute)
	_, m = h.reconcile("db-upgrade")
	if n := len(fake.Incidents()); n != 1 || m.Status.ProviderRef != fake.Incidents()[0].ID || m.Status.PublishedPhase != v1alpha1.MaintenanceScheduled || m.Status.SendingSince != nil {
		t.Fatalf("after settling: %d incidents, status %+v", n, m.Status)
	}

	// A start whose request never arrives is sent again, onto the same incident.
	h.advance(5 * time.Minute)
	fake.DropNext(1)
	if _, m = h.reconcile("db-upgrade"); m.Status.SendingSince == nil {
		t.Fatalf("after a dropped request: status %+v, want the intent kept", m.Status)
	}
	h.advance(time.Minute)
	_, m = h.reconcile("db-upgrade")
	inc := fake.Incidents()[0]
	if len(fake.Incidents()) != 1 || inc.Status != "in_progress" || len(inc.Updates) != 2 || m.Status.PublishedPhase != v1alpha1.MaintenanceInProgress {
		t.Fatalf("after a dropped start: %d incidents, Statuspage %s with %d updates, status %+v", len(fake.Incidents()), inc.Status, len(inc.Updates), m.Status)
	}
}

func TestARefusedMaintenanceIsHeldUntilItChanges(t *testing.T) {
	fake := statuspage.New()
	t.Cleanup(fake.Close)
	// The page maps the Database to an id Statuspage does not know.
	h := newHarness(t, v1alpha1.ProviderStatuspage, fake.URL, statuspage.APIKey, "ghost0000001")
	h.create("db-upgrade", 5*time.Minute, 65*time.Minute)
	_, m := h.reconcile("db-upgrade")
	if published(m) != "False/Rejected" || m.Status.Rejected != "Scheduled/1" || !strings.Contains(meta.FindStatusCondition(m.Status.Conditions, v1alpha1.ConditionPublished).Message, "an unknown component id") {
		t.Fatalf("status %+v", m.Status)
	}
	requests := len(fake.Requests())
	if _, _ = h.reconcile("db-upgrade"); len(fake.Requests()) != requests {
		t.Error("a refused maintenance was sent again unchanged")
	}
	wantEvents(t, h.ns, v1alpha1.EventMaintenancePublishFailed, 1)

	// The phase moving on is a new request, refused again here; it is not held forever.
	h.advance(5 * time.Minute)
	if _, m = h.reconcile("db-upgrade"); m.Status.Rejected != "InProgress/1" || len(fake.Requests()) != requests+1 {
		t.Errorf("at the start: rejected %q after %d more requests", m.Status.Rejected, len(fake.Requests())-requests)
	}
}

func TestAMaintenanceWaitsForItsComponentsToBeMapped(t *testing.T) {
	fake := statuspage.New()
	t.Cleanup(fake.Close)
	h := newHarness(t, v1alpha1.ProviderStatuspage, fake.URL, statuspage.APIKey, "db0000000001")
	m := h.create("api-upgrade", 5*time.Minute, 65*time.Minute)
	m.Spec.Components = []string{"API"}
	must(t, env.Client.Update(context.Background(), m))
	_, m = h.reconcile("api-upgrade")
	c := meta.FindStatusCondition(m.Status.Conditions, v1alpha1.ConditionPublished)
	if c == nil || c.Reason != v1alpha1.ReasonPublishPending || !strings.Contains(c.Message, `maps no component "API"`) || len(fake.Requests()) != 0 {
		t.Fatalf("condition %+v after %d requests", c, len(fake.Requests()))
	}
}

func TestAMaintenanceMovesItselfAcrossTheWindowOnTheFirescopePage(t *testing.T) {
	const token = "test-admin-token-0123456789"
	page, err := sp.OpenPage(filepath.Join(t.TempDir(), "page.db"), sp.PageInfo{Name: "Example Status", URL: "https://status.example.com"}, time.Now)
	must(t, err)
	t.Cleanup(func() { _ = page.Close() })
	if _, _, err := page.PutComponent("db", api.ComponentRequest{Name: "Database"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sp.NewHandler(page, token, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	h := newHarness(t, v1alpha1.ProviderFirescope, srv.URL, token, "db")
	m := h.create("db-upgrade", 5*time.Minute, 65*time.Minute)
	id := firescope.ID(h.ns + "/" + m.Name + "/" + string(m.UID))
	summary := func() string {
		resp, err := srv.Client().Get(srv.URL + "/api/v2/summary.json")
		must(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	for _, step := range []struct {
		advance time.Duration
		status  api.MaintenanceStatus
		db      string
	}{{0, api.MaintenanceScheduled, "operational"}, {5 * time.Minute, api.MaintenanceInProgress, "under_maintenance"}, {time.Hour, api.MaintenanceCompleted, "operational"}} {
		h.advance(step.advance)
		_, m = h.reconcile("db-upgrade")
		got, err := page.Maintenance(id)
		if err != nil || got.Status != step.status || m.Status.ProviderRef != id || published(m) != "True/Published" {
			t.Fatalf("%s: page has %+v, %v; status %+v", step.status, got, err, m.Status)
		}
		if comps := page.Components(); comps[0].Status != api.Operational {
			t.Errorf("%s: the component record became %s; only the page's view of it should change", step.status, comps[0].Status)
		}
		if s := summary(); !strings.Contains(s, `"status":"`+step.db+`"`) {
			t.Errorf("%s: summary.json does not show the database %s: %s", step.status, step.db, s)
		}
	}
	if got, _ := page.Maintenance(id); len(got.Updates) != 3 || got.Updates[0].Body != "The scheduled maintenance has been completed." {
		t.Errorf("updates %+v", got.Updates)
	}
}

// losingProxy forwards to target; while lose is above zero it counts down and drops the
// answer of a request that reached target, as a connection lost mid-answer would.
func losingProxy(t *testing.T, target string) (string, *atomic.Int32) {
	u, err := url.Parse(target)
	must(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	lose := &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lose.Add(-1) < 0 {
			lose.Store(0)
			rp.ServeHTTP(w, r)
			return
		}
		rp.ServeHTTP(httptest.NewRecorder(), r)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, lose
}

func wantEvents(t *testing.T, ns, reason string, n int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		got := 0
		for _, e := range list.Items {
			if e.Reason == reason {
				got++
			}
		}
		if got != n {
			return fmt.Errorf("%d %s Events, want %d", got, reason, n)
		}
		return nil
	})
}

func TestDeletingAMaintenanceTakesItOffThePageFirst(t *testing.T) {
	fake := statuspage.New()
	t.Cleanup(fake.Close)
	fake.AddComponent("db0000000001", "Database")
	h := newHarness(t, v1alpha1.ProviderStatuspage, fake.URL, statuspage.APIKey, "db0000000001")
	ctx := context.Background()
	h.create("db-upgrade", 5*time.Minute, 65*time.Minute)
	if _, m := h.reconcile("db-upgrade"); !slices.Contains(m.Finalizers, v1alpha1.FinalizerCompleteMaintenance) || m.Status.PublishedPhase != v1alpha1.MaintenanceScheduled {
		t.Fatalf("finalizers %v, status %+v", m.Finalizers, m.Status)
	}
	m := &v1alpha1.Maintenance{ObjectMeta: metav1.ObjectMeta{Name: "db-upgrade", Namespace: h.ns}}
	must(t, env.Client.Delete(ctx, m))
	if _, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(m)}); err != nil {
		t.Fatal(err)
	}
	inc := fake.Incidents()[0]
	if inc.Status != "completed" || inc.Updates[len(inc.Updates)-1].Body != "The scheduled maintenance has been cancelled." {
		t.Fatalf("on Statuspage after the deletion: %s, %q", inc.Status, inc.Updates[len(inc.Updates)-1].Body)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(m), &v1alpha1.Maintenance{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Maintenance is still there: %v", err)
	}

	// One the page never showed goes at once, with no call.
	unmapped := h.create("api-upgrade", 5*time.Minute, 65*time.Minute)
	unmapped.Spec.Components = []string{"API"}
	must(t, env.Client.Update(ctx, unmapped))
	h.reconcile("api-upgrade")
	requests := len(fake.Requests())
	must(t, env.Client.Delete(ctx, unmapped))
	if _, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(unmapped)}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(unmapped), &v1alpha1.Maintenance{}); !apierrors.IsNotFound(err) || len(fake.Requests()) != requests {
		t.Fatalf("an unpublished Maintenance: %v after %d requests", err, len(fake.Requests())-requests)
	}
}

func TestADeletionWaitsForAPageThatIsDownOnlySoLong(t *testing.T) {
	fake := statuspage.New()
	t.Cleanup(fake.Close)
	fake.AddComponent("db0000000001", "Database")
	h := newHarness(t, v1alpha1.ProviderStatuspage, fake.URL, statuspage.APIKey, "db0000000001")
	ctx := context.Background()
	m := h.create("db-upgrade", -time.Minute, time.Hour)
	h.reconcile("db-upgrade")
	must(t, env.Client.Delete(ctx, m))
	fake.FailNext(100, http.StatusServiceUnavailable, 0)
	wait, m := h.reconcile("db-upgrade")
	if wait <= 0 || !slices.Contains(m.Finalizers, v1alpha1.FinalizerCompleteMaintenance) || published(m) != "False/Retrying" {
		t.Fatalf("with the page down: requeue %s, finalizers %v, status %+v", wait, m.Finalizers, m.Status)
	}
	h.advance(20 * time.Minute)
	if _, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(m)}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(m), &v1alpha1.Maintenance{}); !apierrors.IsNotFound(err) {
		t.Fatalf("still there after the grace: %v", err)
	}
	wantEvents(t, h.ns, v1alpha1.EventMaintenancePublishFailed, 1)
}
