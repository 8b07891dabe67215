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

package statuspage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// Subscriptions on replicas sharing one PostgreSQL: each replica takes subscriptions and
// sends, and every confirmed subscriber gets each notification once.

// pgPublicURL is the public URL of every replica, as behind one load balancer.
const pgPublicURL = "https://status.example.com"

// newSubsReplica opens a page on the database at url, with subscriptions mailing to sink, and
// serves it; run says whether it starts sending at once.
func newSubsReplica(t *testing.T, url string, sink *MailSink, run bool, tune func(*dispatcher)) *subsFixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenPostgresPage(context.Background(), testPostgresConfig(url),
		PageInfo{ID: "example", Name: "Example Status", URL: pgPublicURL, Subscriptions: true}, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f := serveSubscriptions(t, p, ln, sink, nil, func(d *dispatcher) {
		// Shorter than in production, so that the test waits less for a takeover.
		d.pollEvery, d.lease = 50*time.Millisecond, time.Second
		if tune != nil {
			tune(d)
		}
	})
	if run {
		f.run()
	}
	return f
}

// confirmOn subscribes addr through one replica's form and confirms it on another, from the
// mail.
func confirmOn(t *testing.T, subscribe, confirm *subsFixture, addr string, components ...string) string {
	t.Helper()
	if code, body := subscribe.post("/subscribe", url.Values{"email": {addr}, "component": components}); code != http.StatusOK {
		t.Fatalf("subscribe %s: %d\n%s", addr, code, body)
	}
	var link string
	waitFor(t, "the confirmation request to "+addr, func() bool {
		if ms := mailsTo(t, subscribe.sink, addr); len(ms) > 0 {
			link = ms[len(ms)-1].link(t, "confirm")
		}
		return link != ""
	})
	if code, body := confirm.post(link, nil); code != http.StatusOK || !strings.Contains(body, "Your subscription is confirmed.") {
		t.Fatalf("confirm %s on the other replica: %d\n%s", addr, code, body)
	}
	return strings.TrimSuffix(link, "/confirm")
}

func idleAll(t *testing.T, fs ...*subsFixture) {
	t.Helper()
	waitFor(t, "the deliveries to finish", func() bool {
		for _, f := range fs {
			if f.subs.out.pending() > 0 {
				return false
			}
		}
		return true
	})
}

func TestReplicasOnPostgresMailEveryConfirmedSubscriberOnce(t *testing.T) {
	pg := startPostgres(t)
	sink := newSink(t)
	a := newSubsReplica(t, pg.URL(), sink, true, nil)
	b := newSubsReplica(t, pg.URL(), sink, true, nil)
	for _, c := range []string{"api", "db"} {
		if _, _, err := a.page.PutComponent(c, api.ComponentRequest{Name: strings.ToUpper(c)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the other replica to offer the components", func() bool {
		_, page := b.get("/subscribe")
		return strings.Contains(page, `value="db"`)
	})

	// A subscription made on one replica is confirmed and managed on the other: the links'
	// key is shared.
	jane := confirmOn(t, a, b, "jane@example.com")
	confirmOn(t, b, a, "dba@example.com", "db")
	// The same new address sent to both replicas at once is one subscription, asked to
	// confirm once.
	var wg sync.WaitGroup
	for _, f := range []*subsFixture{a, b} {
		wg.Go(func() {
			if code, _ := f.post("/subscribe", url.Values{"email": {"twice@example.com"}}); code != http.StatusOK {
				t.Errorf("subscribe: %d", code)
			}
		})
	}
	wg.Wait()
	idleAll(t, a, b)
	if n := len(mailsTo(t, sink, "twice@example.com")); n != 1 {
		t.Errorf("one address subscribed on both replicas at once got %d confirmation requests, want 1", n)
	}
	if n, err := a.subs.store.Subscribers(); err != nil || n != 3 {
		t.Errorf("the database holds %d subscribers (%v), want 3", n, err)
	}

	// Updates published on either replica, one of them on both at once, reach each
	// confirmed subscriber once.
	a.publish("api-errors", "u1", true, "api")
	b.publish("db-slow", "d1", true, "db")
	for _, f := range []*subsFixture{a, b} {
		wg.Go(func() { f.publish("db-slow", "d2", true, "db") })
	}
	wg.Wait()
	a.publish("quiet", "q1", false, "api")
	idleAll(t, a, b)
	got := eventMails(t, sink)
	want := map[string]int{
		"jane@example.com [Example Status] Elevated errors on api-errors: Investigating": 1,
		"jane@example.com [Example Status] Elevated errors on db-slow: Investigating":    2,
		"dba@example.com [Example Status] Elevated errors on db-slow: Investigating":     2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mails per subscriber and subject:\n got %v\nwant %v", got, want)
	}

	// Behind a load balancer both replicas serve the same subscription pages.
	for _, path := range []string{"/subscribe", jane, jane + "/unsubscribe"} {
		_, pa := a.get(path)
		_, pb := b.get(path)
		if pa != pb {
			t.Errorf("GET %s differs between the replicas:\n%s\n---\n%s", path, pa, pb)
		}
	}

	// One-click unsubscribe on one replica stops the mails from both.
	resp, err := http.Post(b.srv.URL+jane+"/unsubscribe", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	before := len(mailsTo(t, sink, "jane@example.com"))
	a.publish("api-errors", "u2", true, "api")
	b.publish("db-slow", "d3", true, "db")
	idleAll(t, a, b)
	if n := len(mailsTo(t, sink, "jane@example.com")); n != before {
		t.Errorf("after unsubscribing on one replica, %d more mails", n-before)
	}
	if code, _ := a.get(jane); code != http.StatusNotFound {
		t.Errorf("the ended subscription's page on the other replica: %d, want 404", code)
	}
}

func TestAReplicaDyingMidSendLeavesTheMailToAnotherOnceItsLeaseIsOver(t *testing.T) {
	pg := startPostgres(t)
	sinkA, sinkB := newSink(t), newSink(t)
	a := newSubsReplica(t, pg.URL(), sinkA, true, nil)
	a.subscribeAndConfirm("x@example.com")
	idleAll(t, a)
	// The other replica runs from the start but sends only once the first has died, so that
	// the first is the one holding the mail.
	b := newSubsReplica(t, pg.URL(), sinkB, false, nil)

	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sinkA.SetAccept(func(m SinkMessage) error {
		once.Do(func() { close(held) })
		<-release
		return errors.New("the connection died") // never accepted: the replica died first
	})
	a.publish("api-errors", "u1", true)
	<-held
	// The replica dies: its connections go, and nothing it does from now on is stored.
	if err := a.page.Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	a.stop()

	b.run()
	waitFor(t, "the other replica to send the mail", func() bool { return len(eventMails(t, sinkB)) > 0 })
	idleAll(t, b)
	if got := eventMails(t, sinkB); len(got) != 1 || got["x@example.com [Example Status] Elevated errors on api-errors: Investigating"] != 1 {
		t.Errorf("after the first replica died mid-send, the other sent %v, want the one notification", got)
	}
	if got := eventMails(t, sinkA); len(got) != 0 {
		t.Errorf("the dead replica's relay kept %v", got)
	}
}
