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

// Command failover measures how long Firescope is without a working leader when the leader
// dies. Two manager replicas run with leader election on a local control plane; each round
// kills the leader with SIGKILL, hands off an Incident's command at once, and times
// kill -> the standby acquires the Lease (the Lease's acquireTime) -> the hand-off reaches the
// Incident's status.timeline (the first reconcile effect people see). A fresh replica then
// replaces the killed one, so that every round starts with a leader and a standby.
//
//	make control-plane build
//	go run ./test/bench/failover -kills 10
//	go run ./test/bench/failover -lease-duration 15s -renew-deadline 10s -retry-period 2s   # the Deployment's settings
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/testenv"
	"firescope.dev/firescope/test/availability/replicas"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	kills := flag.Int("kills", 10, "number of leader kills")
	lease := replicas.Lease{Namespace: "kube-system"}
	flag.DurationVar(&lease.Duration, "lease-duration", 4*time.Second, "the managers' --leader-election-lease-duration")
	flag.DurationVar(&lease.RenewDeadline, "renew-deadline", 3*time.Second, "the managers' --leader-election-renew-deadline")
	flag.DurationVar(&lease.RetryPeriod, "retry-period", 500*time.Millisecond, "the managers' --leader-election-retry-period")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	if err := run(*kills, lease); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(kills int, lease replicas.Lease) error {
	ctx := context.Background()
	root := testenv.RepoRoot()
	dir, err := os.MkdirTemp("", "firescope-failover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := localcluster.Start(ctx, localcluster.Options{
		Dir: dir, Assets: os.Getenv("KUBEBUILDER_ASSETS"), User: "ricardo", NoManager: true,
		CRDs: filepath.Join(root, "config", "crd", "bases"), Webhooks: filepath.Join(root, "config", "webhook"),
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	cl, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return err
	}
	const ns = "failover"
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}, Spec: v1alpha1.IncidentSpec{
		Title: "Failover probe", State: v1alpha1.StateConfirmed, Roles: v1alpha1.Roles{Commander: "ricardo"}}}
	for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, inc} {
		if err := cl.Create(ctx, o); err != nil {
			return err
		}
	}

	set := &replicas.Set{Manager: filepath.Join(root, "bin", "manager"), Kubeconfig: c.Kubeconfig, Dir: dir, Lease: lease}
	var live []*replicas.Replica
	defer func() {
		for _, r := range live {
			r.Stop()
		}
	}()
	fmt.Printf("lease duration %s, renew deadline %s, retry period %s; %d kills\n\n", lease.Duration, lease.RenewDeadline, lease.RetryPeriod, kills)
	fmt.Printf("%5s  %18s  %22s\n", "kill", "kill -> lease (ms)", "kill -> timeline (ms)")
	var toLease, toTimeline []time.Duration
	for i := range kills {
		for len(live) < 2 {
			r, err := set.Start(ctx)
			if err != nil {
				return err
			}
			live = append(live, r)
		}
		// A round starts with a leader that has reconciled everything.
		var leader *replicas.Replica
		prev := fmt.Sprintf("ic-%d", i)
		if i == 0 {
			prev = "ricardo"
		}
		if err := wait(time.Minute, func() error {
			if err := inTimeline(ctx, cl, inc, "IC -> "+prev); err != nil {
				return err
			}
			leader, err = replicas.Leader(ctx, live...)
			return err
		}); err != nil {
			return err
		}
		before, err := replicas.GetLease(ctx, cl, lease.Namespace)
		if err != nil {
			return err
		}

		killedAt := time.Now()
		leader.Kill()
		next := fmt.Sprintf("ic-%d", i+1)
		patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"roles":{"commander":%q}}}`, next))
		if err := cl.Patch(ctx, inc.DeepCopy(), patch); err != nil {
			return err
		}
		var reachedAt time.Time
		if err := wait(time.Minute, func() error {
			if err := inTimeline(ctx, cl, inc, "IC -> "+next); err != nil {
				return err
			}
			reachedAt = time.Now()
			return nil
		}); err != nil {
			return err
		}
		after, err := replicas.GetLease(ctx, cl, lease.Namespace)
		if err != nil {
			return err
		}
		if replicas.Holder(after) == replicas.Holder(before) {
			return fmt.Errorf("kill %d: the Lease did not change hands", i+1)
		}
		acquired, err := replicas.AcquiredAt(after)
		if err != nil {
			return err
		}
		toLease = append(toLease, acquired.Sub(killedAt))
		toTimeline = append(toTimeline, reachedAt.Sub(killedAt))
		fmt.Printf("%5d  %18.0f  %22.0f\n", i+1, benchenv.Ms(toLease[i]), benchenv.Ms(toTimeline[i]))
		live = slices.DeleteFunc(live, func(r *replicas.Replica) bool { return r == leader })
	}
	fmt.Printf("\n%-22s  %8s  %8s\n", "", "p50 (ms)", "max (ms)")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"kill -> lease acquired", toLease}, {"kill -> timeline", toTimeline}} {
		fmt.Printf("%-22s  %8.0f  %8.0f\n", row.name, benchenv.Ms(benchenv.Quantile(row.d, 0.5)), benchenv.Ms(slices.Max(row.d)))
	}
	return nil
}

// inTimeline says whether the Incident's timeline holds message.
func inTimeline(ctx context.Context, cl client.Client, inc *v1alpha1.Incident, message string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cur := &v1alpha1.Incident{}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(inc), cur); err != nil {
		return err
	}
	for _, e := range cur.Status.Timeline {
		if e.Message == message {
			return nil
		}
	}
	return fmt.Errorf("no %q in the timeline yet", message)
}

// wait polls check every 10ms until it returns nil, or fails after timeout.
func wait(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not true after %s: %w", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
