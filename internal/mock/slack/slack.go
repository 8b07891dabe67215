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

// Package slack is an in-process fake of a Slack incoming webhook for tests. It takes what
// Slack takes (a JSON body, or a form with a payload field, with text or blocks) and answers
// as Slack does: 200 "ok", or a status with Slack's plain-text error code such as
// invalid_payload or no_text.
package slack

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

// WebhookPath is the path of WebhookURL, shaped like a real webhook's; the token part is the
// secret. The fake takes messages on any path.
const WebhookPath = "/services/T0FIRESCOP/B0FIRESCOP/xoxtesttoken4f1r3sc0p3s3cr3t"

// Server is the fake Slack. Requests, FailNext, DropNext, Delay, Reset and Close come from
// mockhttp.Server.
type Server struct {
	*mockhttp.Server

	mu       sync.Mutex
	messages []Message
}

// Message is a message the channel shows.
type Message struct {
	// Text is the text as people see it in the channel: Slack's &amp;, &lt; and &gt; are
	// shown as &, < and >.
	Text string
	// Raw is the text field as sent.
	Raw string
	// Blocks is the blocks field as sent, nil if none.
	Blocks []any
	// Path is the webhook path it was posted to.
	Path string
	At   time.Time
}

// New starts a fake Slack webhook. Post to WebhookURL() (or any path under URL).
func New() *Server {
	s := &Server{}
	s.Server = mockhttp.New(http.HandlerFunc(s.handle), errorBody)
	return s
}

// WebhookURL is a realistic incoming-webhook URL on the fake, token included.
func (s *Server) WebhookURL() string { return s.URL + WebhookPath }

// Messages returns the messages posted successfully, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Texts returns the text of each message as people see it, in order.
func (s *Server) Texts() []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.Text)
	}
	return out
}

// errorBody is Slack's plain-text answer for a failure status.
func errorBody(status int) (string, string) {
	code := map[int]string{
		http.StatusBadRequest:          "invalid_payload",
		http.StatusForbidden:           "action_prohibited",
		http.StatusNotFound:            "channel_not_found",
		http.StatusGone:                "channel_is_archived",
		http.StatusTooManyRequests:     "rate_limited",
		http.StatusInternalServerError: "rollup_error",
	}[status]
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	}
	return "text/plain; charset=utf-8", code
}

var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		mockhttp.WriteText(w, http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	raw, err := readPayload(r)
	if err != nil {
		mockhttp.WriteText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	var msg struct {
		Text        *string `json:"text"`
		Blocks      any     `json:"blocks"`
		Attachments any     `json:"attachments"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		mockhttp.WriteText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	var blocks []any
	if msg.Blocks != nil {
		b, ok := msg.Blocks.([]any)
		if !ok || len(b) > 50 {
			mockhttp.WriteText(w, http.StatusBadRequest, "invalid_blocks")
			return
		}
		blocks = b
	}
	text := ""
	if msg.Text != nil {
		text = *msg.Text
	}
	if strings.TrimSpace(text) == "" && len(blocks) == 0 && msg.Attachments == nil {
		mockhttp.WriteText(w, http.StatusBadRequest, "no_text")
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, Message{Text: unescape.Replace(text), Raw: text, Blocks: blocks, Path: r.URL.Path, At: time.Now()})
	s.mu.Unlock()
	mockhttp.WriteText(w, http.StatusOK, "ok")
}

// readPayload returns the JSON message: the body, or the payload field of a form post.
func readPayload(r *http.Request) ([]byte, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return []byte(r.PostForm.Get("payload")), nil
	}
	return io.ReadAll(r.Body)
}
