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

package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/delivery"
)

const secret = "s3cr3t-t0ken-abcdef"

func response(status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}
}

func TestClassifyTreatsEvery2xxAsDelivered(t *testing.T) {
	for _, code := range []int{200, 201, 202, 204} {
		if err := delivery.Classify(response(code, nil, "ok"), nil); err != nil {
			t.Errorf("Classify(%d) = %v, want nil", code, err)
		}
	}
}

func TestClassifyHonoursRetryAfterOn429And503(t *testing.T) {
	date := http.Header{"Retry-After": {time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)}}
	cases := []struct {
		name      string
		status    int
		header    http.Header
		min, max  time.Duration
		wantInMsg string
	}{
		{"429 with seconds", 429, http.Header{"Retry-After": {"7"}}, 7 * time.Second, 7 * time.Second, "429 Too Many Requests"},
		{"503 with seconds", 503, http.Header{"Retry-After": {"30"}}, 30 * time.Second, 30 * time.Second, "503 Service Unavailable"},
		{"429 with an HTTP date", 429, date, 80 * time.Second, 90 * time.Second, "429"},
		{"429 without Retry-After leaves the delay to the caller", 429, nil, 0, 0, "429"},
		{"429 with a malformed Retry-After leaves the delay to the caller", 429, http.Header{"Retry-After": {"soon"}}, 0, 0, "429"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := delivery.Classify(response(tc.status, tc.header, "rate_limited"), nil)
			after, ok := delivery.Assess(err).After, !delivery.Assess(err).Terminal
			if !ok {
				t.Fatalf("Classify = %v, want retryable", err)
			}
			if after < tc.min || after > tc.max {
				t.Errorf("after = %s, want between %s and %s", after, tc.min, tc.max)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) || !strings.Contains(err.Error(), "rate_limited") {
				t.Errorf("error %q should name the status and the vendor's text", err)
			}
		})
	}
}

func TestClassifyRetries5xxAnd408WithTheCallersBackoff(t *testing.T) {
	for _, code := range []int{408, 425, 500, 502, 503, 504} {
		err := delivery.Classify(response(code, nil, "rollup_error"), nil)
		after, ok := delivery.Assess(err).After, !delivery.Assess(err).Terminal
		if err == nil || !ok || after != 0 {
			t.Errorf("Classify(%d) = %v (after %s, retryable %v), want retryable with no server delay", code, err, after, ok)
		}
		var se *delivery.StatusError
		if !errors.As(err, &se) || se.StatusCode != code {
			t.Errorf("Classify(%d) should carry a *StatusError with the status, got %#v", code, err)
		}
	}
}

func TestClassifyMakes4xxPermanentWithTheVendorsText(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"slack plain text", "channel_not_found", 404, "HTTP 404 Not Found: channel_not_found"},
		{"pagerduty json", `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`, 400,
			"HTTP 400 Bad Request: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"},
		{"json error field", `{"ok":false,"error":"invalid_auth"}`, 403, "HTTP 403 Forbidden: invalid_auth"},
		{"empty body", "", 401, "HTTP 401 Unauthorized"},
		{"a redirect that was not followed", "", 302, "HTTP 302 Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := delivery.Classify(response(tc.status, nil, tc.body), nil)
			if err == nil {
				t.Fatal("Classify = nil, want an error")
			}
			if !delivery.Assess(err).Terminal {
				t.Errorf("Classify(%d) = %v is retryable, want permanent", tc.status, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestClassifyShortensAHugeErrorPage(t *testing.T) {
	page := "<html><body>" + strings.Repeat("bad gateway ", 2000) + "</body></html>"
	err := delivery.Classify(response(400, nil, page), nil)
	if n := len([]rune(err.Error())); n > 400 {
		t.Errorf("error has %d characters, want it bounded", n)
	}
}

func TestTransportFailuresAreRetryableAndNeverNameTheURL(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices when the client gives up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()

	cases := []struct {
		name     string
		url      string
		client   *http.Client
		ctx      func() (context.Context, context.CancelFunc)
		deadline bool
	}{
		{"connection refused", refusedURL, delivery.NewHTTPClient(time.Second), nil, false},
		{"client timeout", slow.URL, delivery.NewHTTPClient(50 * time.Millisecond), nil, true},
		{"context deadline", slow.URL, delivery.NewHTTPClient(time.Minute), func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			err := delivery.PostJSON(ctx, tc.client, tc.url+"/services/"+secret+"?token="+secret, []byte(`{}`), nil)
			if delivery.Assess(err).Terminal {
				t.Fatalf("error %v should be retryable", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "/services/") {
				t.Errorf("error %q names the URL", err)
			}
			if tc.deadline && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
				t.Errorf("error %q should say it timed out", err)
			}
		})
	}
}

func TestAnUntrustedCertificateIsPermanent(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	err := delivery.PostJSON(context.Background(), delivery.NewHTTPClient(time.Second), srv.URL+"/"+secret, []byte(`{}`), nil)
	if err == nil {
		t.Fatal("want an error for a certificate signed by an unknown authority")
	}
	if !delivery.Assess(err).Terminal {
		t.Errorf("error %v is retryable; a bad certificate needs a person", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q names the URL", err)
	}
}

func TestAnInvalidURLIsPermanentAndNotQuoted(t *testing.T) {
	for _, u := range []string{"https://hooks.example.com/%zz" + secret, "ftp://example.com/" + secret, "::" + secret} {
		err := delivery.PostJSON(context.Background(), nil, u, nil, nil)
		if err == nil {
			t.Fatalf("PostJSON(%q) = nil", u)
		}
		if !delivery.Assess(err).Terminal {
			t.Errorf("PostJSON(%q) = %v is retryable, want permanent", u, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q quotes the URL", err)
		}
	}
}

func TestTheClientDoesNotFollowRedirects(t *testing.T) {
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets++
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	err := delivery.PostJSON(context.Background(), delivery.NewHTTPClient(time.Second), srv.URL, []byte(`{}`), nil)
	if err == nil || gets != 0 {
		t.Fatalf("PostJSON = %v after %d GETs; want a permanent error and no GET", err, gets)
	}
	if !delivery.Assess(err).Terminal {
		t.Errorf("a redirect should be permanent, got %v", err)
	}
}

func TestPostJSONSendsTheHeadersAndBody(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	err := delivery.PostJSON(context.Background(), nil, srv.URL+"/x", []byte(`{"a":1}`), http.Header{"X-Test": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/json" || got.Header.Get("X-Test") != "yes" || string(body) != `{"a":1}` {
		t.Errorf("server got %s %v %q", got.Method, got.Header, body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRedactHidesSecretsAndKeepsTheClassification(t *testing.T) {
	err := fmt.Errorf("vendor: %w", &delivery.RetryableError{Err: errors.New("bad key " + secret), After: 3 * time.Second})
	red := delivery.Redact(err, secret, "")
	if strings.Contains(red.Error(), secret) || !strings.Contains(red.Error(), "[redacted]") {
		t.Errorf("Redact = %q", red)
	}
	if after, ok := delivery.Assess(red).After, !delivery.Assess(red).Terminal; !ok || after != 3*time.Second {
		t.Errorf("Assess(Redact(...)) = %s, retry %v; want 3s, true", after, ok)
	}
	if delivery.Redact(nil, secret) != nil {
		t.Error("Redact(nil) should be nil")
	}
	plain := errors.New("nothing to hide")
	if delivery.Redact(plain, secret) != plain { //nolint:errorlint // the same value, not one that wraps it
		t.Error("Redact should return an error with nothing to hide unchanged")
	}
}

func TestBackoffGrowsExponentiallyUpToTheCapWithFullJitter(t *testing.T) {
	base, max := time.Second, time.Minute
	for n := 1; n <= 100; n++ {
		ceiling := base << min(n-1, 10)
		if ceiling > max {
			ceiling = max
		}
		var biggest time.Duration
		for range 200 {
			d := delivery.Backoff(n, base, max)
			if d < 0 || d > ceiling {
				t.Fatalf("Backoff(%d) = %s, want within [0, %s]", n, d, ceiling)
			}
			biggest = later(biggest, d)
		}
		// With 200 uniform draws, the largest is below half the ceiling with probability 2^-200.
		if biggest < ceiling/2 {
			t.Errorf("Backoff(%d) never went above %s of a possible %s", n, biggest, ceiling)
		}
	}
	if d := delivery.Backoff(0, base, max); d < 0 || d > base {
		t.Errorf("Backoff(0) = %s, want the first attempt's range", d)
	}
	if d := delivery.Backoff(3, 0, max); d != 0 {
		t.Errorf("Backoff with no base = %s, want 0", d)
	}
	if d := delivery.Backoff(1, time.Hour, time.Minute); d > time.Minute {
		t.Errorf("Backoff with base above the cap = %s, want at most the cap", d)
	}
}

func later(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func TestNewHTTPClientDefaultsTheTimeout(t *testing.T) {
	if c := delivery.NewHTTPClient(0); c.Timeout != delivery.DefaultTimeout {
		t.Errorf("timeout = %s, want %s", c.Timeout, delivery.DefaultTimeout)
	}
	if c := delivery.NewHTTPClient(3 * time.Second); c.Timeout != 3*time.Second {
		t.Errorf("timeout = %s, want 3s", c.Timeout)
	}
}

func TestRetryAfterAcceptsBothFormsCapsThemAndRefusesGarbage(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"300", delivery.MaxRetryAfter},
		// A year, or more seconds than fit in an int64, waits the cap, not a year.
		{"31536000", delivery.MaxRetryAfter},
		{"99999999999999999999999", delivery.MaxRetryAfter},
		// Neither form: the caller backs off on its own.
		{"-5", 0},
		{"+5", 0},
		{"1.5", 0},
		{"5 5", 0},
		{"later", 0},
		{"0x10", 0},
		// IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept.
		{"Fri, 02 Jan 2026 03:05:05 GMT", time.Minute},
		{"Friday, 02-Jan-26 03:05:05 GMT", time.Minute},
		{"Fri Jan  2 03:05:05 2026", time.Minute},
		{"Fri, 02 Jan 2026 03:00:00 GMT", 0},
		{"Sat, 02 Jan 2027 03:04:05 GMT", delivery.MaxRetryAfter},
		{"Fri, 02 Jan 2026 03:05:05", 0},
	}
	for _, tc := range cases {
		if got := delivery.RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzRetryAfter checks that no header value makes a negative delay or one over the cap.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "-1", "99999999999999999999", "Fri, 02 Jan 2026 03:05:05 GMT", "Fri Jan  2 03:05:05 2026", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := delivery.RetryAfter(v, now); d < 0 || d > delivery.MaxRetryAfter {
			t.Fatalf("RetryAfter(%q) = %s, want 0..%s", v, d, delivery.MaxRetryAfter)
		}
	})
}

// FuzzClassify checks, for any status, Retry-After and body, that Classify never panics, puts
// every answer in the right class and keeps the vendor's text bounded.
func FuzzClassify(f *testing.F) {
	f.Add(429, "7", "rate_limited")
	f.Add(400, "", `{"status":"invalid event","message":"Event object is invalid","errors":["x"]}`)
	f.Add(503, "Fri, 02 Jan 2026 03:05:05 GMT", "<html>")
	f.Add(200, "", "ok")
	f.Add(404, "", `{"error":{"message":"nested"},"errors":"str"}`)
	f.Fuzz(func(t *testing.T, status int, retryAfter, body string) {
		if status < 100 || status > 999 {
			return
		}
		err := delivery.Classify(response(status, http.Header{"Retry-After": {retryAfter}}, body), nil)
		after, retry := delivery.Assess(err).After, !delivery.Assess(err).Terminal
		switch {
		case status >= 200 && status < 300:
			if err != nil {
				t.Fatalf("%d: %v, want nil", status, err)
			}
		case status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600):
			if !retry || after < 0 {
				t.Fatalf("%d: %v, want retryable", status, err)
			}
		default:
			if err == nil || retry {
				t.Fatalf("%d: %v, want permanent", status, err)
			}
		}
		if err != nil && len([]rune(err.Error())) > 400 {
			t.Fatalf("%d: error has %d characters", status, len([]rune(err.Error())))
		}
	})
}

func TestAssessRetriesWhatNobodyClassified(t *testing.T) {
	notFound := &delivery.StatusError{StatusCode: http.StatusNotFound, Text: "no_service"}
	unavailable := &delivery.RetryableError{Err: &delivery.StatusError{StatusCode: http.StatusServiceUnavailable}}
	throttled := &delivery.RetryableError{Err: &delivery.StatusError{StatusCode: http.StatusTooManyRequests}, After: 9 * time.Second}
	for _, tc := range []struct {
		name string
		err  error
		want delivery.Failure
	}{
		{name: "an error nobody classified is transient", err: errors.New("something odd"), want: delivery.Failure{}},
		{name: "a wrapped one too", err: fmt.Errorf("slack: %w", errors.New("something odd")), want: delivery.Failure{}},
		{name: "a 5xx is transient", err: unavailable, want: delivery.Failure{}},
		{name: "a 429 with Retry-After waits that long", err: fmt.Errorf("slack: %w", throttled), want: delivery.Failure{After: 9 * time.Second}},
		{name: "a 4xx that will never succeed is terminal", err: fmt.Errorf("pagerduty: %w", notFound), want: delivery.Failure{Terminal: true, Reason: "Refused"}},
		{name: "marked terminal with its reason", err: delivery.Terminal("PolicyChanged", errors.New("no comms channel")), want: delivery.Failure{Terminal: true, Reason: "PolicyChanged"}},
		{name: "the outermost mark decides: a retryable answer marked terminal", err: delivery.Terminal("GaveUp", unavailable), want: delivery.Failure{Terminal: true, Reason: "GaveUp"}},
		{name: "the outermost mark decides: a refusal marked retryable", err: &delivery.RetryableError{Err: notFound}, want: delivery.Failure{}},
		{name: "a redacted error keeps its class", err: delivery.Redact(fmt.Errorf("x: %w", notFound), "secret"), want: delivery.Failure{Terminal: true, Reason: "Refused"}},
		{name: "a 503 says the server did not act", err: answer(http.StatusServiceUnavailable), want: delivery.Failure{NotApplied: true}},
		{name: "a 429 says the server did not act", err: answer(http.StatusTooManyRequests), want: delivery.Failure{NotApplied: true}},
		{name: "a 408 says the server did not act", err: answer(http.StatusRequestTimeout), want: delivery.Failure{NotApplied: true}},
		{name: "a 500 may have acted", err: answer(http.StatusInternalServerError), want: delivery.Failure{}},
		{name: "a 502 may have acted", err: answer(http.StatusBadGateway), want: delivery.Failure{}},
		{name: "a 504 may have acted", err: answer(http.StatusGatewayTimeout), want: delivery.Failure{}},
		{name: "a request that never left did not act", err: fmt.Errorf("x: %w", &delivery.RetryableError{Err: fmt.Errorf("%w: busy", delivery.ErrNotSent), After: time.Second}),
			want: delivery.Failure{After: time.Second, NotApplied: true}},
		{name: "a refused connection sent nothing", err: delivery.Classify(nil, &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}),
			want: delivery.Failure{NotApplied: true}},
		{name: "a reset connection may have acted", err: delivery.Classify(nil, &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}),
			want: delivery.Failure{}},
		{name: "a timeout may have acted", err: delivery.Classify(nil, &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: context.DeadlineExceeded}), want: delivery.Failure{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := delivery.Assess(tc.err); got != tc.want {
				t.Fatalf("Assess(%v) = %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
}

// answer is how Classify judges an answer with status.
func answer(status int) error {
	return delivery.Classify(&http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}, nil)
}

func TestAssessTellsAnUnusableEndpointFromAnUnreachableOne(t *testing.T) {
	refused := delivery.Classify(nil, &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: errors.New("connect: connection refused")})
	if got := delivery.Assess(refused); got.Terminal {
		t.Fatalf("a refused connection is terminal: %+v", got)
	}
	bad := delivery.Classify(nil, &url.Error{Op: "Post", URL: "ftp://x", Err: errors.New(`unsupported protocol scheme "ftp"`)})
	if got := delivery.Assess(bad); !got.Terminal || got.Reason != "Unusable" {
		t.Fatalf("an unsupported scheme: %+v", got)
	}
}
