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

// Package replicas runs several manager binaries against one control plane with leader
// election, the way a Deployment with several replicas does, and tells which one leads. The
// availability test and the failover benchmark share it.
package replicas

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/internal/localcluster"
)

// LeaseName is the manager's leader election Lease.
const LeaseName = "firescope-manager.firescope.dev"

// Lease holds the leader election settings, the manager's --leader-election-* flags.
type Lease struct {
	Namespace                            string
	Duration, RenewDeadline, RetryPeriod time.Duration
}

// Args are the manager's leader election flags.
func (l Lease) Args() []string {
	return []string{
		"--leader-elect",
		"--leader-election-namespace=" + l.Namespace,
		"--leader-election-lease-duration=" + l.Duration.String(),
		"--leader-election-renew-deadline=" + l.RenewDeadline.String(),
		"--leader-election-retry-period=" + l.RetryPeriod.String(),
	}
}

// Set starts manager replicas.
type Set struct {
	// Manager is the binary, Kubeconfig the cluster, Dir where the logs go.
	Manager, Kubeconfig, Dir string
	Lease                    Lease
	n                        int
}

// Replica is one running manager process.
type Replica struct {
	Name, Log   string
	metricsAddr string
	cmd         *exec.Cmd
	exited      chan struct{}
}

// Start runs one more replica and waits until it is ready. The replicas serve no webhook:
// they would compete for its port, and the webhook has nothing to do with who leads.
func (s *Set) Start(ctx context.Context) (*Replica, error) {
	s.n++
	probe, err := localcluster.FreeAddr()
	if err != nil {
		return nil, err
	}
	r := &Replica{Name: fmt.Sprintf("manager-%d", s.n), exited: make(chan struct{})}
	if r.metricsAddr, err = localcluster.FreeAddr(); err != nil {
		return nil, err
	}
	r.Log = filepath.Join(s.Dir, r.Name+".log")
	logFile, err := os.Create(r.Log)
	if err != nil {
		return nil, err
	}
	args := append(s.Lease.Args(), "--health-probe-bind-address="+probe, "--metrics-bind-address="+r.metricsAddr,
		"--metrics-secure=false", "--webhooks=false",
		// The vendors' stand-ins listen on this machine.
		"--allow-private-destinations=127.0.0.0/8,::1")
	r.cmd = exec.Command(s.Manager, args...)
	r.cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	// A replica must not outlive the test, even a killed one.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { _ = r.cmd.Wait(); logFile.Close(); close(r.exited) }()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for localcluster.Probe(ctx, "http://"+probe+"/readyz") != nil {
		select {
		case <-r.exited:
			return nil, fmt.Errorf("%s exited before it was ready; see %s", r.Name, r.Log)
		case <-ctx.Done():
			r.Kill()
			return nil, fmt.Errorf("%s was not ready within a minute; see %s", r.Name, r.Log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return r, nil
}

// Kill kills the replica with SIGKILL, as a crash or a lost node would, and waits until it
// is gone.
func (r *Replica) Kill() {
	_ = r.cmd.Process.Kill()
	<-r.exited
}

// Stop stops the replica gracefully (it releases the lead), or kills it after ten seconds.
func (r *Replica) Stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.Kill()
	}
}

// Leads says whether the replica holds the lead, from its own leader_election_master_status
// metric. Every replica runs on this machine, so the host name in the Lease's holderIdentity
// is the same for all; the metric tells them apart.
func (r *Replica) Leads(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.metricsAddr+"/metrics", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "leader_election_master_status{") && strings.Contains(line, `name="`+LeaseName+`"`) {
			return strings.HasSuffix(line, " 1"), nil
		}
	}
	return false, sc.Err()
}

// Leader returns the one replica of rs that leads, or an error when none or several do.
func Leader(ctx context.Context, rs ...*Replica) (*Replica, error) {
	var leaders []*Replica
	for _, r := range rs {
		ok, err := r.Leads(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			leaders = append(leaders, r)
		}
	}
	if len(leaders) != 1 {
		return nil, fmt.Errorf("%d of %d replicas lead", len(leaders), len(rs))
	}
	return leaders[0], nil
}

// GetLease reads the leader election Lease.
func GetLease(ctx context.Context, c client.Client, namespace string) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l := &coordinationv1.Lease{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: LeaseName}, l)
	return l, err
}

// Holder is the Lease's holder identity, "" when nobody holds it.
func Holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// AcquiredAt is when the holder acquired the Lease.
func AcquiredAt(l *coordinationv1.Lease) (time.Time, error) {
	if l.Spec.AcquireTime == nil {
		return time.Time{}, errors.New("the Lease has no acquireTime")
	}
	return l.Spec.AcquireTime.Time, nil
}
