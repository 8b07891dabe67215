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

package safehttp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/safehttp"
)

// server is a test server on 127.0.0.1 that counts the connections made to it: a refused
// request must not even connect.
type server struct {
	*httptest.Server
	conns atomic.Int32
}

func newServer(t *testing.T, tls bool, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "fine") }

func get(c *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func TestInternalDestinationsAreRefusedWithoutConnecting(t *testing.T) {
	srv := newServer(t, true, ok)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	guarded := (&safehttp.Allowlist{}).Guard(srv.Client())
	for _, host := range []string{
		"127.0.0.1",          // a loopback literal
		"[::ffff:127.0.0.1]", // the same, mapped into IPv6
		// A name that looks harmless in the URL and resolves to loopback: only the address
		// dialled tells, which is what a rebinding name changes between look-ups.
		"localhost",
	} {
		t.Run(host, func(t *testing.T) {
			url := "https://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)) + "/"
			resp, err := get(guarded, url)
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("GET %s succeeded, want it refused", url)
			}
			var refused *safehttp.RefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), "loopback address") ||
				!strings.Contains(err.Error(), "--allow-private-destinations") {
				t.Fatalf("GET %s: %v, want a RefusedError naming the loopback address and the flag", url, err)
			}
			if !delivery.Assess(delivery.Classify(nil, err)).Terminal {
				t.Errorf("a refused destination is classified retryable: it never succeeds until a person acts")
			}
		})
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("the server saw %d connections, want none", n)
	}
}

func TestAllowedDestinationsAreCalled(t *testing.T) {
	srv := newServer(t, false, ok)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	for name, tc := range map[string]struct{ allow, host string }{
		"loopback network": {"127.0.0.0/8", "127.0.0.1"},
		"one address":      {"127.0.0.1", "127.0.0.1"},
		"a host name":      {"LocalHost.", "localhost"},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := safehttp.ParseAllowlist(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := get(a.Guard(srv.Client()), "http://"+net.JoinHostPort(tc.host, port)+"/")
			if err != nil {
				t.Fatalf("allowed by %q: %v", tc.allow, err)
			}
			_ = resp.Body.Close()
		})
	}
}

func TestPlainHTTPOnlyToAllowedDestinations(t *testing.T) {
	// 127.0.0.1 is allowed as an address but the request names localhost, which is not listed:
	// plain http needs the destination itself allowed.
	srv := newServer(t, false, ok)
	a, _ := safehttp.ParseAllowlist("127.0.0.0/8")
	_, err := get(a.Guard(srv.Client()), "http://localhost:"+strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)+"/")
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("got %v, want plain http refused", err)
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("the server saw %d connections, want none", n)
	}
}

func TestErrorAnswersOfOtherHostsAreNotReadBack(t *testing.T) {
	const internal = `{"message": "root:x:0:0 internal data"}`
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			_, _ = io.WriteString(w, "the answer")
			return
		}
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, internal)
	})
	c := safehttp.Loopback().Guard(srv.Client())
	resp, err := get(c, srv.URL+"/fail")
	if err != nil {
		t.Fatal(err)
	}
	cerr := delivery.Classify(resp, nil)
	_ = resp.Body.Close()
	if after, retry := delivery.Assess(cerr).After, !delivery.Assess(cerr).Terminal; !retry || after.Seconds() != 7 {
		t.Errorf("classified %v, want retryable after the server's 7s: status and headers stay", cerr)
	}
	if strings.Contains(cerr.Error(), "internal data") {
		t.Fatalf("the error reads back the answer: %v", cerr)
	}
	// A successful answer is the caller's to read.
	resp, err = get(c, srv.URL+"/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(b) != "the answer" {
		t.Errorf("2xx body = %q", b)
	}
}

func TestParseEndpointRefusesWhatWouldChangeTheRequest(t *testing.T) {
	for raw, want := range map[string]string{
		"https://status.example.com":                     "",
		"http://127.0.0.1:8080/base/":                    "",
		"https://status.example.com/x?":                  "query",
		"https://status.example.com/x?a=b":               "query",
		"https://status.example.com/x#frag":              "fragment",
		"https://status.example.com/x#":                  "fragment",
		"https://user:hunter2@status.example.com":        "user or password",
		"ftp://status.example.com":                       "http or https",
		"status.example.com/x":                           "http or https",
		"https:///path":                                  "no host",
		"https://hooks.slack.com/services/T/B/%zzsecret": "does not parse",
	} {
		_, err := safehttp.ParseEndpoint(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want an error about %q", raw, err, want)
		case err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret")):
			t.Errorf("%s: the error quotes the URL: %v", raw, err)
		}
	}
}

func TestAllowlistParsing(t *testing.T) {
	a, err := safehttp.ParseAllowlist(" 10.0.0.0/8, 127.0.0.1,::1, Status.Firescope-Statuspage.svc ,")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.String(), "10.0.0.0/8,127.0.0.1/32,::1/128,status.firescope-statuspage.svc"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "status.example.com:8080", "http://status.example.com"} {
		if _, err := safehttp.ParseAllowlist(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
}

func TestParseWebhookURLTakesAQueryButNothingElse(t *testing.T) {
	const teams = "https://prod-12.westeurope.logic.azure.com:443/workflows/0123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cretSig"
	for raw, want := range map[string]string{
		teams:                                   "",
		"https://chat.example.com/hooks/abc123": "",
		"https://chat.example.com/hooks/abc?sig=x#frag":     "fragment",
		"https://user:hunter2@chat.example.com/hooks/a?b=c": "user or password",
		"ftp://chat.example.com/hooks/a?b=c":                "http or https",
		"https://chat.example.com/hooks/a?b=%zzsecret":      "does not parse",
	} {
		u, err := safehttp.ParseWebhookURL(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", raw, err)
		case want == "" && u.String() != raw:
			t.Errorf("%s: parsed as %s", raw, u)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want an error about %q", raw, err, want)
		case err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret")):
			t.Errorf("%s: the error quotes the URL: %v", raw, err)
		}
	}
}

func TestMatchHost(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.logic.azure.com", "prod-12.westeurope.logic.azure.com", true},
		{"*.logic.azure.com", "logic.azure.com", false},
		{"*.logic.azure.com", "evillogic.azure.com", false},
		{"*.environment.api.powerplatform.com", "default0123.45.environment.api.powerplatform.com", true},
		{"chat.example.com", "chat.example.com", true},
		{"chat.example.com", "www.chat.example.com", false},
	} {
		if got := safehttp.MatchHost(tc.pattern, tc.host); got != tc.want {
			t.Errorf("MatchHost(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
	if !safehttp.IsVendorHost("prod-12.westeurope.logic.azure.com") || safehttp.IsVendorHost("chat.example.com") {
		t.Error("IsVendorHost: Teams Workflows hosts are Microsoft's, a Mattermost server is nobody's we know")
	}
}
