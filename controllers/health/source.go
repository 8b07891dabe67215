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

package health

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/prometheus"
)

// Source reads the current value of a health signal.
type Source interface {
	// Read returns the signal's value now. An error says why there is none, for people,
	// without credentials; a *prometheus.QueryError also says what kind of failure it is.
	Read(ctx context.Context, namespace string, s v1alpha1.HealthSignal, now time.Time) (float64, error)
}

// PrometheusSource reads signals from the Prometheus each names, with the bearer token of its
// Secret, bound to provider prometheus and to the server's host.
type PrometheusSource struct {
	// Secrets reads the token's Secret by name.
	Secrets client.Reader
	// HTTP is the guarded client every outbound call uses.
	HTTP *http.Client
	// Timeout bounds one query; prometheus.DefaultTimeout when zero.
	Timeout time.Duration
}

// Read queries the signal's Prometheus.
func (p *PrometheusSource) Read(ctx context.Context, namespace string, s v1alpha1.HealthSignal, now time.Time) (float64, error) {
	token := ""
	if ref := s.Prometheus.BearerTokenSecretRef; ref != nil {
		t, err := credentials.Read(ctx, p.Secrets, namespace, *ref, credentials.Prometheus, s.Prometheus.URL)
		if err != nil {
			return 0, &prometheus.QueryError{Reason: prometheus.ReasonUnauthorized, Msg: err.Error()}
		}
		token = t
	}
	c := &prometheus.Client{HTTP: p.HTTP, Timeout: p.Timeout}
	return c.Query(ctx, s.Prometheus.URL, token, s.Query, now)
}

// readAll reads every signal once, at the same time, and returns the readings by name. A
// signal that cannot be read is a reading with the reason; it never fails the others.
func readAll(ctx context.Context, src Source, namespace string, signals []v1alpha1.HealthSignal, now time.Time) map[string]reading {
	out := make(map[string]reading, len(signals))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range signals {
		wg.Go(func() {
			v, err := src.Read(ctx, namespace, s, now)
			r := reading{value: v, ok: err == nil, reason: v1alpha1.SignalReasonMeasured}
			if err != nil {
				r.reason, r.message = prometheus.ReasonUnreachable, err.Error()
				var qe *prometheus.QueryError
				if errors.As(err, &qe) {
					r.reason = qe.Reason
				}
			}
			mu.Lock()
			out[s.Name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// injected are the readings a drill's played injects set: the latest value of each signal.
// Signals no inject has set yet are unknown; a drill never queries.
func injected(signals []v1alpha1.HealthSignal, d *v1alpha1.Drill, incident string) map[string]reading {
	out := make(map[string]reading, len(signals))
	for _, s := range signals {
		out[s.Name] = reading{reason: v1alpha1.SignalReasonNotInjected,
			message: "a drill never queries Prometheus: a HealthSignal inject of its scenario sets this signal"}
	}
	if d == nil || d.Status.Active == nil || d.Status.Active.Incident != incident {
		return out
	}
	for _, p := range d.Status.Active.Injects {
		if p.Signal == nil {
			continue
		}
		if _, known := out[p.Signal.Name]; !known {
			continue
		}
		v, err := strconv.ParseFloat(p.Signal.Value, 64)
		if err != nil {
			continue
		}
		out[p.Signal.Name] = reading{value: v, ok: true, reason: v1alpha1.SignalReasonInjected,
			message: "injected by the drill at " + p.PlayedAt.UTC().Format(time.RFC3339)}
	}
	return out
}
