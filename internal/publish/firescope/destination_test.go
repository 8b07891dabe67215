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

package firescope_test

import (
	"strings"
	"testing"

	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/safehttp"
)

func TestARefusalOfAPageThatIsNotReadBackSaysWhatToCheck(t *testing.T) {
	srv := newPage(t)
	// The guarded client drops the page's answer: its host is not a known vendor's.
	prov := firescope.New(srv.URL, "wrong-token-0123456789", safehttp.Loopback().Guard(srv.Client()))
	_, err := prov.Publish(ctx, publish.Update{IncidentKey: key, UpdateID: "su-1", Title: "Database errors", Status: "investigating", Body: "Looking."})
	if err == nil || retryable(err) || !strings.Contains(err.Error(), "the write token was refused; check the token in the StatusPage's Secret") ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("got %v, want a permanent 401 that names the token", err)
	}
}
