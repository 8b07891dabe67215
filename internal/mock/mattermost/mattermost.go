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

// Package mattermost is an in-process fake of a Mattermost incoming webhook for tests. It
// takes what Mattermost documents (POST /hooks/<key> with JSON, or a form with a payload
// field, holding text and optionally username, icon_url, icon_emoji, channel, props,
// attachments, type and priority) and answers as Mattermost does: 200 "ok", or its JSON
// error {"id":...,"message":...,"detailed_error":"","request_id":...,"status_code":...}: 400
// for an unknown webhook, a body that does not parse or no text, 404 for an unknown channel.
package mattermost

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

// HookKey is the webhook's key, the secret last segment of WebhookURL.
const HookKey = "f1r3sc0p3h00kk3yt3st0000a"

// DefaultChannel is the channel the webhook posts to when a message names none.
const DefaultChannel = "incidents"

// Server is the fake Mattermost. Requests, FailNext, DropNext, Delay, Reset and Close come
// from mockhttp.Server.
type Server struct {
	*mockhttp.Server

	mu       sync.Mutex
	channels map[string]bool
	messages []Message
}

// Message is a post the channel shows.
type Message struct {
	// Text is the message as sent, Markdown and all.
	Text string
	// Channel is where it was posted: the message's channel, or DefaultChannel.
	Channel string
	// Username is the username override, "" if none.
	Username string
	// Props is the props field as sent, nil if none.
	Props map[string]any
	At    time.Time
}

// New starts a fake Mattermost whose webhook may post to DefaultChannel and to channels.
func New(channels ...string) *Server {
	s := &Server{channels: map[string]bool{DefaultChannel: true}}
	for _, c := range channels {
		s.channels[c] = true
	}
	s.Server = mockhttp.New(http.HandlerFunc(s.handle), errorBody)
	return s
}

// WebhookURL is the incoming webhook's URL on the fake, key included.
func (s *Server) WebhookURL() string { return s.URL + "/hooks/" + HookKey }

// Messages returns the posts made, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Texts returns the text of each post, in order.
func (s *Server) Texts() []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.Text)
	}
	return out
}

// appError is Mattermost's error body.
func appError(status int, id, message string) string {
	b, _ := json.Marshal(map[string]any{"id": id, "message": message, "detailed_error": "",
		"request_id": "f1r3sc0p3r3qu35t1d000000aa", "status_code": status})
	return string(b)
}

// errorBody is Mattermost's answer for an injected failure status.
func errorBody(status int) (string, string) {
	id := map[int]string{
		http.StatusBadRequest:          "web.incoming_webhook.parse.app_error",
		http.StatusForbidden:           "web.incoming_webhook.permissions.app_error",
		http.StatusNotFound:            "web.incoming_webhook.channel.app_error",
		http.StatusTooManyRequests:     "api.context.rate_limit.app_error",
		http.StatusNotImplemented:      "web.incoming_webhook.disabled.app_error",
		http.StatusInternalServerError: "app.post.save.app_error",
	}[status]
	if id == "" {
		id = "api.context.app_error"
	}
	return "application/json", appError(status, id, http.StatusText(status))
}

func fail(w http.ResponseWriter, status int, id, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, appError(status, id, message))
}

// incoming is the webhook's request, as Mattermost's IncomingWebhookRequest decodes it.
type incoming struct {
	Text        string           `json:"text"`
	Username    string           `json:"username"`
	IconURL     string           `json:"icon_url"`
	IconEmoji   string           `json:"icon_emoji"`
	Channel     string           `json:"channel"`
	Props       map[string]any   `json:"props"`
	Attachments []map[string]any `json:"attachments"`
	Type        string           `json:"type"`
	Priority    map[string]any   `json:"priority"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(w, http.StatusNotImplemented, "api.context.invalid_url.app_error", "Invalid or missing method in URL")
		return
	}
	if r.URL.Path != "/hooks/"+HookKey {
		fail(w, http.StatusBadRequest, "web.incoming_webhook.invalid.app_error", "Invalid webhook")
		return
	}
	raw, err := readPayload(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data")
		return
	}
	var in incoming
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data")
		return
	}
	if strings.TrimSpace(in.Text) == "" && len(in.Attachments) == 0 {
		fail(w, http.StatusBadRequest, "web.incoming_webhook.text.app_error", "No text specified")
		return
	}
	channel := DefaultChannel
	if in.Channel != "" {
		channel = strings.TrimPrefix(in.Channel, "~")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.channels[channel] {
		fail(w, http.StatusNotFound, "web.incoming_webhook.channel.app_error", "Couldn't find the channel")
		return
	}
	s.messages = append(s.messages, Message{Text: in.Text, Channel: channel, Username: in.Username, Props: in.Props, At: time.Now()})
	mockhttp.WriteText(w, http.StatusOK, "ok")
}

// readPayload returns the JSON request: the body, or the payload field of a form post (kept
// for Slack compatibility).
func readPayload(r *http.Request) ([]byte, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return []byte(r.PostForm.Get("payload")), nil
	}
	return io.ReadAll(r.Body)
}
