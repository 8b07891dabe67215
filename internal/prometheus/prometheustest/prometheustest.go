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

// Package prometheustest runs a real Prometheus (Debian's prometheus package, or the binary in
// $PROMETHEUS) in a temporary directory, scraping a small exporter whose gauges the test sets.
package prometheustest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Exporter serves gauges in the Prometheus text format.
type Exporter struct {
	mu     sync.Mutex
	gauges map[string]float64
	srv    *httptest.Server
}

// Set sets gauge name (a metric name, optionally with labels: `up{job="x"}`) to v.
func (e *Exporter) Set(name string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gauges[name] = v
}

func (e *Exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	names := make([]string, 0, len(e.gauges))
	for n := range e.gauges {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %g\n", n, e.gauges[n])
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// Server is a running Prometheus.
type Server struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Exporter is what it scrapes, every 500ms.
	Exporter *Exporter
}

// Binary returns the Prometheus binary to run, or "" when there is none.
func Binary() string {
	if p := os.Getenv("PROMETHEUS"); p != "" {
		return p
	}
	p, _ := exec.LookPath("prometheus")
	return p
}

// Start starts a Prometheus that scrapes a new Exporter, and stops both when the test ends.
// It fails the test when no Prometheus is installed (hack/install-test-deps.sh installs it).
func Start(t testing.TB) *Server {
	t.Helper()
	s, stop, err := Run(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// Run starts a Prometheus keeping its data in dir, scraping a new Exporter, and returns it
// once it is ready, with the function that stops both.
func Run(dir string) (*Server, func(), error) {
	bin := Binary()
	if bin == "" {
		return nil, nil, errors.New("no prometheus binary: run hack/install-test-deps.sh (Debian's prometheus package) or set PROMETHEUS")
	}
	exp := &Exporter{gauges: map[string]float64{}}
	exp.srv = httptest.NewServer(exp)
	target := strings.TrimPrefix(exp.srv.URL, "http://")
	cfg := fmt.Sprintf("global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n- job_name: exporter\n  static_configs:\n  - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		exp.srv.Close()
		return nil, nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		exp.srv.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logPath := filepath.Join(dir, "prometheus.log")
	log, err := os.Create(logPath)
	if err != nil {
		cancel()
		exp.srv.Close()
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		exp.srv.Close()
		return nil, nil, err
	}
	stop := func() {
		cancel()
		_ = cmd.Wait()
		_ = log.Close()
		exp.srv.Close()
	}
	s := &Server{URL: "http://" + addr, Exporter: exp}
	// Polled, with a short client timeout, until Prometheus says it is ready.
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := hc.Get(s.URL + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, stop, nil
			}
		}
	}
	stop()
	out, _ := os.ReadFile(logPath)
	return nil, nil, fmt.Errorf("prometheus did not become ready: %s", out)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}
