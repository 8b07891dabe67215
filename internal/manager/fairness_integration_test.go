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

package manager_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/manager"
	slackfake "firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/ratelimit"
	"firescope.dev/firescope/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// hangingSlack is a comms channel that never answers: every request is held until the client
// gives up. It counts the requests in flight, the most ever in flight at once, and those the
// client gave up on.
type hangingSlack struct {
	*httptest.Server
	release chan struct{}

	mu                     sync.Mutex
	inFlight, most, gaveUp int
}

func newHangingSlack() *hangingSlack {
	h := &hangingSlack{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only once the body is read does the server notice a client that hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.inFlight++
		h.most = max(h.most, h.inFlight)
		h.mu.Unlock()
		select {
		case <-r.Context().Done():
			h.mu.Lock()
			h.gaveUp++
			h.mu.Unlock()
		case <-h.release:
		}
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}))
	return h
}

func (h *hangingSlack) counts() (inFlight, most, gaveUp int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight, h.most, h.gaveUp
}

func team(t *testing.T, e *testenv.Env, ns, webhookURL string) {
	t.Helper()
	ctx := context.Background()
	for _, err := range []error{
		e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}),
		e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "comms", Namespace: ns, Labels: map[string]string{"firescope.dev/credential": "true"},
			Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1")},
			StringData: map[string]string{"url": webhookURL}}),
		e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: v1alpha1.ResponsePolicySpec{CommsChannel: &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{
				WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "url"}}}}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func declare(t *testing.T, e *testenv.Env, ns, name string) {
	t.Helper()
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: v1alpha1.IncidentSpec{
		Title: "Elevated API errors", State: v1alpha1.StateConfirmed, Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}}
	if err := e.Client.Create(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
}

// A team's calls are bounded by its namespace's outbound slots. Before that bound, ten
// incidents of a team whose comms channel hangs took every worker, and every other team's
// announcements waited for the first of those calls to time out.
func TestIntegrationATeamWhoseChannelHangsHoldsTwoCallsAndOtherTeamsAreAnnounced(t *testing.T) {
	e := testenv.Shared(t)
	slow := newHangingSlack()
	// Let the held calls go before the server closes, so that Close does not wait for them.
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(slow.release) })
	other := slackfake.New()
	t.Cleanup(other.Close)
	team(t, e, "slow-team", slow.URL+"/services/T0/B0/hanging")
	team(t, e, "other-team", other.WebhookURL())

	for i := range 10 {
		declare(t, e, "slow-team", fmt.Sprintf("slow-%d", i))
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if n, _, _ := slow.counts(); n < 2 {
			return fmt.Errorf("%d of the slow team's calls in flight", n)
		}
		return nil
	})
	declare(t, e, "other-team", "other")
	testenv.Eventually(t, 30*time.Second, func() error {
		if len(other.Texts()) == 0 {
			return fmt.Errorf("the other team's channel heard nothing")
		}
		return nil
	})
	// The other team was announced while the slow team's first calls were still held: no
	// worker had to wait for one of them to give up.
	_, most, gaveUp := slow.counts()
	if gaveUp > 0 {
		t.Errorf("the other team was announced only after %d of the slow team's calls gave up", gaveUp)
	}
	if most > ratelimit.DefaultPerNamespace {
		t.Errorf("the slow team had %d calls in flight at once, want at most %d", most, ratelimit.DefaultPerNamespace)
	}
}

// With a single Incident worker, a team whose comms channel hangs must not hold it: the
// delivery waits off the worker, and another team's reminders go out while the first call
// is still held. When the worker delivered itself, the other team heard nothing until the
// held call gave up.
func TestIntegrationAChannelThatHangsHoldsNoWorkerAndAnotherTeamIsReminded(t *testing.T) {
	e, err := testenv.Start(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	stop, err := e.StartManager(manager.Options{IncidentWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	slow := newHangingSlack()
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(slow.release) })
	other := slackfake.New()
	t.Cleanup(other.Close)
	team(t, e, "hanging-team", slow.URL+"/services/T0/B0/hanging")
	team(t, e, "reminded-team", other.WebhookURL())
	// Reminders every second for the other team.
	policy := &v1alpha1.ResponsePolicy{}
	if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: "reminded-team", Name: "default"}, policy); err != nil {
		t.Fatal(err)
	}
	every := &metav1.Duration{Duration: time.Second}
	policy.Spec.Purpose, policy.Spec.SitrepCadence = v1alpha1.PurposeDrill, v1alpha1.SitrepCadence{Investigating: every, Confirmed: every, Major: every}
	if err := e.Client.Update(context.Background(), policy); err != nil {
		t.Fatal(err)
	}

	declare(t, e, "hanging-team", "hanging")
	testenv.Eventually(t, 30*time.Second, func() error {
		if n, _, _ := slow.counts(); n < 1 {
			return fmt.Errorf("the hanging team's announcement is not in flight")
		}
		return nil
	})
	declare(t, e, "reminded-team", "reminded")
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, text := range other.Texts() {
			if strings.Contains(text, "Sitrep overdue") {
				return nil
			}
		}
		return fmt.Errorf("the other team heard %q", other.Texts())
	})
	if inFlight, _, gaveUp := slow.counts(); inFlight < 1 || gaveUp > 0 {
		t.Fatalf("the other team was reminded only once the hanging call ended (%d in flight, %d given up)", inFlight, gaveUp)
	}
}
