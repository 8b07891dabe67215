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

package webhookcert

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Deferred is for a replica that could not write its certificate at start (the API server
// was slow in an outage, say): the controllers run meanwhile, and Deferred keeps trying, with
// backoff, until the files are written, then serves the webhooks. Until then Ready fails, so
// the webhook Service sends the replica no admission call it could not answer.
type Deferred struct {
	Certs *Manager
	// Serve registers the webhooks and starts their server and the certificate's renewal;
	// it is called once, after the files are written.
	Serve func() error
	// Started checks the webhook server once Serve has run.
	Started func(*http.Request) error
	// Initial is the first wait between attempts (default 5s); it doubles up to a minute.
	Initial time.Duration

	serving atomic.Bool
}

// NeedLeaderElection is false: every replica serves the webhooks.
func (d *Deferred) NeedLeaderElection() bool { return false }

// Start tries to write the certificate until it can, then serves the webhooks.
func (d *Deferred) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhookcert")
	wait := d.Initial
	if wait <= 0 {
		wait = 5 * time.Second
	}
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Minute)
		err := d.Certs.WriteCertificate(attempt)
		cancel()
		if err == nil {
			break
		}
		log.Error(err, "Still no webhook certificate; the admission webhooks wait for it", "retryIn", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
	if err := d.Serve(); err != nil {
		return err
	}
	d.serving.Store(true)
	log.Info("The webhook certificate is in place: serving the admission webhooks")
	return nil
}

// Ready is the readiness check: not ready until the webhooks are served.
func (d *Deferred) Ready(req *http.Request) error {
	if !d.serving.Load() {
		return errors.New("the admission webhooks wait for their certificate")
	}
	return d.Started(req)
}
