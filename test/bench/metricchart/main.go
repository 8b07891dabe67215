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

// Command metricchart measures what public metrics cost the status page: the write of one
// reading (stored with fsync, then every list rendered again) as a metric fills up to its
// bound of points, the incident page that draws three full metrics, and the bytes the charts
// add to the pages.
//
//	go run ./test/bench/metricchart            # about half a minute
//
// It runs in process on a bbolt file in a temporary directory, and stops by itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
	"firescope.dev/firescope/test/bench/internal/webbench"
)

const token = "bench-token-0123456789abcdef"

func main() {
	samples := flag.Int("samples", 200, "timed writes and reads at each size")
	flag.Parse()
	if err := run(*samples); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(samples int) error {
	loadavg, _ := os.ReadFile("/proc/loadavg")
	tmp, err := os.MkdirTemp("", "metricchart-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	// The readings are in the past, so that a day and a half of them fits before now.
	now := time.Now().UTC()
	t0 := now.Add(-time.Duration(api.MaxMetricPoints+2*samples) * 30 * time.Second)
	page, err := statuspage.OpenPage(filepath.Join(tmp, "page.db"), statuspage.PageInfo{Name: "Bench", URL: "https://status.example.com"}, time.Now)
	if err != nil {
		return err
	}
	defer func() { _ = page.Close() }()
	srv := httptest.NewServer(statuspage.NewHandler(page, token, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	if _, _, err := page.PutIncident("inc-1", api.IncidentRequest{Name: "Elevated errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u1", Status: api.Investigating, Body: "We are investigating.", CreatedAt: &t0}}); err != nil {
		return err
	}
	c := client.New(srv.URL, token, nil)
	ctx := context.Background()
	front := func() int { b, _ := webbench.Fetch(srv.URL + "/"); return len(b) }
	incident := func() int { b, _ := webbench.Fetch(srv.URL + "/incidents/inc-1"); return len(b) }
	bare := [2]int{front(), incident()}

	ids := []string{"availability", "api-errors", "latency"}
	metric := func(id string) api.MetricRequest {
		return api.MetricRequest{Name: id, Unit: "%", Incidents: []string{"inc-1"},
			Thresholds: &api.MetricThresholds{BadWhen: api.BadAbove, Degraded: 1, Down: 5}}
	}
	next := 0
	value := func(i int) float64 { return 2 + float64(i%97)/10 }
	// fill adds readings to every metric, in requests of the largest size.
	fill := func(n int) error {
		for _, id := range ids {
			for done := 0; done < n; {
				req := metric(id)
				for ; done < n && len(req.Points) < api.MaxPointsPerRequest; done++ {
					req.Points = append(req.Points, api.MetricPoint{Timestamp: t0.Add(time.Duration(next+done) * 30 * time.Second), Value: value(next + done)})
				}
				if _, _, err := page.PutMetric(id, req); err != nil {
					return err
				}
			}
		}
		next += n
		return nil
	}

	fmt.Printf("load average before: %s", loadavg)
	fmt.Printf("%-22s %-14s %-14s %-14s %-14s\n", "points per metric", "write p50", "write p99", "incident p50", "incident p99")
	for _, size := range []int{100, 1000, api.MaxMetricPoints} {
		if err := fill(size - next); err != nil {
			return err
		}
		var writes, reads []time.Duration
		for i := range samples {
			req := metric(ids[i%len(ids)])
			req.Points = []api.MetricPoint{{Timestamp: t0.Add(time.Duration(next) * 30 * time.Second), Value: value(next)}}
			if i%len(ids) == len(ids)-1 {
				next++
			}
			start := time.Now()
			if _, _, err := c.PutMetric(ctx, req.Name, req); err != nil {
				return err
			}
			writes = append(writes, time.Since(start))
			start = time.Now()
			if _, err := webbench.Fetch(srv.URL + "/incidents/inc-1"); err != nil {
				return err
			}
			reads = append(reads, time.Since(start))
		}
		fmt.Printf("%-22d %-14s %-14s %-14s %-14s\n", size, webbench.Percentile(writes, 50).Round(10*time.Microsecond),
			webbench.Percentile(writes, 99).Round(10*time.Microsecond), webbench.Percentile(reads, 50).Round(10*time.Microsecond),
			webbench.Percentile(reads, 99).Round(10*time.Microsecond))
	}
	fmt.Printf("front page: %d bytes without charts, %d with three; incident page: %d, %d\n", bare[0], front(), bare[1], incident())
	loadavg, _ = os.ReadFile("/proc/loadavg")
	fmt.Printf("load average after: %s", loadavg)
	return nil
}
