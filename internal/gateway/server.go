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

// Package gateway is Firescope's inbound chat gateway: Slack's slash commands and
// interactivity, verified as Slack documents it, each acted on as the person who typed it.
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/slack-go/slack"
)

// MaxBody bounds a request from Slack; its slash commands and view submissions are far smaller.
const MaxBody = 64 << 10

// Server serves Slack's requests.
type Server struct {
	// SigningSecret is the Slack app's signing secret.
	SigningSecret string
	Slack         Slack
	Identities    *Identities
	Kube          *Kube
	Log           logr.Logger
	// AckWithin is how long a command may take before it is acknowledged and finished through
	// response_url: Slack waits 3 seconds.
	AckWithin time.Duration
	// WorkTimeout bounds the work of one command.
	WorkTimeout time.Duration
	// Ready reports whether the gateway can reach the API server.
	Ready func(context.Context) error
	// Alerts serves Alertmanager's notifications at /alertmanager/NAMESPACE; nil serves none.
	Alerts *AlertIntake

	metrics *metrics
}

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firescope_gateway_requests_total",
			Help: "Requests from Slack and Alertmanager, by endpoint and outcome (ok, refused, unverified, error)."}, []string{"endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "firescope_gateway_request_duration_seconds",
			Help: "Time to answer a request from Slack or Alertmanager, by endpoint.", Buckets: prometheus.DefBuckets}, []string{"endpoint"}),
	}
	m.registry.MustRegister(m.requests, m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler returns the gateway's routes.
func (s *Server) Handler() http.Handler {
	if s.AckWithin == 0 {
		s.AckWithin = 2500 * time.Millisecond
	}
	if s.WorkTimeout == 0 {
		s.WorkTimeout = 30 * time.Second
	}
	s.metrics = newMetrics()
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", s.verified("commands", s.command))
	mux.Handle("POST /slack/interactions", s.verified("interactions", s.interaction))
	if s.Alerts != nil {
		mux.HandleFunc("POST /alertmanager/{namespace}", s.alertmanager)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if s.Ready != nil {
			if err := s.Ready(ctx); err != nil {
				http.Error(w, "the API server cannot be reached: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

// verified passes on only requests that Slack signed: X-Slack-Signature v0 over the timestamp
// and the raw body, a timestamp within five minutes, and a body within MaxBody. Anything else is
// answered 401 and changes nothing.
func (s *Server) verified(endpoint string, next func(http.ResponseWriter, *http.Request, []byte) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { s.metrics.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds()) }()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			s.metrics.requests.WithLabelValues(endpoint, "unverified").Inc()
			// A body that cannot be read whole cannot be verified: refused like a forgery.
			msg := "cannot read the request"
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				msg = fmt.Sprintf("the request body is over %d bytes", MaxBody)
			}
			http.Error(w, msg, http.StatusUnauthorized)
			return
		}
		if err := s.verify(r.Header, body); err != nil {
			s.metrics.requests.WithLabelValues(endpoint, "unverified").Inc()
			s.Log.Info("refused a request that Slack did not sign", "endpoint", endpoint, "reason", err.Error())
			http.Error(w, "the request is not signed by Slack: "+err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.metrics.requests.WithLabelValues(endpoint, next(w, r, body)).Inc()
	})
}

func (s *Server) verify(h http.Header, body []byte) error {
	v, err := slack.NewSecretsVerifier(h, s.SigningSecret)
	if err != nil {
		return err
	}
	if _, err := v.Write(body); err != nil {
		return err
	}
	return v.Ensure()
}

// channelID is a Slack conversation ID.
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)

// command answers a slash command: at once when the work is quick, otherwise with an
// acknowledgement now and the answer through response_url when the work is done.
func (s *Server) command(w http.ResponseWriter, r *http.Request, _ []byte) string {
	sc, err := slack.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "not a slash command", http.StatusBadRequest)
		return "error"
	}
	if sc.TriggerID != "" && sc.Text != "" {
		// Forms must open within Slack's three seconds of the trigger: never deferred.
		if c, err := Parse(sc.Text); err == nil && (c.Verb == VerbSitrep || c.Verb == VerbUpdate) {
			ctx, cancel := context.WithTimeout(r.Context(), s.AckWithin)
			defer cancel()
			ans := s.openForm(ctx, sc, c)
			writeEphemeral(w, ans.text)
			return ans.outcome
		}
	}
	done := make(chan answer, 1)
	go func() {
		// Detached from the request: the work goes on after the acknowledgement.
		ctx, cancel := context.WithTimeout(context.Background(), s.WorkTimeout)
		defer cancel()
		done <- s.run(ctx, sc)
	}()
	select {
	case ans := <-done:
		writeEphemeral(w, ans.text)
		return ans.outcome
	case <-time.After(s.AckWithin):
		writeEphemeral(w, "Working on it…")
		go func() {
			ans := <-done
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Slack.Respond(ctx, sc.ResponseURL, ans.text); err != nil {
				s.Log.Error(err, "could not finish a command through response_url", "user", sc.UserID)
			}
		}()
		return "deferred"
	}
}

// answer is what the person who typed a command is told, and how the metrics count it.
type answer struct{ text, outcome string }

func ok(text string) answer    { return answer{text, "ok"} }
func refused(err error) answer { return answer{":warning: " + err.Error(), "refused"} }
func failed(err error) answer  { return answer{":x: " + err.Error(), "error"} }

func writeEphemeral(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"response_type": slack.ResponseTypeEphemeral, "text": text})
}

// run carries out a command as the person who typed it.
func (s *Server) run(ctx context.Context, sc slack.SlashCommand) answer {
	c, err := Parse(sc.Text)
	if err != nil {
		return refused(err)
	}
	if c.Verb == VerbHelp {
		return ok(Usage)
	}
	if !channelID.MatchString(sc.ChannelID) {
		return refused(fmt.Errorf("Slack sent no channel for the command"))
	}
	user, err := s.Identities.Username(ctx, sc.UserID)
	if err != nil {
		return refused(err)
	}
	a := &action{Server: s, ctx: ctx, user: user, slackUser: sc.UserID, channel: sc.ChannelID}
	return a.do(c)
}

func (s *Server) interaction(w http.ResponseWriter, r *http.Request, _ []byte) string {
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(r.PostFormValue("payload")), &cb); err != nil {
		http.Error(w, "not an interaction payload: "+err.Error(), http.StatusBadRequest)
		return "error"
	}
	if cb.Type != slack.InteractionTypeViewSubmission {
		w.WriteHeader(http.StatusOK)
		return "ok"
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.AckWithin)
	defer cancel()
	resp, outcome := s.submit(ctx, cb)
	if resp == nil {
		w.WriteHeader(http.StatusOK)
		return outcome
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
	return outcome
}
