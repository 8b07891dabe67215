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

// Command subscribers measures how many mails each subscriber receives per notified update
// when the status page is restarted while it sends them: half of the restarts a graceful
// SIGTERM, half a SIGKILL. The goal is exactly 1.00: no update skipped, none mailed twice.
//
//	go run ./test/bench/subscribers             # about a minute; -subscribers, -updates
//	go run ./test/bench/subscribers -postgres   # two replicas on PostgreSQL, a few minutes
//
// With -postgres, two replicas share a real PostgreSQL (internal/pgtest) and one relay;
// the updates are published to either in turn, and after each one either replica in turn
// is restarted, so that the other sends what the killed one had claimed once its lease is
// over. The relay is an in-process SMTP sink that answers slowly (as a relay across a
// network does), so that the kills land in the middle of conversations. Everything runs on
// 127.0.0.1 and stops by itself.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"firescope.dev/firescope/internal/pgtest"
	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

const token = "bench-token-0123456789abcdef"

func main() {
	subscribers := flag.Int("subscribers", 20, "confirmed subscribers")
	updates := flag.Int("updates", 30, "notified updates, with a restart after each one")
	logPath := flag.String("log", "", "append the server's logs to this file")
	latency := flag.Duration("relay-latency", 20*time.Millisecond, "how long the sink takes to answer MAIL FROM, as a relay across a network")
	postgres := flag.Bool("postgres", false, "run two replicas on PostgreSQL instead of one server on a bbolt file")
	flag.Parse()
	if err := run(*subscribers, *updates, *latency, *logPath, *postgres); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type server struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	base string
}

func run(subscribers, updates int, latency time.Duration, logPath string, postgres bool) error {
	tmp, err := os.MkdirTemp("", "subscribers-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "statuspage")
	if out, err := exec.Command("go", "build", "-o", bin, "firescope.dev/firescope/cmd/statuspage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	sink, err := statuspage.StartMailSink("127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	defer sink.Close()
	sink.Latency = latency
	sink.Keep = 10 * (subscribers*updates + subscribers)
	store := []string{"--data", filepath.Join(tmp, "sp.db")}
	replicas := 1
	if postgres {
		pg, err := pgtest.New()
		if err != nil {
			return err
		}
		defer func() { _ = pg.Close() }()
		urlFile := filepath.Join(tmp, "postgres-url")
		if err := os.WriteFile(urlFile, []byte(pg.URL()), 0o600); err != nil {
			return err
		}
		store, replicas = []string{"--postgres-url-file", urlFile}, 2
	}
	addrs := make([]string, replicas)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs[i] = ln.Addr().String()
		_ = ln.Close()
	}
	// The links in the mails name the first replica, as they would name the load balancer.
	public := "http://" + addrs[0]
	var logFile *os.File
	if logPath != "" {
		if logFile, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
		defer logFile.Close()
	}
	start := func(i int) (*server, error) {
		args := append([]string{"--listen", addrs[i], "--public-url", public,
			"--page-name", "Bench Status", "--smtp-relay", sink.Addr(), "--smtp-tls", "none",
			"--mail-from", "Bench Status <status@bench.example>", "--client-ip-header", "X-Forwarded-For"}, store...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "FIRESCOPE_STATUSPAGE_TOKEN="+token)
		base := "http://" + addrs[i]
		s := &server{cmd: cmd, logs: &bytes.Buffer{}, base: base}
		cmd.Stderr = s.logs
		if logFile != nil {
			cmd.Stderr = io.MultiWriter(s.logs, logFile)
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			if resp, err := http.Get(base + "/healthz"); err == nil {
				_ = resp.Body.Close()
				return s, nil
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("the status page did not start:\n%s", s.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	srvs := make([]*server, replicas)
	for i := range srvs {
		if srvs[i], err = start(i); err != nil {
			return err
		}
	}
	defer func() {
		for _, srv := range srvs {
			_ = srv.cmd.Process.Kill()
			_ = srv.cmd.Wait()
		}
	}()

	fmt.Printf("subscribing and confirming %d addresses (on each replica in turn)\n", subscribers)
	for i := range subscribers {
		if err := subscribe(srvs[i%replicas].base, sink, fmt.Sprintf("reader%02d@bench.example", i), i); err != nil {
			return err
		}
	}

	ctx := context.Background()
	terms, kills := 0, 0
	fmt.Printf("publishing %d updates to each replica in turn, restarting one after each update\n", updates)
	for u := range updates {
		req := api.IncidentRequest{Name: "Elevated errors", Impact: api.ImpactMajor,
			Update: &api.UpdateRequest{ID: fmt.Sprintf("u%03d", u), Status: api.Investigating, Body: fmt.Sprintf("Update %d.", u), Notify: true}}
		c := client.New(srvs[u%replicas].base, token, &http.Client{Timeout: 10 * time.Second})
		if _, _, err := c.PutIncident(ctx, "bench-incident", req); err != nil {
			return fmt.Errorf("publish %d: %w", u, err)
		}
		// Restart while the mails of this update go out: somewhere in the first second.
		time.Sleep(time.Duration(rand.IntN(int(time.Second/time.Millisecond))) * time.Millisecond)
		sig := syscall.SIGTERM
		if u%2 == 1 {
			sig = syscall.SIGKILL
			kills++
		} else {
			terms++
		}
		// Either replica in turn, the one published to and the other: on two replicas the
		// signals alternate so that each replica gets both.
		i := (u / 2) % replicas
		_ = srvs[i].cmd.Process.Signal(sig)
		_ = srvs[i].cmd.Wait()
		if srvs[i], err = start(i); err != nil {
			return err
		}
	}

	want := subscribers * updates
	fmt.Printf("waiting for the %d notifications (retries after a kill wait their backoff)\n", want)
	deadline := time.Now().Add(5 * time.Minute)
	for countNotifications(sink).total < want && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	// Anything sent twice would arrive within the same backoff, or on PostgreSQL once a
	// claim's lease is over: wait that long again.
	settle := 15 * time.Second
	if postgres {
		settle = 45 * time.Second
	}
	time.Sleep(settle)
	n := countNotifications(sink)
	where := "one server on a bbolt file"
	if postgres {
		where = "two replicas on PostgreSQL"
	}
	fmt.Printf("\n%s; restarts: %d SIGTERM, %d SIGKILL; relay latency %s\n", where, terms, kills, latency)
	fmt.Printf("subscribers x updates:             %d\n", want)
	fmt.Printf("notification mails received:       %d\n", n.total)
	fmt.Printf("(subscriber, update) pairs mailed: %d (missing %d)\n", n.pairs, want-n.pairs)
	fmt.Printf("pairs mailed more than once:       %d (each with one Message-ID: %v)\n", n.repeated, n.sameID)
	fmt.Printf("mails per update per subscriber:   %.3f\n", float64(n.total)/float64(want))
	return nil
}

type counts struct {
	total, pairs, repeated int
	sameID                 bool
}

func countNotifications(sink *statuspage.MailSink) counts {
	c := counts{sameID: true}
	ids := map[string]map[string]bool{}
	per := map[string]int{}
	for _, m := range sink.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil || msg.Header.Get("List-Unsubscribe") == "" {
			continue
		}
		body, _ := io.ReadAll(msg.Body)
		update := regexp.MustCompile(`Update \d+\.`).Find(body)
		key := strings.Join(m.To, ",") + " " + string(update)
		per[key]++
		if ids[key] == nil {
			ids[key] = map[string]bool{}
		}
		ids[key][msg.Header.Get("Message-Id")] = true
		c.total++
	}
	c.pairs = len(per)
	for k, n := range per {
		if n > 1 {
			c.repeated++
			c.sameID = c.sameID && len(ids[k]) == 1
		}
	}
	return c
}

var confirmLink = regexp.MustCompile(`http://[^\s]+/subscriptions/[A-Za-z0-9_-]+/confirm`)

// subscribe posts the form as its own client, then confirms from the mail.
func subscribe(base string, sink *statuspage.MailSink, addr string, i int) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/subscribe", strings.NewReader(url.Values{"email": {addr}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("subscribe %s: %s", addr, resp.Status)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range sink.Messages() {
			if m.To[0] != addr {
				continue
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
			if err != nil {
				return err
			}
			subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if !strings.HasPrefix(subject, "Confirm") {
				continue
			}
			body, _ := io.ReadAll(msg.Body)
			link := confirmLink.Find(bytes.ReplaceAll(body, []byte("=\r\n"), nil))
			if link == nil {
				return fmt.Errorf("no confirmation link in:\n%s", body)
			}
			resp, err := http.PostForm(string(link), nil)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("confirm %s: %s", addr, resp.Status)
			}
			return nil
		}
	}
	return errors.New("no confirmation request reached " + addr)
}
