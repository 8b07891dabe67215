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

// Command drill measures how punctual drill injects are: it starts d Drills at once on a local
// control plane with the manager binary and a fake Slack channel, each with 50 injects spaced
// apart, and prints the skew of each inject's arrival in Slack against its planned time. It
// then grades a run with a full 200-entry timeline and prints the grading time per run.
//
//	go run ./test/bench/drill -drills 2 -every 300ms
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/drill"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	drills := flag.Int("drills", 2, "drills started at once, each with 50 injects")
	every := flag.Duration("every", 300*time.Millisecond, "spacing of the injects")
	flag.Parse()
	if err := run(*drills, *every); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	gradingTime()
}

func run(drills int, every time.Duration) error {
	ctx := context.Background()
	e, err := benchenv.Start(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl := e.Client
	sl := slack.New()
	defer sl.Close()
	ns := "bench"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{credentials.Label: "true"},
			Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1"), Name: "comms", Namespace: ns}, StringData: map[string]string{"url": sl.WebhookURL()}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
			CommsChannel: &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}},
		}},
	} {
		if err := cl.Create(ctx, obj); err != nil {
			return err
		}
	}
	for i := range drills {
		var injects []v1alpha1.Inject
		for j := range v1alpha1.MaxInjects {
			injects = append(injects, v1alpha1.Inject{At: metav1.Duration{Duration: time.Duration(j) * every}, Type: v1alpha1.InjectNote,
				Message: fmt.Sprintf("bench-inject %d/%d", i, j)})
		}
		d := &v1alpha1.Drill{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("d%d", i), Namespace: ns, Annotations: map[string]string{v1alpha1.AnnotationStartDrill: "bench"}},
			Spec: v1alpha1.DrillSpec{Scenario: v1alpha1.DrillScenario{Inline: &v1alpha1.DrillScenarioSpec{Title: "bench", Injects: injects}},
				Commander: "ricardo", TimeLimit: metav1.Duration{Duration: time.Hour}}}
		if err := cl.Create(ctx, d); err != nil {
			return err
		}
	}
	want := drills * v1alpha1.MaxInjects
	deadline := time.Now().Add(time.Duration(v1alpha1.MaxInjects)*every + 2*time.Minute)
	for len(arrived(sl)) < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d injects arrived", len(arrived(sl)), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The plan counts from each run's start, its Incident's creation time.
	starts := map[string]time.Time{}
	list := &v1alpha1.DrillList{}
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, d := range list.Items {
		if d.Status.Active == nil {
			return fmt.Errorf("drill %s has no run under way", d.Name)
		}
		starts[d.Name] = d.Status.Active.StartedAt.Time
	}
	var skews []time.Duration
	for _, m := range arrived(sl) {
		var i, j int
		if _, err := fmt.Sscanf(m.Text[strings.Index(m.Text, "bench-inject"):], "bench-inject %d/%d", &i, &j); err != nil {
			return err
		}
		planned := starts[fmt.Sprintf("d%d", i)].Add(time.Duration(j) * every)
		skews = append(skews, m.At.Sub(planned))
	}
	slices.Sort(skews)
	fmt.Printf("Drill inject skew (arrival in Slack - planned time), %d injects of %d drills every %s:\n", len(skews), drills, every)
	fmt.Printf("  p50 %.0fms  p99 %.0fms  max %.0fms\n", benchenv.Ms(benchenv.Quantile(skews, 0.5)), benchenv.Ms(benchenv.Quantile(skews, 0.99)), benchenv.Ms(skews[len(skews)-1]))
	return nil
}

func arrived(sl *slack.Server) []slack.Message {
	var out []slack.Message
	for _, m := range sl.Messages() {
		if strings.Contains(m.Text, "bench-inject") {
			out = append(out, m)
		}
	}
	return out
}

// gradingTime grades a run whose timeline is full: 200 entries of sitreps, hand-offs, state
// changes and status updates.
func gradingTime() {
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	inc := &v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{State: v1alpha1.StateMajor}}
	add := func(i int, typ v1alpha1.TimelineEntryType, msg string) {
		inc.Status.Timeline = append(inc.Status.Timeline, v1alpha1.TimelineEntry{At: metav1.NewTime(start.Add(time.Duration(i) * 10 * time.Second)), Type: typ, Message: msg})
	}
	add(0, v1alpha1.TimelineDeclared, "Incident declared (Investigating)")
	add(0, v1alpha1.TimelineHandoff, "IC -> ricardo")
	add(1, v1alpha1.TimelineStateChanged, "Incident Confirmed")
	add(2, v1alpha1.TimelineHandoff, "Comms -> keiko")
	for i := 3; len(inc.Status.Timeline) < v1alpha1.MaxTimelineEntries; i++ {
		switch i % 3 {
		case 0:
			add(i, v1alpha1.TimelineSitrep, fmt.Sprintf("Sitrep %d from ricardo: EC2 API errors", i))
		case 1:
			add(i, v1alpha1.TimelineStatusUpdate, fmt.Sprintf("Status update %d written (drill: held from customers)", i))
		default:
			add(i, v1alpha1.TimelineHandoff, fmt.Sprintf("IC -> person-%d", i))
		}
	}
	sc := &v1alpha1.DrillScenarioSpec{Title: "bench", ExpectHandoff: true}
	end := start.Add(time.Hour)
	const n = 2000
	t0 := time.Now()
	for range n {
		drill.Grade(inc, nil, sc, nil, start, end)
	}
	per := time.Since(t0) / n
	fmt.Printf("Grading time per run (%d-entry timeline, %d runs): %.1fµs\n", len(inc.Status.Timeline), n, float64(per)/float64(time.Microsecond))
}
