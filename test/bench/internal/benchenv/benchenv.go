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

// Package benchenv is what the benchmark programs share: a local control plane with the
// manager binary, a client for it, the manager's metrics, and quantiles.
package benchenv

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/testenv"
)

// Env is a running local control plane with the manager.
type Env struct {
	*localcluster.Cluster
	Client client.WithWatch
	dir    string
}

// Start starts the control plane (KUBEBUILDER_ASSETS) and bin/manager, as user "ricardo".
func Start(ctx context.Context) (*Env, error) {
	root := testenv.RepoRoot()
	dir, err := os.MkdirTemp("", "firescope-bench-")
	if err != nil {
		return nil, err
	}
	c, err := localcluster.Start(ctx, localcluster.Options{
		Dir: dir, Assets: os.Getenv("KUBEBUILDER_ASSETS"),
		CRDs: filepath.Join(root, "config", "crd", "bases"), Webhooks: filepath.Join(root, "config", "webhook"),
		Manager: filepath.Join(root, "bin", "manager"), User: "ricardo",
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfg, err := c.Config()
	if err == nil {
		cfg.QPS, cfg.Burst = 1000, 1000
	}
	var cl client.WithWatch
	if err == nil {
		cl, err = client.NewWithWatch(cfg, client.Options{Scheme: manager.NewScheme()})
	}
	if err != nil {
		c.Stop()
		os.RemoveAll(dir)
		return nil, err
	}
	return &Env{Cluster: c, Client: cl, dir: dir}, nil
}

// Stop stops everything and removes the data.
func (e *Env) Stop() {
	e.Cluster.Stop()
	os.RemoveAll(e.dir)
}

// Metrics are the incident controller's counters.
type Metrics struct{ Reconciles, Errors, Patches float64 }

// Scrape reads the manager's metrics endpoint.
func (e *Env) Scrape() Metrics {
	var m Metrics
	resp, err := http.Get("http://" + e.MetricsAddr + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch {
		case strings.HasPrefix(line, "controller_runtime_reconcile_total{") && strings.Contains(line, `controller="incident"`):
			m.Reconciles += v
			if strings.Contains(line, `result="error"`) {
				m.Errors += v
			}
		case strings.HasPrefix(line, "firescope_incident_status_patches_total"):
			m.Patches += v
		}
	}
	return m
}

// CountEvents counts the Events in a namespace.
func (e *Env) CountEvents(ctx context.Context, ns string) int {
	l := &eventsv1.EventList{}
	if err := e.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
		return -1
	}
	return len(l.Items)
}

// Quantile returns the p-quantile (0..1) of d.
func Quantile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
