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

// Command manager runs the Firescope controllers and admission webhooks.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"firescope.dev/firescope/controllers/incident"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/ratelimit"
	"firescope.dev/firescope/internal/safehttp"
	"firescope.dev/firescope/internal/webhookcert"
)

// memoryLimitRatio is the part of the container's memory limit (cgroup memory.max) that
// GOMEMLIMIT is set to; the rest is for memory the Go runtime does not count, such as the
// binary's own pages.
const memoryLimitRatio = 0.9

// gcPercent is the manager's GOGC unless GOGC is set. Its live heap is mostly its cache, which
// lives as long as the process, so Go's default of 100 lets the heap grow to twice the cache
// between collections: 50 holds it to one and a half times, for a little more collector CPU
// (docs/development.md, "Scale").
const gcPercent = 50

func main() {
	var (
		metricsAddr, probeAddr, pprofAddr, webhookCertPath, leaderNamespace string
		webhookPort, outboundPerNamespace, incidentWorkers                  int
		leaderElect, secureMetrics, webhooks                                bool
		leaseDuration, renewDeadline, retryPeriod                           time.Duration
		certs                                                               webhookcert.Options
		allowPrivate                                                        safehttp.Allowlist
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with Kubernetes authentication and authorization.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address of the Go profiler's /debug/pprof endpoints; empty disables them. Never expose it beyond the pod.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that several replicas can run for availability.")
	flag.StringVar(&leaderNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; defaults to the pod's own namespace in a cluster, and must be given outside one.")
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a standby waits after the last renewal before it takes the lead.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it gives up the lead (and exits).")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second, "How often candidates try to acquire or renew the lead.")
	flag.IntVar(&incidentWorkers, "incident-workers", incident.DefaultWorkers, "Incidents reconciled at once. Reconciles wait on the API server and the channels, so more workers keep reminders on time with more open incidents.")
	flag.BoolVar(&webhooks, "webhooks", true, "Serve the admission webhooks.")
	flag.IntVar(&webhookPort, "webhook-port", 9443, "Port of the admission webhook server.")
	flag.IntVar(&outboundPerNamespace, "outbound-calls-per-namespace", ratelimit.DefaultPerNamespace, "Vendor calls (status pages, Slack, PagerDuty, webhooks) one namespace may have in flight at once, so that one team's slow vendor cannot hold every worker.")
	flag.StringVar(&webhookCertPath, "webhook-cert-path", "", "Directory with the webhook's tls.crt and tls.key (reloaded when they change).")
	flag.Var(&allowPrivate, "allow-private-destinations", "Comma-separated networks (CIDR or address) and host names that StatusPages, comms channels and pagers may reach although they are private, loopback or link-local, such as an in-cluster status page; plain http is allowed only to these. Every other internal destination is refused.")
	certs.BindFlags(flag.CommandLine)
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	// How long the manager's API requests take, by verb: with the work queue's metrics, where
	// a late reminder spent its time.
	ctrlmetrics.RegisterRESTClientMetrics(ctrlmetrics.MetricRequestLatency)
	log := ctrl.Log.WithName("setup")
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// A soft limit under the container's memory limit, unless GOMEMLIMIT is set: the garbage
	// collector then works harder as the heap nears it, instead of the kernel killing the
	// manager mid-incident after a burst (a restart's resync, thousands of declarations).
	if _, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithLogger(slog.New(logr.ToSlogHandler(ctrl.Log.WithName("memlimit"))))); err != nil {
		log.Error(err, "Cannot read the container's memory limit; running without a soft memory limit")
	}

	// HTTP/2 stays off: it is not needed here and was the vector of CVE-2023-44487.
	http1 := []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	metrics := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: http1}
	if secureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	gracefulShutdown := 5 * time.Second
	cfg := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        manager.NewScheme(),
		Cache:                         manager.CacheOptions(),
		Metrics:                       metrics,
		WebhookServer:                 webhook.NewServer(webhook.Options{Port: webhookPort, CertDir: webhookCertPath, TLSOpts: http1}),
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "firescope-manager.firescope.dev",
		LeaderElectionNamespace:       leaderNamespace,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
		LeaderElectionReleaseOnCancel: true,
		// Shorter than the pod's termination grace period, so that a stopping leader releases
		// its Lease and the standby leads at once.
		GracefulShutdownTimeout: &gracefulShutdown,
		Controller:              config.Controller{ReconciliationTimeout: manager.ReconcileTimeout},
	})
	if err != nil {
		log.Error(err, "Cannot create the manager")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Cannot add the health check")
		os.Exit(1)
	}
	if webhooks && webhookCertPath != "" {
		ctrlmetrics.Registry.MustRegister(webhookcert.ExpiryCollector{Dir: webhookCertPath})
	}
	certs.CertDir = webhookCertPath
	ready, err := serveWebhooks(mgr, manager.Options{Webhooks: webhooks, AllowPrivateDestinations: &allowPrivate, OutboundPerNamespace: outboundPerNamespace, IncidentWorkers: incidentWorkers}, certs)
	if err != nil {
		log.Error(err, "Cannot set up the controllers")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		log.Error(err, "Cannot add the readiness check")
		os.Exit(1)
	}
	log.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

// serveWebhooks sets up the controllers and, when asked, the admission webhooks, and returns
// the readiness check. With a self-managed certificate the webhook server starts only once
// its files are written. When they cannot be at start, the webhooks fail open and the
// controllers matter more than they do during an outage: the controllers run at once, the
// webhooks follow once the certificate can be written, and the replica is not ready until
// then, so the webhook Service sends it nothing it cannot answer.
func serveWebhooks(mgr ctrl.Manager, opts manager.Options, certs webhookcert.Options) (healthz.Checker, error) {
	webhooks := opts.Webhooks
	selfManaged := webhooks && certs.Enabled()
	opts.Webhooks = webhooks && !selfManaged
	opts.CertDir = certs.CertDir
	if err := manager.Setup(mgr, opts); err != nil {
		return nil, err
	}
	switch {
	case !webhooks:
		return healthz.Ping, nil
	case !selfManaged:
		return mgr.GetWebhookServer().StartedChecker(), nil
	}
	log := ctrl.Log.WithName("setup")
	cm, err := certificates(mgr, certs)
	if err != nil {
		log.Error(err, "Cannot manage the webhook certificate; running without the admission webhooks")
		return healthz.Ping, nil
	}
	serve := func() error {
		manager.SetupWebhooks(mgr, clock.RealClock{}, manager.AttributionKeys(certs.CertDir))
		return mgr.Add(cm)
	}
	if err := writeCertificate(cm); err != nil {
		log.Error(err, "Cannot write the webhook certificate yet; the controllers run, the admission webhooks follow once it is written, and this replica is not ready until then")
		later := &webhookcert.Deferred{Certs: cm, Serve: serve,
			Started: func(req *http.Request) error { return mgr.GetWebhookServer().StartedChecker()(req) }}
		return later.Ready, mgr.Add(later)
	}
	if err := serve(); err != nil {
		return nil, err
	}
	return mgr.GetWebhookServer().StartedChecker(), nil
}

// certificates is the self-managed webhook certificate's manager. Its client is uncached: it
// reads objects by name only.
func certificates(mgr ctrl.Manager, opts webhookcert.Options) (*webhookcert.Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cl, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return nil, err
	}
	return &webhookcert.Manager{Client: cl, Options: opts}, nil
}

// writeCertificate writes the certificate's files before the webhook server starts; the
// caBundle follows from the renewal loop.
func writeCertificate(cm *webhookcert.Manager) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return cm.WriteCertificate(ctx)
}
