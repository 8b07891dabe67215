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

// Package testenv starts a real kube-apiserver and etcd for integration tests, with the
// Firescope CRDs and webhook configuration installed. The binaries are the ones
// hack/build-control-plane.sh builds; `make test` points KUBEBUILDER_ASSETS at them.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/safehttp"
)

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	Client client.Client

	stopManager func()
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts etcd and kube-apiserver and installs the CRDs and, if webhooks is true, the
// webhook configuration pointing at a local server with generated certificates. It fails the
// process with a clear message when the binaries are missing.
func Start(webhooks bool) (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds " +
			"kube-apiserver and etcd into bin/ and points KUBEBUILDER_ASSETS at them")
	}
	root := RepoRoot()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if webhooks {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(root, "config", "webhook")},
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Environment: env, Config: cfg, Client: c}, nil
}

// StartManager runs the Firescope manager, webhooks included when the environment has them.
// It returns once the caches have synced and the webhook serves, with a function that stops
// the manager and waits until it has (so that a restarted one can take its port).
func (e *Env) StartManager(opts manager.Options) (stop func(), err error) {
	wh := e.WebhookInstallOptions
	opts.Webhooks = len(wh.MutatingWebhooks) > 0
	if opts.AllowPrivateDestinations == nil {
		// Test servers listen on 127.0.0.1.
		opts.AllowPrivateDestinations = safehttp.Loopback()
	}
	opts.CertDir = wh.LocalServingCertDir
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:  manager.NewScheme(),
		Cache:   manager.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
		HealthProbeBindAddress: "0",
		// Tests start a fresh manager to show what a restart does; names repeat then.
		Controller: config.Controller{SkipNameValidation: ptr.To(true), ReconciliationTimeout: manager.ReconcileTimeout},
	})
	if err != nil {
		return nil, err
	}
	if err := manager.Setup(mgr, opts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop = func() { cancel(); <-done }
	ready := func() error {
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return fmt.Errorf("manager caches did not sync")
		}
		if !opts.Webhooks {
			return nil
		}
		// The webhook fails open, so a test that ran before it serves would pass by accident.
		started := mgr.GetWebhookServer().StartedChecker()
		deadline := time.After(time.Minute)
		for started(nil) != nil {
			select {
			case err := <-done:
				return fmt.Errorf("manager stopped: %v", err)
			case <-deadline:
				return fmt.Errorf("the webhook server did not start within a minute")
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}
	if err := ready(); err != nil {
		cancel()
		return nil, err
	}
	return stop, nil
}

// As returns a client that acts as user, through impersonation, so that admission sees
// that user's userInfo. The user is in system:masters so that RBAC is not in the way.
func (e *Env) As(user string) client.Client {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters"}}
	c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		panic(err)
	}
	return c
}

// Eventually calls check until it returns nil or the timeout passes, then fails the test with
// the last error.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Chromium runs Debian's headless Chromium with args (such as --dump-dom URL or
// --screenshot=FILE URL) and returns its standard output. A machine without it fails the
// test, rather than skip it, so that it is noticed: hack/install-test-deps.sh installs it.
func Chromium(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run hack/install-test-deps.sh (Debian's chromium package)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

var (
	sharedOnce sync.Once
	shared     *Env
	sharedErr  error
)

// Shared returns the package's control plane, with the webhooks installed and the manager
// running, started on first use so that the unit tests of the same package need neither. Run
// the package's tests through Main so that it stops at the end.
func Shared(t testing.TB) *Env {
	t.Helper()
	sharedOnce.Do(func() {
		if shared, sharedErr = Start(true); sharedErr == nil {
			sharedErr = shared.RunManager()
		}
	})
	if sharedErr != nil {
		t.Fatalf("starting the control plane: %v", sharedErr)
	}
	return shared
}

// Main runs a package's tests and stops the shared control plane, if they started it.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.StopManager()
		_ = shared.Stop()
	}
	os.Exit(code)
}

// RunManager starts the manager that StopManager stops.
func (e *Env) RunManager() error {
	stop, err := e.StartManager(manager.Options{})
	e.stopManager = stop
	return err
}

// StopManager stops the manager RunManager started, as a shutdown would.
func (e *Env) StopManager() {
	if e.stopManager != nil {
		e.stopManager()
		e.stopManager = nil
	}
}
