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

// Command statuspage measures the status page binary under a read storm, side by side with
// nginx serving the very same bytes as static files, with wrk on loopback in one run, and
// the latency of writes through the API (each one fsynced before it is acknowledged).
//
//	hack/install-test-deps.sh              # wrk and nginx from Debian, once
//	go run ./test/bench/statuspage         # about three minutes
//
// Everything runs on 127.0.0.1, for a bounded time, and stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
	"firescope.dev/firescope/test/bench/internal/webbench"
)

const token = "bench-token-0123456789abcdef"

func main() {
	duration := flag.Duration("duration", 5*time.Second, "one wrk run")
	connections := flag.Int("connections", 64, "wrk connections")
	threads := flag.Int("threads", 2, "wrk threads")
	writes := flag.Int("writes", 300, "timed writes through the API")
	rounds := flag.Int("rounds", 5, "rounds of wrk runs; the medians are reported")
	flag.Parse()
	if err := run(*duration, *connections, *threads, *writes, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, connections, threads, writes, rounds int) error {
	// The machine may be busy with other work; say so next to the figures.
	loadavg, _ := os.ReadFile("/proc/loadavg")
	loadBefore := strings.Join(strings.Fields(string(loadavg))[:min(3, len(strings.Fields(string(loadavg))))], " ")
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return errors.New("wrk is not installed: run hack/install-test-deps.sh")
	}
	nginx, err := webbench.LookNginx()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "statuspage-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	fmt.Println("building cmd/statuspage ...")
	bin := filepath.Join(tmp, "statuspage")
	if out, err := exec.Command("go", "build", "-o", bin, "firescope.dev/firescope/cmd/statuspage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	ours, err := webbench.StartStatusPage(bin, token, "--data", filepath.Join(tmp, "statuspage.db"), "--page-name", "Example Status")
	if err != nil {
		return err
	}
	defer ours.Stop()

	fmt.Printf("writing %d updates through the API ...\n", writes)
	lat, err := seed(ours.URL, writes)
	if err != nil {
		return err
	}

	// nginx serves the bytes our server serves, as static files.
	www := filepath.Join(tmp, "www")
	paths := map[string]string{"/api/v2/summary.json": "api/v2/summary.json", "/": "index.html"}
	sizes := map[string]int{}
	for path, file := range paths {
		body, err := webbench.Fetch(ours.URL + path)
		if err != nil {
			return err
		}
		sizes[path] = len(body)
		dst := filepath.Join(www, file)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, body, 0o644); err != nil {
			return err
		}
	}
	theirs, err := webbench.StartNginx(nginx, tmp, www)
	if err != nil {
		return err
	}
	defer theirs.Stop()
	for path := range paths {
		a, errA := webbench.Fetch(ours.URL + path)
		b, errB := webbench.Fetch(theirs.URL + path)
		if err := errors.Join(errA, errB); err != nil {
			return err
		}
		if string(a) != string(b) {
			return fmt.Errorf("nginx and the status page serve different bytes for %s", path)
		}
	}

	// Rounds alternate nginx and the status page, and the medians are reported, so that a
	// burst of other work on the machine does not land on one side only.
	type row struct {
		path          string
		nginx, status []webbench.WrkResult
	}
	rows := []*row{{path: "/api/v2/summary.json"}, {path: "/"}}
	for round := 1; round <= rounds; round++ {
		for _, r := range rows {
			for _, target := range []struct {
				name string
				srv  *webbench.Server
				out  *[]webbench.WrkResult
			}{{"nginx", theirs, &r.nginx}, {"firescope", ours, &r.status}} {
				fmt.Printf("round %d/%d: wrk %s %s for %s ...\n", round, rounds, target.name, r.path, duration)
				// A short warm-up, not counted: connections, caches, CPU frequency.
				if _, err := wrkOn(wrk, target.srv, r.path, time.Second, connections, threads); err != nil {
					return err
				}
				res, err := wrkOn(wrk, target.srv, r.path, duration, connections, threads)
				if err != nil {
					return err
				}
				*target.out = append(*target.out, res)
			}
		}
	}

	cpus, _ := os.ReadFile("/proc/cpuinfo")
	fmt.Printf("\nRead storm: wrk -t%d -c%d, %d rounds of %s per path and server, medians; loopback; wrk, nginx\n"+
		"(worker_processes auto) and the status page share %d cores (load average before the run: %s).\n\n",
		threads, connections, rounds, duration, strings.Count(string(cpus), "\nprocessor")+1, loadBefore)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tbytes\tnginx req/s\tp99\tCPU/req\tfirescope req/s\tp99\tCPU/req\tratio req/s\tratio CPU/req\t")
	for _, r := range rows {
		n, f := webbench.Median(r.nginx), webbench.Median(r.status)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%.2f\t%.2f\t\n", r.path, sizes[r.path],
			n.RPS, n.P99, n.CPU, f.RPS, f.P99, f.CPU, f.RPS/n.RPS, float64(n.CPU)/float64(f.CPU))
	}
	_ = tw.Flush()
	fmt.Println("\nCPU/req is the server's own CPU time (user+system, all processes and threads) per request,")
	fmt.Println("which other work on the machine disturbs less than req/s; ratio CPU/req is nginx's over ours.")
	fmt.Printf("\nWrites: %d updates through PUT /api/v1/..., one at a time, each fsynced before the answer:\n", len(lat))
	fmt.Printf("  p50 %s  p99 %s  max %s\n", webbench.Percentile(lat, 50), webbench.Percentile(lat, 99), webbench.Percentile(lat, 100))
	return nil
}

// seed fills the page as during a bad day, timing every write: past incidents of ten
// updates each, then two open incidents.
func seed(base string, writes int) ([]time.Duration, error) {
	ctx := context.Background()
	c := client.New(base, token, nil)
	components := []string{"API", "Dashboard", "Git operations", "Routing", "Postgres provisioning", "Redis", "Kafka",
		"Builds", "Scheduler", "Logging", "Metrics", "Add-ons marketplace"}
	for i, name := range components {
		if _, _, err := c.PutComponent(ctx, fmt.Sprint("c", i), api.ComponentRequest{Name: name, Description: name + " for every region"}); err != nil {
			return nil, err
		}
	}
	statuses := []api.IncidentStatus{api.Investigating, api.Identified, api.Monitoring}
	var lat []time.Duration
	timed := func(f func() error) error {
		start := time.Now()
		err := f()
		lat = append(lat, time.Since(start))
		return err
	}
	body := "We are seeing elevated error rates for requests to the platform API in the us-east-1 region. " +
		"Running applications are not affected. We will post another update within 30 minutes."
	for n := 0; len(lat) < writes; n++ {
		inc := fmt.Sprint("incident-", n)
		for u := 0; u < 10 && len(lat) < writes; u++ {
			status := statuses[min(u, len(statuses)-1)]
			if u == 9 {
				status = api.Resolved
			}
			upd := api.UpdateRequest{ID: fmt.Sprint("u", u), Status: status, Body: body,
				Components: []api.ComponentChange{{ID: fmt.Sprint("c", n%len(components)), Status: api.PartialOutage}}}
			err := timed(func() error {
				if u == 0 {
					_, _, err := c.PutIncident(ctx, inc, api.IncidentRequest{Name: fmt.Sprintf("Elevated API errors (%d)", n), Impact: api.ImpactMajor, Update: &upd})
					return err
				}
				upd.ID = ""
				_, _, err := c.PutUpdate(ctx, inc, fmt.Sprint("u", u), upd)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}
	// Two incidents open while the storm hits.
	for n := range 2 {
		inc := fmt.Sprint("open-", n)
		if _, _, err := c.PutIncident(ctx, inc, api.IncidentRequest{Name: fmt.Sprintf("Degraded routing in eu-west-1 (%d)", n), Impact: api.ImpactCritical,
			Update: &api.UpdateRequest{ID: "u0", Status: api.Identified, Body: body,
				Components: []api.ComponentChange{{ID: "c3", Status: api.MajorOutage}}}}); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

// wrkOn storms srv's path with wrk and measures srv's CPU per request.
func wrkOn(wrk string, srv *webbench.Server, path string, d time.Duration, connections, threads int) (webbench.WrkResult, error) {
	before := webbench.CPUTime(srv.PID)
	r, err := webbench.RunWrk(wrk, srv.URL+path, d, connections, threads)
	r.CPU = ((webbench.CPUTime(srv.PID) - before) / time.Duration(max(1, r.Requests))).Round(100 * time.Nanosecond)
	return r, err
}
