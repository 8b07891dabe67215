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

// Package localcluster runs Firescope on a machine with nothing else: a local etcd,
// kube-apiserver and kube-controller-manager (the binaries hack/build-control-plane.sh
// builds), the CRDs and the webhook configuration, and the manager binary, with a kubeconfig
// for the person at the keyboard.
// With an existing cluster it installs the CRDs there and runs the manager against it.
package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	spapi "firescope.dev/firescope/internal/statuspage/api"
	spclient "firescope.dev/firescope/internal/statuspage/client"
)

// Options configures a local run.
type Options struct {
	// Dir keeps the state across restarts: etcd's data, the kubeconfig, logs.
	Dir string
	// Assets is the directory with kube-apiserver, kube-controller-manager and etcd.
	Assets string
	// CRDs and Webhooks are directories of manifests to install.
	CRDs, Webhooks string
	// Manager is the manager binary to run.
	Manager string
	// User is the name the kubeconfig authenticates as; it becomes the IC of incidents
	// declared without one.
	User string
	// Kubeconfig, when set, names an existing cluster to use instead of a local one.
	Kubeconfig string
	// Out receives the instructions for the user.
	Out io.Writer
	// ManagerArgs are extra flags for the manager, and ManagerEnv extra environment
	// variables (NAME=value) for it alone.
	ManagerArgs, ManagerEnv []string
	// StatusPage, when set, is the status page binary to run beside the manager, listening on
	// StatusPageAddr with its data and write token in Dir.
	StatusPage, StatusPageAddr string
	// Gateway, when set, is the chat gateway binary to run, listening on GatewayAddr.
	Gateway, GatewayAddr string
	// NoManager starts the control plane without the manager, for callers that run their
	// own managers (several replicas, say).
	NoManager bool
}

// Cluster is a running system.
type Cluster struct {
	opts       Options
	env        *envtest.Environment
	manager    *process
	kcm        *process
	statusPage *exec.Cmd
	gateway    *process
	// Kubeconfig is the path of the kubeconfig that reaches the control plane.
	Kubeconfig string
	// MetricsAddr is where the manager serves metrics over plain HTTP.
	MetricsAddr string
}

// Start brings the system up and returns once the manager is ready.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts}
	var err error
	if opts.Kubeconfig != "" {
		err = c.useExisting()
	} else {
		err = c.startControlPlane(ctx)
	}
	if err == nil && !opts.NoManager {
		err = c.StartManager(ctx)
	}
	if err == nil && opts.StatusPage != "" {
		err = c.startStatusPage(ctx)
	}
	if err == nil && opts.StatusPage != "" && c.env != nil {
		err = c.registerStatusPage(ctx)
	}
	if err == nil && opts.Gateway != "" {
		err = c.startGateway(ctx)
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startControlPlane(ctx context.Context) error {
	for _, bin := range []string{"kube-apiserver", "kube-controller-manager", "etcd"} {
		if _, err := os.Stat(filepath.Join(c.opts.Assets, bin)); err != nil {
			return fmt.Errorf("%s is missing from %s: run `make control-plane` to build it", bin, c.opts.Assets)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: c.opts.Assets,
		CRDDirectoryPaths:     []string{c.opts.CRDs},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{c.opts.Webhooks}},
	}
	etcd := &envtest.Etcd{}
	env.ControlPlane.Etcd = etcd
	etcd.DataDir = filepath.Join(c.opts.Dir, "etcd")
	// Keep what people typed: the test default trades durability for speed.
	etcd.Configure().Set("unsafe-no-fsync", "false")
	if err := os.MkdirAll(etcd.DataDir, 0o700); err != nil {
		return err
	}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting the local control plane: %w", err)
	}
	c.env = env
	user, err := env.AddUser(envtest.User{Name: c.opts.User, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.opts.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return err
	}
	return c.startControllerManager(ctx)
}

func (c *Cluster) useExisting() error {
	c.Kubeconfig = c.opts.Kubeconfig
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.Kubeconfig, err)
	}
	_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{c.opts.CRDs}, ErrorIfPathMissing: true})
	return err
}

// StartManager runs the manager binary and waits for its readiness endpoint.
func (c *Cluster) StartManager(ctx context.Context) error {
	probe, err := FreeAddr()
	if err != nil {
		return err
	}
	c.MetricsAddr, err = FreeAddr()
	if err != nil {
		return err
	}
	args := []string{
		"--health-probe-bind-address=" + probe,
		"--metrics-bind-address=" + c.MetricsAddr,
		"--metrics-secure=false",
		// The local status page and the vendors' stand-ins in tests listen on this machine.
		"--allow-private-destinations=127.0.0.0/8,::1",
	}
	if c.env != nil {
		wh := c.env.WebhookInstallOptions
		args = append(args, "--webhook-port="+strconv.Itoa(wh.LocalServingPort), "--webhook-cert-path="+wh.LocalServingCertDir)
	} else {
		// A remote API server cannot call a webhook on this machine; CEL still validates.
		args = append(args, "--webhooks=false")
	}
	args = append(args, c.opts.ManagerArgs...)
	p, err := startProcess("the manager", filepath.Join(c.opts.Dir, "manager.log"), c.opts.Manager, args, append([]string{"KUBECONFIG=" + c.Kubeconfig}, c.opts.ManagerEnv...))
	if err != nil {
		return err
	}
	c.manager = p
	return p.waitReady(ctx, http.DefaultClient, "http://"+probe+"/readyz")
}

// Exited is closed if the manager stops; ExitErr then says how.
func (c *Cluster) Exited() <-chan struct{} {
	if c.manager == nil {
		return nil
	}
	return c.manager.exited
}

// ExitErr is the manager's exit status once Exited is closed.
func (c *Cluster) ExitErr() error { return c.manager.err }

// Config returns a client configuration for the control plane.
func (c *Cluster) Config() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
}

// StopManager stops the manager gracefully, or kills it after ten seconds.
func (c *Cluster) StopManager() {
	if c.manager != nil {
		c.manager.stop()
	}
}

// KillManager kills the manager with SIGKILL, as a crash would.
func (c *Cluster) KillManager() {
	if c.manager != nil {
		c.manager.kill()
	}
}

// startStatusPage runs the status page server with its tokens kept in Dir (made once): the
// admin token, and the default namespace's token in a directory of namespace tokens. It waits
// until the server answers.
func (c *Cluster) startStatusPage(ctx context.Context) error {
	tokenFile := filepath.Join(c.opts.Dir, "statuspage-token")
	tokensDir := filepath.Join(c.opts.Dir, "statuspage-tokens")
	if err := os.MkdirAll(tokensDir, 0o700); err != nil {
		return err
	}
	for _, file := range []string{tokenFile, filepath.Join(tokensDir, "default")} {
		if _, err := os.Stat(file); err == nil {
			continue
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(file, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			return err
		}
	}
	logPath := filepath.Join(c.opts.Dir, "statuspage.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(c.opts.StatusPage, "--listen="+c.opts.StatusPageAddr, "--token-file="+tokenFile, "--tokens-dir="+tokensDir,
		"--data="+filepath.Join(c.opts.Dir, "statuspage.db"), "--page-name=Local Status",
		// Subscribers' mails stay on this machine: the page shows them at /dev/mail.
		"--smtp-sink=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", c.opts.StatusPage, err)
	}
	c.statusPage = cmd
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for Probe(ctx, "http://"+c.opts.StatusPageAddr+"/healthz") != nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the status page did not answer on %s; see %s:\n%s", c.opts.StatusPageAddr, logPath, tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// registerStatusPage makes the local status page known to the cluster: a StatusPage named
// "local" in the default namespace, with that namespace's token in the Secret
// "statuspage-local", bound to the firescope provider and to the page's address. The components
// are made with the admin token.
func (c *Cluster) registerStatusPage(ctx context.Context) error {
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	token, err := os.ReadFile(filepath.Join(c.opts.Dir, "statuspage-tokens", "default"))
	if err != nil {
		return err
	}
	admin, err := os.ReadFile(filepath.Join(c.opts.Dir, "statuspage-token"))
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "statuspage-local", Namespace: "default"}}
	if _, err := controllerutil.CreateOrUpdate(ctx, cl, secret, func() error {
		secret.Labels = map[string]string{credentials.Label: "true"}
		secret.Annotations = credentials.Annotations(credentials.Firescope, c.opts.StatusPageAddr)
		secret.Data = map[string][]byte{"token": token}
		return nil
	}); err != nil {
		return err
	}
	// The sample incident's components, on the page and mapped for StatusUpdates.
	url := "http://" + c.opts.StatusPageAddr
	sp := spclient.New(url, string(admin), nil)
	var mappings []v1alpha1.ComponentMapping
	for _, comp := range sampleComponents {
		if _, _, err := sp.PutComponent(ctx, comp.ID, spapi.ComponentRequest{Name: comp.Name}); err != nil {
			return fmt.Errorf("adding component %q to the local status page: %w", comp.Name, err)
		}
		mappings = append(mappings, comp)
	}
	page := &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "default"}}
	if _, err = controllerutil.CreateOrUpdate(ctx, cl, page, func() error {
		page.Spec = v1alpha1.StatusPageSpec{
			Provider:             v1alpha1.ProviderFirescope,
			URL:                  url,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: secret.Name, Key: "token"},
			Components:           mappings,
			AllowDrills:          true,
		}
		return nil
	}); err != nil {
		return err
	}
	// The namespace's default policy publishes to it; everything else stays at the defaults.
	policy := &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName, Namespace: "default"}}
	_, err = controllerutil.CreateOrUpdate(ctx, cl, policy, func() error {
		if policy.Spec.StatusPageRef == nil {
			policy.Spec.StatusPageRef = &v1alpha1.LocalReference{Name: page.Name}
		}
		return nil
	})
	return err
}

// sampleComponents are the components of config/samples/ on the local status page.
var sampleComponents = []v1alpha1.ComponentMapping{
	{Name: "Postgres provisioning", ID: "postgres-provisioning"},
	{Name: "PX dynos", ID: "px-dynos"},
	{Name: "Platform API", ID: "platform-api"},
}

// Stop stops the status page, the manager, kube-controller-manager and the control plane,
// keeping the data in Dir.
func (c *Cluster) Stop() {
	if c.gateway != nil {
		c.gateway.stop()
	}
	if p := c.statusPage; p != nil && p.Process != nil {
		_ = p.Process.Signal(syscall.SIGTERM)
		_ = p.Wait()
	}
	c.StopManager()
	if c.kcm != nil {
		c.kcm.stop()
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Probe GETs url within a second and reports anything but 200 OK as an error.
func Probe(ctx context.Context, url string) error {
	return probe(ctx, http.DefaultClient, url)
}

func probe(ctx context.Context, hc *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
