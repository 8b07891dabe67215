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

package statusupdate

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestStalledIsHowLongAnUpdateThatNeedsARetryOrAPersonWentUnpublished(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	published := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{
			{Type: v1alpha1.ConditionWordingOK, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonRetrying, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))},
			{Type: v1alpha1.ConditionPublished, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-20 * time.Minute))},
		}
	}
	for _, tc := range []struct {
		name       string
		conds      []metav1.Condition
		wantReason string
		wantOK     bool
	}{
		{"retrying", published(metav1.ConditionFalse, v1alpha1.ReasonRetrying), v1alpha1.ReasonRetrying, true},
		{"needs attention", published(metav1.ConditionFalse, v1alpha1.ReasonNeedsAttention), v1alpha1.ReasonNeedsAttention, true},
		{"pending", published(metav1.ConditionFalse, v1alpha1.ReasonPublishPending), "", false},
		{"rejected", published(metav1.ConditionFalse, v1alpha1.ReasonRejected), "", false},
		{"published", published(metav1.ConditionTrue, v1alpha1.ReasonPublished), "", false},
		{"no condition yet", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, age, ok := Stalled(tc.conds, now)
			if reason != tc.wantReason || ok != tc.wantOK {
				t.Fatalf("Stalled = %q, %v; want %q, %v", reason, ok, tc.wantReason, tc.wantOK)
			}
			if ok && age != (20*time.Minute).Seconds() {
				t.Fatalf("age %vs, want 1200s (since the Published condition turned False)", age)
			}
		})
	}
}

func TestStatusPageRequestsAreCountedByResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			w.WriteHeader(http.StatusUnauthorized)
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	page := &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Namespace: "metrics-test", Name: "public"}}
	hc := countRequests(&http.Client{Timeout: 5 * time.Second}, page)
	for _, url := range []string{srv.URL + "/ok", srv.URL + "/ok", srv.URL + "/bad", srv.URL + "/down", closed} {
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
		}
	}
	for result, want := range map[string]float64{"ok": 2, "client_error": 1, "server_error": 1, "unreachable": 1} {
		m := &dto.Metric{}
		if err := statusPageRequests.WithLabelValues("metrics-test", "public", result).Write(m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("%s: %v requests, want %v", result, got, want)
		}
	}
}
