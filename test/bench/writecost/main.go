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

// Command writecost measures what the API server spends on each request a sitrep reminder
// makes, on a local control plane with the manager watching: the Incident's status patch as
// the controller sends it (a JSON merge patch of what changed: the reminder count, the outbox
// and the timeline, lists whole) and, for comparison, a patch of the reminder count alone; the
// Event; the GET of the channel's credential Secret; and a ConfigMap create for reference.
// For each it prints the CPU time of kube-apiserver and etcd per request (from /proc) and the
// requests' p50, over n requests from 16 writers, twice in turn. With -profile, it then
// sends the controller's status patch for 20 s more while taking the API server's CPU profile.
//
//	go run ./test/bench/writecost -n 3000
//	go run ./test/bench/writecost -n 1000 -profile /tmp/writecost.pprof && go tool pprof -top /tmp/writecost.pprof
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/incident"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

const (
	ns      = "writecost"
	writers = 16
	message = "Sitrep overdue by %ds: sitreps are due every 10s while Confirmed; IC: ricardo"
)

func main() {
	n := flag.Int("n", 3000, "requests of each kind per round")
	profile := flag.String("profile", "", "write the API server's CPU profile of 20 s of the controller's status patches to this file")
	flag.Parse()
	if err := run(*n, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, profile string) error {
	ctx := context.Background()
	e, err := benchenv.Start(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl := e.Client
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	if err := cl.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "comms", Namespace: ns, Labels: map[string]string{credentials.Label: "true"},
		Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1")}, StringData: map[string]string{"url": "http://127.0.0.1:9/services/T0/B0/x"}}); err != nil {
		return err
	}
	incs, err := drills(ctx, cl)
	if err != nil {
		return err
	}
	size, _ := json.Marshal(incs[0])
	fmt.Printf("Firescope write cost: %d requests of each kind per round from %d writers; a drill Incident of %d bytes of JSON, managedFields included, with the status of its fourth reminder\n\n", n, writers, len(size))

	patch := func(w, i int, status map[string]any) error {
		inc := incs[w]
		body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": inc.ResourceVersion}, "status": status})
		return cl.Status().Patch(ctx, inc, client.RawPatch(types.MergePatchType, body), client.FieldOwner(incident.FieldOwner))
	}
	kinds := []struct {
		name string
		op   func(w, i int) error
	}{
		{"Incident status patch, as the controller sends it", func(w, i int) error {
			tl := incs[w].Status.Timeline
			entries := make([]v1alpha1.TimelineEntry, len(tl))
			copy(entries, tl)
			entries[len(entries)-1].Message = fmt.Sprintf(message, i)
			return patch(w, i, map[string]any{"reminders": map[string]any{"sitrepOverdue": i}, "timeline": entries,
				"outbox": []v1alpha1.OutboxItem{{ID: fmt.Sprintf("%024x", i), Kind: v1alpha1.OutboxAnnounce, Reason: v1alpha1.EventSitrepOverdue,
					Message: fmt.Sprintf(message, i), State: v1alpha1.OutboxSending, Attempts: 1}}})
		}},
		{"Incident status patch of one field", func(w, i int) error {
			return patch(w, i, map[string]any{"reminders": map[string]any{"sitrepOverdue": i}})
		}},
		{"Event create", func(w, i int) error {
			return cl.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", incs[w].Name, time.Now().UnixNano()), Namespace: ns},
				EventTime: metav1.NewMicroTime(time.Now()), ReportingController: "firescope.dev/manager", ReportingInstance: "writecost",
				Action: v1alpha1.EventSitrepOverdue, Reason: v1alpha1.EventSitrepOverdue, Type: corev1.EventTypeWarning, Note: fmt.Sprintf(message, i),
				Regarding: corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Incident", Namespace: ns, Name: incs[w].Name, UID: incs[w].UID}})
		}},
		{"Secret GET", func(w, i int) error {
			return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "comms"}, &corev1.Secret{})
		}},
		{"ConfigMap create", func(w, i int) error {
			return cl.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d-%x", i, time.Now().UnixNano()), Namespace: ns}, Data: map[string]string{"k": "v"}})
		}},
	}
	fmt.Printf("%-52s %6s %16s %10s %8s %6s\n", "request", "round", "kube-apiserver", "etcd", "p50", "busy")
	for round := 1; round <= 2; round++ {
		for _, k := range kinds {
			cpu, p50, err := measure(n, k.op)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			fmt.Printf("%-52s %6d %13.2fms %8.2fms %6.0fms %5.0f%%\n", k.name, round,
				benchenv.Ms(cpu.Used["kube-apiserver"])/float64(n), benchenv.Ms(cpu.Used["etcd"])/float64(n), benchenv.Ms(p50), 100*float64(cpu.Busy)/float64(max(cpu.Total, 1)))
		}
	}
	if profile == "" {
		return nil
	}
	return profiled(e, profile, kinds[0].op)
}

// profiled sends op from the writers while the API server takes a 20 s CPU profile.
func profiled(e *benchenv.Env, file string, op func(w, i int) error) error {
	done := make(chan error, 1)
	go func() { done <- e.SaveAPIServer(context.Background(), "/debug/pprof/profile?seconds=20", file) }()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err == nil {
				fmt.Printf("\nThe API server's CPU profile of 20 s of the controller's status patches: %s (go tool pprof -top %s)\n", file, file)
			}
			return err
		default:
		}
		if _, _, err := measure(writers*10, func(w, j int) error { return op(w, i*writers*10+j) }); err != nil {
			return err
		}
	}
}

// drills creates one drill Incident per writer and gives each the status the controller
// stores at a drill's fourth sitrep reminder, as the controller's field owner.
func drills(ctx context.Context, cl client.Client) ([]*v1alpha1.Incident, error) {
	var incs []*v1alpha1.Incident
	for w := range writers {
		inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("drill-%02d", w), Namespace: ns},
			Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateConfirmed, Drill: true,
				Roles:  v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"},
				Impact: &v1alpha1.Impact{Description: "Postgres cannot be provisioned"}}}
		if err := cl.Create(ctx, inc); err != nil {
			return nil, err
		}
		incs = append(incs, inc)
	}
	for _, inc := range incs {
		deadline := time.Now().Add(time.Minute)
		for len(inc.Status.Conditions) == 0 {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("the manager did not record %s", inc.Name)
			}
			time.Sleep(200 * time.Millisecond)
			if err := cl.Get(ctx, client.ObjectKeyFromObject(inc), inc); err != nil {
				return nil, err
			}
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		inc.Status.Timeline = append(inc.Status.Timeline, v1alpha1.TimelineEntry{At: now, Type: v1alpha1.TimelineReminder, Message: fmt.Sprintf(message, 30)})
		inc.Status.Reminders = &v1alpha1.Reminders{SitrepDueAt: &now, SitrepOverdue: 4}
		inc.Status.Outbox = []v1alpha1.OutboxItem{{ID: fmt.Sprintf("%024x", 0), Kind: v1alpha1.OutboxAnnounce, Reason: v1alpha1.EventSitrepOverdue,
			Message: fmt.Sprintf(message, 30), State: v1alpha1.OutboxSending, Attempts: 1}}
		if err := cl.Status().Update(ctx, inc, client.FieldOwner(incident.FieldOwner)); err != nil {
			return nil, err
		}
	}
	return incs, nil
}

// measure runs op n times over the writers and returns the CPU time used meanwhile and the
// requests' p50.
func measure(n int, op func(w, i int) error) (benchenv.CPU, time.Duration, error) {
	lat := make([][]time.Duration, writers)
	errs := make([]error, writers)
	before := benchenv.ReadCPU()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				start := time.Now()
				if errs[w] = op(w, i); errs[w] != nil {
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	cpu := benchenv.ReadCPU().Sub(before)
	var all []time.Duration
	for w := range writers {
		if errs[w] != nil {
			return cpu, 0, errs[w]
		}
		all = append(all, lat[w]...)
	}
	return cpu, benchenv.Quantile(all, 0.5), nil
}
