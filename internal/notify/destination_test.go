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

package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/safehttp"
)

// A comms channel's URL is the policy editor's to choose; what answers there is not read back
// into the Event that reports the failure, and an internal address is not called at all.
func TestAWebhookChannelNeitherReadsBackAnswersNorCallsInternalAddresses(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message": "internal data of the service behind"}`)
	}))
	t.Cleanup(srv.Close)
	allowed := notify.NewWebhook(srv.URL+"/hook", []byte("signing-key"), safehttp.Loopback().Guard(delivery.NewHTTPClient(0)), nil)
	err := allowed.Announce(context.Background(), handoff)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || strings.Contains(err.Error(), "internal data") {
		t.Fatalf("got %v, want the status without the answer", err)
	}
	refused := notify.NewWebhook(srv.URL+"/hook", []byte("signing-key"), (&safehttp.Allowlist{}).Guard(delivery.NewHTTPClient(0)), nil)
	err = refused.Announce(context.Background(), handoff)
	if err == nil || !delivery.Assess(err).Terminal || !strings.Contains(err.Error(), "refused to call") {
		t.Fatalf("got %v, want a permanent refusal", err)
	}
	if n != 1 {
		t.Fatalf("the server received %d requests, want only the allowed one", n)
	}
}
