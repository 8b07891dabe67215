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
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
)

// AlertTokenSecret is the Secret, in each namespace that takes alerts, whose keys each hold a
// bearer token Alertmanager may send (several, so that a token can be rotated). It must be
// labelled credentials.Label=true.
const AlertTokenSecret = "firescope-alertmanager"

// MaxAlertBody bounds a notification. Alertmanager's max_alerts keeps a large group's
// payload far smaller.
const MaxAlertBody = 1 << 20

// AlertIntake opens incidents from Alertmanager's notifications and records the later ones
// on the same incident, as the gateway's own identity.
type AlertIntake struct {
	// Client reads the token Secrets and policies and writes the incidents. Its reads must go
	// to the API server, not a cache: the API server arbitrates concurrent notifications.
	Client client.Client
	// Now tells the time; tests inject a fixed one.
	Now func() time.Time

	// stripes serialize the notifications of a group within this process, so that a burst of
	// them (retries, Alertmanager replicas) queues instead of racing; the API server still
	// arbitrates between gateway replicas.
	stripes     [64]chan struct{}
	stripesOnce sync.Once
}

// lock takes the stripe of the group, or gives up when ctx ends.
func (a *AlertIntake) lock(ctx context.Context, groupKey string) (unlock func(), err error) {
	a.stripesOnce.Do(func() {
		for i := range a.stripes {
			a.stripes[i] = make(chan struct{}, 1)
		}
	})
	h := fnv.New32a()
	_, _ = h.Write([]byte(groupKey))
	c := a.stripes[h.Sum32()%uint32(len(a.stripes))]
	select {
	case c <- struct{}{}:
		return func() { <-c }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the other notifications of the group: %w", ctx.Err())
	}
}

// alertResult is what a notification did.
type alertResult struct {
	Incident string `json:"incident,omitempty"`
	Opened   bool   `json:"opened"`
	Message  string `json:"message"`
}

// httpError is a refusal with the status Alertmanager gets: 4xx it does not retry (the
// notification is sent again at the group's next interval), 5xx it retries.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func refuse(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// alertmanager serves POST /alertmanager/NAMESPACE: a token check, then the notification.
func (s *Server) alertmanager(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.metrics.duration.WithLabelValues("alertmanager").Observe(time.Since(start).Seconds()) }()
	ns := r.PathValue("namespace")
	// Inside the server's 15 s WriteTimeout, so that Alertmanager always gets the answer,
	// 503 included, rather than a broken connection after the change has landed.
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	res, err := s.notify(ctx, ns, r, w)
	outcome := "ok"
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{code: http.StatusServiceUnavailable, msg: err.Error()}
		}
		switch {
		case he.code == http.StatusUnauthorized:
			outcome = "unverified"
			w.Header().Set("WWW-Authenticate", `Bearer realm="firescope"`)
		case he.code >= 500:
			outcome = "error"
		default:
			outcome = "refused"
		}
		s.metrics.requests.WithLabelValues("alertmanager", outcome).Inc()
		s.Log.Info("refused an Alertmanager notification", "namespace", ns, "status", he.code, "reason", he.msg)
		http.Error(w, he.msg, he.code)
		return
	}
	s.metrics.requests.WithLabelValues("alertmanager", outcome).Inc()
	s.Log.V(1).Info("took an Alertmanager notification", "namespace", ns, "incident", res.Incident, "opened", res.Opened)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func (s *Server) notify(ctx context.Context, ns string, r *http.Request, w http.ResponseWriter) (alertResult, error) {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return alertResult{}, refuse(http.StatusNotFound, "%q is not a namespace name: POST to /alertmanager/NAMESPACE", ns)
	}
	if err := s.Alerts.authenticate(ctx, ns, r.Header.Get("Authorization")); err != nil {
		return alertResult{}, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAlertBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return alertResult{}, refuse(http.StatusRequestEntityTooLarge, "the notification is over %d bytes: lower max_alerts in the webhook_config", MaxAlertBody)
		}
		return alertResult{}, refuse(http.StatusBadRequest, "cannot read the notification: %v", err)
	}
	n, err := DecodeNotification(body)
	if err != nil {
		return alertResult{}, refuse(http.StatusBadRequest, "%v", err)
	}
	p, err := s.Alerts.policy(ctx, ns)
	if err != nil {
		return alertResult{}, err
	}
	return s.Alerts.apply(ctx, ns, n, p)
}

// authenticate checks the bearer token against every key of the namespace's token Secret, in
// constant time. A namespace without the Secret, or whose Secret the gateway may not read,
// takes no alerts.
func (a *AlertIntake) authenticate(ctx context.Context, ns, header string) error {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return refuse(http.StatusUnauthorized, "no bearer token: set http_config.authorization.credentials (type Bearer) in the webhook_config")
	}
	sec := &corev1.Secret{}
	err := a.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: AlertTokenSecret}, sec)
	switch {
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		return refuse(http.StatusUnauthorized, "namespace %s takes no alerts: it needs the Secret %s labelled %s=true, and the gateway the "+
			"right to read it (docs/alertmanager.md)", ns, AlertTokenSecret, credentials.Label)
	case err != nil:
		return fmt.Errorf("reading Secret %s/%s: %w", ns, AlertTokenSecret, err)
	case sec.Labels[credentials.Label] != "true":
		return refuse(http.StatusUnauthorized, "namespace %s takes no alerts: Secret %s is not labelled %s=true", ns, AlertTokenSecret, credentials.Label)
	}
	match := 0
	for _, v := range sec.Data {
		if want := strings.TrimSpace(string(v)); want != "" {
			match |= subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(token)))
		}
	}
	if match != 1 {
		return refuse(http.StatusUnauthorized, "the bearer token is not one of Secret %s/%s", ns, AlertTokenSecret)
	}
	return nil
}

// policy returns the alerts section of the namespace's default ResponsePolicy.
func (a *AlertIntake) policy(ctx context.Context, ns string) (*v1alpha1.AlertIntake, error) {
	p := &v1alpha1.ResponsePolicy{}
	err := a.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.DefaultPolicyName}, p)
	switch {
	case apierrors.IsNotFound(err):
		return nil, refuse(http.StatusUnprocessableEntity, "namespace %s has no ResponsePolicy %q: create one with spec.alerts.defaultIncidentCommander, "+
			"the IC of incidents opened from alerts", ns, v1alpha1.DefaultPolicyName)
	case err != nil:
		return nil, fmt.Errorf("reading ResponsePolicy %s/%s: %w", ns, v1alpha1.DefaultPolicyName, err)
	case p.Spec.Alerts == nil:
		return nil, refuse(http.StatusUnprocessableEntity, "ResponsePolicy %s/%s has no spec.alerts: set spec.alerts.defaultIncidentCommander, "+
			"the IC of incidents opened from alerts", ns, v1alpha1.DefaultPolicyName)
	}
	return p.Spec.Alerts, nil
}

// conflictBackoff retries the writes that lost a race to another gateway replica.
var conflictBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 1, Cap: time.Second}

// apply records the notification on its group's open incident, or opens one for a firing
// group that has none. The API server arbitrates every write: a new incident takes a name
// computed from the group, so two notifications racing to open one open it once; a record is
// a JSON patch that first tests the notification count it read, so none is lost, while the
// controller's status writes and people's edits of the rest of the spec never get in its way.
// A write that lost a race is tried again from a fresh read.
func (a *AlertIntake) apply(ctx context.Context, ns string, n Notification, p *v1alpha1.AlertIntake) (alertResult, error) {
	unlock, err := a.lock(ctx, n.GroupKey)
	if err != nil {
		return alertResult{}, err
	}
	defer unlock()
	var res alertResult
	err = retry.OnError(conflictBackoff, lostRace, func() error {
		list := &v1alpha1.IncidentList{}
		if err := a.Client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{GroupLabel: GroupHash(n.GroupKey)}); err != nil {
			return err
		}
		open, seq := openOf(list.Items, n.GroupKey)
		if open != nil {
			res = alertResult{Incident: open.Name, Message: "recorded on incident " + open.Name}
			return a.record(ctx, open, n)
		}
		if n.Status != string(v1alpha1.AlertsFiring) {
			res = alertResult{Message: "the group is resolved and has no open incident: nothing to record"}
			return nil
		}
		inc := n.NewIncident(ns, seq+1, p, a.now())
		res = alertResult{Incident: inc.Name, Opened: true, Message: "opened incident " + inc.Name}
		return a.Client.Create(ctx, inc)
	})
	switch {
	case lostRace(err):
		return alertResult{}, refuse(http.StatusServiceUnavailable, "lost %d races in a row to other notifications of the group; "+
			"Alertmanager sends it again", conflictBackoff.Steps)
	case apierrors.IsInvalid(err), apierrors.IsForbidden(err), apierrors.IsBadRequest(err):
		return alertResult{}, refuse(http.StatusUnprocessableEntity, "%v", err)
	}
	return res, err
}

// record adds the notification to the incident's spec.alerts, if its count is still the one read.
func (a *AlertIntake) record(ctx context.Context, inc *v1alpha1.Incident, n Notification) error {
	read := inc.Spec.Alerts.Notifications
	n.Record(inc, a.now())
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/spec/alerts/notifications", "value": read},
		{"op": "replace", "path": "/spec/alerts", "value": inc.Spec.Alerts},
	})
	if err != nil {
		return err
	}
	err = a.Client.Patch(ctx, inc, client.RawPatch(types.JSONPatchType, patch))
	if !apierrors.IsInvalid(err) {
		return err
	}
	// The API server reports a failed test as a bare Invalid: a count that moved tells it
	// from a refusal of the patched incident.
	now := &v1alpha1.Incident{}
	if gerr := a.Client.Get(ctx, client.ObjectKeyFromObject(inc), now); gerr == nil && (now.Spec.Alerts == nil || now.Spec.Alerts.Notifications != read) {
		return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("incidents").GroupResource(), inc.Name,
			errors.New("another notification of the group was recorded first"))
	}
	return err
}

// lostRace reports whether a write lost to another notification of the group: the name was
// taken, or the notification count changed since it was read.
func lostRace(err error) bool { return apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) }

// openOf returns the group's open incident (the latest, should there be several) and the
// highest sequence number its incidents' names carry.
func openOf(incs []v1alpha1.Incident, groupKey string) (*v1alpha1.Incident, int) {
	var open *v1alpha1.Incident
	seq := 0
	for i := range incs {
		inc := &incs[i]
		if j := strings.LastIndexByte(inc.Name, '-'); j >= 0 {
			s, _ := strconv.Atoi(inc.Name[j+1:])
			seq = max(seq, s)
		}
		if inc.Spec.Alerts == nil || inc.Spec.Alerts.GroupKey != groupKey {
			continue // another group whose key hashes alike
		}
		if inc.Spec.State.IsOpen() && (open == nil || inc.CreationTimestamp.After(open.CreationTimestamp.Time)) {
			open = inc
		}
	}
	return open, seq
}

func (a *AlertIntake) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
