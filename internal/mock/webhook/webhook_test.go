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

package webhook_test

import (
	"net/http"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/mock/webhook"
	"firescope.dev/firescope/internal/notify"
)

func TestTheReceiverChecksSignatureAndBody(t *testing.T) {
	s := webhook.NewWithSecret([]byte("k"))
	defer s.Close()
	good := `{"id":"a1","kind":"StateChanged","text":"@all: Incident Confirmed"}`
	cases := []struct {
		name, body, signature, delivery, contentType string
		status                                       int
	}{
		{"valid", good, notify.Sign([]byte("k"), []byte(good)), "a1", "application/json", 204},
		{"wrong secret", good, notify.Sign([]byte("x"), []byte(good)), "a1", "application/json", 401},
		{"no signature", good, "", "a1", "application/json", 401},
		{"delivery header differs", good, notify.Sign([]byte("k"), []byte(good)), "b2", "application/json", 400},
		{"not JSON", "{", notify.Sign([]byte("k"), []byte("{")), "a1", "application/json", 400},
		{"no text", `{"id":"a1"}`, notify.Sign([]byte("k"), []byte(`{"id":"a1"}`)), "a1", "application/json", 400},
		{"form", good, notify.Sign([]byte("k"), []byte(good)), "a1", "text/plain", 415},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.contentType)
		req.Header.Set(notify.DeliveryHeader, tc.delivery)
		if tc.signature != "" {
			req.Header.Set(notify.SignatureHeader, tc.signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	if got := s.Announcements(); len(got) != 1 || got[0].ID != "a1" {
		t.Errorf("accepted %+v, want only the valid one", got)
	}
}

func TestNewMakesARandomSecretAndDuplicatesAreReported(t *testing.T) {
	a, b := webhook.New(), webhook.New()
	defer a.Close()
	defer b.Close()
	if len(a.Secret()) == 0 || string(a.Secret()) == string(b.Secret()) {
		t.Fatal("each receiver should have its own secret")
	}
	body := []byte(`{"id":"same","text":"x"}`)
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, a.URL, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(notify.DeliveryHeader, "same")
		req.Header.Set(notify.SignatureHeader, notify.Sign(a.Secret(), body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if d := a.Duplicates(); len(d) != 1 || d[0] != "same" {
		t.Errorf("duplicates = %v", d)
	}
}
