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

package prometheus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/prometheus"
	"firescope.dev/firescope/internal/prometheus/prometheustest"
	"firescope.dev/firescope/internal/safehttp"
)

const token = "s3cr3t-prometheus-token"

func TestQueryClassifiesAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   float64
		reason string
	}{
		{"a vector of one series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"99.25"]}]}}`, 99.25, ""},
		{"a scalar", 200, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}`, 3, ""},
		{"no series", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0, prometheus.ReasonNoData},
		{"two series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}`, 0, prometheus.ReasonNotOneSeries},
		{"a range", 200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`, 0, prometheus.ReasonNotOneSeries},
		{"NaN from a division by zero", 200, `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"NaN"]}]}}`, 0, prometheus.ReasonNoData},
		{"not JSON", 200, `<html>login</html>`, 0, prometheus.ReasonBadAnswer},
		{"a value that is not a number", 200, `{"status":"success","data":{"resultType":"scalar","result":[1,"many"]}}`, 0, prometheus.ReasonBadAnswer},
		{"an error in a 200", 200, `{"status":"error","errorType":"execution"}`, 0, prometheus.ReasonRefused},
		{"a bad query", 400, `{"status":"error","errorType":"bad_data","error":"parse error"}`, 0, prometheus.ReasonRefused},
		{"a wrong token", 401, ``, 0, prometheus.ReasonUnauthorized},
		{"no API there", 404, ``, 0, prometheus.ReasonRefused},
		{"overloaded", 503, ``, 0, prometheus.ReasonTimeout},
		{"a crash", 500, ``, 0, prometheus.ReasonServerError},
		{"a huge answer", 200, `{"status":"success","data":{"resultType":"vector","result":[` + strings.Repeat(`{"value":[1,"1"]},`, 20000) + `{"value":[1,"1"]}]}}`, 0, prometheus.ReasonNotOneSeries},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/prom/api/v1/query" || r.FormValue("query") != "sum(up)" || r.Header.Get("Authorization") != "Bearer "+token {
					http.Error(w, "unexpected request", http.StatusTeapot)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := &prometheus.Client{HTTP: safehttp.Loopback().Guard(srv.Client())}
			got, err := c.Query(context.Background(), srv.URL+"/prom", token, "sum(up)", time.Now())
			if tc.reason == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			var qe *prometheus.QueryError
			if !errors.As(err, &qe) || qe.Reason != tc.reason {
				t.Fatalf("got %v, %v; want a QueryError %s", got, err, tc.reason)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "parse error") {
				t.Fatalf("the error carries the token or the server's words: %v", err)
			}
		})
	}
}

func TestQueryTimesOutAndRefusesInternalAddresses(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	c := &prometheus.Client{HTTP: safehttp.Loopback().Guard(srv.Client()), Timeout: 200 * time.Millisecond}
	_, err := c.Query(context.Background(), srv.URL, token, "up", time.Now())
	var qe *prometheus.QueryError
	if !errors.As(err, &qe) || qe.Reason != prometheus.ReasonTimeout {
		t.Fatalf("a server that never answers: got %v, want Timeout", err)
	}
	// The HTTP client's own timeout is a timeout too, not an unreachable server.
	short := &http.Client{Timeout: 200 * time.Millisecond}
	c = &prometheus.Client{HTTP: safehttp.Loopback().Guard(short), Timeout: time.Minute}
	if _, err := c.Query(context.Background(), srv.URL, token, "up", time.Now()); !errors.As(err, &qe) || qe.Reason != prometheus.ReasonTimeout {
		t.Fatalf("the client's timeout: got %v, want Timeout", err)
	}
	guarded := &prometheus.Client{HTTP: (&safehttp.Allowlist{}).Guard(&http.Client{})}
	_, err = guarded.Query(context.Background(), "https://127.0.0.1:9090", token, "up", time.Now())
	if !errors.As(err, &qe) || qe.Reason != prometheus.ReasonRefused || !strings.Contains(err.Error(), "--allow-private-destinations") {
		t.Fatalf("a loopback Prometheus not allowed: got %v, want QueryRefused naming the flag", err)
	}
}

// TestQueryReadsARealPrometheus runs Prometheus scraping an exporter, and reads what the
// exporter says through the same client the manager uses.
func TestQueryReadsARealPrometheus(t *testing.T) {
	p := prometheustest.Start(t)
	p.Exporter.Set("availability_percent", 99.5)
	p.Exporter.Set(`requests{code="200"}`, 10)
	p.Exporter.Set(`requests{code="500"}`, 2)
	c := &prometheus.Client{HTTP: safehttp.Loopback().Guard(&http.Client{})}
	ctx := context.Background()
	read := func(query string) (float64, error) {
		t.Helper()
		var v float64
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if v, err = c.Query(ctx, p.URL, "", query, time.Now()); err == nil {
				break
			}
			var qe *prometheus.QueryError
			if errors.As(err, &qe) && qe.Reason != prometheus.ReasonNoData {
				break
			}
		}
		return v, err
	}
	if v, err := read("availability_percent"); err != nil || v != 99.5 {
		t.Fatalf("availability_percent: got %v, %v; want 99.5", v, err)
	}
	if v, err := read(`sum(requests{code=~"5.."}) / sum(requests) * 100`); err != nil || v < 16.66 || v > 16.67 {
		t.Fatalf("error ratio: got %v, %v; want 16.67", v, err)
	}
	var qe *prometheus.QueryError
	if _, err := read("requests"); !errors.As(err, &qe) || qe.Reason != prometheus.ReasonNotOneSeries {
		t.Fatalf("two series: got %v, want NotOneSeries", err)
	}
	if _, err := read("sum(rate(requests[5m]"); !errors.As(err, &qe) || qe.Reason != prometheus.ReasonRefused {
		t.Fatalf("a query that does not parse: got %v, want QueryRefused", err)
	}
	if _, err := c.Query(ctx, p.URL, "", "does_not_exist", time.Now()); !errors.As(err, &qe) || qe.Reason != prometheus.ReasonNoData {
		t.Fatalf("a metric nobody exports: got %v, want NoData", err)
	}
}
