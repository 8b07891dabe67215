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
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig is the relay that mails the subscribers.
type SMTPConfig struct {
	// Relay is the relay's host:port.
	Relay string
	// TLS is "starttls" (required), "tls" (implicit TLS, as on port 465) or "none" (only for a
	// relay on the same machine or network, such as a local MTA or the development sink).
	TLS string
	// Username and Password authenticate to the relay, if set. The password is never logged.
	Username, Password string
	// From is the sender, such as "Example Status <status@example.com>".
	From string
	// Timeout bounds one message's whole conversation with the relay.
	Timeout time.Duration
}

// mailer sends one message through the relay; tests and the benchmark swap in their own.
type mailer interface {
	send(ctx context.Context, m *gomail.Msg) error
}

type smtpMailer struct{ cfg SMTPConfig }

func (s smtpMailer) send(ctx context.Context, m *gomail.Msg) error {
	host, portText, err := net.SplitHostPort(s.cfg.Relay)
	if err != nil {
		return fmt.Errorf("--smtp-relay: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("--smtp-relay: port %q is not a number", portText)
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return c.DialAndSendWithContext(ctx, m)
}

// permanentMailError reports whether the relay refused the message for good (a 5xx), so
// that retrying cannot help.
func permanentMailError(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500
}

// mailContent is what one message says.
type mailContent struct {
	To, Subject, Text string
	// MessageID is stable for one delivery, so that a resend is recognisably the same mail.
	MessageID string
	// Unsubscribe is the one-click unsubscribe URL (RFC 8058); empty for a confirmation
	// request, which is not a list message.
	Unsubscribe string
}

// buildMail makes the MIME message: text/plain in UTF-8, quoted-printable, with the list
// headers of RFC 2369 and RFC 8058 on notifications.
func buildMail(from string, c mailContent, at time.Time) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("the sender %q: %w", from, err)
	}
	if err := m.To(c.To); err != nil {
		return nil, fmt.Errorf("the recipient: %w", err)
	}
	m.Subject(c.Subject)
	m.SetMessageIDWithValue(c.MessageID)
	m.SetDateWithValue(at)
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if c.Unsubscribe != "" {
		m.SetBulk()
		m.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+c.Unsubscribe+">")
		m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	m.SetBodyString(gomail.TypeTextPlain, c.Text)
	return m, nil
}
