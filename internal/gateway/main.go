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

package gateway

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/stdr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
)

// Main runs the gateway until ctx ends. args are its command-line flags.
func Main(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen, kubeconfig, namespace, ownNamespace string
		secretFile, tokenFile, apiURL               string
	)
	fs.StringVar(&listen, "listen", ":8081", "Address to serve Slack's requests, /healthz, /readyz and /metrics on.")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig of the gateway's own identity; default: in-cluster, else $KUBECONFIG.")
	fs.StringVar(&namespace, "namespace", "default", "Namespace of the incidents that commands act on.")
	fs.StringVar(&ownNamespace, "identities-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the ConfigMap "+IdentitiesConfigMap+"; default: the pod's own, else --namespace.")
	fs.StringVar(&secretFile, "signing-secret-file", "", "File holding the Slack app's signing secret (required).")
	fs.StringVar(&tokenFile, "bot-token-file", "", "File holding the Slack app's bot token, for users.info, views.open, chat.postEphemeral and conversations.create and .invite (required).")
	fs.StringVar(&apiURL, "slack-api-url", "https://slack.com/api/", "Slack's Web API.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if ownNamespace == "" {
		ownNamespace = namespace
	}
	secret, err := readSecret(secretFile, "--signing-secret-file")
	if err != nil {
		return err
	}
	token, err := readSecret(tokenFile, "--bot-token-file")
	if err != nil {
		return err
	}
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return err
	}
	cfg.Timeout = 15 * time.Second
	// Every command reads the identities ConfigMap with this one client: client-go's default
	// of 5 requests a second would make people queue behind each other.
	cfg.QPS, cfg.Burst = 50, 100
	own, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	log := stdr.New(nil).WithName("gateway")
	web := NewWebAPI(token, apiURL, &http.Client{Timeout: 10 * time.Second})
	s := &Server{
		SigningSecret: secret,
		Slack:         web,
		Identities:    &Identities{Reader: own, Namespace: ownNamespace, Slack: web},
		Kube:          &Kube{Base: cfg, Namespace: namespace},
		Log:           log,
		Ready: func(ctx context.Context) error {
			return disc.RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
		},
		Alerts: &AlertIntake{Client: own},
	}
	return serve(ctx, listen, s.Handler(), log)
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

func serve(ctx context.Context, listen string, h http.Handler, log logr.Logger) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second}
	log.Info("serving Slack's commands and interactions, and Alertmanager's notifications", "address", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func readSecret(path, flag string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s is required", flag)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", flag, path)
	}
	return v, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
}
