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
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
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
	nginx, err := lookNginx()
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
	ours, err := startStatusPage(bin, filepath.Join(tmp, "statuspage.db"))
	if err != nil {
		return err
	}
	defer ours.stop()

	fmt.Printf("writing %d updates through the API ...\n", writes)
	lat, err := seed(ours.url, writes)
	if err != nil {
		return err
	}

	// nginx serves the bytes our server serves, as static files.
	www := filepath.Join(tmp, "www")
	paths := map[string]string{"/api/v2/summary.json": "api/v2/summary.json", "/": "index.html"}
	sizes := map[string]int{}
	for path, file := range paths {
		body, err := fetch(ours.url + path)
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
	theirs, err := startNginx(nginx, tmp, www)
	if err != nil {
		return err
	}
	defer theirs.stop()
	for path := range paths {
		a, errA := fetch(ours.url + path)
		b, errB := fetch(theirs.url + path)
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
		nginx, status []wrkResult
	}
	rows := []*row{{path: "/api/v2/summary.json"}, {path: "/"}}
	for round := 1; round <= rounds; round++ {
		for _, r := range rows {
			for _, target := range []struct {
				name string
				srv  *server
				out  *[]wrkResult
			}{{"nginx", theirs, &r.nginx}, {"firescope", ours, &r.status}} {
				fmt.Printf("round %d/%d: wrk %s %s for %s ...\n", round, rounds, target.name, r.path, duration)
				// A short warm-up, not counted: connections, caches, CPU frequency.
				if _, err := runWrk(wrk, target.srv, r.path, time.Second, connections, threads); err != nil {
					return err
				}
				res, err := runWrk(wrk, target.srv, r.path, duration, connections, threads)
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
		n, f := median(r.nginx), median(r.status)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%.2f\t%.2f\t\n", r.path, sizes[r.path],
			n.rps, n.p99, n.cpu, f.rps, f.p99, f.cpu, f.rps/n.rps, float64(n.cpu)/float64(f.cpu))
	}
	_ = tw.Flush()
	fmt.Println("\nCPU/req is the server's own CPU time (user+system, all processes and threads) per request,")
	fmt.Println("which other work on the machine disturbs less than req/s; ratio CPU/req is nginx's over ours.")
	fmt.Printf("\nWrites: %d updates through PUT /api/v1/..., one at a time, each fsynced before the answer:\n", len(lat))
	fmt.Printf("  p50 %s  p99 %s  max %s\n", percentile(lat, 50), percentile(lat, 99), percentile(lat, 100))
	return nil
}

func lookNginx() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx is not installed: run hack/install-test-deps.sh")
}

var servingLine = regexp.MustCompile(`msg="serving the status page" addr=(\S+)`)

// server is one of the two servers under test.
type server struct {
	url  string
	pid  int // nginx: the master; its workers are its children
	stop func()
}

// startStatusPage runs the binary on a free loopback port.
func startStatusPage(bin, data string) (*server, error) {
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--data", data, "--page-name", "Example Status")
	cmd.Env = append(os.Environ(), "FIRESCOPE_STATUSPAGE_TOKEN="+token)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &server{url: "http://" + a, pid: cmd.Process.Pid, stop: stop}, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("the status page did not start")
	}
}

// startNginx serves www on a free loopback port with the headers our server sends.
func startNginx(bin, tmp, www string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	// Workers may run as nobody: let them read the files.
	for _, dir := range []string{tmp, www, filepath.Join(www, "api"), filepath.Join(www, "api", "v2")} {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
	}
	temp := filepath.Join(tmp, "nginx-temp")
	conf := fmt.Sprintf(`worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  types { text/html html; application/json json; }
  charset utf-8;
  charset_types application/json;
  server {
    listen %[3]s;
    root %[4]s;
    index index.html;
    add_header Cache-Control "public, max-age=10";
    add_header X-Content-Type-Options nosniff;
  }
}
`, tmp, temp, addr, www)
	confPath := filepath.Join(tmp, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(temp, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", tmp, "-c", confPath, "-e", "stderr")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
	}
	base := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := fetch(base + "/"); err == nil {
			return &server{url: base, pid: cmd.Process.Pid, stop: stop}, nil
		}
	}
	stop()
	return nil, errors.New("nginx did not start")
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

func fetch(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

type wrkResult struct {
	rps float64
	p99 time.Duration
	cpu time.Duration // server CPU per request
}

var (
	rpsLine      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	requestsLine = regexp.MustCompile(`(\d+) requests in`)
	p99Line      = regexp.MustCompile(`\n\s+99%\s+([0-9.]+)(us|ms|s)\b`)
)

func runWrk(wrk string, srv *server, path string, d time.Duration, connections, threads int) (wrkResult, error) {
	url := srv.url + path
	seconds := max(1, int(d/time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	cpuBefore := cpuTime(srv.pid)
	out, err := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(connections),
		"-d", strconv.Itoa(seconds)+"s", "--latency", url).CombinedOutput()
	cpu := cpuTime(srv.pid) - cpuBefore
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	if strings.Contains(string(out), "Non-2xx or 3xx responses") || strings.Contains(string(out), "Socket errors") {
		return wrkResult{}, fmt.Errorf("wrk %s saw errors:\n%s", url, out)
	}
	rps, requests, p99 := rpsLine.FindSubmatch(out), requestsLine.FindSubmatch(out), p99Line.FindSubmatch(out)
	if rps == nil || requests == nil || p99 == nil {
		return wrkResult{}, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	var res wrkResult
	res.rps, _ = strconv.ParseFloat(string(rps[1]), 64)
	n, _ := strconv.Atoi(string(requests[1]))
	res.cpu = (cpu / time.Duration(max(1, n))).Round(100 * time.Nanosecond)
	res.p99, err = time.ParseDuration(string(p99[1]) + string(p99[2]))
	return res, err
}

// cpuTime is the user and system time of pid and its child processes, from /proc.
func cpuTime(pid int) time.Duration {
	const tick = 10 * time.Millisecond // USER_HZ, 100 on Linux
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		self, _ := strconv.Atoi(e.Name())
		ppid, _ := strconv.Atoi(f[1])
		if self != pid && ppid != pid {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * tick
	}
	return total
}

// median takes the median of each figure over the runs, separately.
func median(runs []wrkResult) wrkResult {
	rps := make([]float64, len(runs))
	p99 := make([]time.Duration, len(runs))
	cpu := make([]time.Duration, len(runs))
	for i, r := range runs {
		rps[i], p99[i], cpu[i] = r.rps, r.p99, r.cpu
	}
	slices.Sort(rps)
	slices.Sort(p99)
	slices.Sort(cpu)
	return wrkResult{rps: rps[len(rps)/2], p99: p99[len(p99)/2], cpu: cpu[len(cpu)/2]}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := max(0, (len(s)*p+99)/100-1)
	return s[min(i, len(s)-1)].Round(10 * time.Microsecond)
}
