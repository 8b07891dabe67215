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

// Package manager wires Firescope's controllers and webhooks into a controller-runtime
// manager. The manager binary and the integration tests share it, so tests run what ships.
package manager

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/drill"
	"firescope.dev/firescope/controllers/health"
	"firescope.dev/firescope/controllers/incident"
	"firescope.dev/firescope/controllers/maintenance"
	"firescope.dev/firescope/controllers/postmortem"
	"firescope.dev/firescope/controllers/statusupdate"
	fsadmission "firescope.dev/firescope/internal/admission"
	"firescope.dev/firescope/internal/attribution"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/ratelimit"
	"firescope.dev/firescope/internal/safehttp"
)

// ReportingController names Firescope as the source of its Events.
const ReportingController = "firescope.dev/manager"

// ReconcileTimeout is the deadline of every reconcile, which the manager's controller options
// set (config.Controller.ReconciliationTimeout). Vendor calls end ratelimit.DefaultReserve
// before it, so that a reconcile stuck behind a slow vendor still records what happened, and
// the worker moves on to other incidents.
const ReconcileTimeout = 2 * time.Minute

// NewScheme returns a scheme with the Kubernetes and Firescope types.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// CacheOptions is how the manager caches the objects its controllers watch: without what no
// controller reads.
func CacheOptions() cache.Options {
	return cache.Options{DefaultTransform: stripUnread}
}

// lastApplied is kubectl's copy of the manifest last applied, as large as the spec again.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// stripUnread drops managedFields and kubectl's last-applied manifest from an object before it
// is cached. Patches are computed between two copies from the cache, so neither appears in
// them; the API server keeps both.
func stripUnread(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil
	}
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if a := obj.GetAnnotations(); a[lastApplied] != "" {
		delete(a, lastApplied)
		obj.SetAnnotations(a)
	}
	return in, nil
}

// Options says which parts to run.
type Options struct {
	// Webhooks serves the admission webhooks.
	Webhooks bool
	// Clock tells the controllers the time; nil means the real clock.
	Clock clock.PassiveClock
	// AllowPrivateDestinations lists the private, loopback and link-local destinations the
	// controllers may call (an in-cluster status page, say); nil allows none.
	AllowPrivateDestinations *safehttp.Allowlist
	// OutboundPerNamespace bounds the vendor calls one namespace has in flight at once;
	// 0 means ratelimit.DefaultPerNamespace.
	OutboundPerNamespace int
	// CertDir is the webhook server's certificate directory, whose tls.key the changed-by
	// signatures are keyed from; empty means controller-runtime's default.
	CertDir string
	// IncidentWorkers is how many Incidents are reconciled at once; zero means
	// incident.DefaultWorkers.
	IncidentWorkers int
}

// Setup registers every controller and, when asked, every webhook with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	// One client for every outbound call, so that each is guarded the same way.
	httpClient := opts.AllowPrivateDestinations.Guard(delivery.NewHTTPClient(10 * time.Second))
	// One registry for every controller, so that calls made with one credential share its
	// vendor's rate limit wherever they come from.
	limits := ratelimit.NewRegistry(ratelimit.Options{PerNamespace: opts.OutboundPerNamespace})
	if err := (&incident.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		// Secrets are read by name, uncached: the manager never lists or watches them.
		Notifiers:   &incident.SecretNotifiers{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits},
		Clock:       clk,
		Attribution: AttributionKeys(opts.CertDir),
		Workers:     opts.IncidentWorkers,
		// Each namespace's deliveries take turns for its outbound slots.
		OutboundPerNamespace: opts.OutboundPerNamespace,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&statusupdate.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		Providers: &statusupdate.SecretProviders{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits},
		Clock:     clk,
	}).SetupWithManager(context.Background(), mgr); err != nil {
		return err
	}
	if err := (&postmortem.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		Channels:  &incident.SecretNotifiers{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits},
		Providers: &statusupdate.SecretProviders{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits},
		Clock:     clk,
	}).SetupWithManager(context.Background(), mgr); err != nil {
		return err
	}
	if err := (&maintenance.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		Providers: &statusupdate.SecretProviders{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits},
		Clock:     clk,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&health.Reconciler{
		Client:    mgr.GetClient(),
		Recorder:  &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		Source:    &health.PrometheusSource{Secrets: mgr.GetAPIReader(), HTTP: httpClient},
		Publisher: &health.StatusPagePublisher{Client: mgr.GetClient(), Providers: &statusupdate.SecretProviders{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits}},
		Clock:     clk,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&drill.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController}, Channels: &incident.SecretNotifiers{Secrets: mgr.GetAPIReader(), HTTP: httpClient, Limits: limits}, Clock: clk}).SetupWithManager(mgr); err != nil {
		return err
	}
	if opts.Webhooks {
		SetupWebhooks(mgr, clk, AttributionKeys(opts.CertDir))
	}
	return nil
}

// SetupWebhooks registers the admission webhooks, which adds the webhook server to the
// manager: its certificate files must exist by the time the manager starts it.
func SetupWebhooks(mgr ctrl.Manager, clk clock.PassiveClock, keys attribution.Keys) {
	decoder := admission.NewDecoder(mgr.GetScheme())
	mgr.GetWebhookServer().Register(fsadmission.IncidentPath, &webhook.Admission{
		Handler: &fsadmission.IncidentDefaulter{Decoder: decoder, Now: clk.Now, Keys: keys},
	})
	mgr.GetWebhookServer().Register(fsadmission.StatusUpdateOrderPath, &webhook.Admission{
		Handler: &fsadmission.StatusUpdateOrder{Now: clk.Now},
	})
	mgr.GetWebhookServer().Register(fsadmission.StatusUpdatePath, &webhook.Admission{
		Handler: &fsadmission.StatusUpdateWording{Decoder: decoder, Reader: mgr.GetClient()},
	})
}

// AttributionKeys is the key that signs and checks who changed an Incident: derived from the
// webhook server's serving key in certDir (empty: controller-runtime's default directory),
// which every replica of an installation shares and no user can read (see
// internal/attribution).
func AttributionKeys(certDir string) attribution.Keys {
	dir := cmp.Or(certDir, filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs"))
	return attribution.FromFile(filepath.Join(dir, "tls.key"))
}
