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
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/statuspage/api"
)

// FuzzSubscribeForm posts any form to /subscribe: the answer is a page for people (never a
// server error), and what it stores is a valid, unconfirmed subscription of a bare address
// to components the page has.
func FuzzSubscribeForm(f *testing.F) {
	for _, seed := range []string{
		"email=jane%40example.com",
		"email=jane%40example.com&component=api&component=api",
		"email=Jane+%3Cjane%40example.com%3E",
		"email=%40example.com",
		"email=a%40b",
		"email=jane%40example.com%0D%0ABcc%3A+x%40evil.example",
		"email=jane%40example.com&webhook_url=https%3A%2F%2Fhooks.example.com%2Fx",
		"email=jane%40example.com&webhook_url=javascript%3Aalert(1)",
		"email=%E2%80%AEjane%40example.com",
		"email=jane%40example.com&component=%00",
		"email=" + strings.Repeat("a", 250) + "%40example.com",
		"%zz",
		"",
	} {
		f.Add(seed)
	}
	fx := newSubsFixture(f, filepath.Join(f.TempDir(), "sp.db"), newSink(f), nil)
	if _, _, err := fx.page.PutComponent("api", api.ComponentRequest{Name: "API"}); err != nil {
		f.Fatal(err)
	}
	h := fx.subs.Handler(http.NotFoundHandler(), "")
	n := 0
	f.Fuzz(func(t *testing.T, body string) {
		n++
		req := httptest.NewRequest(http.MethodPost, "/subscribe", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", n%250) + fmt.Sprint(n/250)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		default:
			t.Fatalf("answer %d to %q:\n%s", w.Code, body, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("Content-Type %q", ct)
		}
		form, err := url.ParseQuery(body)
		if err != nil || w.Code != http.StatusOK {
			return
		}
		sub, err := fx.subs.store.SubscriberByEmail(strings.TrimSpace(form.Get("email")))
		if err != nil || sub == nil {
			t.Fatalf("accepted %q but stored nothing (%v)", body, err)
		}
		if got, err := parseEmail(sub.Email); err != nil || got != sub.Email {
			t.Fatalf("stored address %q is not a bare address", sub.Email)
		}
		for _, c := range sub.Components {
			if c != "api" {
				t.Fatalf("stored unknown component %q", c)
			}
		}
		if sub.WebhookURL != "" && checkWebhookURL(sub.WebhookURL) != nil {
			t.Fatalf("stored webhook URL %q", sub.WebhookURL)
		}
	})
}

// FuzzSubscriptionLinks requests any path under /subscriptions/ with any method: no server
// error, and only the genuine token of an existing subscription opens it.
func FuzzSubscriptionLinks(f *testing.F) {
	fx := newSubsFixture(f, filepath.Join(f.TempDir(), "sp.db"), newSink(f), nil)
	if err := fx.subs.subscribe(subscribeRequest{Email: "jane@example.com"}); err != nil {
		f.Fatal(err)
	}
	sub, err := fx.subs.store.SubscriberByEmail("jane@example.com")
	if err != nil || sub == nil {
		f.Fatal(sub, err)
	}
	good := fx.subs.token(sub.ID)
	for _, seed := range []string{good, good + "/confirm", good + "/unsubscribe", good[:42] + "B", strings.Repeat("A", 43), "../../api/v1/components", "%2e%2e", good + "/x/y"} {
		f.Add("GET", seed)
		f.Add("POST", seed)
	}
	h := fx.subs.Handler(http.NotFoundHandler(), "")
	f.Fuzz(func(t *testing.T, method, rest string) {
		if method != "GET" && method != "POST" && method != "HEAD" && method != "PUT" {
			method = "GET"
		}
		u := &url.URL{Path: "/subscriptions/" + rest}
		req := httptest.NewRequest(method, "/", nil)
		req.URL = u
		if strings.HasSuffix(rest, "/unsubscribe") && method == "POST" && strings.HasPrefix(rest, good) {
			return // ends the subscription the other inputs probe
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d", method, rest, w.Code)
		}
		tok, _, _ := strings.Cut(rest, "/")
		if w.Code == http.StatusOK && tok != good {
			t.Fatalf("%s %q opened a subscription without its token", method, rest)
		}
	})
}

// The last character of a token carries two unused bits; a token spelt with them set opens
// nothing.
func TestATokenOpensOnlyInItsOwnSpelling(t *testing.T) {
	fx := newSubsFixture(t, filepath.Join(t.TempDir(), "sp.db"), newSink(t), nil)
	if err := fx.subs.subscribe(subscribeRequest{Email: "jane@example.com"}); err != nil {
		t.Fatal(err)
	}
	sub, err := fx.subs.store.SubscriberByEmail("jane@example.com")
	if err != nil || sub == nil {
		t.Fatal(sub, err)
	}
	good := fx.subs.token(sub.ID)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	if id, ok := fx.subs.parseToken(good); !ok || id != sub.ID {
		t.Fatalf("the token itself: %q, %v", id, ok)
	}
	for _, bits := range []int{1, 2, 3} {
		other := good[:len(good)-1] + string(alphabet[last^bits])
		if _, ok := fx.subs.parseToken(other); ok {
			t.Errorf("%q, the token with unused bits %d set, is accepted", other, bits)
		}
	}
}
