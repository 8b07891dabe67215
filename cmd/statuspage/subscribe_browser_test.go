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
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"firescope.dev/firescope/internal/statuspage"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

// browser starts headless Chromium under the DevTools protocol, for a test that fills in
// forms and hovers.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run hack/install-test-deps.sh (Debian's chromium package)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height), chromedp.Flag("hide-scrollbars", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100))
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// sinkMail returns the text of the latest mail to addr whose subject starts with subject.
func sinkMail(t *testing.T, sink *statuspage.MailSink, addr, subject string) (string, int) {
	t.Helper()
	var text string
	n := 0
	for _, m := range sink.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil || m.To[0] != addr {
			continue
		}
		if s := msg.Header.Get("Subject"); strings.HasPrefix(s, subject) {
			var b bytes.Buffer
			_, _ = b.ReadFrom(quotedprintable.NewReader(msg.Body))
			text = b.String()
			n++
		}
	}
	return text, n
}

func TestABrowserSubscribesConfirmsAndSeesTheHistoryBars(t *testing.T) {
	sink, err := statuspage.StartMailSink("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	srv := start(t, buildBinary(t), filepath.Join(t.TempDir(), "statuspage.db"),
		"--smtp-relay", sink.Addr(), "--smtp-tls", "none", "--mail-from", "Example Status <status@example.com>")
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	for _, comp := range []struct{ id, name, desc, group string }{
		{"api", "API", "The platform API and the dashboard", ""},
		{"eu-routing", "Routing", "HTTP traffic to running apps", "Europe"},
		{"eu-postgres", "Postgres", "Databases in eu-west-1", "Europe"},
		{"us-routing", "Routing", "HTTP traffic to running apps", "Americas"},
	} {
		if _, _, err := c.PutComponent(ctx, comp.id, api.ComponentRequest{Name: comp.name, Description: comp.desc, Group: comp.group}); err != nil {
			t.Fatal(err)
		}
	}
	// Past incidents, oldest first, so that the bars have history to show.
	for i, past := range []struct {
		days      int
		component string
		status    api.ComponentStatus
		hours     int
		name      string
	}{
		{80, "api", api.MajorOutage, 3, "API unavailable"},
		{52, "eu-postgres", api.DegradedPerformance, 5, "Slow queries on eu-west-1 databases"},
		{23, "eu-routing", api.PartialOutage, 2, "Elevated latency routing to apps in Europe"},
		{9, "api", api.DegradedPerformance, 1, "Slow dashboard"},
	} {
		at := time.Now().AddDate(0, 0, -past.days)
		end := at.Add(time.Duration(past.hours) * time.Hour)
		id := fmt.Sprint("past-", i)
		if _, _, err := c.PutIncident(ctx, id, api.IncidentRequest{Name: past.name, Impact: api.ImpactMajor,
			Update: &api.UpdateRequest{ID: "1", Status: api.Investigating, Body: "We are investigating.", CreatedAt: &at,
				Components: []api.ComponentChange{{ID: past.component, Status: past.status}}}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.PutUpdate(ctx, id, "2", api.UpdateRequest{Status: api.Resolved, Body: "Resolved.", CreatedAt: &end,
			Components: []api.ComponentChange{{ID: past.component, Status: api.Operational}}}); err != nil {
			t.Fatal(err)
		}
	}

	b := browser(t, 1280, 1000)
	run(t, b, "the subscribe form", chromedp.Navigate(srv.url+"/"), chromedp.Click(`a[href="/subscribe"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#email`, chromedp.ByID))
	shot(t, b, "subscribe-form.png")
	var result string
	run(t, b, "subscribing", chromedp.SendKeys(`#email`, "jane@example.com", chromedp.ByID),
		chromedp.Click(`input[value="eu-routing"]`, chromedp.ByQuery),
		chromedp.Click(`form.form button[type=submit]`, chromedp.ByQuery),
		// The form's own page has a title too: wait for the answer's.
		chromedp.WaitVisible(`//h1[contains(., 'Check your inbox')]`, chromedp.BySearch), chromedp.Text(`main`, &result, chromedp.ByQuery))
	if !strings.Contains(result, "Check your inbox") || !strings.Contains(result, "jane@example.com") {
		t.Fatalf("after subscribing the page says:\n%s", result)
	}
	shot(t, b, "subscribe-sent.png")

	var confirm string
	for deadline := time.Now().Add(30 * time.Second); confirm == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		confirm, _ = sinkMail(t, sink, "jane@example.com", "Confirm your subscription")
	}
	link := regexp.MustCompile(`/subscriptions/\S+/confirm`).FindString(confirm)
	if link == "" {
		t.Fatalf("no confirmation link in the mail:\n%s", confirm)
	}
	// The server listens on a port chosen at start, which its public URL does not know.
	link = srv.url + link
	var manage string
	run(t, b, "confirming", chromedp.Navigate(link), chromedp.Click(`form.form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`p.form-ok`, chromedp.ByQuery), chromedp.Text(`main`, &manage, chromedp.ByQuery))
	for _, want := range []string{"Your subscription is confirmed.", "jane@example.com", "incidents affecting Routing on Example Status"} {
		if !strings.Contains(manage, want) {
			t.Errorf("the subscription page lacks %q:\n%s", want, manage)
		}
	}
	shot(t, b, "subscription-manage.png")

	// An update that touches the subscribed component, published as the provider does.
	now := time.Now()
	if _, _, err := c.PutIncident(ctx, "eu-routing", api.IncidentRequest{Name: "Requests to apps in Europe are failing", Impact: api.ImpactCritical,
		Update: &api.UpdateRequest{ID: "su-1", Status: api.Identified, CreatedAt: &now, Notify: true,
			Body:       "A faulty load balancer configuration is failing requests to apps in eu-west-1. We are rolling it back.",
			Components: []api.ComponentChange{{ID: "eu-routing", Status: api.MajorOutage}}}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for deadline := time.Now().Add(30 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, n = sinkMail(t, sink, "jane@example.com", "[Example Status] Requests to apps in Europe")
	}
	if n != 1 {
		t.Errorf("the subscriber got %d mails of the update, want 1", n)
	}

	// The front page: groups, and a bar of a past incident's day, hovered.
	var dom, tipDisplay string
	var box []float64
	// A query the page ignores keeps the browser from its cached copy of the front page.
	run(t, b, "the front page", chromedp.Navigate(srv.url+"/?after-the-update"), chromedp.OuterHTML("html", &dom, chromedp.ByQuery))
	for _, want := range []string{`<li class="group">`, ">Europe<", ">Americas<", `class="u-major_outage"`, `class="u-partial_outage"`,
		"Elevated latency routing to apps in Europe", "Requests to apps in Europe are failing", "Major System Outage"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the front page lacks %q", want)
		}
	}
	bar := `//li[span[contains(., 'Elevated latency routing')]]`
	run(t, b, "hovering a bar",
		chromedp.ScrollIntoView(bar, chromedp.BySearch),
		chromedp.Evaluate(`(() => { const r = document.evaluate("`+bar+`", document, null, 9, null).singleNodeValue.getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, &box),
		chromedp.ActionFunc(func(ctx context.Context) error {
			return input.DispatchMouseEvent(input.MouseMoved, box[0], box[1]).Do(ctx)
		}),
		chromedp.Evaluate(`getComputedStyle(document.evaluate("`+bar+`/span", document, null, 9, null).singleNodeValue).display`, &tipDisplay))
	if tipDisplay != "block" {
		t.Errorf("the hovered bar's incidents are not shown (display %q)", tipDisplay)
	}
	var png []byte
	run(t, b, "screenshot of the hovered bar", chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(artifactDir(t), "history-bars-hover.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	shot(t, b, "history-bars.png")

	phone := browser(t, 390, 900)
	run(t, phone, "the front page on a phone", chromedp.EmulateViewport(390, 900, chromedp.EmulateMobile), chromedp.Navigate(srv.url+"/"))
	shot(t, phone, "history-bars-phone.png")
}
