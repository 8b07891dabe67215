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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"firescope.dev/firescope/internal/pgtest"
	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

// startPostgres runs a real PostgreSQL for the test and returns a file holding its
// connection string, as a mounted Secret would.
func startPostgres(t *testing.T) string {
	t.Helper()
	pg, err := pgtest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Close(); err != nil {
			t.Error(err)
		}
	})
	file := filepath.Join(t.TempDir(), "postgres-url")
	if err := os.WriteFile(file, []byte(pg.URL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestAReplicaKilledMidWriteLosesNoAcknowledgedWrite(t *testing.T) {
	bin := buildBinary(t)
	urlFile := startPostgres(t)
	// --data names a file that must stay unused: the records are in PostgreSQL.
	unused := filepath.Join(t.TempDir(), "unused.db")
	a := start(t, bin, unused, "--postgres-url-file", urlFile)
	b := start(t, bin, unused, "--postgres-url-file", urlFile)
	ctx := context.Background()
	ca, cb := client.New(a.url, token, nil), client.New(b.url, token, nil)
	if _, _, err := ca.PutIncident(ctx, "inc-1", api.IncidentRequest{Name: "Elevated API errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u0", Status: api.Investigating, Body: "We are investigating."}}); err != nil {
		t.Fatal(err)
	}

	// Keep writing updates to one replica; kill -9 it once 30 have been acknowledged, with
	// more in flight. The other replica must have every acknowledged one.
	const killAfter = 30
	var acked []string
	var unacked string
	killed := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 1; ; i++ {
			id := fmt.Sprint("u", i)
			if _, _, err := ca.PutUpdate(ctx, "inc-1", id, api.UpdateRequest{Status: api.Identified, Body: "Update " + id}); err != nil {
				unacked = id // the replica is gone
				return
			}
			acked = append(acked, id)
			if len(acked) == killAfter {
				close(killed)
			}
		}
	}()
	<-killed
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-writerDone
	var exitErr *exec.ExitError
	if err := a.wait(t); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the replica ended with %v, want killed by SIGKILL", err)
	}

	// The client retries what was not acknowledged on the replica that is left: it lands
	// once, whether or not the killed replica had committed it.
	if _, _, err := cb.PutUpdate(ctx, "inc-1", unacked, api.UpdateRequest{Status: api.Identified, Body: "Update " + unacked}); err != nil {
		t.Fatalf("retrying %s on the other replica: %v", unacked, err)
	}
	inc, err := cb.Incident(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, u := range inc.Updates {
		stored[u.ID]++
	}
	for _, id := range append([]string{"u0", unacked}, acked...) {
		if stored[id] != 1 {
			t.Errorf("update %s is stored %d times, want once", id, stored[id])
		}
	}
	if _, err := os.Stat(unused); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replicas on PostgreSQL created the --data file: %v", err)
	}
	t.Logf("%d acknowledged updates before kill -9, %d stored on the other replica", len(acked)+1, len(inc.Updates))

	// A replica started now serves the same page.
	c := start(t, bin, unused, "--postgres-url-file", urlFile)
	if got, want := get(t, c.url+"/api/v2/incidents.json"), get(t, b.url+"/api/v2/incidents.json"); got != want {
		t.Errorf("a new replica's incidents.json differs from the running one's:\n%s\n%s", got, want)
	}
}

func TestExportWritesTheStaticPageFromPostgres(t *testing.T) {
	bin := buildBinary(t)
	urlFile := startPostgres(t)
	srv := start(t, bin, filepath.Join(t.TempDir(), "unused.db"), "--postgres-url-file", urlFile, "--public-url", "https://status.example.com")
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	if _, _, err := c.PutIncident(ctx, "inc-1", api.IncidentRequest{Name: "Elevated API errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u0", Status: api.Investigating, Body: "We are investigating."}}); err != nil {
		t.Fatal(err)
	}

	// The export runs next to the serving replica, as a CronJob would.
	dir := filepath.Join(t.TempDir(), "site")
	ectx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	cmd := exec.CommandContext(ectx, bin, "export", "--to", dir, "--postgres-url-file", urlFile, "--page-name", "Example Status", "--public-url", "https://status.example.com")
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("statuspage export: %v\n%s", err, out)
	}
	for file, path := range map[string]string{"index.html": "/", "history/index.html": "/history",
		"incidents/inc-1/index.html": "/incidents/inc-1", "api/v2/summary.json": "/api/v2/summary.json", "history.atom": "/history.atom"} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("the export lacks %s: %v", file, err)
			continue
		}
		if want := get(t, srv.url+path); string(b) != want {
			t.Errorf("%s differs from what the server answers at %s", file, path)
		}
		if !strings.Contains(string(b), "Elevated API errors") {
			t.Errorf("%s lacks the incident", file)
		}
	}
}

// notifications counts the notification mails (not confirmation requests) a sink kept.
func notifications(sink *statuspage.MailSink) int {
	n := 0
	for _, m := range sink.Messages() {
		if bytes.Contains(m.Raw, []byte("List-Unsubscribe-Post:")) {
			n++
		}
	}
	return n
}

func TestAReplicaKilledMidSendLeavesTheMailToAnotherReplica(t *testing.T) {
	bin := buildBinary(t)
	urlFile := startPostgres(t)
	unused := filepath.Join(t.TempDir(), "unused.db")
	// A relay for each replica, to tell which one sent a mail.
	sinks := make([]*statuspage.MailSink, 2)
	for i := range sinks {
		s, err := statuspage.StartMailSink("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		sinks[i] = s
	}
	replica := func(sink *statuspage.MailSink) *server {
		return start(t, bin, unused, "--postgres-url-file", urlFile, "--smtp-relay", sink.Addr(), "--smtp-tls", "none",
			"--mail-from", "Example Status <status@example.com>")
	}
	a := replica(sinks[0])

	resp, err := http.PostForm(a.url+"/subscribe", url.Values{"email": {"x@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	var confirm string
	for deadline := time.Now().Add(startupTimeout); confirm == ""; time.Sleep(20 * time.Millisecond) {
		for _, m := range sinks[0].Messages() {
			if l := regexp.MustCompile(`/subscriptions/[A-Za-z0-9_-]+/confirm`).Find(bytes.ReplaceAll(m.Raw, []byte("=\r\n"), nil)); l != nil {
				confirm = string(l)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no confirmation request reached the relay")
		}
	}
	if resp, err = http.PostForm(a.url+confirm, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %v %v", resp, err)
	}
	_ = resp.Body.Close()

	// The relay holds the notification; the replica sending it is killed meanwhile.
	held := make(chan struct{})
	var once sync.Once
	sinks[0].SetAccept(func(statuspage.SinkMessage) error {
		once.Do(func() { close(held) })
		time.Sleep(time.Second) // past the kill: the connection is gone before an answer
		return errors.New("the sender went away")
	})
	if _, _, err := client.New(a.url, token, nil).PutIncident(context.Background(), "inc-1", api.IncidentRequest{Name: "Elevated API errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u1", Status: api.Investigating, Body: "We are investigating.", Notify: true}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(startupTimeout):
		t.Fatalf("the notification never reached the relay\n%s", a.stderr)
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.wait(t)

	// The other replica sends it once the killed one's claim has lapsed (40 s).
	b := replica(sinks[1])
	for deadline := time.Now().Add(2 * time.Minute); notifications(sinks[1]) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the other replica never sent the notification\n%s", b.stderr)
		}
	}
	time.Sleep(time.Second) // room for a second copy, were one coming
	if n, m := notifications(sinks[0]), notifications(sinks[1]); n != 0 || m != 1 {
		t.Errorf("the killed replica's relay kept %d notifications and the other's %d, want 0 and 1", n, m)
	}
}
