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
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/testenv"
)

// Env is a running local control plane with the manager.
type Env struct {
	*localcluster.Cluster
	Client client.WithWatch
	// GatewayAddr is where bin/gateway listens, "" when it does not run.
	GatewayAddr string
	dir         string
}

// Start starts the control plane (KUBEBUILDER_ASSETS) and bin/manager, as user "ricardo",
// with extra flags for the manager.
func Start(ctx context.Context, managerArgs ...string) (*Env, error) {
	return StartWithEnv(ctx, nil, managerArgs...)
}

// StartWithEnv is Start with extra environment variables (NAME=value) for the manager alone.
func StartWithEnv(ctx context.Context, managerEnv []string, managerArgs ...string) (*Env, error) {
	return start(ctx, localcluster.Options{ManagerArgs: managerArgs, ManagerEnv: managerEnv})
}

// StartWithGateway is Start with bin/gateway too, listening on GatewayAddr.
func StartWithGateway(ctx context.Context) (*Env, error) {
	addr, err := localcluster.FreeAddr()
	if err != nil {
		return nil, err
	}
	return start(ctx, localcluster.Options{Gateway: filepath.Join(testenv.RepoRoot(), "bin", "gateway"), GatewayAddr: addr})
}

// start starts the control plane and the manager with o's other options.
func start(ctx context.Context, o localcluster.Options) (*Env, error) {
	root := testenv.RepoRoot()
	dir, err := os.MkdirTemp("", "firescope-bench-")
	if err != nil {
		return nil, err
	}
	o.Dir, o.Assets, o.User = dir, os.Getenv("KUBEBUILDER_ASSETS"), "ricardo"
	o.CRDs, o.Webhooks = filepath.Join(root, "config", "crd", "bases"), filepath.Join(root, "config", "webhook")
	o.Manager = filepath.Join(root, "bin", "manager")
	c, err := localcluster.Start(ctx, o)
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
	return &Env{Cluster: c, Client: cl, dir: dir, GatewayAddr: o.GatewayAddr}, nil
}

// Dir is the control plane's data directory, which holds the files the cluster writes for
// its users (the gateway's signing secret, say).
func (e *Env) Dir() string { return e.dir }

// Stop stops everything and removes the data.
func (e *Env) Stop() {
	e.Cluster.Stop()
	os.RemoveAll(e.dir)
}

// Metrics are the incident controller's counters, and the manager's API requests.
type Metrics struct {
	Reconciles, Errors, Patches float64
	// QueueSeconds and Queued sum the time Incidents waited in the work queue;
	// ReconcileSeconds sums the time their reconciles took.
	QueueSeconds, Queued, ReconcileSeconds float64
	// Requests counts the manager's API requests by method (GET, POST, PATCH, ...).
	Requests map[string]float64
	// RequestSeconds and Timed sum the time of the manager's API requests, and count them,
	// by verb.
	RequestSeconds, Timed map[string]float64
	// Announcements counts the comms channel's announcements by result (delivered,
	// retried, failed, dropped, unknown).
	Announcements map[string]float64
	// RSS is the manager's resident memory and Heap its Go heap in use, in bytes.
	RSS, Heap float64
}

// Writes is the number of API writes the manager made.
func (m Metrics) Writes() float64 {
	return m.Requests["POST"] + m.Requests["PATCH"] + m.Requests["PUT"] + m.Requests["DELETE"]
}

// Sub is m minus an earlier scrape.
func (m Metrics) Sub(a Metrics) Metrics {
	d := Metrics{Reconciles: m.Reconciles - a.Reconciles, Errors: m.Errors - a.Errors, Patches: m.Patches - a.Patches,
		QueueSeconds: m.QueueSeconds - a.QueueSeconds, Queued: m.Queued - a.Queued,
		ReconcileSeconds: m.ReconcileSeconds - a.ReconcileSeconds, Requests: map[string]float64{}, Announcements: map[string]float64{},
		RequestSeconds: map[string]float64{}, Timed: map[string]float64{}}
	for k, v := range m.Requests {
		d.Requests[k] = v - a.Requests[k]
	}
	for k, v := range m.RequestSeconds {
		d.RequestSeconds[k] = v - a.RequestSeconds[k]
	}
	for k, v := range m.Timed {
		d.Timed[k] = v - a.Timed[k]
	}
	for k, v := range m.Announcements {
		d.Announcements[k] = v - a.Announcements[k]
	}
	return d
}

// Scrape reads the manager's metrics endpoint.
func (e *Env) Scrape() Metrics {
	m := Metrics{Requests: map[string]float64{}, Announcements: map[string]float64{}, RequestSeconds: map[string]float64{}, Timed: map[string]float64{}}
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
		incident := strings.Contains(line, `controller="incident"`)
		switch {
		case strings.HasPrefix(line, "controller_runtime_reconcile_total{") && strings.Contains(line, `controller="incident"`):
			m.Reconciles += v
			if strings.Contains(line, `result="error"`) {
				m.Errors += v
			}
		case strings.HasPrefix(line, "firescope_incident_status_patches_total"):
			m.Patches += v
		case strings.HasPrefix(line, "workqueue_queue_duration_seconds_sum{") && incident:
			m.QueueSeconds += v
		case strings.HasPrefix(line, "workqueue_queue_duration_seconds_count{") && incident:
			m.Queued += v
		case strings.HasPrefix(line, "controller_runtime_reconcile_time_seconds_sum{") && incident:
			m.ReconcileSeconds += v
		case strings.HasPrefix(line, `firescope_notifications_total{channel="comms",result="`):
			result := strings.TrimPrefix(f[0], `firescope_notifications_total{channel="comms",result="`)
			m.Announcements[strings.TrimSuffix(result, `"}`)] += v
		case f[0] == "process_resident_memory_bytes":
			m.RSS = v
		case f[0] == "go_memstats_heap_inuse_bytes":
			m.Heap = v
		case strings.HasPrefix(line, "rest_client_request_duration_seconds_sum{"):
			m.RequestSeconds[label(line, "verb")] += v
		case strings.HasPrefix(line, "rest_client_request_duration_seconds_count{"):
			m.Timed[label(line, "verb")] += v
		case strings.HasPrefix(line, "rest_client_requests_total{"):
			if i := strings.Index(line, `method="`); i >= 0 {
				method := line[i+len(`method="`):]
				m.Requests[method[:strings.IndexByte(method, '"')]] += v
			}
		}
	}
	return m
}

// label is the value of a metric line's label name, or "".
func label(line, name string) string {
	i := strings.Index(line, name+`="`)
	if i < 0 {
		return ""
	}
	v := line[i+len(name)+2:]
	return v[:strings.IndexByte(v, '"')]
}

// MeanRequest is the mean time of the manager's API requests of verb, in milliseconds.
func (m Metrics) MeanRequest(verb string) float64 {
	return 1000 * m.RequestSeconds[verb] / max(m.Timed[verb], 1)
}

// CountEvents counts the Events in a namespace.
func (e *Env) CountEvents(ctx context.Context, ns string) int {
	l := &eventsv1.EventList{}
	if err := e.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
		return -1
	}
	return len(l.Items)
}

// WriteThroughput is the API server's own write rate: w writers creating ConfigMaps in ns
// for d, which are deleted afterwards.
func (e *Env) WriteThroughput(ctx context.Context, ns string, w int, d time.Duration) (float64, error) {
	var created atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, w)
	stop := time.Now().Add(d)
	for i := range w {
		wg.Go(func() {
			for j := 0; time.Now().Before(stop); j++ {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("throughput-%d-%d", i, j), Namespace: ns, Labels: throughputLabel}}
				if errs[i] = e.Client.Create(ctx, cm); errs[i] != nil {
					return
				}
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	rate := float64(created.Load()) / d.Seconds()
	return rate, e.Client.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(ns), client.MatchingLabels(throughputLabel))
}

var throughputLabel = map[string]string{"firescope.dev/bench": "throughput"}

// ReminderSkews returns, for every SitrepOverdue Event in ns from start to end, its time
// minus the due time of the interval it reminds of, for incidents on one cadence. Incidents
// are created at whole seconds (creation timestamps have second precision), so due times are
// exact; a reminder later than a whole cadence counts as an early one of the next interval.
func ReminderSkews(ctx context.Context, cl client.Client, ns string, start, end time.Time, cadence time.Duration) ([]time.Duration, error) {
	incs := &v1alpha1.IncidentList{}
	if err := cl.List(ctx, incs, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	opened := map[string]time.Time{}
	for _, inc := range incs.Items {
		opened[inc.Name] = inc.CreationTimestamp.Time
	}
	evs := &eventsv1.EventList{}
	if err := cl.List(ctx, evs, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var skews []time.Duration
	for _, e := range evs.Items {
		if e.Reason != v1alpha1.EventSitrepOverdue || e.EventTime.Time.Before(start) || !e.EventTime.Time.Before(end) {
			continue
		}
		base, ok := opened[e.Regarding.Name]
		if !ok {
			continue
		}
		late := e.EventTime.Time.Sub(base)
		interval := late / cadence // the reminder for interval k is due at base + k*cadence
		skews = append(skews, late-interval*cadence)
	}
	return skews, nil
}

// Save writes what a GET of url returns (a profile of the manager, say) to path.
func Save(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Quantile returns the p-quantile (0..1) of d.
func Quantile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
