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

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

// These tests drive the real binary, built with `go build`, as an operator would run it.

const token = "binary-test-token-0123456789"

// startupTimeout only bounds a hang; nothing here measures speed.
const startupTimeout = 60 * time.Second

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "statuspage")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is one run of the binary.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	exited chan struct{}
	err    error // set when exited is closed
}

var servingLine = regexp.MustCompile(`msg="serving the status page" addr=(\S+)`)

// cleanEnv is the test's environment without any status page settings of the developer's.
func cleanEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FIRESCOPE_STATUSPAGE_") })
	return append(env, extra...)
}

// start runs the binary on a free loopback port with the data file given, and waits until it
// serves.
func start(t *testing.T, bin, data string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--data", data, "--page-name", "Example Status"}, args...)...)
	cmd.Env = cleanEnv("FIRESCOPE_STATUSPAGE_TOKEN=" + token)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.stderr, line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.exited:
		t.Fatalf("the status page exited before serving: %v\n%s", s.err, s.stderr)
	case <-time.After(startupTimeout):
		t.Fatalf("the status page did not start serving\n%s", s.stderr)
	}
	return s
}

// wait waits for the process to exit and returns its error.
func (s *server) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.exited:
		return s.err
	case <-time.After(startupTimeout):
		t.Fatalf("the status page did not exit\n%s", s.stderr)
		return nil
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, resp.StatusCode, err)
	}
	return string(body)
}

func TestEveryAcknowledgedWriteSurvivesKill9(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "statuspage.db")
	srv := start(t, bin, data)
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	if _, _, err := c.PutComponent(ctx, "api", api.ComponentRequest{Name: "API"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutIncident(ctx, "inc-1", api.IncidentRequest{Name: "Elevated API errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u0", Status: api.Investigating, Body: "We are investigating.",
			Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}}); err != nil {
		t.Fatal(err)
	}

	// Keep writing updates; kill -9 the server once 30 have been acknowledged, with more in
	// flight. Every acknowledged one must be there after the restart.
	const killAfter = 30
	var acked []string
	killed := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 1; ; i++ {
			id := fmt.Sprint("u", i)
			_, _, err := c.PutUpdate(ctx, "inc-1", id, api.UpdateRequest{Status: api.Identified, Body: "Update " + id})
			if err != nil {
				return // the server is gone
			}
			acked = append(acked, id)
			if len(acked) == killAfter {
				close(killed)
			}
		}
	}()
	<-killed
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-writerDone
	var exitErr *exec.ExitError
	if err := srv.wait(t); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the server ended with %v, want killed by SIGKILL", err)
	}

	srv = start(t, bin, data)
	c = client.New(srv.url, token, nil)
	inc, err := c.Incident(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, u := range inc.Updates {
		stored[u.ID] = true
	}
	for _, id := range append([]string{"u0"}, acked...) {
		if !stored[id] {
			t.Errorf("acknowledged update %s was lost by kill -9", id)
		}
	}
	if comps, err := c.Components(ctx); err != nil || len(comps) != 1 || comps[0].Status != api.MajorOutage {
		t.Errorf("components after restart = %+v, %v", comps, err)
	}
	summary := get(t, srv.url+"/api/v2/summary.json")
	if !strings.Contains(summary, "Elevated API errors") || !strings.Contains(summary, `"indicator":"critical"`) {
		t.Errorf("summary.json after restart lacks the incident: %s", summary)
	}
	t.Logf("%d acknowledged updates before kill -9, %d stored after restart", len(acked)+1, len(inc.Updates))
}

func TestSIGTERMShutsDownCleanly(t *testing.T) {
	srv := start(t, buildBinary(t), filepath.Join(t.TempDir(), "statuspage.db"))
	get(t, srv.url+"/healthz")
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM = %v, want 0\n%s", err, srv.stderr)
	}
	if !strings.Contains(srv.stderr.String(), `msg=stopped`) {
		t.Errorf("no clean stop in the log:\n%s", srv.stderr)
	}
}

func TestRefusesToStartWithoutAToken(t *testing.T) {
	cmd := exec.Command(buildBinary(t), "--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "db"))
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || !strings.Contains(string(out), "FIRESCOPE_STATUSPAGE_TOKEN") {
		t.Errorf("without a token: %v\n%s\nwant exit 1 naming FIRESCOPE_STATUSPAGE_TOKEN", err, out)
	}
}
