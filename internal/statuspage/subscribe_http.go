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
	"errors"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"
)

// The subscription pages: the subscribe form, and a subscriber's own page (reached by the
// token link in every mail) to confirm, change or end the subscription. They are rendered per
// request and never cached; their forms post to the page itself, which the public pages'
// policy does not allow, so they have a policy of their own.

var (
	subscribeCSP       = strings.Replace(htmlCSP, "form-action 'none'", "form-action 'self'", 1)
	subscribeTemplates = func() map[string]*template.Template {
		base := template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/subscribe.html"))
		out := map[string]*template.Template{}
		for _, name := range []string{"subscribe", "manage", "notice"} {
			t := template.Must(base.Clone())
			if name != "subscribe" {
				t = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
			}
			out[name] = t
		}
		return out
	}()
)

// maxFormBytes bounds a form's body: an address, a URL and the component ids fit easily.
const maxFormBytes = 16 << 10

// Handler serves the subscription pages and passes every other request to next.
func (s *subscriptions) Handler(next http.Handler, clientIPHeader string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/subscribe":
			s.serveSubscribe(w, r, clientKey(r, clientIPHeader))
		case strings.HasPrefix(r.URL.Path, "/subscriptions/"):
			s.serveSubscription(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// clientKey is who is asking, for the rate limit: the address in header (the last one, which
// the proxy in front added) when the server is configured to trust it, else the peer's.
func clientKey(r *http.Request, header string) string {
	if header != "" {
		if v := r.Header.Values(header); len(v) > 0 {
			parts := strings.Split(v[len(v)-1], ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type subscribeView struct {
	Title, Error, Email, WebhookURL string
	Site                            siteView
	Components                      []componentChoice
}

type manageView struct {
	Title, Notice, Error, Email, Scope, WebhookURL, WebhookSecret, Path string
	Confirmed                                                           bool
	Site                                                                siteView
	Components                                                          []componentChoice
}

type noticeView struct {
	Title, Heading string
	Lines          []string
	Action         *noticeAction
	Site           siteView
}

type noticeAction struct{ Path, Label string }

func (s *subscriptions) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := subscribeTemplates[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["Content-Security-Policy"] = []string{subscribeCSP}
	// The links carry the subscriber's token: never cached, indexed or sent on as a referrer.
	h["Cache-Control"] = []string{"no-store"}
	h["Referrer-Policy"] = []string{"no-referrer"}
	h["X-Robots-Tag"] = []string{"noindex"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["X-Frame-Options"] = []string{"DENY"}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *subscriptions) site() siteView {
	s.page.mu.Lock()
	defer s.page.mu.Unlock()
	return s.page.site(time.Time{})
}

func (s *subscriptions) notice(w http.ResponseWriter, status int, heading string, action *noticeAction, lines ...string) {
	s.render(w, status, "notice", noticeView{Title: heading + " · " + s.page.info.Name, Heading: heading, Lines: lines, Action: action, Site: s.site()})
}

func (s *subscriptions) methodNotAllowed(w http.ResponseWriter) {
	w.Header()["Allow"] = []string{"GET, HEAD, POST"}
	s.notice(w, http.StatusMethodNotAllowed, "Not allowed", nil, "This page takes GET and POST only.")
}

// readForm parses a posted form within maxFormBytes.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &formError{http.StatusRequestEntityTooLarge, "The form is too large."}
		}
		return &formError{http.StatusBadRequest, "The form could not be read: send it again from the page."}
	}
	if len(r.PostForm["component"]) > maxSubscribedComponents {
		return &formError{http.StatusUnprocessableEntity, "Too many components chosen."}
	}
	return nil
}

// maxSubscribedComponents is as many as a page has.
const maxSubscribedComponents = 100

func (s *subscriptions) serveSubscribe(w http.ResponseWriter, r *http.Request, client string) {
	view := subscribeView{Title: "Subscribe · " + s.page.info.Name, Site: s.site()}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		view.Components = s.componentChoices(nil)
		s.render(w, http.StatusOK, "subscribe", view)
		return
	case http.MethodPost:
	default:
		s.methodNotAllowed(w)
		return
	}
	err := readForm(w, r)
	req := subscribeRequest{Email: r.PostFormValue("email"), WebhookURL: r.PostFormValue("webhook_url"), Components: r.PostForm["component"]}
	if err == nil && !s.clients.allow(client, s.now()) {
		w.Header()["Retry-After"] = []string{"600"}
		err = &formError{http.StatusTooManyRequests, "Too many subscription requests from your network: try again in a few minutes."}
	}
	if err == nil {
		err = s.subscribe(req)
	}
	var fe *formError
	switch {
	case err == nil:
		s.notice(w, http.StatusOK, "Check your inbox", nil,
			"If "+strings.TrimSpace(req.Email)+" can receive mail, a message is on its way to it. Open the link in that message to confirm the subscription, or to manage it if the address is already subscribed.",
			"Nothing but that message is sent until the subscription is confirmed.")
	case errors.As(err, &fe):
		view.Error, view.Email, view.WebhookURL = fe.msg, req.Email, req.WebhookURL
		view.Components = s.componentChoices(req.Components)
		s.render(w, fe.status, "subscribe", view)
	default:
		s.log.Error("subscribing", "err", err)
		s.notice(w, http.StatusInternalServerError, "Something went wrong", nil, "The subscription could not be stored. Nothing was sent: try again in a moment.")
	}
}

// serveSubscription serves /subscriptions/{token}[/confirm|/unsubscribe].
func (s *subscriptions) serveSubscription(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/subscriptions/")
	tok, action, _ := strings.Cut(rest, "/")
	id, ok := s.parseToken(tok)
	var sub *subscriberRecord
	var err error
	if ok {
		sub, err = s.store.Subscriber(id)
	}
	switch {
	case err != nil:
		s.log.Error("reading a subscription", "err", err)
		s.notice(w, http.StatusInternalServerError, "Something went wrong", nil, "Try again in a moment.")
		return
	case action == "unsubscribe" && sub == nil && ok && r.Method == http.MethodPost:
		// Already gone: one-click unsubscribe must succeed again (RFC 8058).
		s.notice(w, http.StatusOK, "You are unsubscribed", nil, "Nothing more will be sent to you.")
		return
	case sub == nil || (action != "" && action != "confirm" && action != "unsubscribe"):
		s.notice(w, http.StatusNotFound, "This link is not valid", nil,
			"The subscription it was for has ended, was never confirmed in time, or the link is incomplete. You can subscribe again.")
		return
	}
	path := "/subscriptions/" + tok
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch action {
		case "confirm":
			if sub.confirmed() {
				s.manage(w, sub, path, "Your subscription is confirmed.", "")
				return
			}
			what := "Confirm that " + sub.Email + " should receive " + s.subscriptionScope(sub) + "."
			if sub.WebhookURL != "" {
				// Anyone may ask for an address before it is confirmed: its owner sees
				// where the notifications would go before agreeing.
				what = "Confirm that " + sub.Email + " should have " + s.subscriptionScope(sub) + " sent by webhook to " + sub.WebhookURL + ", not by e-mail."
			}
			s.notice(w, http.StatusOK, "Confirm your subscription", &noticeAction{Path: path + "/confirm", Label: "Confirm the subscription"}, what)
		case "unsubscribe":
			s.notice(w, http.StatusOK, "Unsubscribe", &noticeAction{Path: path + "/unsubscribe", Label: "Unsubscribe"},
				sub.Email+" receives "+s.subscriptionScope(sub)+".")
		default:
			s.manage(w, sub, path, "", "")
		}
	case http.MethodPost:
		if err := readForm(w, r); err != nil {
			s.manage(w, sub, path, "", err.Error())
			return
		}
		s.post(w, r, sub, path, action)
	default:
		s.methodNotAllowed(w)
	}
}

func (s *subscriptions) post(w http.ResponseWriter, r *http.Request, sub *subscriberRecord, path, action string) {
	switch action {
	case "confirm":
		sub, err := s.confirm(sub.ID)
		if err != nil || sub == nil {
			s.failed(w, err)
			return
		}
		s.manage(w, sub, path, "Your subscription is confirmed.", "")
	case "unsubscribe":
		if err := s.unsubscribe(sub.ID); err != nil {
			s.failed(w, err)
			return
		}
		s.notice(w, http.StatusOK, "You are unsubscribed", nil, "Nothing more will be sent to "+sub.Email+".")
	default:
		if !sub.confirmed() {
			s.manage(w, sub, path, "", "Confirm the subscription first.")
			return
		}
		changed, err := s.change(sub.ID, r.PostFormValue("webhook_url"), r.PostForm["component"])
		var fe *formError
		switch {
		case errors.As(err, &fe):
			s.manage(w, sub, path, "", fe.msg)
		case err != nil || changed == nil:
			s.failed(w, err)
		default:
			s.manage(w, changed, path, "Saved.", "")
		}
	}
}

func (s *subscriptions) failed(w http.ResponseWriter, err error) {
	if err != nil {
		s.log.Error("changing a subscription", "err", err)
	}
	s.notice(w, http.StatusInternalServerError, "Something went wrong", nil, "Nothing was changed: try again in a moment.")
}

func (s *subscriptions) manage(w http.ResponseWriter, sub *subscriberRecord, path, notice, errText string) {
	v := manageView{Title: "Your subscription · " + s.page.info.Name, Notice: notice, Error: errText, Email: sub.Email,
		Scope: s.subscriptionScope(sub), WebhookURL: sub.WebhookURL, Path: path, Confirmed: sub.confirmed(), Site: s.site(),
		Components: s.componentChoices(sub.Components)}
	if sub.WebhookURL != "" {
		v.WebhookSecret = s.webhookSecret(sub.ID)
	}
	status := http.StatusOK
	if errText != "" {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, status, "manage", v)
}
