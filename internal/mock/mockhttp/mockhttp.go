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

// Package mockhttp is what the fake vendor servers under internal/mock share: an
// httptest.Server that records every request and can be told to fail the next ones (an HTTP
// error with Retry-After, a dropped connection) or to answer slowly.
package mockhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Request is one request as the server received it.
type Request struct {
	// Method and Path of the request (Path without the query).
	Method, Path string
	// Header as sent.
	Header http.Header
	// Body is the raw body.
	Body []byte
	// JSON is the body parsed as a JSON object, nil if it is not one.
	JSON map[string]any
	// At is when the request arrived.
	At time.Time
	// Status is the answer's HTTP status, 0 if the connection was dropped without one.
	Status int
}

// ErrorBody gives the vendor's answer for an injected failure status: its Content-Type and body.
type ErrorBody func(status int) (contentType, body string)

type fault struct {
	remaining  int
	status     int // 0: drop the connection
	retryAfter time.Duration
}

// Server is a recording, fault-injecting test server. Vendor fakes embed it; its URL field is
// the base URL.
type Server struct {
	*httptest.Server

	handler   http.Handler
	errorBody ErrorBody

	mu       sync.Mutex
	requests []Request
	faults   []fault
	delay    time.Duration
}

// New starts a server that records each request, applies pending faults and otherwise passes
// the request to h. The body h reads is the recorded one.
func New(h http.Handler, errorBody ErrorBody) *Server {
	s := &Server{handler: h, errorBody: errorBody}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns a copy of every request received so far, in arrival order, including those
// answered with an injected failure or dropped.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// FailNext answers the next n requests with status and the vendor's body for it, with a
// Retry-After header of retryAfter (rounded up to whole seconds) when retryAfter > 0. The
// failed requests have no other effect. Calls queue up: FailNext(1, 500, 0) then
// FailNext(1, 429, time.Second) fails the next request with 500 and the one after with 429.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.addFault(fault{remaining: n, status: status, retryAfter: retryAfter})
}

// DropNext reads the next n requests and closes their connections without an answer, so the
// client cannot know whether they took effect (they do not).
func (s *Server) DropNext(n int) { s.addFault(fault{remaining: n}) }

// Delay makes every later answer (including injected failures) wait d first; 0 stops it. A
// client that gives up earlier sees a timeout.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Reset forgets recorded requests, pending faults and the delay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.faults, s.delay = nil, nil, 0
}

func (s *Server) addFault(f fault) {
	if f.remaining <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// next takes one pending fault, if any.
func (s *Server) next() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	s.faults[0].remaining--
	if s.faults[0].remaining == 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()}
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		rec.JSON = obj
	}
	s.mu.Lock()
	i := len(s.requests)
	s.requests = append(s.requests, rec)
	delay := s.delay
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}

	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.requests[i].Status = sw.status
		s.mu.Unlock()
	}()

	if f, ok := s.next(); ok {
		if f.status == 0 {
			drop(w)
			return
		}
		if f.retryAfter > 0 {
			secs := (f.retryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
		}
		ct, b := "text/plain; charset=utf-8", http.StatusText(f.status)
		if s.errorBody != nil {
			ct, b = s.errorBody(f.status)
		}
		w.Header().Set("Content-Type", ct)
		sw.WriteHeader(f.status)
		_, _ = io.WriteString(w, b)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.handler.ServeHTTP(sw, r)
}

// drop closes the connection under the request without writing anything.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("mockhttp: the connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic("mockhttp: hijack: " + err.Error())
	}
	_ = conn.Close()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteText answers with status and a plain-text body.
func WriteText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
