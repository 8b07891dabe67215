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
	"context"
	"net"
	"net/http"
	"sync"
)

// net/http writes a response through a 4 KiB buffer, so a page larger than that costs two or
// more write system calls, and under a read storm the system calls are most of the work.
// A corked connection gathers one cached response in memory and sends it with one call.

// maxCorked is the largest response gathered; larger ones go out as net/http writes them.
const maxCorked = 256 << 10

var corkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

type corkConn struct {
	net.Conn
	buf *[]byte // non-nil while corked
}

func (c *corkConn) Write(p []byte) (int, error) {
	if c.buf != nil {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() { c.buf = corkBuffers.Get().(*[]byte) }

func (c *corkConn) uncork() error {
	buf := c.buf
	c.buf = nil
	_, err := c.Conn.Write(*buf)
	if cap(*buf) <= maxCorked+(64<<10) {
		*buf = (*buf)[:0]
		corkBuffers.Put(buf)
	}
	return err
}

type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

type corkKey struct{}

// withCorkConn is the server's ConnContext: it lets a handler reach its corkConn.
func withCorkConn(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*corkConn); ok {
		return context.WithValue(ctx, corkKey{}, cc)
	}
	return ctx
}

// corkFor returns the request's corkConn, corked, if the response of size bytes should be
// gathered; the caller writes the whole response and then calls uncorkResponse.
func corkFor(r *http.Request, size int) *corkConn {
	cc, _ := r.Context().Value(corkKey{}).(*corkConn)
	if cc == nil || size > maxCorked {
		return nil
	}
	cc.cork()
	return cc
}

// uncorkResponse pushes the response out of net/http's buffers into the cork, then out in
// one piece.
func uncorkResponse(w http.ResponseWriter, cc *corkConn) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	_ = cc.uncork()
}
