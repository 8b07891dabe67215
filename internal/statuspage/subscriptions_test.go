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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
	bolt "go.etcd.io/bbolt"

	"firescope.dev/firescope/internal/safehttp"
	"firescope.dev/firescope/internal/statuspage/api"
)

const subsToken = "test-admin-token-0123456789"

// subsFixture is a page with subscriptions, served over HTTP, mailing through an in-process
// SMTP sink.
type subsFixture struct {
	t    testing.TB
	path string
	sink *MailSink
	page *Page
	subs *subscriptions
	srv  *httptest.Server
	run  func()
	stop func()
}

func newSubsFixture(t testing.TB, path string, sink *MailSink, allow *safehttp.Allowlist) *subsFixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	page, err := OpenPage(path, PageInfo{ID: "example", Name: "Example Status", URL: base, Subscriptions: true}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := serveSubscriptions(t, page, ln, sink, allow, nil)
	f.path = path
	f.run()
	return f
}

// serveSubscriptions attaches subscriptions to page and serves it on ln; f.run starts
// sending. tune, if set, adjusts the dispatcher first.
func serveSubscriptions(t testing.TB, page *Page, ln net.Listener, sink *MailSink, allow *safehttp.Allowlist, tune func(*dispatcher)) *subsFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := openSubscriberStore(page)
	if err != nil {
		t.Fatal(err)
	}
	if allow == nil {
		allow = &safehttp.Allowlist{}
	}
	out := newDispatcher(store, smtpMailer{cfg: SMTPConfig{Relay: sink.Addr(), TLS: "none", Timeout: 10 * time.Second}},
		"Example Status <status@example.com>", newWebhookClient(allow), log, page.now)
	out.retryBase = 20 * time.Millisecond
	if tune != nil {
		tune(out)
	}
	subs, err := newSubscriptions(page, store, out, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(subs.Handler(NewHandler(page, subsToken, log), ""))
	srv.Listener = ln
	srv.Start()
	f := &subsFixture{t: t, sink: sink, page: page, subs: subs, srv: srv}
	var start, once sync.Once
	f.run = func() { start.Do(func() { go func() { defer close(done); out.run(ctx) }() }) }
	f.stop = func() {
		once.Do(func() {
			srv.Close()
			cancel()
			start.Do(func() { close(done) }) // never started
			<-done
			_ = page.Close()
		})
	}
	t.Cleanup(f.stop)
	return f
}

func newSink(t testing.TB) *MailSink {
	t.Helper()
	sink, err := StartMailSink("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return sink
}

// waitFor polls cond; the bound only keeps a broken test from hanging.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idle waits until every queued delivery is sent or given up.
func (f *subsFixture) idle() {
	f.t.Helper()
	waitFor(f.t, "the deliveries to finish", func() bool { return f.subs.out.pending() == 0 })
}

func (f *subsFixture) post(path string, form url.Values) (int, string) {
	f.t.Helper()
	resp, err := http.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *subsFixture) get(path string) (int, string) {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sentMail is a message the sink received, parsed.
type sentMail struct {
	header mail.Header
	to     []string
	body   string
}

func mails(t testing.TB, sink *MailSink) []sentMail {
	t.Helper()
	var out []sentMail
	for _, m := range sink.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatalf("the sink received an unparsable message: %v\n%s", err, m.Raw)
		}
		body, err := decodeTextBody(msg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sentMail{header: msg.Header, to: m.To, body: body})
	}
	return out
}

func mailsTo(t testing.TB, sink *MailSink, addr string) []sentMail {
	return slices.DeleteFunc(mails(t, sink), func(m sentMail) bool { return !slices.Contains(m.to, addr) })
}

var linkRE = regexp.MustCompile(`https?://[^\s]+/subscriptions/[A-Za-z0-9_-]+(/[a-z]+)?`)

// link returns the path of the mail's link ending in action ("" for the management link).
func (m sentMail) link(t testing.TB, action string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.body, -1) {
		u, err := url.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, _ := strings.Cut(strings.TrimPrefix(u.Path, "/subscriptions/"), "/"); got == action {
			return u.Path
		}
	}
	t.Fatalf("no %q link in the mail:\n%s", action, m.body)
	return ""
}

// subscribeAndConfirm subscribes addr through the form and confirms it from the mail.
func (f *subsFixture) subscribeAndConfirm(addr string, components ...string) string {
	f.t.Helper()
	form := url.Values{"email": {addr}, "component": components}
	if code, body := f.post("/subscribe", form); code != http.StatusOK {
		f.t.Fatalf("subscribe %s: %d\n%s", addr, code, body)
	}
	var confirm sentMail
	waitFor(f.t, "the confirmation request to "+addr, func() bool {
		ms := mailsTo(f.t, f.sink, addr)
		if len(ms) > 0 {
			confirm = ms[len(ms)-1]
		}
		return len(ms) > 0
	})
	path := confirm.link(f.t, "confirm")
	if code, body := f.post(path, nil); code != http.StatusOK || !strings.Contains(body, "Your subscription is confirmed.") {
		f.t.Fatalf("confirm %s: %d\n%s", addr, code, body)
	}
	return strings.TrimSuffix(path, "/confirm")
}

func (f *subsFixture) publish(incident, update string, notify bool, components ...string) {
	f.t.Helper()
	req := api.IncidentRequest{Name: "Elevated errors on " + incident, Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: update, Status: api.Investigating, Body: "We are looking into " + incident + " (" + update + ").", Notify: notify}}
	for _, c := range components {
		req.Update.Components = append(req.Update.Components, api.ComponentChange{ID: c, Status: api.PartialOutage})
	}
	if _, _, err := f.page.PutIncident(incident, req); err != nil {
		f.t.Fatal(err)
	}
}

func TestSubscribersAreConfirmedThenMailedEachNotifiedUpdateOnce(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	manage := f.subscribeAndConfirm("jane@example.com")

	confirm := mailsTo(t, sink, "jane@example.com")[0]
	checkMailHeaders(t, confirm, "jane@example.com", "Confirm your subscription to Example Status")
	if got := confirm.header.Get("List-Unsubscribe"); got != "" {
		t.Errorf("the confirmation request is not a list message, but has List-Unsubscribe %q", got)
	}

	f.publish("api-errors", "u1", true)
	f.publish("api-errors", "u1", true) // a retry of the same update
	f.publish("quiet", "q1", false)     // published without notifications
	f.idle()
	ms := mailsTo(t, sink, "jane@example.com")
	if len(ms) != 2 {
		t.Fatalf("jane got %d mails, want the confirmation request and one notification", len(ms))
	}
	n := ms[1]
	checkMailHeaders(t, n, "jane@example.com", "[Example Status] Elevated errors on api-errors: Investigating")
	unsub := f.srv.URL + manage + "/unsubscribe"
	if got := n.header.Get("List-Unsubscribe"); got != "<"+unsub+">" {
		t.Errorf("List-Unsubscribe = %q, want <%s>", got, unsub)
	}
	if got := n.header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	for _, want := range []string{"We are looking into api-errors (u1).", f.srv.URL + "/incidents/api-errors", f.srv.URL + manage} {
		if !strings.Contains(n.body, want) {
			t.Errorf("the notification does not say %q:\n%s", want, n.body)
		}
	}
	if n.header.Get("Message-Id") == confirm.header.Get("Message-Id") {
		t.Error("two mails share a Message-ID")
	}
}

// checkMailHeaders checks what every mail must carry.
func checkMailHeaders(t *testing.T, m sentMail, to, subject string) {
	t.Helper()
	dec := new(mime.WordDecoder)
	got, err := dec.DecodeHeader(m.header.Get("Subject"))
	if err != nil || got != subject {
		t.Errorf("Subject = %q (%v), want %q", got, err, subject)
	}
	if from, err := mail.ParseAddress(m.header.Get("From")); err != nil || from.Address != "status@example.com" || from.Name != "Example Status" {
		t.Errorf("From = %q (%v)", m.header.Get("From"), err)
	}
	if rcpt, err := mail.ParseAddress(m.header.Get("To")); err != nil || rcpt.Address != to {
		t.Errorf("To = %q (%v), want %s", m.header.Get("To"), err, to)
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@127\.0\.0\.1>$`).MatchString(m.header.Get("Message-Id")) {
		t.Errorf("Message-ID = %q", m.header.Get("Message-Id"))
	}
	if _, err := m.header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if m.header.Get("Mime-Version") != "1.0" {
		t.Errorf("MIME-Version = %q", m.header.Get("Mime-Version"))
	}
	if ct, params, err := mime.ParseMediaType(m.header.Get("Content-Type")); err != nil || ct != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type = %q (%v)", m.header.Get("Content-Type"), err)
	}
	if te := m.header.Get("Content-Transfer-Encoding"); te != "quoted-printable" && te != "base64" && te != "8bit" {
		t.Errorf("Content-Transfer-Encoding = %q", te)
	}
}

func TestNothingButTheConfirmationRequestGoesToAnUnconfirmedAddress(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	if code, _ := f.post("/subscribe", url.Values{"email": {"unconfirmed@example.com"}}); code != http.StatusOK {
		t.Fatal(code)
	}
	f.subscribeAndConfirm("confirmed@example.com")
	f.publish("api-errors", "u1", true)
	f.idle()
	if n := len(mailsTo(t, sink, "unconfirmed@example.com")); n != 1 {
		t.Errorf("the unconfirmed address got %d mails, want only the confirmation request", n)
	}
	if n := len(mailsTo(t, sink, "confirmed@example.com")); n != 2 {
		t.Errorf("the confirmed address got %d mails, want 2", n)
	}
}

func TestTheSubscribeFormAnswersTheSameForSubscribedAndNewAddresses(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	f.subscribeAndConfirm("known@example.com")
	f.idle()
	// Past the per-address interval, so that the known address is sent its reminder.
	sub, err := f.subs.store.SubscriberByEmail("known@example.com")
	if err != nil || sub == nil {
		t.Fatal(sub, err)
	}
	sub.NoticeAt = sub.NoticeAt.Add(-noticeInterval)
	if err := f.subs.store.PutSubscriber(sub); err != nil {
		t.Fatal(err)
	}
	codeKnown, known := f.post("/subscribe", url.Values{"email": {"known@example.com"}})
	codeNew, fresh := f.post("/subscribe", url.Values{"email": {"fresh@example.com"}})
	if codeKnown != codeNew || strings.ReplaceAll(known, "known@", "X@") != strings.ReplaceAll(fresh, "fresh@", "X@") {
		t.Errorf("the answers differ: %d\n%s\n--- and ---\n%d\n%s", codeKnown, known, codeNew, fresh)
	}
	f.idle()
	ms := mailsTo(t, sink, "known@example.com")
	if len(ms) != 2 || !strings.HasPrefix(ms[1].header.Get("Subject"), "Your subscription to") {
		t.Fatalf("the subscribed address got %d mails; want its confirmation and a reminder", len(ms))
	}
	if !strings.Contains(ms[1].body, "already subscribed") || strings.Contains(ms[1].body, "/confirm") {
		t.Errorf("the reminder:\n%s", ms[1].body)
	}
}

func TestTheSubscribeFormIsRateLimitedPerAddressAndPerClient(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	for range 3 {
		if code, _ := f.post("/subscribe", url.Values{"email": {"target@example.com"}}); code != http.StatusOK {
			t.Fatalf("answer %d", code)
		}
	}
	f.idle()
	if n := len(mailsTo(t, sink, "target@example.com")); n != 1 {
		t.Errorf("three requests in a row sent %d mails to one address, want 1", n)
	}
	for i := range 2 {
		if code, _ := f.post("/subscribe", url.Values{"email": {fmt.Sprintf("other%d@example.com", i)}}); code != http.StatusOK {
			t.Fatalf("request %d: answer %d", i+4, code)
		}
	}
	code, body := f.post("/subscribe", url.Values{"email": {"sixth@example.com"}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many subscription requests") {
		t.Errorf("the sixth request from one client: %d\n%s", code, body)
	}
	f.idle()
	if n := len(mailsTo(t, sink, "sixth@example.com")); n != 0 {
		t.Errorf("a refused request sent %d mails", n)
	}
}

func TestOneClickUnsubscribeStopsTheMails(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	f.subscribeAndConfirm("leaving@example.com")
	f.publish("api-errors", "u1", true)
	f.idle()
	ms := mailsTo(t, sink, "leaving@example.com")
	target := strings.Trim(ms[len(ms)-1].header.Get("List-Unsubscribe"), "<>")
	// RFC 8058: a POST of exactly this body, no cookies, no confirmation page.
	for range 2 {
		resp, err := http.Post(target, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
		}
	}
	f.publish("api-errors", "u2", true)
	f.idle()
	if n := len(mailsTo(t, sink, "leaving@example.com")); n != len(ms) {
		t.Errorf("after unsubscribing the address got %d more mails", n-len(ms))
	}
	path, _ := url.Parse(target)
	if code, _ := f.get(strings.TrimSuffix(path.Path, "/unsubscribe")); code != http.StatusNotFound {
		t.Errorf("the management page of an ended subscription answers %d, want 404", code)
	}
}

func TestComponentSubscribersGetOnlyTheirComponentsIncidents(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	for _, c := range []string{"api", "db"} {
		if _, _, err := f.page.PutComponent(c, api.ComponentRequest{Name: strings.ToUpper(c)}); err != nil {
			t.Fatal(err)
		}
	}
	f.subscribeAndConfirm("dba@example.com", "db")
	f.subscribeAndConfirm("all@example.com")
	f.publish("api-errors", "a1", true, "api")
	f.publish("db-slow", "d1", true, "db")
	f.idle()
	dba := mailsTo(t, sink, "dba@example.com")
	if len(dba) != 2 || !strings.Contains(dba[1].body, "db-slow") {
		t.Errorf("the db subscriber got %d mails; want its confirmation and the db incident", len(dba))
	}
	if !strings.Contains(dba[1].body, "incidents affecting DB on Example Status") {
		t.Errorf("the mail does not say what the subscription covers:\n%s", dba[1].body)
	}
	if n := len(mailsTo(t, sink, "all@example.com")); n != 3 {
		t.Errorf("the page subscriber got %d mails, want 3", n)
	}
}

func TestTheManagementPageChangesComponentsAndRefusesBadInput(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	if _, _, err := f.page.PutComponent("api", api.ComponentRequest{Name: "API"}); err != nil {
		t.Fatal(err)
	}
	manage := f.subscribeAndConfirm("jane@example.com")
	code, body := f.post(manage, url.Values{"component": {"api"}})
	if code != http.StatusOK || !strings.Contains(body, "Saved.") || !strings.Contains(body, "incidents affecting API") {
		t.Fatalf("saving components: %d\n%s", code, body)
	}
	for name, tc := range map[string]struct {
		form url.Values
		code int
		want string
	}{
		"unknown component": {url.Values{"component": {"nope"}}, http.StatusUnprocessableEntity, "no longer on the page"},
		"webhook with user": {url.Values{"webhook_url": {"https://u:p@hooks.example.com/x"}}, http.StatusUnprocessableEntity, "must not carry a user"},
		"webhook not http":  {url.Values{"webhook_url": {"ftp://hooks.example.com/x"}}, http.StatusUnprocessableEntity, "http or https"},
	} {
		code, body := f.post(manage, tc.form)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", name, code, tc.code, tc.want, body)
		}
	}
	for name, path := range map[string]string{
		"forged token":   "/subscriptions/" + strings.Repeat("A", 43),
		"short token":    "/subscriptions/abc",
		"unknown action": manage + "/delete",
	} {
		if code, _ := f.get(path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", name, code)
		}
	}
	if code, _ := f.post("/subscribe", url.Values{"email": {strings.Repeat("a", 300) + "@example.com"}}); code != http.StatusUnprocessableEntity {
		t.Errorf("an address past 254 characters: %d", code)
	}
	resp, err := http.Post(f.srv.URL+"/subscribe", "application/x-www-form-urlencoded", strings.NewReader("email="+strings.Repeat("a", maxFormBytes)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a form past %d bytes: %d", maxFormBytes, resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/subscribe", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("DELETE /subscribe: %d", resp.StatusCode)
	}
}

func TestSubscriptionPagesKeepTheTokenPrivate(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	manage := f.subscribeAndConfirm("jane@example.com")
	resp, err := http.Get(f.srv.URL + manage)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	for k, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

// eventMails counts the notifications per subscriber and subject, leaving out the
// confirmation requests.
func eventMails(t *testing.T, sink *MailSink) map[string]int {
	out := map[string]int{}
	for _, m := range mails(t, sink) {
		if m.header.Get("List-Unsubscribe") != "" {
			out[m.to[0]+" "+m.header.Get("Subject")]++
		}
	}
	return out
}

func TestAStopMidSendFinishesTheMailAndTheRestartSendsNothingAgain(t *testing.T) {
	sink := newSink(t)
	path := filepath.Join(t.TempDir(), "sp.db")
	f := newSubsFixture(t, path, sink, nil)
	f.subscribeAndConfirm("a@example.com")
	f.subscribeAndConfirm("b@example.com")
	f.idle()
	held, release := make(chan struct{}, 2), make(chan struct{})
	sink.SetAccept(func(m SinkMessage) error {
		held <- struct{}{}
		<-release
		return nil
	})
	f.publish("api-errors", "u1", true)
	<-held
	stopped := make(chan struct{})
	go func() { f.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("the stop did not wait for the mail in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	sink.SetAccept(nil)
	// The other subscriber's mail may not have started before the stop: the restart sends it.
	f = newSubsFixture(t, path, sink, nil)
	f.idle()
	f.publish("api-errors", "u2", true)
	f.idle()
	want := map[string]int{}
	for _, addr := range []string{"a@example.com", "b@example.com"} {
		want[addr+" [Example Status] Elevated errors on api-errors: Investigating"] = 2
	}
	got := map[string]int{}
	for k, n := range eventMails(t, sink) {
		got[k] = n
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mails per subscriber and subject:\n got %v\nwant %v (one for each of the two updates)", got, want)
	}
}

// crashCopy is the file as a crash at this moment would leave it: every committed
// transaction, nothing else.
func crashCopy(t *testing.T, f *subsFixture) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crashed.db")
	if err := f.page.boltDB().View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) }); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestACrashBeforeTheRelayAcceptedSendsTheMailAfterTheRestart(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	f.subscribeAndConfirm("a@example.com")
	f.idle()
	held, release := make(chan struct{}), make(chan struct{})
	sink.SetAccept(func(m SinkMessage) error {
		close(held)
		<-release
		return fmt.Errorf("the connection died") // never accepted: the crash came first
	})
	f.publish("api-errors", "u1", true)
	<-held
	crashed := crashCopy(t, f)
	sink.SetAccept(func(SinkMessage) error { return fmt.Errorf("the old process is gone") })
	close(release)
	f.stop()
	sink.SetAccept(nil)

	f = newSubsFixture(t, crashed, sink, nil)
	f.idle()
	if got := eventMails(t, sink); len(got) != 1 || got["a@example.com [Example Status] Elevated errors on api-errors: Investigating"] != 1 {
		t.Errorf("after the crash and restart: %v, want the one notification", got)
	}
}

func TestACrashAfterTheDeliveryWasRecordedSendsNothingAgain(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	f.subscribeAndConfirm("a@example.com")
	f.publish("api-errors", "u1", true)
	f.idle()
	crashed := crashCopy(t, f)
	f.stop()
	f = newSubsFixture(t, crashed, sink, nil)
	f.publish("api-errors", "u1", true) // the publisher's retry after the crash
	f.idle()
	if got := eventMails(t, sink); len(got) != 1 || got["a@example.com [Example Status] Elevated errors on api-errors: Investigating"] != 1 {
		t.Errorf("after the crash and restart: %v, want the one notification", got)
	}
}

func TestACrashBeforeTheFanOutStillNotifiesAfterTheRestart(t *testing.T) {
	sink := newSink(t)
	path := filepath.Join(t.TempDir(), "sp.db")
	f := newSubsFixture(t, path, sink, nil)
	f.subscribeAndConfirm("a@example.com")
	f.idle()
	f.stop()
	// The update is committed by a page whose subscriptions never saw it, as when the
	// process dies between the page's commit and the fan-out.
	page, err := OpenPage(path, PageInfo{Name: "Example Status", URL: "http://127.0.0.1"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := page.PutIncident("api-errors", api.IncidentRequest{Name: "Elevated errors on api-errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u1", Status: api.Investigating, Body: "Looking.", Notify: true}}); err != nil {
		t.Fatal(err)
	}
	if err := page.Close(); err != nil {
		t.Fatal(err)
	}
	f = newSubsFixture(t, path, sink, nil)
	f.idle()
	if got := eventMails(t, sink); len(got) != 1 {
		t.Errorf("after the restart: %v, want the one notification", got)
	}
}

func TestARefusedMailIsRetriedWithBackoffAndAPermanentRefusalGivenUp(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	f.subscribeAndConfirm("flaky@example.com")
	f.subscribeAndConfirm("gone@example.com")
	f.idle()
	var mu sync.Mutex
	refusals := 0
	sink.SetAccept(func(m SinkMessage) error {
		mu.Lock()
		defer mu.Unlock()
		if m.To[0] == "gone@example.com" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		if refusals < 2 {
			refusals++
			return fmt.Errorf("try again later")
		}
		return nil
	})
	f.publish("api-errors", "u1", true)
	f.idle()
	got := eventMails(t, sink)
	if got["flaky@example.com [Example Status] Elevated errors on api-errors: Investigating"] != 1 || len(got) != 1 {
		t.Errorf("after two temporary refusals and one permanent: %v", got)
	}
	if refusals != 2 {
		t.Errorf("%d temporary refusals, want 2", refusals)
	}
}

func TestAPostmortemNotifiesOnItsFirstPublicationOnly(t *testing.T) {
	sink := newSink(t)
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	f.subscribeAndConfirm("a@example.com")
	f.publish("api-errors", "u1", false)
	for _, req := range []api.PostmortemRequest{
		{Body: "A draft.", Notify: true},                        // drafts are private
		{Body: "What happened.", Published: true, Notify: true}, // the publication
		{Body: "What happened, corrected.", Published: true, Notify: true},
	} {
		if _, _, err := f.page.PutPostmortem("api-errors", req); err != nil {
			t.Fatal(err)
		}
	}
	f.idle()
	ms := mailsTo(t, sink, "a@example.com")
	if len(ms) != 2 {
		t.Fatalf("%d mails, want the confirmation and one post-mortem", len(ms))
	}
	checkMailHeaders(t, ms[1], "a@example.com", "[Example Status] Elevated errors on api-errors: post-mortem")
	if !strings.Contains(ms[1].body, "What happened.") || !strings.Contains(ms[1].body, "/incidents/api-errors#postmortem") {
		t.Errorf("the post-mortem mail:\n%s", ms[1].body)
	}
}

func TestWebhookSubscribersGetSignedJSON(t *testing.T) {
	sink := newSink(t)
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 10)
	var answered atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if answered.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got <- delivery{r.Header.Clone(), b}
	}))
	defer hook.Close()
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, safehttp.Loopback())
	if _, _, err := f.page.PutComponent("api", api.ComponentRequest{Name: "API"}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.post("/subscribe", url.Values{"email": {"ops@example.com"}, "webhook_url": {hook.URL + "/status"}}); code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	f.idle()
	confirm := mailsTo(t, sink, "ops@example.com")[0]
	manage := strings.TrimSuffix(confirm.link(t, "confirm"), "/confirm")
	// The owner of the address sees where the notifications would go before agreeing.
	if _, page := f.get(manage + "/confirm"); !strings.Contains(page, "sent by webhook to "+hook.URL+"/status") {
		t.Errorf("the confirmation page does not name the webhook:\n%s", page)
	}
	if code, _ := f.post(manage+"/confirm", nil); code != http.StatusOK {
		t.Fatal(code)
	}
	_, page := f.get(manage)
	secret := regexp.MustCompile(`whsec_[0-9a-f]{64}`).FindString(page)
	if secret == "" {
		t.Fatalf("the management page shows no signing secret:\n%s", page)
	}
	f.publish("api-errors", "u1", true, "api")
	d := <-got
	if sig := d.header.Get(WebhookSignatureHeader); sig != SignWebhook(secret, d.body) {
		t.Errorf("signature %q does not match the body under the page's secret", sig)
	}
	if d.header.Get(WebhookEventHeader) != "incident.update" || d.header.Get(WebhookDeliveryHeader) == "" {
		t.Errorf("headers: %v", d.header)
	}
	var pl webhookPayload
	if err := json.Unmarshal(d.body, &pl); err != nil {
		t.Fatal(err)
	}
	if pl.Incident.ID != "api-errors" || pl.Update == nil || pl.Update.ID != "u1" || len(pl.Update.Components) != 1 || pl.Update.Components[0].NewStatus != "partial_outage" {
		t.Errorf("payload: %s", d.body)
	}
	f.idle()
	if n := len(mailsTo(t, sink, "ops@example.com")); n != 1 {
		t.Errorf("a webhook subscriber was also mailed: %d mails", n)
	}
}

func TestWebhooksToInternalAddressesAreRefusedUnlessAllowed(t *testing.T) {
	sink := newSink(t)
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer hook.Close()
	f := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), sink, nil)
	if code, _ := f.post("/subscribe", url.Values{"email": {"ops@example.com"}, "webhook_url": {hook.URL}}); code != http.StatusOK {
		t.Fatal(code)
	}
	f.idle()
	manage := strings.TrimSuffix(mailsTo(t, sink, "ops@example.com")[0].link(t, "confirm"), "/confirm")
	f.post(manage+"/confirm", nil)
	f.publish("api-errors", "u1", true)
	f.idle()
	if n := calls.Load(); n != 0 {
		t.Errorf("the loopback webhook was called %d times", n)
	}
}

func TestTheFormButtonsMeetWCAGAAContrast(t *testing.T) {
	lightBlock, darkBlock, _ := strings.Cut(styleCSS, "@media (prefers-color-scheme: dark)")
	light := cssColors(t, lightBlock[:strings.Index(lightBlock, "}")])
	dark := cssColors(t, darkBlock[:strings.Index(darkBlock, "}\n}")])
	for k, v := range light {
		if _, ok := dark[k]; !ok {
			dark[k] = v
		}
	}
	for scheme, colors := range map[string]map[string]string{"light": light, "dark": dark} {
		if r := contrast(colors["on-banner"], colors["link-bg"]); r < 4.5 {
			t.Errorf("%s: button text on its background has contrast %.2f, want 4.5", scheme, r)
		}
	}
}
