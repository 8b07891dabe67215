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
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// resource is one rendered representation with everything a response needs precomputed:
// serving it allocates nothing of its own, which is what lets the page hold a read storm.
type resource struct {
	status int
	plain  variant
	// The compressed variant is made on the first request that accepts it, not on the write:
	// a write then costs less, and a resource nobody asks compressed is never compressed.
	gzipOnce sync.Once
	gzip     *variant // nil when compression does not pay
	mk       func(body []byte, encoding string) variant
}

type variant struct {
	body        []byte
	etag        string
	header      http.Header // for 200 (or the resource's status)
	notModified http.Header // for 304: validators and caching only
}

// gzipMinBytes is the smallest body worth compressing.
const gzipMinBytes = 1024

// cacheControl is the Cache-Control of a public response: cacheable when it is a 200.
func cacheControl(status int, maxAge time.Duration) string {
	if status != http.StatusOK {
		return "no-store"
	}
	return fmt.Sprintf("public, max-age=%d", int(maxAge/time.Second))
}

func newResource(body []byte, status int, contentType string, maxAge time.Duration, extra map[string]string) *resource {
	cache := cacheControl(status, maxAge)
	mk := func(b []byte, encoding string) variant {
		sum := sha256.Sum256(b)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		h := http.Header{
			"Content-Type":           {contentType},
			"Content-Length":         {strconv.Itoa(len(b))},
			"Cache-Control":          {cache},
			"Etag":                   {etag},
			"Vary":                   {"Accept-Encoding"},
			"X-Content-Type-Options": {"nosniff"},
		}
		if encoding != "" {
			h["Content-Encoding"] = []string{encoding}
		}
		for k, v := range extra {
			h[http.CanonicalHeaderKey(k)] = []string{v}
		}
		nm := http.Header{"Cache-Control": h["Cache-Control"], "Etag": h["Etag"], "Vary": h["Vary"]}
		return variant{body: b, etag: etag, header: h, notModified: nm}
	}
	return &resource{status: status, plain: mk(body, ""), mk: mk}
}

// gzipped returns the compressed variant, or nil when compression does not pay.
func (res *resource) gzipped() *variant {
	res.gzipOnce.Do(func() {
		body := res.plain.body
		if len(body) < gzipMinBytes {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			gz := res.mk(buf.Bytes(), "gzip")
			res.gzip = &gz
		}
		res.mk = nil
	})
	return res.gzip
}

func (p *Page) htmlResource(body []byte, status int) *resource {
	return newResource(body, status, "text/html; charset=utf-8", p.info.CacheMaxAge, map[string]string{
		"Content-Security-Policy": htmlCSP,
		"Referrer-Policy":         "no-referrer",
	})
}

// jsonResource serves the public JSON; any web page may read it, as Statuspage's.
func jsonResource(body []byte, maxAge time.Duration) *resource {
	return newResource(body, http.StatusOK, "application/json; charset=utf-8", maxAge, map[string]string{
		"Access-Control-Allow-Origin": "*",
	})
}

// serve writes the resource, or 304 when the client already has it.
func (res *resource) serve(w http.ResponseWriter, r *http.Request) {
	v := &res.plain
	if ae := r.Header["Accept-Encoding"]; len(ae) > 0 && acceptsGzip(ae) {
		if gz := res.gzipped(); gz != nil {
			v = gz
		}
	}
	h := w.Header()
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && res.status == http.StatusOK && etagMatches(inm, v.etag) {
		for k, vals := range v.notModified {
			h[k] = vals
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, vals := range v.header {
		h[k] = vals
	}
	cc := corkFor(r, len(v.body))
	w.WriteHeader(res.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(v.body)
	}
	if cc != nil {
		uncorkResponse(w, cc)
	}
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110, 13.1.2).
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for tag := range strings.SplitSeq(h, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (and does not give it q=0).
func acceptsGzip(headers []string) bool {
	for _, h := range headers {
		for part := range strings.SplitSeq(h, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
				weight, err := strconv.ParseFloat(q, 64)
				return err == nil && weight > 0
			}
			return true
		}
	}
	return false
}
