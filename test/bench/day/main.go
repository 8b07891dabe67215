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

// Command day plays a scripted day of incidents (twelve across three namespaces, two of them
// drills: confirmations, escalations, hand-offs, sitreps on time and late, status updates,
// resolutions and a reopen) against a real API server, with the manager under a fake clock so
// that the day takes about a minute. It then prints the firescope_ lines of the manager's
// metrics endpoint: the response figures the Grafana dashboard is built on.
//
//	make control-plane
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s-v1.37.2-etcd-v3.7.3 go run ./test/bench/day
//
// The incidents are played one after another. Each is declared on the real clock (the API
// server stamps its creation time, which is its declaration) and the fake clock is then set to
// the declaration plus each step's minute, so every duration in the metrics is the scripted
// one. Reminders fall due only when a step wakes the incident, so the reminder skew histogram
// says nothing about the day.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/webhook"
	"firescope.dev/firescope/internal/testenv"
)

// step is one thing people do, at a minute after the declaration.
type step struct {
	min  int
	what string // confirm, major, downgrade, resolve, reopen, sitrep, update <status>, ic <who>, comms <who>
}

type incident struct {
	ns, name, title string
	declared        v1alpha1.IncidentState
	drill           bool
	steps           []step
}

// The day. Sitreps are due every 30m Investigating, 60m Confirmed, 30m Major (the defaults),
// from the latest of the declaration, the last reopen and the last sitrep.
var day = []incident{
	{"platform", "ec2-api-errors", "AWS EC2 API problems", v1alpha1.StateInvestigating, false, []step{
		{10, "sitrep"}, {12, "confirm"}, {12, "comms keiko"}, {20, "update identified"}, {35, "major"},
		{40, "sitrep"}, {60, "ic greg-burek"}, {75, "sitrep"}, {80, "update monitoring"}, {95, "resolve"}, {97, "update resolved"}}},
	{"platform", "router-latency", "Elevated HTTP latency at the router", v1alpha1.StateInvestigating, false, []step{
		{25, "sitrep"}, {28, "confirm"}, {28, "comms chris-stolt"}, {35, "update investigating"}, {50, "resolve"}, {52, "update resolved"}}},
	{"platform", "build-queue-backlog", "Slow builds", v1alpha1.StateInvestigating, false, []step{
		{45, "sitrep"}, {50, "resolve"}}},
	{"payments", "card-declines", "Card payments declined", v1alpha1.StateConfirmed, false, []step{
		{2, "comms keiko"}, {8, "update identified"}, {30, "sitrep"}, {95, "sitrep"}, {100, "resolve"}, {102, "update resolved"}}},
	{"payments", "webhook-delays", "Payment webhooks delayed", v1alpha1.StateInvestigating, false, []step{
		{20, "confirm"}, {20, "comms chris-stolt"}, {45, "update identified"}, {50, "sitrep"}, {70, "resolve"}, {75, "update resolved"}}},
	{"payments", "checkout-errors", "Checkout errors", v1alpha1.StateMajor, false, []step{
		{1, "comms keiko"}, {5, "update investigating"}, {20, "sitrep"}, {50, "sitrep"}, {55, "downgrade"}, {100, "sitrep"},
		{120, "resolve"}, {122, "update resolved"}, {150, "reopen"}, {160, "sitrep"}, {180, "resolve"}}},
	{"data", "replica-lag", "Read replicas lagging", v1alpha1.StateInvestigating, false, []step{
		{20, "sitrep"}, {30, "confirm"}, {30, "comms harold"}, {40, "update identified"}, {70, "sitrep"}, {90, "resolve"}}},
	{"data", "backup-failures", "Nightly backups failing", v1alpha1.StateInvestigating, false, []step{
		{35, "sitrep"}, {40, "resolve"}}},
	{"data", "postgres-failover", "Postgres primary failover", v1alpha1.StateMajor, false, []step{
		{2, "comms harold"}, {12, "update identified"}, {25, "sitrep"}, {45, "ic noah"}, {60, "sitrep"}, {80, "resolve"}, {85, "update resolved"}}},
	{"platform", "dns-resolution", "DNS resolution failures", v1alpha1.StateConfirmed, false, []step{
		{3, "comms keiko"}, {10, "update identified"}, {40, "sitrep"}, {55, "resolve"}, {58, "update resolved"}}},
	{"platform", "drill-ec2-api-errors", "[drill] AWS EC2 API problems", v1alpha1.StateInvestigating, true, []step{
		{3, "sitrep"}, {5, "confirm"}, {5, "comms keiko"}, {8, "update identified"}, {10, "major"}, {15, "ic greg-burek"}, {16, "sitrep"}, {20, "resolve"}}},
	{"payments", "drill-heartbleed", "[drill] OpenSSL Heartbleed", v1alpha1.StateInvestigating, true, []step{
		{4, "confirm"}, {4, "comms chris-stolt"}, {6, "major"}, {12, "sitrep"}, {45, "sitrep"}, {50, "resolve"}}},
}

func main() {
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	env, err := testenv.Start(true)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	clk := clocktesting.NewFakeClock(time.Now())
	stop, err := env.StartManager(manager.Options{Clock: clk})
	if err != nil {
		return err
	}
	defer stop()
	// The manager's registry, served as the manager's metrics endpoint serves it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(l, promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{})) }()

	sl, page := slack.New(), webhook.New()
	defer sl.Close()
	defer page.Close()
	d := &driver{c: env.Client, as: env.As("ricardo"), clk: clk}
	for _, ns := range []string{"platform", "payments", "data"} {
		if err := d.namespace(ns, sl.WebhookURL(), page); err != nil {
			return err
		}
	}
	began := time.Now()
	for _, inc := range day {
		if err := d.play(inc); err != nil {
			return fmt.Errorf("%s/%s: %w", inc.ns, inc.name, err)
		}
	}
	fmt.Fprintf(os.Stderr, "played %d incidents in %s; %d announcements, %d status updates published\n",
		len(day), time.Since(began).Round(time.Second), len(sl.Texts()), len(page.Announcements()))
	return printMetrics("http://" + l.Addr().String() + "/metrics")
}

type driver struct {
	c, as client.Client
	clk   *clocktesting.FakeClock
}

// namespace creates a team's namespace: Slack for announcements, a webhook status page that
// does not allow drills, and a default policy on the documented cadences.
func (d *driver) namespace(ns, slackURL string, page *webhook.Server) error {
	ctx := context.Background()
	cred := map[string]string{"firescope.dev/credential": "true"}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "comms", Namespace: ns, Labels: cred, Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1")}, StringData: map[string]string{"url": slackURL}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "page", Namespace: ns, Labels: cred, Annotations: credentials.Annotations(credentials.Webhook, "127.0.0.1")}, Data: map[string][]byte{"secret": page.Secret()}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns}, Spec: v1alpha1.StatusPageSpec{
			Provider: v1alpha1.ProviderWebhook, URL: page.URL, CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "page", Key: "secret"}}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName, Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
			CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}},
			StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}},
	} {
		if err := d.c.Create(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// play declares one incident and runs its steps, each at its minute on the fake clock, and
// waits for the controller to record each before the clock moves on.
func (d *driver) play(s incident) error {
	ctx := context.Background()
	// The declaration is stamped by the API server: start the fake clock there.
	d.clk.SetTime(time.Now())
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.ns},
		Spec: v1alpha1.IncidentSpec{Title: s.title, State: s.declared, Drill: s.drill,
			Impact: &v1alpha1.Impact{Description: s.title}}}
	if err := d.as.Create(ctx, inc); err != nil {
		return err
	}
	opened := inc.CreationTimestamp.Time
	d.clk.SetTime(opened)
	if err := d.wait(inc, func(i *v1alpha1.Incident) bool { return i.Status.Recorded.State == s.declared }); err != nil {
		return err
	}
	updates := 0
	for _, st := range s.steps {
		d.clk.SetTime(opened.Add(time.Duration(st.min) * time.Minute))
		verb, arg, _ := strings.Cut(st.what, " ")
		patch := client.MergeFrom(inc.DeepCopy())
		var done func(*v1alpha1.Incident) bool
		switch verb {
		case "confirm", "downgrade", "major", "resolve", "reopen":
			to := map[string]v1alpha1.IncidentState{"confirm": v1alpha1.StateConfirmed, "downgrade": v1alpha1.StateConfirmed,
				"major": v1alpha1.StateMajor, "resolve": v1alpha1.StateResolved, "reopen": v1alpha1.StateInvestigating}[verb]
			inc.Spec.State = to
			done = func(i *v1alpha1.Incident) bool { return i.Status.Recorded.State == to }
		case "sitrep":
			inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{Summary: s.title + ": update from the IC"})
			n := int32(len(inc.Spec.Sitreps))
			done = func(i *v1alpha1.Incident) bool { return i.Status.Recorded.Sitreps == n }
		case "ic":
			inc.Spec.Roles.Commander = v1alpha1.Person(arg)
			done = func(i *v1alpha1.Incident) bool { return i.Status.Recorded.Roles.Commander == v1alpha1.Person(arg) }
		case "comms":
			inc.Spec.Roles.Communications = v1alpha1.Person(arg)
			done = func(i *v1alpha1.Incident) bool { return i.Status.Recorded.Roles.Communications == v1alpha1.Person(arg) }
		case "update":
			updates++
			if err := d.statusUpdate(inc, updates, arg); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("unknown step %q", st.what)
		}
		if err := d.as.Patch(ctx, inc, patch); err != nil {
			return fmt.Errorf("%s at minute %d: %w", st.what, st.min, err)
		}
		if err := d.wait(inc, done); err != nil {
			return fmt.Errorf("%s at minute %d: %w", st.what, st.min, err)
		}
	}
	return nil
}

// statusUpdate publishes the n-th update of an incident and waits until the incident has
// recorded it; a drill's is held instead, and waits for that.
func (d *driver) statusUpdate(inc *v1alpha1.Incident, n int, status string) error {
	ctx := context.Background()
	su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", inc.Name, n), Namespace: inc.Namespace},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: inc.Name}, Status: v1alpha1.UpdateStatus(status),
			Message: inc.Spec.Title + " for some customers. We are working on it. No action is needed on your part."}}
	if err := d.as.Create(ctx, su); err != nil {
		return err
	}
	if inc.Spec.Drill {
		return poll(func() (bool, error) {
			err := d.c.Get(ctx, client.ObjectKeyFromObject(su), su)
			c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
			return c != nil && c.Reason == v1alpha1.ReasonDrill, err
		})
	}
	return d.wait(inc, func(i *v1alpha1.Incident) bool { return i.Status.Recorded.StatusUpdates == int32(n) })
}

func (d *driver) wait(inc *v1alpha1.Incident, done func(*v1alpha1.Incident) bool) error {
	got := &v1alpha1.Incident{}
	err := poll(func() (bool, error) {
		if err := d.c.Get(context.Background(), client.ObjectKeyFromObject(inc), got); err != nil {
			return false, err
		}
		return got.Status.Recorded != nil && done(got), nil
	})
	if err == nil {
		inc.ResourceVersion = got.ResourceVersion
	}
	return err
}

func poll(ok func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, err := ok()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within 30s (last error: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// printMetrics prints the firescope_ lines of the metrics endpoint.
func printMetrics(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "firescope_") {
			fmt.Println(sc.Text())
		}
	}
	return sc.Err()
}
