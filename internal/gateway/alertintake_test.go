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

package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/gateway"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/testenv"
)

const alertToken = "am-token-0123456789abcdef"

// intake is the gateway's Alertmanager intake in front of a real API server, as the gateway's
// service account with the shipped RBAC bound in one namespace.
type intake struct {
	t   *testing.T
	e   *testenv.Env
	ns  string
	url string
	// replicas are the URLs of the gateway's replicas; url is the first.
	replicas []string
}

func newIntake(t *testing.T, policy *v1alpha1.AlertIntake) *intake {
	e := testenv.Shared(t)
	ctx := context.Background()
	ns := fmt.Sprintf("alerts-%d", time.Now().UnixNano()%1e9)
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	loadRBAC(t, e, "config/gateway/rbac.yaml", ns)
	// A client certificate whose name is the service account's: RBAC binds it as that
	// service account, and the admission webhook sees one, which cannot be first responder.
	gw, err := e.AddUser(envtest.User{Name: "system:serviceaccount:firescope-system:firescope-gateway"}, nil)
	must(t, err)
	must(t, e.Client.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "firescope-gateway-alerts", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "firescope-gateway-alerts"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "firescope-gateway", Namespace: "firescope-system"}}}))
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: gateway.AlertTokenSecret, Namespace: ns,
		Labels: map[string]string{credentials.Label: "true"}}, StringData: map[string]string{"token": alertToken + "\n"}}))
	if policy != nil {
		must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: v1alpha1.ResponsePolicySpec{Alerts: policy}}))
	}
	cfg := gw.Config()
	cfg.QPS, cfg.Burst = 50, 100 // as the gateway's main sets them
	own, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	must(t, err)
	in := &intake{t: t, e: e, ns: ns}
	// Two gateway replicas, as config/gateway deploys: each serializes a group's notifications
	// on its own, and the API server arbitrates between them.
	for range 2 {
		s := &gateway.Server{Log: testr.New(t), Alerts: &gateway.AlertIntake{Client: own}}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		in.replicas = append(in.replicas, srv.URL+"/alertmanager/"+ns)
	}
	in.url = in.replicas[0]
	return in
}

var teamPolicy = &v1alpha1.AlertIntake{DefaultIncidentCommander: "oncall@example.com", ComponentsLabel: "service",
	States: map[string]v1alpha1.IncidentState{"critical": v1alpha1.StateMajor}}

func notification(status, groupKey string) []byte {
	n := gateway.Notification{Version: "4", GroupKey: groupKey, Status: status, Receiver: "firescope",
		GroupLabels: map[string]string{"alertname": "HighErrorRate"},
		Alerts: []gateway.Alert{{Status: status, Labels: map[string]string{"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
			Annotations: map[string]string{"summary": "API error rate above 5%"}, StartsAt: time.Now(), Fingerprint: "a1b2c3d4"}}}
	b, _ := json.Marshal(n)
	return b
}

func (in *intake) post(token string, body []byte) (int, string) {
	in.t.Helper()
	return in.postTo(in.url, token, body)
}

func (in *intake) postTo(url, token string, body []byte) (int, string) {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	must(in.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(in.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (in *intake) incidents() []v1alpha1.Incident {
	list := &v1alpha1.IncidentList{}
	must(in.t, in.e.Client.List(context.Background(), list, client.InNamespace(in.ns)))
	return list.Items
}

func TestAlertNotificationsWithoutTheTokenChangeNothing(t *testing.T) {
	in := newIntake(t, teamPolicy)
	body := notification("firing", `{}:{alertname="HighErrorRate"}`)
	for name, tc := range map[string]struct {
		token string
		body  []byte
		code  int
		want  string
	}{
		"no token":      {"", body, http.StatusUnauthorized, "no bearer token"},
		"wrong token":   {"am-token-0123456789abcdeX", body, http.StatusUnauthorized, "not one of Secret"},
		"prefix":        {alertToken[:10], body, http.StatusUnauthorized, "not one of Secret"},
		"oversized":     {alertToken, append(body, bytes.Repeat([]byte(" "), gateway.MaxAlertBody)...), http.StatusRequestEntityTooLarge, "lower max_alerts"},
		"not a payload": {alertToken, []byte(`{"version":"3"}`), http.StatusBadRequest, `version "3" is not supported`},
	} {
		if code, text := in.post(tc.token, tc.body); code != tc.code || !strings.Contains(text, tc.want) {
			t.Errorf("%s: answered %d %q, want %d and %q", name, code, text, tc.code, tc.want)
		}
	}
	// A namespace without the Secret takes no alerts, whatever token is sent.
	other := strings.Replace(in.url, in.ns, "default", 1)
	req, _ := http.NewRequest(http.MethodPost, other, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+alertToken)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a namespace without the Secret answered %d", resp.StatusCode)
	}
	if n := len(in.incidents()); n != 0 {
		t.Fatalf("%d incidents after refused notifications", n)
	}
}

func TestAlertNotificationWithoutAnAlertsPolicySaysWhatToSet(t *testing.T) {
	in := newIntake(t, nil)
	code, text := in.post(alertToken, notification("firing", "k"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(text, "spec.alerts.defaultIncidentCommander") {
		t.Fatalf("answered %d %q", code, text)
	}
	if n := len(in.incidents()); n != 0 {
		t.Fatalf("%d incidents", n)
	}
}

func TestConcurrentDuplicateNotificationsToTwoReplicasOpenOneIncident(t *testing.T) {
	in := newIntake(t, teamPolicy)
	const sends = 40
	var wg sync.WaitGroup
	codes := make(chan string, sends)
	// Half race to open the incident, half to record themselves on the one just opened.
	for i := range sends {
		if i == sends/2 {
			wg.Wait()
		}
		wg.Go(func() {
			code, text := in.postTo(in.replicas[i%2], alertToken, notification("firing", `{}:{alertname="HighErrorRate"}`))
			codes <- fmt.Sprint(code, " ", text)
		})
	}
	wg.Wait()
	close(codes)
	opened := 0
	for c := range codes {
		if !strings.HasPrefix(c, "200 ") {
			t.Errorf("answered %s", c)
		}
		if strings.Contains(c, `"opened":true`) {
			opened++
		}
	}
	incs := in.incidents()
	if len(incs) != 1 || opened != 1 {
		t.Fatalf("%d incidents, %d answers said opened; want 1 and 1", len(incs), opened)
	}
	inc := incs[0]
	if inc.Spec.Alerts.Notifications != sends || inc.Spec.Roles.Commander != "oncall@example.com" || inc.Spec.State != v1alpha1.StateMajor {
		t.Fatalf("incident %s: %d notifications, IC %q, state %s", inc.Name, inc.Spec.Alerts.Notifications, inc.Spec.Roles.Commander, inc.Spec.State)
	}
	// The timeline records the declaration by the gateway and the notifications.
	testenv.Eventually(t, 20*time.Second, func() error {
		got := &v1alpha1.Incident{}
		must(t, in.e.Client.Get(context.Background(), client.ObjectKeyFromObject(&inc), got))
		if got.Status.Recorded == nil || got.Status.Recorded.AlertNotifications != sends {
			return fmt.Errorf("recorded %+v, timeline %+v", got.Status.Recorded, got.Status.Timeline)
		}
		return nil
	})
}
