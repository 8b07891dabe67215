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

package statusupdate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/publish"
)

// This is a seeded random driver of the real Reconciler against a model status page. Each run
// creates updates for one Incident and then, step by step, reconciles them through a cache
// that lags behind the API server, loses the page's answers after the page acted, fails calls
// (with 503, which never acts, or with a timeout, which may or may not have),
// fails status writes (a crash before the result is recorded), restarts the controller
// (forgetting what it held in memory), and edits messages, often to a text an earlier update
// already has. Then the faults stop and it runs until everything settles, and checks that the
// page holds one incident with every update exactly once, in creation order, with its latest
// text. FIRESCOPE_EXACTLY_ONCE_SEEDS sets the number of runs.

func TestExactlyOnceUnderCrashesLostAnswersEditsAndStaleCaches(t *testing.T) {
	seeds := 100
	if v, err := strconv.Atoi(os.Getenv("FIRESCOPE_EXACTLY_ONCE_SEEDS")); err == nil {
		seeds = v
	}
	steps, failed := 0, 0
	for seed := range seeds {
		n, err := runExactlyOnce(uint64(seed))
		steps += n
		if err != nil {
			t.Errorf("seed %d: %v", seed, err)
			if failed++; failed == 5 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d runs, %d steps (reconciles, faults, edits, restarts): no duplicate and no loss", seeds, steps)
}

func runExactlyOnce(seed uint64) (int, error) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(seed, 17))
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(t0)
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return 0, err
	}
	newClient := func(objs ...client.Object) client.WithWatch {
		return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
			WithStatusSubresource(&v1alpha1.StatusUpdate{}, &v1alpha1.Incident{}).
			WithIndex(&v1alpha1.StatusUpdate{}, incidentField, func(o client.Object) []string {
				return []string{o.(*v1alpha1.StatusUpdate).Spec.IncidentRef.Name}
			}).Build()
	}
	const ns = "payments"
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "db-down", Namespace: ns, UID: "inc-1", CreationTimestamp: metav1.NewTime(t0)},
		Spec: v1alpha1.IncidentSpec{Title: "Database down", State: v1alpha1.StateMajor}}
	live := newClient(inc,
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
			Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, Components: []v1alpha1.ComponentMapping{{Name: "db", ID: "c1"}}}})
	page := &modelPage{rnd: rnd, faults: true}
	flaky := &flakyStatus{Client: live, rnd: rnd, faults: true}
	cache := &laggingCache{flakyStatus: flaky}
	refresh := func() error {
		var objs []client.Object
		for _, l := range []client.ObjectList{&v1alpha1.StatusUpdateList{}, &v1alpha1.IncidentList{}, &v1alpha1.ResponsePolicyList{}, &v1alpha1.StatusPageList{}} {
			if err := live.List(ctx, l); err != nil {
				return err
			}
			items, _ := objects(l)
			objs = append(objs, items...)
		}
		cache.snapshot = newClient(objs...)
		return nil
	}
	if err := refresh(); err != nil {
		return 0, err
	}
	start := func() *Reconciler {
		return &Reconciler{Client: cache, APIReader: live, Recorder: nopRecorder{}, Providers: page, Clock: clk}
	}
	r := start()

	// Few texts and statuses, so that updates often repeat an earlier one word for word.
	texts := []string{"We are investigating.", "We found the cause.", "We are monitoring."}
	statuses := []v1alpha1.UpdateStatus{"investigating", "monitoring"}
	var names []string
	create := func() error {
		i := len(names)
		name := fmt.Sprintf("u-%d", i)
		// Several per second, as a burst would be: order then goes by name, which here sorts
		// as created (u-0 ... u-9).
		su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("su-" + name), Generation: 1,
			CreationTimestamp: metav1.NewTime(clk.Now().Truncate(time.Second))},
			Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: inc.Name}, Status: statuses[rnd.IntN(len(statuses))],
				Message: texts[rnd.IntN(len(texts))], Components: []v1alpha1.UpdateComponent{{Name: "db", Status: "major_outage"}}}}
		if err := live.Create(ctx, su); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	}
	total := 2 + rnd.IntN(7)
	for range 1 + rnd.IntN(total) {
		if err := create(); err != nil {
			return 0, err
		}
	}
	reconcile := func(name string) {
		_, _ = r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	}
	steps := 0
	for range 40 + rnd.IntN(80) {
		steps++
		clk.SetTime(clk.Now().Add(time.Duration(rnd.IntN(20000)) * time.Millisecond))
		switch x := rnd.IntN(100); {
		case x < 60:
			reconcile(names[rnd.IntN(len(names))])
		case x < 75:
			if err := refresh(); err != nil {
				return steps, err
			}
		case x < 85:
			su := &v1alpha1.StatusUpdate{}
			if err := live.Get(ctx, types.NamespacedName{Namespace: ns, Name: names[rnd.IntN(len(names))]}, su); err != nil {
				return steps, err
			}
			su.Spec.Message = texts[rnd.IntN(len(texts))] + " Edited."
			su.Generation++
			if err := live.Update(ctx, su); err != nil {
				return steps, err
			}
		case x < 92:
			if len(names) < total {
				if err := create(); err != nil {
					return steps, err
				}
			}
		default:
			r = start() // a restart: nothing held in memory survives
		}
	}
	for len(names) < total {
		if err := create(); err != nil {
			return steps, err
		}
	}
	// The faults stop; the controller, woken as its watches would wake it, settles everything.
	page.faults, flaky.faults = false, false
	for round := 0; ; round++ {
		if err := refresh(); err != nil {
			return steps, err
		}
		done := true
		for _, name := range names {
			steps++
			reconcile(name)
			su := &v1alpha1.StatusUpdate{}
			if err := live.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, su); err != nil {
				return steps, err
			}
			done = done && published(su) && su.Status.PublishedGeneration == su.Generation
		}
		if done {
			break
		}
		if round == 100 {
			return steps, fmt.Errorf("not settled after the faults stopped: %v", check(ctx, live, page, names))
		}
		clk.SetTime(clk.Now().Add(20 * time.Second))
	}
	return steps, check(ctx, live, page, names)
}

// check asserts no duplicate and no loss: one provider incident, every update once, in
// creation order, with its latest message.
func check(ctx context.Context, live client.Client, page *modelPage, names []string) error {
	if len(page.incidents) != 1 {
		return fmt.Errorf("%d provider incidents, want 1:\n%s", len(page.incidents), page.dump())
	}
	var want, got []string
	for _, name := range names {
		su := &v1alpha1.StatusUpdate{}
		if err := live.Get(ctx, types.NamespacedName{Namespace: "payments", Name: name}, su); err != nil {
			return err
		}
		want = append(want, string(su.UID)+"="+su.Spec.Message)
	}
	for _, u := range page.incidents[0].updates {
		got = append(got, u.id+"="+u.body)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("the page holds\n  %q\nwant\n  %q", got, want)
	}
	return nil
}

// modelPage is a status page that keeps what it was sent and, while faults are on, fails
// calls the way delivery.Assess tells them apart: answered 503, which by its definition
// (RFC 9110) never acted; or with an unknown outcome (a timeout, a reset connection), which
// either did not act or acted and lost its answer.
type modelPage struct {
	rnd       *rand.Rand
	faults    bool
	incidents []*modelIncident
}

type modelIncident struct {
	ref, key, last string
	updates        []modelUpdate
}

type modelUpdate struct{ ref, id, status, body string }

func (p *modelPage) For(context.Context, *v1alpha1.StatusPage) (publish.Provider, error) {
	return p, nil
}

// fault is the error to return before acting (before), or after acting (lost), or nil.
func (p *modelPage) fault() (before, lost error) {
	if !p.faults {
		return nil, nil
	}
	switch x := p.rnd.IntN(100); {
	case x < 10:
		return errUnavailable, nil
	case x < 15:
		return errTimeout, nil
	case x < 35:
		return nil, errTimeout
	}
	return nil, nil
}

var (
	errUnavailable = delivery.Classify(&http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody}, nil)
	errTimeout     = delivery.Classify(nil, &url.Error{Op: "Post", URL: "https://page.example", Err: context.DeadlineExceeded})
)

func (p *modelPage) Publish(_ context.Context, u publish.Update) (publish.Result, error) {
	before, lost := p.fault()
	if before != nil {
		return publish.Result{}, before
	}
	var inc *modelIncident
	if u.ProviderRef == "" {
		inc = &modelIncident{ref: fmt.Sprintf("pi-%d", len(p.incidents)+1), key: u.IncidentKey}
		p.incidents = append(p.incidents, inc)
	} else if i := slices.IndexFunc(p.incidents, func(m *modelIncident) bool { return m.ref == u.ProviderRef }); i >= 0 {
		inc = p.incidents[i]
	} else {
		return publish.Result{}, errors.New("404 incident not found")
	}
	ref := fmt.Sprintf("%s-u%d", inc.ref, len(inc.updates)+1)
	inc.updates = append(inc.updates, modelUpdate{ref: ref, id: u.UpdateID, status: u.Status, body: u.Body})
	inc.last = u.UpdateID
	if lost != nil {
		return publish.Result{}, lost
	}
	return publish.Result{ProviderRef: inc.ref, UpdateRef: ref}, nil
}

func (p *modelPage) Edit(_ context.Context, providerRef, updateRef, body string) error {
	before, lost := p.fault()
	if before != nil {
		return before
	}
	for _, inc := range p.incidents {
		for i := range inc.updates {
			if inc.ref == providerRef && inc.updates[i].ref == updateRef {
				inc.updates[i].body = body
				if lost != nil {
					return lost
				}
				return nil
			}
		}
	}
	return errors.New("404 update not found")
}

func (p *modelPage) Find(_ context.Context, key string) (publish.Found, bool, error) {
	if before, _ := p.fault(); before != nil {
		return publish.Found{}, false, before
	}
	var found []*modelIncident
	for _, inc := range p.incidents {
		if inc.key == key {
			found = append(found, inc)
		}
	}
	switch len(found) {
	case 0:
		return publish.Found{}, false, nil
	case 1:
	default:
		return publish.Found{}, false, publish.ErrAmbiguous
	}
	f := publish.Found{ProviderRef: found[0].ref, LastUpdateID: found[0].last}
	for _, u := range found[0].updates {
		f.Updates = append(f.Updates, publish.FoundUpdate{Ref: u.ref, Status: u.status, Body: u.body})
	}
	return f, true, nil
}

func (p *modelPage) dump() string {
	var b strings.Builder
	for _, inc := range p.incidents {
		fmt.Fprintf(&b, "%s (%s):\n", inc.ref, inc.key)
		for _, u := range inc.updates {
			fmt.Fprintf(&b, "  %s %s %s %q\n", u.ref, u.id, u.status, u.body)
		}
	}
	return b.String()
}

// flakyStatus fails status writes while faults are on: a crash or a lost connection between
// a call to the page and the write that records its result.
type flakyStatus struct {
	client.Client
	rnd    *rand.Rand
	faults bool
}

func (f *flakyStatus) Status() client.SubResourceWriter {
	return flakyWriter{f.Client.Status(), f}
}

type flakyWriter struct {
	client.SubResourceWriter
	f *flakyStatus
}

func (w flakyWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if w.f.faults && w.f.rnd.IntN(100) < 10 {
		return errors.New("connection reset")
	}
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// laggingCache reads from a snapshot of the API server taken now and then, as an informer
// cache that has not caught up would; writes go to the API server.
type laggingCache struct {
	*flakyStatus
	snapshot client.Client
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.snapshot.Get(ctx, key, obj, opts...)
}

func (c *laggingCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.snapshot.List(ctx, list, opts...)
}

func objects(l client.ObjectList) ([]client.Object, error) {
	var out []client.Object
	switch l := l.(type) {
	case *v1alpha1.StatusUpdateList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.IncidentList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.ResponsePolicyList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.StatusPageList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
	return out, nil
}

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, client.Object, eventrecord.Fact) error { return nil }
