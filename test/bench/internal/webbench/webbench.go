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

// Package webbench holds what the status page benchmarks share: starting the status page and
// nginx on free loopback ports, storming them with wrk, and reading their CPU time from /proc.
package webbench

import (
	"bufio"
	"context"
	"errors"
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
	"time"
)

// Server is a server under test.
type Server struct {
	URL  string
	PID  int // nginx: the master; its workers are its children
	Stop func()
}

var servingLine = regexp.MustCompile(`msg="serving the status page" addr=(\S+)`)

// StartStatusPage runs the status page binary on a free loopback port with the write token
// and the given flags.
func StartStatusPage(bin, token string, flags ...string) (*Server, error) {
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, flags...)...)
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
		return &Server{URL: "http://" + a, PID: cmd.Process.Pid, Stop: stop}, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("the status page did not start")
	}
}

// StartNginx serves www on a free loopback port with the headers our server sends.
func StartNginx(bin, tmp, www string) (*Server, error) {
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
		if _, err := Fetch(base + "/"); err == nil {
			return &Server{URL: base, PID: cmd.Process.Pid, Stop: stop}, nil
		}
	}
	stop()
	return nil, errors.New("nginx did not start")
}

// LookNginx finds nginx, which hack/install-test-deps.sh installs.
func LookNginx() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx is not installed: run hack/install-test-deps.sh")
}

// Fetch GETs url and returns its body; anything but 200 is an error.
func Fetch(url string) ([]byte, error) {
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

// WrkResult is what one wrk run measured.
type WrkResult struct {
	RPS      float64
	Requests int
	P99      time.Duration
	CPU      time.Duration // the server's CPU per request, when the caller measured it
}

var (
	rpsLine      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	requestsLine = regexp.MustCompile(`(\d+) requests in`)
	p99Line      = regexp.MustCompile(`\n\s+99%\s+([0-9.]+)(us|ms|s)\b`)
)

// RunWrk storms url for d with wrk; any error answer or socket error fails the run.
func RunWrk(wrk, url string, d time.Duration, connections, threads int) (WrkResult, error) {
	seconds := max(1, int(d/time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(connections),
		"-d", strconv.Itoa(seconds)+"s", "--latency", url).CombinedOutput()
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	if strings.Contains(string(out), "Non-2xx or 3xx responses") || strings.Contains(string(out), "Socket errors") {
		return WrkResult{}, fmt.Errorf("wrk %s saw errors:\n%s", url, out)
	}
	rps, requests, p99 := rpsLine.FindSubmatch(out), requestsLine.FindSubmatch(out), p99Line.FindSubmatch(out)
	if rps == nil || requests == nil || p99 == nil {
		return WrkResult{}, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	var res WrkResult
	res.RPS, _ = strconv.ParseFloat(string(rps[1]), 64)
	res.Requests, _ = strconv.Atoi(string(requests[1]))
	res.P99, err = time.ParseDuration(string(p99[1]) + string(p99[2]))
	return res, err
}

// ClockTick is the unit of /proc's CPU times (USER_HZ), 100 on every Linux build in use.
const ClockTick = 10 * time.Millisecond

// CPUTime is the user and system time of pid and its child processes, from /proc.
func CPUTime(pid int) time.Duration {
	var total time.Duration
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		_, ppid, used, ok := ProcStat(path)
		if self, _ := strconv.Atoi(filepath.Base(filepath.Dir(path))); ok && (self == pid || ppid == pid) {
			total += used
		}
	}
	return total
}

// ProcStat reads a process's command name, parent and CPU time from /proc/PID/stat.
func ProcStat(path string) (name string, ppid int, used time.Duration, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	// After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return s[open+1 : end], ppid, time.Duration(utime+stime) * ClockTick, true
}

// Median takes the median of each figure over the runs, separately.
func Median(runs []WrkResult) WrkResult {
	rps := make([]float64, len(runs))
	p99 := make([]time.Duration, len(runs))
	cpu := make([]time.Duration, len(runs))
	for i, r := range runs {
		rps[i], p99[i], cpu[i] = r.RPS, r.P99, r.CPU
	}
	slices.Sort(rps)
	slices.Sort(p99)
	slices.Sort(cpu)
	return WrkResult{RPS: rps[len(rps)/2], P99: p99[len(p99)/2], CPU: cpu[len(cpu)/2]}
}

// Percentile is the p-th percentile of d, rounded to 10µs.
func Percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := max(0, (len(s)*p+99)/100-1)
	return s[min(i, len(s)-1)].Round(10 * time.Microsecond)
}
