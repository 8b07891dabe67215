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
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

func TestACorkedConnectionSendsEachCachedResponseWholeInOneWrite(t *testing.T) {
	s := newTestServer(t) // the same page served without corking, for reference
	for i := range 30 {
		s.mustPut(t, fmt.Sprint("/api/v1/components/c", i), `{"name":"A component with a fairly long name","description":"And a description that makes the page larger than net/http's buffer"}`)
	}
	var writes atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(NewHandler(s.page, testToken, slog.New(slog.NewTextHandler(io.Discard, nil))), slog.New(slog.NewTextHandler(io.Discard, nil)))
	go func() { _ = srv.Serve(corkListener{countingListener{ln, &writes}}) }()
	t.Cleanup(func() { _ = srv.Close() })

	// One keep-alive connection carries every kind of response in turn.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(conn)
	roundTrip := func(method, path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp
	}
	body := func(resp *http.Response) []byte {
		t.Helper()
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	want := s.get(t, "/")
	if len(want.body) < 8<<10 {
		t.Fatalf("the page is only %d bytes; the test needs one larger than net/http's buffers", len(want.body))
	}
	writes.Store(0)
	got := roundTrip(http.MethodGet, "/")
	if b := body(got); !bytes.Equal(b, want.body) || got.Header.Get("ETag") != want.header.Get("ETag") {
		t.Fatalf("corked GET / differs from the plain one (%d bytes, want %d)", len(b), len(want.body))
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("GET / took %d writes, want 1", n)
	}
	if r := roundTrip(http.MethodHead, "/"); len(body(r)) != 0 || r.ContentLength != int64(len(want.body)) {
		t.Errorf("HEAD / = length %d", r.ContentLength)
	}
	if r := roundTrip(http.MethodGet, "/", "If-None-Match", want.header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", r.StatusCode)
	}
	gz := s.get(t, "/api/v2/summary.json", "Accept-Encoding", "gzip")
	if r := roundTrip(http.MethodGet, "/api/v2/summary.json", "Accept-Encoding", "gzip"); !bytes.Equal(body(r), gz.body) {
		t.Error("corked gzip response differs")
	}
	if r := roundTrip(http.MethodGet, "/api/v1/components", "Authorization", "Bearer "+testToken); r.StatusCode != http.StatusOK || !bytes.Contains(body(r), []byte("A component")) {
		t.Errorf("write API over the same connection = %d", r.StatusCode)
	}
	if r := roundTrip(http.MethodGet, "/nowhere"); r.StatusCode != http.StatusNotFound || !bytes.Contains(body(r), []byte("Page not found")) {
		t.Errorf("not found over the same connection = %d", r.StatusCode)
	}
}
