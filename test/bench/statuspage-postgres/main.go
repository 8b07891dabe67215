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

// Command statuspage-postgres measures the status page run as two replicas on one real
// PostgreSQL server: the read storm on both replicas at once (a wrk per replica, as a load
// balancer would spread it) side by side with nginx serving the very same bytes as static
// files, in one run; and how long a published update takes to be served by every replica
// (write to one replica, NOTIFY, the other catches up), p50 and p99.
//
//	hack/install-test-deps.sh                # wrk, nginx and postgresql from Debian, once
//	go run ./test/bench/statuspage-postgres  # about two minutes
//
// Everything runs on 127.0.0.1 (PostgreSQL as nobody when run as root, in a temporary
// directory), for a bounded time, and stops by itself.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"firescope.dev/firescope/internal/pgtest"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
	"firescope.dev/firescope/test/bench/internal/webbench"
)

const token = "bench-token-0123456789abcdef"

func main() {
	duration := flag.Duration("duration", 5*time.Second, "one wrk run")
	connections := flag.Int("connections", 64, "wrk connections in all (split between the replicas)")
	rounds := flag.Int("rounds", 3, "rounds of wrk runs; the medians are reported")
	publishes := flag.Int("publishes", 200, "timed publishes, alternating between the replicas")
	flag.Parse()
	if err := run(*duration, *connections, *rounds, *publishes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, connections, rounds, publishes int) error {
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
	tmp, err := os.MkdirTemp("", "statuspage-postgres-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	fmt.Println("starting PostgreSQL ...")
	pg, err := pgtest.New()
	if err != nil {
		return err
	}
	defer func() { _ = pg.Close() }()
	urlFile := filepath.Join(tmp, "postgres-url")
	if err := os.WriteFile(urlFile, []byte(pg.URL()), 0o600); err != nil {
		return err
	}

	fmt.Println("building cmd/statuspage ...")
	bin := filepath.Join(tmp, "statuspage")
	if out, err := exec.Command("go", "build", "-o", bin, "firescope.dev/firescope/cmd/statuspage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	var replicas []*webbench.Server
	for range 2 {
		r, err := webbench.StartStatusPage(bin, token, "--postgres-url-file", urlFile, "--page-name", "Example Status", "--public-url", "https://status.example.com")
		if err != nil {
			return err
		}
		defer r.Stop()
		replicas = append(replicas, r)
	}

	fmt.Println("filling the page through one replica ...")
	if err := seed(replicas[0].URL); err != nil {
		return err
	}
	// nginx serves the bytes the replicas serve, as static files; both replicas serve the
	// same bytes.
	www := filepath.Join(tmp, "www")
	paths := map[string]string{"/api/v2/summary.json": "api/v2/summary.json", "/": "index.html"}
	sizes := map[string]int{}
	for path, file := range paths {
		a, err := sameOnEvery(replicas, path)
		if err != nil {
			return err
		}
		sizes[path] = len(a)
		dst := filepath.Join(www, file)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, a, 0o644); err != nil {
			return err
		}
	}
	theirs, err := webbench.StartNginx(nginx, tmp, www)
	if err != nil {
		return err
	}
	defer theirs.Stop()

	type row struct {
		path          string
		nginx, status []webbench.WrkResult
	}
	rows := []*row{{path: "/api/v2/summary.json"}, {path: "/"}}
	for round := 1; round <= rounds; round++ {
		for _, r := range rows {
			fmt.Printf("round %d/%d: wrk nginx %s for %s ...\n", round, rounds, r.path, duration)
			res, err := storm(wrk, []*webbench.Server{theirs}, r.path, duration, connections)
			if err != nil {
				return err
			}
			r.nginx = append(r.nginx, res)
			fmt.Printf("round %d/%d: wrk on both replicas %s for %s ...\n", round, rounds, r.path, duration)
			if res, err = storm(wrk, replicas, r.path, duration, connections); err != nil {
				return err
			}
			r.status = append(r.status, res)
		}
	}

	// After the storm, so that the storm reads the same page as test/bench/statuspage's.
	fmt.Printf("publishing %d updates, alternating replicas, until every replica serves each ...\n", publishes)
	acked, served, err := publish(replicas, publishes)
	if err != nil {
		return err
	}

	cpus, _ := os.ReadFile("/proc/cpuinfo")
	fmt.Printf("\nRead storm: %d connections in all (nginx: one wrk -t2; the replicas: one wrk -t1 -c%d each, at once),\n"+
		"%d rounds of %s per path, medians; loopback; wrk, nginx (worker_processes auto), both replicas and\n"+
		"PostgreSQL share %d cores (load average before the run: %s).\n\n",
		connections, connections/2, rounds, duration, strings.Count(string(cpus), "\nprocessor")+1, loadBefore)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tbytes\tnginx req/s\tp99\tCPU/req\t2 replicas req/s\tp99\tCPU/req\tratio req/s\tratio CPU/req\t")
	for _, r := range rows {
		n, f := webbench.Median(r.nginx), webbench.Median(r.status)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%.2f\t%.2f\t\n", r.path, sizes[r.path],
			n.RPS, n.P99, n.CPU, f.RPS, f.P99, f.CPU, f.RPS/n.RPS, float64(n.CPU)/float64(f.CPU))
	}
	_ = tw.Flush()
	fmt.Println("\nCPU/req is the servers' own CPU time (user+system) per request; for the replicas, both")
	fmt.Println("together (PostgreSQL is idle during reads: every replica serves from memory). On a busy machine")
	fmt.Println("it is the steadier figure: req/s follows each side's share of the cores. Ratio CPU/req is nginx's")
	fmt.Println("over the replicas'.")
	fmt.Printf("\nPublish: %d updates, one at a time, to either replica in turn:\n", len(acked))
	fmt.Printf("  acknowledged (committed in PostgreSQL)  p50 %s  p99 %s  max %s\n", webbench.Percentile(acked, 50), webbench.Percentile(acked, 99), webbench.Percentile(acked, 100))
	fmt.Printf("  served by every replica                  p50 %s  p99 %s  max %s\n", webbench.Percentile(served, 50), webbench.Percentile(served, 99), webbench.Percentile(served, 100))
	return nil
}

// publish posts updates to open incidents through each replica in turn and times how long
// each takes to be acknowledged, and to be in summary.json on every replica.
func publish(replicas []*webbench.Server, n int) (acked, served []time.Duration, err error) {
	ctx := context.Background()
	body := "We have rolled back the change and are watching error rates. "
	// perIncident stays under api.MaxUpdatesPerIncident.
	const perIncident = 100
	for i := range n {
		c := client.New(replicas[i%len(replicas)].URL, token, nil)
		marker := fmt.Sprintf("Check %d.", i)
		inc := fmt.Sprint("live-", i/perIncident)
		upd := api.UpdateRequest{ID: fmt.Sprint("p", i), Status: api.Monitoring, Body: body + marker}
		start := time.Now()
		if i%perIncident == 0 {
			_, _, err = c.PutIncident(ctx, inc, api.IncidentRequest{Name: "Slow deploys", Impact: api.ImpactMinor, Update: &upd})
		} else {
			upd.ID = ""
			_, _, err = c.PutUpdate(ctx, inc, fmt.Sprint("p", i), upd)
		}
		if err != nil {
			return nil, nil, err
		}
		acked = append(acked, time.Since(start))
		var wg sync.WaitGroup
		errs := make([]error, len(replicas))
		for j, r := range replicas {
			wg.Go(func() { errs[j] = waitServed(r.URL+"/api/v2/summary.json", marker) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, nil, err
		}
		served = append(served, time.Since(start))
	}
	return acked, served, nil
}

// sameOnEvery returns what every replica serves at path, once they all serve the same bytes
// (the last write of the one written to reaches the others a moment later).
func sameOnEvery(replicas []*webbench.Server, path string) ([]byte, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var bodies [][]byte
		for _, r := range replicas {
			b, err := webbench.Fetch(r.URL + path)
			if err != nil {
				return nil, err
			}
			bodies = append(bodies, b)
		}
		if !slices.ContainsFunc(bodies, func(b []byte) bool { return !bytes.Equal(b, bodies[0]) }) {
			return bodies[0], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the replicas still serve different bytes for %s after 10s", path)
		}
	}
}

// waitServed polls url until its body contains marker, for at most ten seconds.
func waitServed(url, marker string) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		body, err := webbench.Fetch(url)
		if err != nil {
			return err
		}
		if bytes.Contains(body, []byte(marker)) {
			return nil
		}
	}
	return fmt.Errorf("%s does not show %q after 10s", url, marker)
}

// storm runs one wrk per server at once, splitting the connections, after a warm-up, and
// adds up their figures.
func storm(wrk string, servers []*webbench.Server, path string, d time.Duration, connections int) (webbench.WrkResult, error) {
	threads := max(1, 2/len(servers))
	conns := connections / len(servers)
	if _, err := runAll(wrk, servers, path, time.Second, conns, threads); err != nil {
		return webbench.WrkResult{}, err
	}
	return runAll(wrk, servers, path, d, conns, threads)
}

func runAll(wrk string, servers []*webbench.Server, path string, d time.Duration, connections, threads int) (webbench.WrkResult, error) {
	results := make([]webbench.WrkResult, len(servers))
	errs := make([]error, len(servers))
	cpuBefore := make([]time.Duration, len(servers))
	for i, s := range servers {
		cpuBefore[i] = webbench.CPUTime(s.PID)
	}
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { results[i], errs[i] = webbench.RunWrk(wrk, s.URL+path, d, connections, threads) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return webbench.WrkResult{}, err
	}
	var sum webbench.WrkResult
	var cpu time.Duration
	for i, r := range results {
		sum.RPS += r.RPS
		sum.Requests += r.Requests
		sum.P99 = max(sum.P99, r.P99)
		cpu += webbench.CPUTime(servers[i].PID) - cpuBefore[i]
	}
	sum.CPU = (cpu / time.Duration(max(1, sum.Requests))).Round(100 * time.Nanosecond)
	return sum, nil
}

// seed fills the page as during a bad day, as test/bench/statuspage does: twelve
// components, thirty past incidents of ten updates, two open incidents.
func seed(base string) error {
	ctx := context.Background()
	c := client.New(base, token, nil)
	components := []string{"API", "Dashboard", "Git operations", "Routing", "Postgres provisioning", "Redis", "Kafka",
		"Builds", "Scheduler", "Logging", "Metrics", "Add-ons marketplace"}
	for i, name := range components {
		if _, _, err := c.PutComponent(ctx, fmt.Sprint("c", i), api.ComponentRequest{Name: name, Description: name + " for every region"}); err != nil {
			return err
		}
	}
	statuses := []api.IncidentStatus{api.Investigating, api.Identified, api.Monitoring}
	body := "We are seeing elevated error rates for requests to the platform API in the us-east-1 region. " +
		"Running applications are not affected. We will post another update within 30 minutes."
	for n := range 30 {
		inc := fmt.Sprint("incident-", n)
		for u := range 10 {
			status := statuses[min(u, len(statuses)-1)]
			if u == 9 {
				status = api.Resolved
			}
			upd := api.UpdateRequest{Status: status, Body: body,
				Components: []api.ComponentChange{{ID: fmt.Sprint("c", n%len(components)), Status: api.PartialOutage}}}
			var err error
			if u == 0 {
				upd.ID = "u0"
				_, _, err = c.PutIncident(ctx, inc, api.IncidentRequest{Name: fmt.Sprintf("Elevated API errors (%d)", n), Impact: api.ImpactMajor, Update: &upd})
			} else {
				_, _, err = c.PutUpdate(ctx, inc, fmt.Sprint("u", u), upd)
			}
			if err != nil {
				return err
			}
		}
	}
	for n := range 2 {
		if _, _, err := c.PutIncident(ctx, fmt.Sprint("open-", n), api.IncidentRequest{Name: fmt.Sprintf("Degraded routing in eu-west-1 (%d)", n), Impact: api.ImpactCritical,
			Update: &api.UpdateRequest{ID: "u0", Status: api.Identified, Body: body,
				Components: []api.ComponentChange{{ID: "c3", Status: api.MajorOutage}}}}); err != nil {
			return err
		}
	}
	return nil
}
