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

// Package prometheus reads one number from a Prometheus HTTP API (/api/v1/query): the value
// of a health signal. Every failure is a *QueryError whose Reason says what kind it is, and
// whose message says what to check, without the token or the server's own words (the guarded
// HTTP client drops the error bodies of hosts that are not known vendors).
package prometheus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/safehttp"
)

// DefaultTimeout bounds one query, and is sent to Prometheus as the query's own timeout.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds the answer read: one series is a few hundred bytes; a query that returns a
// vector of thousands is refused without reading it all.
const maxAnswer = 256 << 10

// Reasons of a QueryError, as status.health.signals[].reason shows them.
const (
	ReasonUnreachable  = "Unreachable"
	ReasonTimeout      = "Timeout"
	ReasonRefused      = "QueryRefused"
	ReasonUnauthorized = "CredentialsInvalid"
	ReasonServerError  = "ServerError"
	ReasonBadAnswer    = "BadAnswer"
	ReasonNoData       = "NoData"
	ReasonNotOneSeries = "NotOneSeries"
)

// QueryError is a query whose value could not be read.
type QueryError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Msg says what happened and what to check.
	Msg string
}

func (e *QueryError) Error() string { return e.Msg }

// Client queries Prometheus servers.
type Client struct {
	// HTTP makes the requests; the manager's guarded client. Nil means delivery.NewHTTPClient.
	HTTP *http.Client
	// Timeout bounds each query; DefaultTimeout when zero.
	Timeout time.Duration
}

// Query evaluates query at time at on the server at base (its URL without /api/v1), sending
// token as a bearer token when it is not empty, and returns the one number it yields.
func (c *Client) Query(ctx context.Context, base, token, query string, at time.Time) (float64, error) {
	u, err := safehttp.ParseEndpoint(base)
	if err != nil {
		return 0, &QueryError{Reason: ReasonRefused, Msg: "the Prometheus URL cannot be used: " + err.Error()}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	form := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
		"timeout": {timeout.String()}}
	u = u.JoinPath("api/v1/query")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, &QueryError{Reason: ReasonRefused, Msg: "the Prometheus URL cannot be used"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "firescope")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = delivery.NewHTTPClient(timeout)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, transportError(ctx, err, token)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if err := statusError(resp.StatusCode); err != nil {
		return 0, err
	}
	return decode(io.LimitReader(resp.Body, maxAnswer+1))
}

func transportError(ctx context.Context, err error, token string) error {
	msg := delivery.Redact(delivery.Classify(nil, err), token).Error()
	var refused *safehttp.RefusedError
	var netErr net.Error
	switch {
	case errors.As(err, &refused):
		return &QueryError{Reason: ReasonRefused, Msg: refused.Error()}
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &QueryError{Reason: ReasonTimeout, Msg: "Prometheus did not answer in time: check that it is up and the query is cheap enough (" + msg + ")"}
	}
	return &QueryError{Reason: ReasonUnreachable, Msg: "Prometheus is unreachable: " + msg}
}

// statusError classifies an HTTP status the way Prometheus's API uses them.
func statusError(code int) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &QueryError{Reason: ReasonUnauthorized, Msg: fmt.Sprintf("Prometheus refused the credentials (HTTP %d): check the bearer token in the Secret", code)}
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		return &QueryError{Reason: ReasonRefused, Msg: fmt.Sprintf("Prometheus refused the query (HTTP %d): try it in Prometheus's expression browser and correct it", code)}
	case code == http.StatusNotFound:
		return &QueryError{Reason: ReasonRefused, Msg: "no Prometheus API at this URL (HTTP 404): give the server's base URL, without /api/v1"}
	case code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout:
		return &QueryError{Reason: ReasonTimeout, Msg: fmt.Sprintf("Prometheus timed out or is overloaded (HTTP %d): make the query cheaper", code)}
	case code >= 500:
		return &QueryError{Reason: ReasonServerError, Msg: fmt.Sprintf("Prometheus failed (HTTP %d)", code)}
	}
	return &QueryError{Reason: ReasonRefused, Msg: fmt.Sprintf("Prometheus answered HTTP %d", code)}
}

type answer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
	ErrorType string `json:"errorType"`
}

type sample struct {
	Value [2]json.RawMessage `json:"value"`
}

// decode reads the one number of a query's answer: a scalar, or a vector of one series.
func decode(r io.Reader) (float64, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return 0, &QueryError{Reason: ReasonUnreachable, Msg: "reading Prometheus's answer failed: the connection broke"}
	}
	if len(body) > maxAnswer {
		return 0, &QueryError{Reason: ReasonNotOneSeries, Msg: fmt.Sprintf("the answer is larger than %d KiB: the query returns many series; aggregate it to one with sum() or max()", maxAnswer>>10)}
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, &QueryError{Reason: ReasonBadAnswer, Msg: "the answer is not Prometheus API JSON: check that the URL is a Prometheus server's"}
	}
	if a.Status != "success" {
		return 0, &QueryError{Reason: ReasonRefused, Msg: fmt.Sprintf("Prometheus reported an error (%s): try the query in its expression browser", cmp.Or(a.ErrorType, "unknown"))}
	}
	var raw [2]json.RawMessage
	switch a.Data.ResultType {
	case "scalar":
		if err := json.Unmarshal(a.Data.Result, &raw); err != nil {
			return 0, &QueryError{Reason: ReasonBadAnswer, Msg: "the scalar in the answer does not parse"}
		}
	case "vector":
		var v []sample
		if err := json.Unmarshal(a.Data.Result, &v); err != nil {
			return 0, &QueryError{Reason: ReasonBadAnswer, Msg: "the vector in the answer does not parse"}
		}
		switch len(v) {
		case 0:
			return 0, &QueryError{Reason: ReasonNoData, Msg: "the query returned no series: the metric may not exist yet, or its labels do not match"}
		case 1:
			raw = v[0].Value
		default:
			return 0, &QueryError{Reason: ReasonNotOneSeries, Msg: fmt.Sprintf("the query returned %d series; a health signal is one number: aggregate it with sum() or max()", len(v))}
		}
	default:
		return 0, &QueryError{Reason: ReasonNotOneSeries, Msg: fmt.Sprintf("the query returned a %s; a health signal is one number: use an instant vector of one series or a scalar", cmp.Or(a.Data.ResultType, "nothing"))}
	}
	var s string
	if err := json.Unmarshal(raw[1], &s); err != nil {
		return 0, &QueryError{Reason: ReasonBadAnswer, Msg: "the sample value in the answer is not a string"}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, &QueryError{Reason: ReasonBadAnswer, Msg: "the sample value in the answer is not a number"}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, &QueryError{Reason: ReasonNoData, Msg: fmt.Sprintf("the query returned %s (a division by zero, when nothing was counted): guard it, such as with \"or vector(100)\"", s)}
	}
	return f, nil
}
