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
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/drill"
	"firescope.dev/firescope/controllers/incident"
	"firescope.dev/firescope/controllers/postmortem"
	"firescope.dev/firescope/controllers/statusupdate"
	fsadmission "firescope.dev/firescope/internal/admission"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/eventrecord"
)

// ReportingController names Firescope as the source of its Events.
const ReportingController = "firescope.dev/manager"

// NewScheme returns a scheme with the Kubernetes and Firescope types.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// Options says which parts to run.
type Options struct {
	// Webhooks serves the admission webhooks.
	Webhooks bool
	// Clock tells the controllers the time; nil means the real clock.
	Clock clock.PassiveClock
}

// Setup registers every controller and, when asked, every webhook with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	if err := (&incident.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		// Secrets are read by name, uncached: the manager never lists or watches them.
		Notifiers: &incident.SecretNotifiers{Secrets: mgr.GetAPIReader(), HTTP: delivery.NewHTTPClient(10 * time.Second)},
		Clock:     clk,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&statusupdate.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		Providers: &statusupdate.SecretProviders{Secrets: mgr.GetAPIReader(), HTTP: delivery.NewHTTPClient(10 * time.Second)},
		Clock:     clk,
	}).SetupWithManager(context.Background(), mgr); err != nil {
		return err
	}
	if err := (&postmortem.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController},
		Channels:  &incident.SecretNotifiers{Secrets: mgr.GetAPIReader(), HTTP: delivery.NewHTTPClient(10 * time.Second)},
		Providers: &statusupdate.SecretProviders{Secrets: mgr.GetAPIReader(), HTTP: delivery.NewHTTPClient(10 * time.Second)},
		Clock:     clk,
	}).SetupWithManager(context.Background(), mgr); err != nil {
		return err
	}
	if err := (&drill.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: &eventrecord.Recorder{Client: mgr.GetClient(), Controller: ReportingController}, Channels: &incident.SecretNotifiers{Secrets: mgr.GetAPIReader(), HTTP: delivery.NewHTTPClient(10 * time.Second)}, Clock: clk}).SetupWithManager(mgr); err != nil {
		return err
	}
	if opts.Webhooks {
		SetupWebhooks(mgr, clk)
	}
	return nil
}

// SetupWebhooks registers the admission webhooks, which adds the webhook server to the
// manager: its certificate files must exist by the time the manager starts it.
func SetupWebhooks(mgr ctrl.Manager, clk clock.PassiveClock) {
	decoder := admission.NewDecoder(mgr.GetScheme())
	mgr.GetWebhookServer().Register(fsadmission.IncidentPath, &webhook.Admission{
		Handler: &fsadmission.IncidentDefaulter{Decoder: decoder, Now: clk.Now},
	})
	mgr.GetWebhookServer().Register(fsadmission.StatusUpdatePath, &webhook.Admission{
		Handler: &fsadmission.StatusUpdateWording{Decoder: decoder, Reader: mgr.GetClient()},
	})
}
