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

// Package teams is an in-process fake of a Microsoft Teams Workflows webhook for tests: the
// "When a Teams webhook request is received" trigger of the "Post to a channel when a webhook
// request is received" flow. It takes what that flow posts to a channel (a message whose
// attachments hold an Adaptive Card: type AdaptiveCard, a version, a body of elements) and
// answers as the trigger does: 202 Accepted, or an Azure error object
// {"error":{"code":...,"message":...}} with 400 for a body the flow cannot post, 401 for a
// missing or wrong signature (the sig query parameter), and 429 with Retry-After when
// throttled (FailNext).
package teams

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

const (
	// WorkflowPath is the path of WebhookURL, shaped like a real Workflows trigger's.
	WorkflowPath = "/workflows/0f1r3sc0p3/triggers/manual/paths/invoke"
	// Signature is the sig query parameter of WebhookURL: the secret part of the URL.
	Signature = "s1gF1r3sc0p3T3st5ecr3t"
	// CardContentType is the attachment content type of an Adaptive Card.
	CardContentType = "application/vnd.microsoft.card.adaptive"
	// MaxMessageBytes is the size of a Teams message beyond which it is refused (about 28 KB).
	MaxMessageBytes = 28 << 10
)

// Server is the fake Workflows trigger. Requests, FailNext, DropNext, Delay, Reset and Close
// come from mockhttp.Server.
type Server struct {
	*mockhttp.Server

	mu       sync.Mutex
	messages []Message
}

// Message is a card the channel shows.
type Message struct {
	// Text is the card's text as people see it: its text blocks and text runs, a line each.
	Text string
	// Card is the Adaptive Card as sent.
	Card map[string]any
	At   time.Time
}

// New starts a fake Workflows trigger. Post to WebhookURL().
func New() *Server {
	s := &Server{}
	s.Server = mockhttp.New(http.HandlerFunc(s.handle), errorBody)
	return s
}

// WebhookURL is a realistic Workflows URL on the fake, signature included.
func (s *Server) WebhookURL() string {
	return s.URL + WorkflowPath + "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + Signature
}

// Messages returns the cards posted successfully, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Texts returns the text of each card, in order.
func (s *Server) Texts() []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.Text)
	}
	return out
}

// errorBody is the trigger's Azure error object for a failure status.
func errorBody(status int) (string, string) {
	code := map[int]string{
		http.StatusBadRequest:            "InvalidRequestContent",
		http.StatusUnauthorized:          "DirectApiAuthorizationRequired",
		http.StatusNotFound:              "WorkflowNotFound",
		http.StatusRequestEntityTooLarge: "MessageTooLarge",
		http.StatusTooManyRequests:       "WorkflowRequestsThrottled",
		http.StatusInternalServerError:   "InternalServerError",
		http.StatusBadGateway:            "BadGateway",
		http.StatusServiceUnavailable:    "ServiceUnavailable",
	}[status]
	if code == "" {
		code = strings.ReplaceAll(http.StatusText(status), " ", "")
	}
	return "application/json; charset=utf-8", azureError(code, http.StatusText(status))
}

func azureError(code, message string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	return string(b)
}

func fail(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, azureError(code, message))
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, "TriggerRequestMethodNotValid", "The HTTP method for this request is not valid: expected 'Post'.")
		return
	case r.URL.Path != WorkflowPath:
		fail(w, http.StatusNotFound, "WorkflowNotFound", "The workflow was not found.")
		return
	case r.URL.Query().Get("sig") == "":
		fail(w, http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.")
		return
	case r.URL.Query().Get("sig") != Signature:
		fail(w, http.StatusUnauthorized, "DirectApiInvalidAuthorizationSignature", "The provided request signature is not valid.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(w, http.StatusBadRequest, "InvalidRequestContent", "The request content must be JSON (Content-Type: application/json).")
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read.")
		return
	}
	if len(raw) > MaxMessageBytes {
		fail(w, http.StatusRequestEntityTooLarge, "MessageTooLarge", fmt.Sprintf("The message is %d bytes; Teams takes at most %d.", len(raw), MaxMessageBytes))
		return
	}
	card, text, err := parseMessage(raw)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequestContent", err.Error())
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, Message{Text: text, Card: card, At: time.Now()})
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// versionRe is an Adaptive Card schema version; Teams renders versions up to 1.5.
var versionRe = regexp.MustCompile(`^1\.[0-5]$`)

// parseMessage checks the message the flow posts: type "message" (or none), exactly one
// attachment, an Adaptive Card with its essentials. It returns the card and its text.
func parseMessage(raw []byte) (map[string]any, string, error) {
	var msg struct {
		Type        *string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			ContentURL  *string         `json:"contentUrl"`
			Content     json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return nil, "", fmt.Errorf("the request content is not a valid message: %w", err)
	}
	switch {
	case msg.Type != nil && *msg.Type != "message":
		return nil, "", fmt.Errorf("the message type must be 'message', not %q", *msg.Type)
	case len(msg.Attachments) != 1:
		return nil, "", fmt.Errorf("the flow posts one card: the message has %d attachments", len(msg.Attachments))
	case msg.Attachments[0].ContentType != CardContentType:
		return nil, "", fmt.Errorf("the attachment's contentType must be %q, not %q", CardContentType, msg.Attachments[0].ContentType)
	case msg.Attachments[0].ContentURL != nil:
		return nil, "", errors.New("an Adaptive Card attachment has its content inline: contentUrl must be null")
	}
	var card map[string]any
	if err := json.Unmarshal(msg.Attachments[0].Content, &card); err != nil || card == nil {
		return nil, "", errors.New("the attachment's content must be an Adaptive Card object")
	}
	if card["type"] != "AdaptiveCard" {
		return nil, "", fmt.Errorf("the card's type must be 'AdaptiveCard', not %v", card["type"])
	}
	if v, ok := card["version"].(string); !ok || !versionRe.MatchString(v) {
		return nil, "", fmt.Errorf("the card's version must be a string from 1.0 to 1.5, not %v", card["version"])
	}
	body, ok := card["body"].([]any)
	if !ok || len(body) == 0 {
		return nil, "", errors.New("the card's body must be a non-empty list of elements")
	}
	var lines []string
	for i, el := range body {
		l, err := elementText(el)
		if err != nil {
			return nil, "", fmt.Errorf("body[%d]: %w", i, err)
		}
		lines = append(lines, l...)
	}
	return card, strings.Join(lines, "\n"), nil
}

// elementText checks one body element of the kinds a text card uses and returns its text.
func elementText(el any) ([]string, error) {
	m, ok := el.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("an element must be an object")
	}
	switch m["type"] {
	case "TextBlock":
		t, ok := m["text"].(string)
		if !ok {
			return nil, fmt.Errorf("a TextBlock needs a text string")
		}
		return []string{t}, nil
	case "RichTextBlock":
		inlines, ok := m["inlines"].([]any)
		if !ok || len(inlines) == 0 {
			return nil, fmt.Errorf("a RichTextBlock needs a non-empty inlines list")
		}
		var b strings.Builder
		for _, in := range inlines {
			switch v := in.(type) {
			case string:
				b.WriteString(v)
			case map[string]any:
				t, ok := v["text"].(string)
				if v["type"] != "TextRun" || !ok {
					return nil, fmt.Errorf("an inline must be a string or a TextRun with a text string")
				}
				b.WriteString(t)
			default:
				return nil, fmt.Errorf("an inline must be a string or a TextRun")
			}
		}
		return []string{b.String()}, nil
	case "Container":
		items, ok := m["items"].([]any)
		if !ok {
			return nil, fmt.Errorf("a Container needs an items list")
		}
		var out []string
		for _, it := range items {
			l, err := elementText(it)
			if err != nil {
				return nil, err
			}
			out = append(out, l...)
		}
		return out, nil
	case "FactSet", "Image", "ColumnSet", "ActionSet":
		return nil, nil
	default:
		return nil, fmt.Errorf("unknown element type %v", m["type"])
	}
}
