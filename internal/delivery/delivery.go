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

// Package delivery holds what every outbound HTTP client of Firescope shares: one HTTP client
// with sane timeouts, one classification of answers into success, "try again" (with the
// server's Retry-After when it gave one) and "will never work", and the backoff between tries.
//
// Clients make one attempt per call; the caller (the controller's outbox) decides when to try
// again, so that a slow vendor never blocks other incidents.
package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"firescope.dev/firescope/internal/safehttp"
)

// DefaultTimeout bounds one whole request (connect, send, answer) when NewHTTPClient is given 0.
const DefaultTimeout = 10 * time.Second

// RetryableError is a failure that may go away if the same request is sent again.
type RetryableError struct {
	// Err is the failure, free of secrets.
	Err error
	// After is how long the server asked us to wait (429 or 503 with Retry-After); 0 means the
	// server did not say and the caller backs off on its own.
	After time.Duration
	// NotApplied is true when the answer itself says the server did not act on the request
	// (see StatusNotApplied), so that sending it again cannot do anything twice.
	NotApplied bool
}

func (e *RetryableError) Error() string {
	msg := "temporary failure"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.After > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.After)
	}
	return msg
}

// Unwrap returns the underlying failure.
func (e *RetryableError) Unwrap() error { return e.Err }

// ErrNotSent is wrapped by a *RetryableError for a request that never left Firescope (a
// client-side rate limit or a namespace's share of outbound calls said not yet): its outcome
// is known, nothing happened, so the caller can send it again without asking what landed.
var ErrNotSent = errors.New("not sent")

// The vocabulary of failures, after Flux's internal/error. Every failed call is one of:
//   - terminal: trying again cannot help, a person must act; Terminal(reason, err) marks one,
//     and so are an answer that will never succeed (a *StatusError not marked retryable) and
//     a certificate or URL the client cannot use. The reason goes into conditions and Events.
//   - waiting: try again once the time the server asked for has passed (a *RetryableError
//     with After, from Retry-After).
//   - transient: everything else, including every error nobody classified: try again with
//     backoff. So a failure that nobody foresaw is retried, never dropped.
//
// A waiting or transient failure is also either known to have had no effect (NotApplied: the
// request never left Firescope, or the server answered that it did not act on it) or of
// unknown outcome (a timeout, a reset connection, any other 5xx), which a caller that must
// not do a thing twice settles by asking the vendor what landed before it sends again.

// TerminalError is a failure that trying again cannot mend.
type TerminalError struct {
	// Reason names the failure in one CamelCase word, for a condition or an Event.
	Reason string
	// Err is the failure, free of secrets.
	Err error
}

func (e *TerminalError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying failure.
func (e *TerminalError) Unwrap() error { return e.Err }

// Terminal marks err as a failure that trying again cannot mend, for the given reason.
func Terminal(reason string, err error) error { return &TerminalError{Reason: reason, Err: err} }

// Failure is what a caller does about a failed call.
type Failure struct {
	// Terminal is true when trying again cannot help; Reason then says why.
	Terminal bool
	Reason   string
	// After is how long the server asked to wait before the next try; zero means back off.
	After time.Duration
	// NotApplied is true when the failed request is known to have had no effect.
	NotApplied bool
}

// Assess classifies a non-nil err in the vocabulary above. The outermost classification in
// err's chain decides, so a caller can mark a client's retryable answer as terminal and the
// other way round.
func Assess(err error) Failure {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e := e.(type) { //nolint:errorlint // walks the chain itself: the outermost classification decides
		case *TerminalError:
			return Failure{Terminal: true, Reason: e.Reason}
		case *RetryableError:
			return Failure{After: e.After, NotApplied: e.NotApplied || errors.Is(e.Err, ErrNotSent)}
		case *StatusError:
			return Failure{Terminal: true, Reason: "Refused"}
		case *transportError:
			if permanentTransport(e.err) {
				return Failure{Terminal: true, Reason: "Unusable"}
			}
			return Failure{}
		}
	}
	return Failure{}
}

// StatusError is an answer other than 2xx. Classify returns it as is when the status will never
// succeed (a bad key, a bad payload) and inside a *RetryableError otherwise.
type StatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Text is the vendor's own description of the error, shortened, or "" if it gave none.
	Text string
}

func (e *StatusError) Error() string {
	msg := "HTTP " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		msg += " " + t
	}
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// transportError is a failure to get an answer at all. It carries the method but never the
// URL, which for webhooks is itself the credential.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string {
	if e.op == "" {
		return "request failed: " + e.err.Error()
	}
	return strings.ToUpper(e.op) + " request failed: " + e.err.Error()
}

func (e *transportError) Unwrap() error { return e.err }

// Classify turns an HTTP response (or transport error) into nil, a *RetryableError (timeouts,
// connection resets/refused, 429, 5xx, 408) or a permanent error that names the status and the
// vendor's error text (4xx that will never succeed: bad key, bad payload). It never includes
// secrets (URLs with tokens, routing keys) in the error text.
//
// For an answer other than 2xx, Classify reads the beginning of resp.Body for the vendor's
// text; the caller still closes the body.
func Classify(resp *http.Response, err error) error {
	if err != nil {
		return classifyTransport(err)
	}
	if resp == nil {
		return errors.New("no answer and no error from the HTTP client")
	}
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	se := &StatusError{StatusCode: code, Text: vendorText(resp.Body)}
	if retryableStatus(code) {
		return &RetryableError{Err: se, After: RetryAfter(resp.Header.Get("Retry-After"), time.Now()), NotApplied: StatusNotApplied(code)}
	}
	return se
}

// StatusNotApplied reports whether an answer with this status says, by its definition, that the
// server did not act on the request, so that it can be sent again without asking what
// landed:
//   - 408 Request Timeout (RFC 9110 15.5.9): the server did not receive a complete request;
//   - 425 Too Early (RFC 8470 5.2): the server is unwilling to risk processing it;
//   - 429 Too Many Requests (RFC 6585 4): refused for the sender's rate; Statuspage documents
//     that its 420 and 429 mean "the request has been rejected";
//   - 503 Service Unavailable (RFC 9110 15.6.4): the server "is currently unable to handle
//     the request", a temporary condition; RFC 9110 9.2.2 lets a client retry a request it
//     knows was never applied.
//
// 500, 502 and 504 are not: the server, or one behind a gateway, may have acted before it
// failed. Statuspage documents no 5xx answer at all, so these definitions are all there is.
func StatusNotApplied(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return false
}

func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

func classifyTransport(err error) error {
	// *url.Error names the URL; keep only the method and the cause.
	op, cause := "", err
	for {
		var ue *url.Error
		if !errors.As(cause, &ue) {
			break
		}
		if op == "" {
			op = ue.Op
		}
		cause = ue.Err
	}
	if cause == nil {
		cause = errors.New("unknown transport error")
	}
	te := &transportError{op: op, err: cause}
	if permanentTransport(cause) {
		return te
	}
	// Timeouts, refused and reset connections, EOF, DNS trouble, a cancelled context: the
	// outcome is unknown or the vendor unreachable for now. PagerDuty documents retrying
	// "networking errors"; the others behave the same. Only a failure to connect at all (DNS
	// included) shows that no request left.
	var netOp *net.OpError
	return &RetryableError{Err: te, NotApplied: errors.As(cause, &netOp) && netOp.Op == "dial"}
}

// permanentTransport reports transport failures that need a person: a certificate that does not
// verify, a destination the guarded client refuses, or a URL the client cannot use.
func permanentTransport(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		refused          *safehttp.RefusedError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verification) ||
		errors.As(err, &refused) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "no Host in request URL")
}

// maxVendorText bounds the vendor's text kept in an error, so that an HTML error page from a
// proxy does not end up whole in a condition.
const maxVendorText = 300

// vendorText extracts the vendor's description from an error body: the message, error and
// errors fields of a JSON body (PagerDuty, most APIs), or the plain text (Slack).
func vendorText(body io.Reader) string {
	if body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(body, 8<<10))
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	text := string(b)
	var obj map[string]any
	if b[0] == '{' && json.Unmarshal(b, &obj) == nil {
		if t := jsonErrorText(obj); t != "" {
			text = t
		}
	}
	return shorten(text, maxVendorText)
}

func jsonErrorText(obj map[string]any) string {
	var parts []string
	add := func(v any) {
		switch v := v.(type) {
		case string:
			if v != "" {
				parts = append(parts, v)
			}
		case map[string]any:
			if m, ok := v["message"].(string); ok && m != "" {
				parts = append(parts, m)
			}
		}
	}
	add(obj["message"])
	add(obj["error"])
	switch errs := obj["errors"].(type) {
	case []any:
		for _, e := range errs {
			add(e)
		}
	default:
		add(errs)
	}
	if len(parts) == 0 {
		add(obj["status"])
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return parts[0] + ": " + strings.Join(parts[1:], "; ")
}

// shorten collapses white space and cuts s to at most n runes of valid UTF-8.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// MaxRetryAfter caps the wait a server's Retry-After can impose: a longer one (a year, by
// mistake or malice) would park an update or a whole comms channel, so the caller tries again
// after MaxRetryAfter and lets the server say again if it still means it.
const MaxRetryAfter = 5 * time.Minute

// RetryAfter parses a Retry-After header value relative to now, in either form RFC 9110
// allows: delay-seconds (digits only) or an HTTP-date (IMF-fixdate, or the obsolete RFC 850
// and asctime forms). It caps the delay at MaxRetryAfter and returns 0, meaning "back off on
// your own", when the header is absent, malformed (a sign, a fraction, words), zero or a date
// already past. Every client uses it, so that no answer is trusted further than this.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		// So many digits that they overflow are still a valid, very long delay.
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter)
}

// Backoff returns the delay before attempt n (1-based): exponential from base, capped, with
// full jitter (uniform between 0 and min(max, base*2^(n-1))).
func Backoff(n int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	return rand.N(d + 1)
}

// NewHTTPClient returns an *http.Client with a total timeout (default 10s) and sane transport
// timeouts. It does not follow redirects: a webhook that redirects is misconfigured, and Go
// would turn the POST into a GET and report success.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: min(5*time.Second, timeout), KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   min(5*time.Second, timeout),
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// PostJSON makes one POST of body to endpoint with the given headers (Content-Type is
// application/json unless header sets it) and classifies the outcome with Classify. c may be
// nil for NewHTTPClient(0). The endpoint never appears in the error.
func PostJSON(ctx context.Context, c *http.Client, endpoint string, body []byte, header http.Header) error {
	if c == nil {
		c = NewHTTPClient(0)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL, and the URL may be the credential.
		return Terminal("Unusable", errors.New("the endpoint URL is not valid"))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "firescope")
	}
	resp, err := c.Do(req)
	if resp != nil {
		defer func() {
			// Drain a little so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}()
	}
	return Classify(resp, err)
}

// Redact returns err with every secret (of 4 characters or more) replaced by "[redacted]" in
// its text, keeping its classification: Assess and errors.As see through it. Clients
// apply it as a second line of defence, for vendors that echo what they were sent.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if len(s) >= 4 {
			clean = strings.ReplaceAll(clean, s, "[redacted]")
		}
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
