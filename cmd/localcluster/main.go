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

// Command localcluster is what `make run` starts: a local control plane with Firescope
// installed and running, until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/internal/localcluster"
)

func main() {
	var opts localcluster.Options
	flag.StringVar(&opts.Dir, "dir", ".firescope", "Directory that keeps the cluster's data, kubeconfig and logs across restarts.")
	flag.StringVar(&opts.Assets, "assets", "", "Directory with the kube-apiserver, kube-controller-manager and etcd binaries.")
	flag.StringVar(&opts.CRDs, "crds", "config/crd/bases", "Directory of CRD manifests.")
	flag.StringVar(&opts.Webhooks, "webhooks", "config/webhook", "Directory of webhook configuration manifests.")
	flag.StringVar(&opts.Manager, "manager", "bin/manager", "The manager binary.")
	flag.StringVar(&opts.StatusPage, "statuspage", "bin/statuspage", "The status page binary; empty to run none.")
	flag.StringVar(&opts.StatusPageAddr, "statuspage-listen", "127.0.0.1:8080", "Where the status page listens.")
	flag.StringVar(&opts.Gateway, "gateway", "bin/gateway", "The chat gateway binary; empty to run none.")
	flag.StringVar(&opts.GatewayAddr, "gateway-listen", "127.0.0.1:8081", "Where the chat gateway listens.")
	flag.StringVar(&opts.User, "user", defaultUser(), "Who the kubeconfig authenticates as (the IC of incidents declared without one).")
	flag.StringVar(&opts.Kubeconfig, "existing-cluster", os.Getenv("KUBECONFIG"), "Use this existing cluster instead of starting one.")
	flag.Parse()
	opts.Out = os.Stdout
	// The control plane's own client logs nothing a person running Firescope needs.
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.Kubeconfig != "" {
		fmt.Printf("Using the existing cluster in %s (unset KUBECONFIG for a local one).\n", opts.Kubeconfig)
	} else {
		fmt.Println("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager); data is kept in " + opts.Dir + "/ ...")
	}
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "firescope:", err)
		os.Exit(1)
	}
	printNextSteps(c, opts)
	select {
	case <-ctx.Done():
		fmt.Println("\nStopping Firescope ...")
	case <-c.Exited():
		fmt.Fprintf(os.Stderr, "The manager stopped (%v); see %s\n", c.ExitErr(), filepath.Join(opts.Dir, "manager.log"))
	case <-c.ControllerManagerExited():
		// Without it, deleted namespaces would stay Terminating: stop rather than run half a cluster.
		fmt.Fprintf(os.Stderr, "kube-controller-manager stopped; see %s\n", filepath.Join(opts.Dir, "kube-controller-manager.log"))
	}
	c.Stop()
	fmt.Println("Stopped. The data stays in " + opts.Dir + "/; `make run` picks it up again.")
}

func defaultUser() string {
	if u := os.Getenv("FIRESCOPE_USER"); u != "" {
		return u
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "first-responder"
}

func printNextSteps(c *localcluster.Cluster, opts localcluster.Options) {
	abs, err := filepath.Abs(c.Kubeconfig)
	if err != nil {
		abs = c.Kubeconfig
	}
	fmt.Printf(`
Firescope is running. In another terminal:

  export KUBECONFIG=%s
  kubectl apply -f config/samples/
  kubectl get incidents
  kubectl describe incident ec2-api-errors        # timeline and Events
  kubectl patch incident ec2-api-errors --type merge -p '{"spec":{"roles":{"commander":"greg"}}}'
  kubectl get events --field-selector reason=Handoff

Or with the kubectl plugin (make build puts it in bin/):

  export PATH=%s:$PATH
  kubectl incident declare Postgres provisioning failing --state Major
  kubectl incident status postgres-provisioning-failing

Or from chat: the gateway on http://%s/ takes Slack's commands, signed as Slack signs them:

  hack/slack-command.sh /incident declare EC2 API errors --major
  hack/slack-command.sh /incident ic @ricardo
  hack/slack-command.sh /incident status

Or from Alertmanager: point a webhook_config at http://%s/alertmanager/default with the
bearer token in %s (docs/alertmanager.md).

You are %q: incidents you declare without an IC name you as IC.
Manager log: %s    Metrics: http://%s/metrics
Status page: http://%s/ (write API token in %s)
Press Ctrl-C to stop.
`, abs, binDir(), opts.GatewayAddr, opts.GatewayAddr, filepath.Join(opts.Dir, localcluster.AlertTokenFile), opts.User, filepath.Join(opts.Dir, "manager.log"), c.MetricsAddr, opts.StatusPageAddr, filepath.Join(opts.Dir, "statuspage-token"))
}

// binDir is where the kubectl plugin is: next to this binary, as make build puts them.
func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}
