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

// Package availability runs two manager replicas with leader election on a local control
// plane, kills the leader with SIGKILL, and checks that the other one takes over and carries
// on without doing anything twice.
package availability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/testenv"
	"firescope.dev/firescope/test/availability/replicas"
)

var (
	cluster *localcluster.Cluster
	cl      client.Client
	dir     string
	root    = testenv.RepoRoot()
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if _, err := os.Stat(filepath.Join(root, "bin", "manager")); err != nil || assets == "" {
		fmt.Fprintln(os.Stderr, "the availability test needs bin/manager and KUBEBUILDER_ASSETS: run it with `make test`")
		return 1
	}
	var err error
	if dir, err = os.MkdirTemp("", "firescope-availability-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster, err = localcluster.Start(context.Background(), localcluster.Options{
		Dir: dir, Assets: assets, User: "ricardo", NoManager: true,
		CRDs: filepath.Join(root, "config", "crd", "bases"), Webhooks: filepath.Join(root, "config", "webhook"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cluster.Stop()
	cfg, err := cluster.Config()
	if err == nil {
		cl, err = client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

const ns = "availability"

// lease is short so that the test runs fast; the Deployment uses the defaults (15s, 10s, 2s).
var lease = replicas.Lease{Namespace: "kube-system", Duration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond}

// takeoverBound is the longest a standby can take to acquire an abandoned Lease, counted from
// the leader's death. client-go's standby only counts the lease duration from when it last
// saw the Lease change, which it checks every retry period stretched by up to JitterFactor:
// it may see the leader's last renewal up to (1+JitterFactor)·retryPeriod late, and try to
// acquire up to (1+JitterFactor)·retryPeriod after the lease runs out.
var takeoverBound = lease.Duration + 2*time.Duration((1+leaderelection.JitterFactor)*float64(lease.RetryPeriod))

func TestTheStandbyTakesOverAfterTheLeaderIsKilledAndNothingIsDoneTwice(t *testing.T) {
	ctx := context.Background()
	sl := slack.New()
	defer sl.Close()
	sp := statuspage.New()
	defer sp.Close()
	sp.AddComponent("cmp0api", "Platform API")
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "comms", Namespace: ns, Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1")},
			StringData: map[string]string{"url": sl.WebhookURL()}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "statuspage", Namespace: ns, Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1")},
			StringData: map[string]string{"key": statuspage.APIKey}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns}, Spec: v1alpha1.StatusPageSpec{
			Provider: v1alpha1.ProviderStatuspage, URL: sp.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"},
			Components:           []v1alpha1.ComponentMapping{{Name: "Platform API", ID: "cmp0api"}}}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ResponsePolicySpec{
			StatusPageRef: &v1alpha1.LocalReference{Name: "public"},
			CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}}}},
	} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	set := &replicas.Set{Manager: filepath.Join(root, "bin", "manager"), Kubeconfig: cluster.Kubeconfig, Dir: dir, Lease: lease}
	var rs []*replicas.Replica
	for range 2 {
		r, err := set.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Stop()
		rs = append(rs, r)
	}
	defer func() {
		if t.Failed() {
			for _, r := range rs {
				b, _ := os.ReadFile(r.Log)
				t.Logf("%s log:\n%s", r.Name, b)
			}
		}
	}()

	// Before: three incidents declared and announced, one update each on the page.
	const incidents = 3
	for i := range incidents {
		name := fmt.Sprintf("inc-%d", i+1)
		if err := cl.Create(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: v1alpha1.IncidentSpec{
			Title: "Platform API errors " + name, State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}}); err != nil {
			t.Fatal(err)
		}
		createUpdate(t, name, 1)
	}
	settled := func(ic string, updates int) func() error {
		return func() error {
			for i := range incidents {
				name := fmt.Sprintf("inc-%d", i+1)
				if !slices.Contains(timeline(t, name), "IC -> "+ic) {
					return fmt.Errorf("%s: no hand-off to %s in the timeline yet", name, ic)
				}
				if n := countAnnounced(sl, name, "IC -> "+ic); n != 1 {
					return fmt.Errorf("%s: hand-off to %s announced %d times", name, ic, n)
				}
				for u := range updates {
					if err := published(ctx, fmt.Sprintf("%s-update-%d", name, u+1)); err != nil {
						return err
					}
				}
			}
			return nil
		}
	}
	testenv.Eventually(t, time.Minute, settled("ricardo", 1))

	leader, err := replicas.Leader(ctx, rs...)
	if err != nil {
		t.Fatal(err)
	}
	before, err := replicas.GetLease(ctx, cl, lease.Namespace)
	if err != nil {
		t.Fatal(err)
	}

	killedAt := time.Now()
	leader.Kill()
	t.Logf("killed the leader %s (%s)", leader.Name, replicas.Holder(before))
	// While nobody leads: a hand-off on every incident, and a second update for each.
	for i := range incidents {
		name := fmt.Sprintf("inc-%d", i+1)
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"roles":{"commander":"greg"}}}`))
		if err := cl.Patch(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, patch); err != nil {
			t.Fatal(err)
		}
		createUpdate(t, name, 2)
	}

	// The standby acquires the Lease, within the bound, by the Lease's own timestamps.
	var after = before
	testenv.Eventually(t, time.Minute, func() error {
		if after, err = replicas.GetLease(ctx, cl, lease.Namespace); err != nil {
			return err
		}
		if replicas.Holder(after) == replicas.Holder(before) {
			return fmt.Errorf("the Lease is still held by the killed leader")
		}
		return nil
	})
	acquired, err := replicas.AcquiredAt(after)
	if err != nil {
		t.Fatal(err)
	}
	took := acquired.Sub(killedAt)
	if took >= takeoverBound {
		t.Fatalf("the standby acquired the Lease %s after the kill, want under %s (lease %s, retry %s)", took, takeoverBound, lease.Duration, lease.RetryPeriod)
	}
	standby := rs[0]
	if standby == leader {
		standby = rs[1]
	}
	if now, err := replicas.Leader(ctx, standby); err != nil || now != standby {
		t.Fatalf("the standby does not report that it leads: %v", err)
	}
	t.Logf("%s acquired the Lease %s after the kill (bound %s)", standby.Name, took.Round(time.Millisecond), takeoverBound)

	// It carries on: the hand-offs reach the timelines and Slack, the pending updates the page.
	testenv.Eventually(t, time.Minute, settled("greg", 2))

	// Nothing twice: each Event, each announcement, each timeline entry, each post.
	evs := &eventsv1.EventList{}
	if err := cl.List(ctx, evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs.Items {
		key := e.Regarding.Name + " " + e.Reason + ": " + e.Note
		if seen[key] || (e.Series != nil && e.Series.Count > 1) {
			t.Errorf("Event reported twice: %s", key)
		}
		seen[key] = true
	}
	for i := range incidents {
		name := fmt.Sprintf("inc-%d", i+1)
		for _, h := range []string{"Handoff: IC -> ricardo", "Handoff: IC -> greg"} {
			if !seen[name+" "+h] {
				t.Errorf("%s: no Event %q", name, h)
			}
		}
		tl := timeline(t, name)
		for _, e := range tl {
			if n := count(tl, e); n > 1 {
				t.Errorf("%s: timeline entry %q %d times", name, e, n)
			}
		}
	}
	texts := sl.Texts()
	for _, s := range texts {
		if n := count(texts, s); n > 1 {
			t.Errorf("announced %d times: %q", n, s)
		}
	}
	pageIncidents := sp.Incidents()
	if len(pageIncidents) != incidents {
		t.Fatalf("%d incidents on the status page, want %d", len(pageIncidents), incidents)
	}
	for _, pi := range pageIncidents {
		var bodies []string
		for _, u := range pi.Updates {
			bodies = append(bodies, u.Body)
		}
		var name string
		if len(bodies) > 0 {
			name = strings.Fields(bodies[0])[0]
		}
		want := []string{updateMessage(name, 1), updateMessage(name, 2)}
		if !slices.Equal(bodies, want) {
			t.Errorf("status page incident %s holds %q, want %q", pi.ID, bodies, want)
		}
	}
}

func updateMessage(incident string, n int) string {
	return fmt.Sprintf("%s update %d: Platform API requests are failing; we are working on it.", incident, n)
}

func createUpdate(t *testing.T, incident string, n int) {
	t.Helper()
	su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-update-%d", incident, n), Namespace: ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: incident}, Status: "identified", Message: updateMessage(incident, n)}}
	if err := cl.Create(context.Background(), su); err != nil {
		t.Fatal(err)
	}
}

func published(ctx context.Context, name string) error {
	su := &v1alpha1.StatusUpdate{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, su); err != nil {
		return err
	}
	c := meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished)
	if c == nil || c.Status != metav1.ConditionTrue {
		return fmt.Errorf("%s is not published yet (%+v)", name, c)
	}
	return nil
}

// timeline returns the messages of an Incident's timeline.
func timeline(t *testing.T, name string) []string {
	t.Helper()
	inc := &v1alpha1.Incident{}
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, inc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range inc.Status.Timeline {
		out = append(out, e.Message)
	}
	return out
}

// countAnnounced counts the comms channel's announcements of message about one incident.
func countAnnounced(sl *slack.Server, incident, message string) int {
	n := 0
	for _, s := range sl.Texts() {
		if strings.HasPrefix(s, "@all: "+message+"\n") && strings.Contains(s, "("+ns+"/"+incident+",") {
			n++
		}
	}
	return n
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
