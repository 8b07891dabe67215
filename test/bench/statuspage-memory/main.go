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

// Command statuspage-memory measures the status page binary's memory at the worst case its
// write API accepts: every text at its length limit, made of the characters that grow most
// when escaped (& < > ' "), every update naming every component, as many updates and
// incidents as the server takes. It fills a page through the API, restarts the server on
// the file, and prints the resident set size (RSS) and its peak at start and after each of a
// few small writes and reads, next to the container's memory limit.
//
//	go run ./test/bench/statuspage-memory                      # until the server refuses more
//	go run ./test/bench/statuspage-memory -bin old/statuspage -incidents 3
//
// Everything runs on 127.0.0.1 and stops by itself.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

const token = "bench-token-0123456789abcdef"

// shape is what each update holds: by default every text at its limit and every component;
// -body 1 -components 0 makes the most records instead.
var shape struct{ body, components int }

func main() {
	bin := flag.String("bin", "", "status page binary to measure (default: build ./cmd/statuspage)")
	incidents := flag.Int("incidents", 0, "incidents to write; 0 writes until the server refuses one")
	updates := flag.Int("updates", api.MaxUpdatesPerIncident, "updates per incident")
	writes := flag.Int("writes", 3, "small writes after the restart")
	limit := flag.String("container-limit", "256Mi", "the container's memory limit (config/statuspage), for comparison")
	flag.IntVar(&shape.body, "body", api.MaxUpdateBodyLength, "characters in each update")
	flag.IntVar(&shape.components, "components", api.MaxComponents, "components each update sets")
	flag.Parse()
	if err := run(*bin, *incidents, *updates, *writes, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, incidents, updates, writes int, limit string) error {
	limitBytes, err := parseMi(limit)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "statuspage-memory-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if bin == "" {
		bin = filepath.Join(tmp, "statuspage")
		fmt.Println("building cmd/statuspage ...")
		if out, err := exec.Command("go", "build", "-o", bin, "firescope.dev/firescope/cmd/statuspage").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	data := filepath.Join(tmp, "statuspage.db")
	// What the server sets in the container (half its limit), for a binary that reads the
	// variable; an older one ignores it.
	env := "FIRESCOPE_STATUSPAGE_MEMORY_LIMIT=" + strconv.FormatInt(limitBytes/2, 10)

	srv, _, err := start(bin, data, env)
	if err != nil {
		return err
	}
	fmt.Printf("filling the page: %d components, then incidents of up to %d updates of %d characters setting %d components ...\n",
		api.MaxComponents, updates, shape.body, shape.components)
	filled, refusal, err := fill(srv, incidents, updates)
	if err != nil {
		srv.stop()
		return err
	}
	fill := srv.mem()
	srv.stop()
	info, err := os.Stat(data)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d incidents, %d updates; database file %s\n", filled.incidents, filled.updates, mib(info.Size()))
	if refusal != nil {
		fmt.Printf("the server refused the next write: %v\n", refusal)
	}

	srv, startup, err := start(bin, data, env)
	if err != nil {
		return fmt.Errorf("restarting on the filled file: %w", err)
	}
	defer srv.stop()
	fmt.Printf("\ncontainer limit %s; resident set size (RSS) of the server, and its heap after the latest collection:\n", mib(limitBytes))
	fmt.Printf("  %-34s %s\n", "while filling, at the end", fill)
	fmt.Printf("  %-34s %s, ready in %s\n", "at start, on the filled file", srv.mem(), startup.Round(time.Millisecond))
	c := client.New(srv.url, token, nil)
	ctx := context.Background()
	for i := range writes {
		// A small write that changes what every list shows: a component's status.
		status := api.DegradedPerformance
		if i%2 == 1 {
			status = api.Operational
		}
		if _, _, err := c.PutComponent(ctx, componentID(0), api.ComponentRequest{Name: "API", Status: status}); err != nil {
			return fmt.Errorf("small write %d: %w", i+1, err)
		}
		for _, path := range []string{"/", "/api/v2/summary.json", "/api/v2/incidents.json", "/history.atom", "/incidents/" + incidentID(0)} {
			if err := read(srv.url + path); err != nil {
				return err
			}
		}
		fmt.Printf("  %-34s %s\n", fmt.Sprintf("after small write %d and reads", i+1), srv.mem())
	}
	return nil
}

type counts struct{ incidents, updates int }

// fill writes the worst case: components first, then incidents until n are written (or,
// with n == 0, until the server refuses a new incident for a limit of its own). An incident
// whose update is refused (it is full) makes way for the next.
func fill(srv *server, n, updates int) (counts, error, error) {
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range api.MaxComponents {
		if _, _, err := c.PutComponent(ctx, componentID(i), api.ComponentRequest{
			Name: text(rnd, api.MaxNameLength, false), Description: text(rnd, api.MaxDescriptionLength, true),
		}); err != nil {
			return counts{}, nil, fmt.Errorf("component %d: %w", i, err)
		}
	}
	var done counts
	statuses := []api.IncidentStatus{api.Investigating, api.Identified, api.Monitoring}
	for i := 0; n == 0 || i < n; i++ {
		id := incidentID(i)
		for u := range updates {
			req := api.UpdateRequest{Status: statuses[u%len(statuses)], Body: text(rnd, shape.body, true)}
			for k := range shape.components {
				req.Components = append(req.Components, api.ComponentChange{ID: componentID(k), Status: api.PartialOutage})
			}
			uid := updateID(u)
			var err error
			if u == 0 {
				req.ID = uid
				_, _, err = c.PutIncident(ctx, id, api.IncidentRequest{Name: text(rnd, api.MaxNameLength, false), Impact: api.ImpactCritical, Update: &req})
			} else {
				_, _, err = c.PutUpdate(ctx, id, uid, req)
			}
			if refused(err) && u == 0 {
				return done, err, nil
			}
			if refused(err) {
				break
			}
			if err != nil {
				return done, nil, fmt.Errorf("incident %d, update %d: %w", i, u, err)
			}
			done.updates++
		}
		done.incidents++
		fmt.Printf("  %d incidents, %d updates: %s\n", done.incidents, done.updates, srv.mem())
	}
	return done, nil, nil
}

// refused reports whether the server turned the write down for one of its limits.
func refused(err error) bool {
	e, ok := errors.AsType[*client.Error](err)
	return ok && (e.StatusCode == http.StatusRequestEntityTooLarge || e.StatusCode == http.StatusUnprocessableEntity && e.Code == api.CodeLimitExceeded)
}

// text is n characters that grow most when escaped for HTML, JSON and XML, in an order that
// does not compress to nothing. A single-line text has no line breaks.
func text(rnd *rand.Rand, n int, multiline bool) string {
	const worst = `&<>'"`
	var b strings.Builder
	for i := range n {
		if multiline && i%80 == 79 {
			b.WriteByte('\n')
			continue
		}
		b.WriteByte(worst[rnd.IntN(len(worst))])
	}
	return b.String()
}

// Ids at their longest.
func componentID(i int) string { return longID(fmt.Sprintf("c%03d-", i)) }
func incidentID(i int) string  { return longID(fmt.Sprintf("i%05d-", i)) }
func updateID(i int) string    { return longID(fmt.Sprintf("u%03d-", i)) }

func longID(prefix string) string { return prefix + strings.Repeat("x", api.MaxIDLength-len(prefix)) }

func read(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

type server struct {
	url  string
	pid  int
	stop func()
	// live is the heap that survived the latest collection, from the runtime's gctrace.
	live atomic.Int64
}

var (
	servingLine = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	// gc 12 @1.2s 0%: ... ms cpu, 4->5->2 MB, 5 MB goal, ...
	gcLine = regexp.MustCompile(`^gc \d+ .* (\d+)->(\d+)->(\d+) MB`)
)

// start runs the binary on a free loopback port and returns once it serves, with the time
// that took.
func start(bin, data, env string) (*server, time.Duration, error) {
	began := time.Now()
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--data", data, "--page-name", "Example Status")
	cmd.Env = append(os.Environ(), "FIRESCOPE_STATUSPAGE_TOKEN="+token, env, "GODEBUG=gctrace=1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	srv := &server{pid: cmd.Process.Pid, stop: stop}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
			if m := gcLine.FindStringSubmatch(sc.Text()); m != nil {
				mb, _ := strconv.ParseInt(m[3], 10, 64)
				srv.live.Store(mb << 20)
			}
		}
	}()
	select {
	case a := <-addr:
		srv.url = "http://" + a
		return srv, time.Since(began), nil
	case <-time.After(5 * time.Minute):
		stop()
		return nil, 0, errors.New("the status page did not start")
	}
}

// mem is the process's RSS and peak RSS, from /proc.
func (s *server) mem() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return err.Error()
	}
	field := func(name string) int64 {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				return kb << 10
			}
		}
		return 0
	}
	return fmt.Sprintf("RSS %7s (peak %7s; anonymous %7s, file %7s); live heap %s",
		mib(field("VmRSS")), mib(field("VmHWM")), mib(field("RssAnon")), mib(field("RssFile")), mib(s.live.Load()))
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", (n+(1<<19))>>20) }

func parseMi(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "Mi"), 10, 64)
	if err != nil || !strings.HasSuffix(s, "Mi") {
		return 0, fmt.Errorf("-container-limit %q: want a number of Mi, such as 256Mi", s)
	}
	return n << 20, nil
}
