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
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// MailSink is an SMTP server that keeps what it receives instead of delivering it: the
// relay of the development mode (--smtp-sink), whose mails /dev/mail shows, and of the
// tests and the benchmark.
type MailSink struct {
	srv *smtp.Server
	ln  net.Listener
	log *slog.Logger
	// Latency, if set, delays the answer to each MAIL FROM, as a relay across a network.
	Latency time.Duration
	// Keep is how many messages the sink keeps, the latest (set before the first message).
	Keep int

	mu     sync.Mutex
	msgs   []SinkMessage
	accept func(SinkMessage) error
}

// SetAccept sets what decides each message's fate before it is kept, while the sink runs:
// an error refuses it (an *smtp.SMTPError keeps its code; anything else is a 451, to be
// retried). nil accepts every message.
func (s *MailSink) SetAccept(accept func(SinkMessage) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accept = accept
}

// SinkMessage is one message as the sink received it.
type SinkMessage struct {
	From string
	To   []string
	Raw  []byte
	At   time.Time
}

// sinkKeeps is how many messages a sink keeps by default, the latest.
const sinkKeeps = 500

// StartMailSink listens on addr (such as 127.0.0.1:0) and serves SMTP there until Close.
func StartMailSink(addr string, log *slog.Logger) (*MailSink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &MailSink{ln: ln, log: log, Keep: sinkKeeps}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.AllowInsecureAuth = true
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the sink's host:port.
func (s *MailSink) Addr() string { return s.ln.Addr().String() }

// Close stops the sink.
func (s *MailSink) Close() error { return s.srv.Close() }

// Messages returns what the sink kept, oldest first.
func (s *MailSink) Messages() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

type sinkSession struct {
	sink *MailSink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	time.Sleep(ss.sink.Latency)
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := SinkMessage{From: ss.from, To: slices.Clone(ss.to), Raw: raw, At: time.Now()}
	ss.sink.mu.Lock()
	accept := ss.sink.accept
	ss.sink.mu.Unlock()
	if accept != nil {
		if err := accept(m); err != nil {
			if _, ok := errors.AsType[*smtp.SMTPError](err); ok {
				return err
			}
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: err.Error()}
		}
	}
	ss.sink.mu.Lock()
	ss.sink.msgs = append(ss.sink.msgs, m)
	if n := len(ss.sink.msgs); n > ss.sink.Keep {
		ss.sink.msgs = slices.Delete(ss.sink.msgs, 0, n-ss.sink.Keep)
	}
	ss.sink.mu.Unlock()
	if ss.sink.log != nil {
		subject := ""
		if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
			subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		}
		ss.sink.log.Info("mail sink received a message", "to", strings.Join(m.To, ","), "subject", subject)
	}
	return nil
}

// The development sink's page: every kept message, newest first, its links clickable.

var (
	sinkTemplate = template.Must(template.New("sink").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mail sink</title><style>{{.CSS}}</style></head>
<body><main class="wrap"><h1 class="page-title">Mail sink</h1>
<p class="meta">The messages the status page sent to its development SMTP sink (--smtp-sink), newest first. Nothing here was delivered.</p>
{{range .Mails}}<article class="card form mail"><h2>{{.Subject}}</h2>
<p class="meta">To {{.To}} · {{.Date}}</p>
<pre class="update-body">{{range .Parts}}{{if .Link}}<a href="{{.Text}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
<details><summary>Headers</summary><pre class="meta">{{.Headers}}</pre></details></article>
{{else}}<p class="none">No messages yet.</p>{{end}}
</main></body></html>`))
	linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)
)

type sinkMailView struct {
	Subject, To, Date, Headers string
	Parts                      []textPart
}

type textPart struct {
	Text string
	Link bool
}

// ServeHTTP serves /dev/mail.
func (s *MailSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var views []sinkMailView
	for _, m := range slices.Backward(s.Messages()) {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			continue
		}
		v := sinkMailView{To: strings.Join(m.To, ", "), Date: m.At.UTC().Format(time.RFC1123)}
		v.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		var hdr strings.Builder
		for _, k := range slices.Sorted(maps.Keys(msg.Header)) {
			for _, val := range msg.Header[k] {
				hdr.WriteString(k + ": " + val + "\n")
			}
		}
		v.Headers = hdr.String()
		body, err := decodeTextBody(msg)
		if err != nil {
			body = "(" + err.Error() + ")"
		}
		last := 0
		for _, loc := range linkPattern.FindAllStringIndex(body, -1) {
			v.Parts = append(v.Parts, textPart{Text: body[last:loc[0]]}, textPart{Text: body[loc[0]:loc[1]], Link: true})
			last = loc[1]
		}
		v.Parts = append(v.Parts, textPart{Text: body[last:]})
		views = append(views, v)
	}
	var buf bytes.Buffer
	if err := sinkTemplate.Execute(&buf, struct {
		CSS   template.CSS
		Mails []sinkMailView
	}{template.CSS(styleCSS), views}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["Content-Security-Policy"] = []string{htmlCSP}
	h["Cache-Control"] = []string{"no-store"}
	_, _ = w.Write(buf.Bytes())
}

// decodeTextBody is the text of a single-part text message, as the mailer writes them.
func decodeTextBody(msg *mail.Message) (string, error) {
	r := msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	return string(b), err
}
