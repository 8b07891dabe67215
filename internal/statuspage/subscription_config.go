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
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"strings"

	"firescope.dev/firescope/internal/safehttp"
)

// EnvSMTPPassword holds the SMTP relay's password, if no --smtp-password-file is given. There
// is no flag for the password itself, so that it never shows in a process listing.
const EnvSMTPPassword = EnvPrefix + "SMTP_PASSWORD"

// SubscriptionConfig configures subscriptions. They are on when a relay or the development
// sink is set.
type SubscriptionConfig struct {
	SMTP SMTPConfig
	// Sink, if set, is where the development SMTP sink listens; the mails it receives are
	// shown at /dev/mail, and none is delivered.
	Sink string
	// WebhookAllow lists the internal destinations webhook subscribers may name.
	WebhookAllow safehttp.Allowlist
	// ClientIPHeader names the header in which a proxy in front passes the client's address,
	// for the subscribe form's rate limit.
	ClientIPHeader string
	passwordFile   string
}

// Enabled reports whether the page takes subscriptions.
func (c *SubscriptionConfig) Enabled() bool { return c.SMTP.Relay != "" || c.Sink != "" }

func (c *SubscriptionConfig) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.SMTP.Relay, "smtp-relay", "", "host:port of the SMTP relay that mails subscribers; set it (or --smtp-sink) to take subscriptions.")
	fs.StringVar(&c.SMTP.TLS, "smtp-tls", "starttls", "starttls (required), tls (implicit, as on port 465) or none (a relay on this machine only).")
	fs.StringVar(&c.SMTP.Username, "smtp-username", "", "User name at the relay, if it needs one; the password comes from --smtp-password-file or $"+EnvSMTPPassword+".")
	fs.StringVar(&c.passwordFile, "smtp-password-file", "", "File holding the relay's password (a trailing newline is ignored).")
	fs.StringVar(&c.SMTP.From, "mail-from", "", "Sender of the mails, such as \"Example Status <status@example.com>\"; required with --smtp-relay.")
	fs.StringVar(&c.Sink, "smtp-sink", "", "Development only: run an SMTP sink on this address (such as 127.0.0.1:2525) instead of a relay, and show what it receives at /dev/mail.")
	fs.Var(&c.WebhookAllow, "webhook-allow-private", "Internal destinations webhook subscribers may name: comma-separated networks and host names (default none: private, loopback and link-local addresses are refused).")
	fs.StringVar(&c.ClientIPHeader, "client-ip-header", "", "Header in which the proxy in front passes the client's address (such as X-Forwarded-For), for the subscribe form's rate limit; without it, the peer's address counts.")
}

func (c *SubscriptionConfig) finish(getenv func(string) string) error {
	c.SMTP.Timeout = sendTimeout
	env := getenv(EnvSMTPPassword)
	switch {
	case c.passwordFile != "" && env != "":
		return fmt.Errorf("both --smtp-password-file and $%s are set: set one", EnvSMTPPassword)
	case c.passwordFile != "":
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return fmt.Errorf("--smtp-password-file: %w", err)
		}
		c.SMTP.Password = strings.TrimRight(string(b), "\r\n")
	default:
		c.SMTP.Password = env
	}
	switch c.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		return fmt.Errorf("--smtp-tls %q: use starttls, tls or none", c.SMTP.TLS)
	}
	if c.SMTP.Relay != "" && c.Sink != "" {
		return fmt.Errorf("--smtp-relay and --smtp-sink are both set: the sink replaces the relay, set one")
	}
	if c.SMTP.Relay != "" {
		if _, _, err := net.SplitHostPort(c.SMTP.Relay); err != nil {
			return fmt.Errorf("--smtp-relay %q: give host:port, such as smtp.example.com:587", c.SMTP.Relay)
		}
		if c.SMTP.From == "" {
			return fmt.Errorf("--mail-from is required with --smtp-relay: the address the mails come from")
		}
	}
	if c.SMTP.Password != "" && c.SMTP.Username == "" {
		return fmt.Errorf("an SMTP password is set without --smtp-username")
	}
	if c.Sink != "" && c.SMTP.From == "" {
		c.SMTP.From = "Status page <status@localhost>"
	}
	if c.SMTP.From != "" {
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			return fmt.Errorf("--mail-from %q is not an address such as \"Example Status <status@example.com>\"", c.SMTP.From)
		}
	}
	return nil
}

// startSubscriptions attaches subscriptions to page and starts sending; it returns the
// handler that serves their pages before next, and a function that stops sending once
// the messages in flight are done.
func startSubscriptions(ctx context.Context, page *Page, cfg SubscriptionConfig, next http.Handler, log *slog.Logger) (http.Handler, func(), error) {
	smtpCfg := cfg.SMTP
	var sink *MailSink
	if cfg.Sink != "" {
		var err error
		if sink, err = StartMailSink(cfg.Sink, log); err != nil {
			return nil, nil, fmt.Errorf("--smtp-sink: %w", err)
		}
		smtpCfg.Relay, smtpCfg.TLS = sink.Addr(), "none"
		log.Info("development mail sink: nothing is delivered; the mails are at /dev/mail", "smtp", sink.Addr(), "url", page.info.URL+"/dev/mail")
	}
	store, err := openSubscriberStore(page)
	if err != nil {
		return nil, nil, err
	}
	allow := cfg.WebhookAllow
	out := newDispatcher(store, smtpMailer{cfg: smtpCfg}, smtpCfg.From, newWebhookClient(&allow), log, page.now)
	subs, err := newSubscriptions(page, store, out, log)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		out.run(ctx)
	}()
	stop := func() {
		cancel()
		<-done
		if sink != nil {
			_ = sink.Close()
		}
	}
	h := subs.Handler(next, cfg.ClientIPHeader)
	if sink != nil {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/dev/mail" {
				sink.ServeHTTP(w, r)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	log.Info("taking subscriptions", "relay", smtpCfg.Relay, "tls", smtpCfg.TLS, "from", smtpCfg.From, "auth", smtpCfg.Username != "")
	return h, stop, nil
}
