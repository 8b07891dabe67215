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

// Package webhook is an in-process receiver of Firescope's generic signed webhook for tests.
// It verifies X-Firescope-Signature-256 with its secret (401 when it does not match), checks
// the body is an announcement whose id matches X-Firescope-Delivery (400 otherwise) and keeps
// what it accepted.
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"sync"

	"firescope.dev/firescope/internal/mock/mockhttp"
	"firescope.dev/firescope/internal/notify"
)

// Server is the fake receiver. Requests, FailNext, DropNext, Delay, Reset and Close come from
// mockhttp.Server.
type Server struct {
	*mockhttp.Server

	secret []byte

	mu       sync.Mutex
	received []notify.Announcement
}

// New starts a receiver with a random secret (see Secret).
func New() *Server {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return NewWithSecret([]byte(hex.EncodeToString(b)))
}

// NewWithSecret starts a receiver that verifies signatures with secret.
func NewWithSecret(secret []byte) *Server {
	s := &Server{secret: append([]byte(nil), secret...)}
	s.Server = mockhttp.New(http.HandlerFunc(s.handle), errorBody)
	return s
}

// Secret is the signing secret the receiver verifies with.
func (s *Server) Secret() []byte { return append([]byte(nil), s.secret...) }

// Announcements returns the announcements accepted, in arrival order; a fact delivered twice
// appears twice (see Duplicates).
func (s *Server) Announcements() []notify.Announcement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Announcement(nil), s.received...)
}

// Duplicates returns the IDs accepted more than once, in the order of their second arrival.
func (s *Server) Duplicates() []string {
	seen := map[string]int{}
	var out []string
	for _, a := range s.Announcements() {
		seen[a.ID]++
		if seen[a.ID] == 2 {
			out = append(out, a.ID)
		}
	}
	return out
}

type errorResponse struct {
	Error string `json:"error"`
}

func errorBody(status int) (string, string) {
	b, _ := json.Marshal(errorResponse{Error: http.StatusText(status)})
	return "application/json", string(b)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		mockhttp.WriteJSON(w, http.StatusMethodNotAllowed, errorResponse{"use POST"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	if !notify.VerifySignature(s.secret, body, r.Header.Get(notify.SignatureHeader)) {
		mockhttp.WriteJSON(w, http.StatusUnauthorized, errorResponse{"signature does not match"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		mockhttp.WriteJSON(w, http.StatusUnsupportedMediaType, errorResponse{"Content-Type must be application/json"})
		return
	}
	var a notify.Announcement
	if err := json.Unmarshal(body, &a); err != nil {
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{"body is not an announcement: " + err.Error()})
		return
	}
	switch {
	case a.ID == "":
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{"announcement has no id"})
		return
	case a.ID != r.Header.Get(notify.DeliveryHeader):
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{"id does not match " + notify.DeliveryHeader})
		return
	case a.Text == "":
		mockhttp.WriteJSON(w, http.StatusBadRequest, errorResponse{"announcement has no text"})
		return
	}
	s.mu.Lock()
	s.received = append(s.received, a)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
