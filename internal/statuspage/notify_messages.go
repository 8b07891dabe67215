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
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"firescope.dev/firescope/internal/safehttp"
	"firescope.dev/firescope/internal/statuspage/api"
)

// The webhook headers, as Firescope's own outgoing webhooks sign theirs.
const (
	// WebhookSignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body under the
	// subscriber's webhook secret.
	WebhookSignatureHeader = "X-Firescope-Signature-256"
	// WebhookDeliveryHeader carries the delivery's id, the same on every retry.
	WebhookDeliveryHeader = "X-Firescope-Delivery"
	// WebhookEventHeader carries the event's type: incident.update, incident.postmortem, or
	// maintenance.scheduled, .in_progress, .completed or .cancelled.
	WebhookEventHeader = "X-Firescope-Event"
)

// SignWebhook is the signature header's value for body under secret.
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// checkWebhookURL accepts an absolute http(s) URL without credentials, query or fragment.
func checkWebhookURL(raw string) error {
	if len(raw) > 2000 {
		return &formError{http.StatusUnprocessableEntity, "The webhook URL is too long (at most 2000 characters)."}
	}
	if _, err := safehttp.ParseEndpoint(raw); err != nil {
		return &formError{http.StatusUnprocessableEntity, "The webhook URL is not usable: " + err.Error() + "."}
	}
	return nil
}

// mailContent is the message of a delivery: an event, a confirmation request or a reminder.
func (s *subscriptions) mailContent(sub *subscriberRecord, ev *eventRecord, kind string) mailContent {
	name := s.page.info.Name
	manage, unsubscribe := s.link(sub.ID, ""), s.link(sub.ID, "unsubscribe")
	var b strings.Builder
	c := mailContent{To: sub.Email}
	switch kind {
	case deliverConfirm:
		c.Subject = "Confirm your subscription to " + name
		fmt.Fprintf(&b, "Someone, probably you, asked to receive %s's incident and maintenance notifications at this address.\n\n", name)
		fmt.Fprintf(&b, "To confirm, open this link:\n%s\n\n", s.link(sub.ID, "confirm"))
		b.WriteString("If it was not you, ignore this message: nothing more will be sent to this address.\n")
	case deliverReminder:
		c.Subject = "Your subscription to " + name
		fmt.Fprintf(&b, "Someone, probably you, asked to subscribe this address to %s. It is already subscribed, to %s.\n\n", name, s.subscriptionScope(sub))
		fmt.Fprintf(&b, "To change or end the subscription, open this link:\n%s\n", manage)
	default:
		c.Unsubscribe = unsubscribe
		s.writeEvent(&b, ev)
		fmt.Fprintf(&b, "\n-- \nYou receive this because you subscribed to %s.\nManage your subscription: %s\nUnsubscribe: %s\n",
			s.subscriptionScope(sub), manage, unsubscribe)
		c.Subject = "[" + name + "] " + ev.Incident
		switch {
		case ev.Kind == "incident.postmortem":
			c.Subject += ": post-mortem"
		case ev.Impact == "maintenance":
			c.Subject += ": " + maintenanceText(ev)
		default:
			c.Subject += ": " + statusText[ev.Status]
		}
	}
	c.Text = b.String()
	return c
}

func (s *subscriptions) writeEvent(b *strings.Builder, ev *eventRecord) {
	b.WriteString(ev.Incident + "\n")
	if ev.Impact == "maintenance" {
		s.writeMaintenance(b, ev)
		return
	}
	if ev.Kind == "incident.postmortem" {
		fmt.Fprintf(b, "Post-mortem · %s\n\n%s\n\nRead it on the page: %s\n", impactText[ev.Impact], ev.Body, ev.URL)
		return
	}
	fmt.Fprintf(b, "%s · %s\n\n%s\n", statusText[ev.Status], impactText[ev.Impact], ev.Body)
	if len(ev.Components) > 0 {
		parts := make([]string, len(ev.Components))
		for i, c := range ev.Components {
			parts[i] = c.Name + " (" + changeText[c.NewStatus] + ")"
		}
		fmt.Fprintf(b, "\nThis update affects: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(b, "\nPosted %s. Follow the incident: %s\n", s.page.timeView(ev.At).Text, ev.URL)
}

// maintenanceText is a maintenance notice's status in words.
func maintenanceText(ev *eventRecord) string {
	if ev.Kind == "maintenance.cancelled" {
		return "Maintenance cancelled"
	}
	return "Maintenance " + changeText[ev.Status]
}

// writeMaintenance writes a maintenance notice: its window in the page's time zone, like
// every other time in the mail. Once the maintenance is over the page no longer shows it, so
// the link is to the page rather than to the maintenance.
func (s *subscriptions) writeMaintenance(b *strings.Builder, ev *eventRecord) {
	b.WriteString(maintenanceText(ev))
	if m := ev.Maintenance; m != nil {
		fmt.Fprintf(b, " · %s to %s", s.page.timeView(m.ScheduledFor).Text, s.page.timeView(m.ScheduledUntil).Text)
	}
	fmt.Fprintf(b, "\n\n%s\n", ev.Body)
	if m := ev.Maintenance; m != nil && len(m.Components) > 0 {
		fmt.Fprintf(b, "\nComponents: %s\n", strings.Join(m.Components, ", "))
	}
	if ev.Status == string(api.MaintenanceCompleted) {
		fmt.Fprintf(b, "\nPosted %s. Current status: %s\n", s.page.timeView(ev.At).Text, s.page.info.URL)
		return
	}
	fmt.Fprintf(b, "\nPosted %s. Follow the maintenance: %s\n", s.page.timeView(ev.At).Text, ev.URL)
}

// webhookPayload is the JSON a webhook subscriber receives.
type webhookPayload struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Page     webhookPage     `json:"page"`
	Incident webhookIncident `json:"incident"`
	// Update is set for incident.update and maintenance.*, Postmortem for incident.postmortem.
	Update     *webhookUpdate     `json:"update,omitempty"`
	Postmortem *webhookPostmortem `json:"postmortem,omitempty"`
}

type webhookPage struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

type webhookIncident struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Impact string `json:"impact"`
	URL    string `json:"url"`
	// ScheduledFor and ScheduledUntil are a maintenance's window: a maintenance comes as an
	// incident with impact "maintenance", as in the Statuspage documents.
	ScheduledFor   *time.Time `json:"scheduled_for,omitempty"`
	ScheduledUntil *time.Time `json:"scheduled_until,omitempty"`
}

type webhookUpdate struct {
	ID         string                `json:"id"`
	Status     string                `json:"status"`
	Body       string                `json:"body"`
	CreatedAt  time.Time             `json:"created_at"`
	Components []v2AffectedComponent `json:"affected_components"`
}

type webhookPostmortem struct {
	Body        string    `json:"body"`
	PublishedAt time.Time `json:"published_at"`
}

func (d *dispatcher) postWebhook(ctx context.Context, sub *subscriberRecord, ev *eventRecord, r *deliveryRecord) error {
	info := d.subs.page.info
	id := d.messageID(r)
	id, _, _ = strings.Cut(id, "@")
	pl := webhookPayload{ID: id, Type: ev.Kind, Page: webhookPage{ID: info.ID, Name: info.Name, URL: info.URL},
		Incident: webhookIncident{ID: ev.IncidentID, Name: ev.Incident, Impact: ev.Impact, URL: ev.URL}}
	if m := ev.Maintenance; m != nil {
		pl.Incident.ScheduledFor, pl.Incident.ScheduledUntil = &m.ScheduledFor, &m.ScheduledUntil
	}
	if ev.Kind == "incident.postmortem" {
		pl.Incident.URL = strings.TrimSuffix(ev.URL, "#postmortem")
		pl.Postmortem = &webhookPostmortem{Body: ev.Body, PublishedAt: ev.At}
	} else {
		u := &webhookUpdate{ID: ev.UpdateID, Status: ev.Status, Body: ev.Body, CreatedAt: ev.At, Components: []v2AffectedComponent{}}
		for _, c := range ev.Components {
			u.Components = append(u.Components, v2AffectedComponent{Code: c.ID, Name: c.Name, OldStatus: c.OldStatus, NewStatus: c.NewStatus})
		}
		pl.Update = u
	}
	body, err := json.Marshal(pl)
	if err != nil {
		return permanentError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return permanentError{errors.New("webhook: the URL does not make a request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Firescope-Statuspage")
	req.Header.Set(WebhookSignatureHeader, SignWebhook(d.subs.webhookSecret(sub.ID), body))
	req.Header.Set(WebhookDeliveryHeader, id)
	req.Header.Set(WebhookEventHeader, ev.Kind)
	resp, err := d.hooks.Do(req)
	if err != nil {
		var refused *safehttp.RefusedError
		if errors.As(err, &refused) {
			return permanentError{fmt.Errorf("webhook: %s", refused.Reason)}
		}
		// The URL is the subscriber's and may carry a secret in its path: the error names
		// only what failed.
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("webhook: no answer in time")
		}
		return errors.New("webhook: the request failed")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook: answered %d", resp.StatusCode)
	default:
		return permanentError{fmt.Errorf("webhook: answered %d", resp.StatusCode)}
	}
}

// newWebhookClient is the client of webhook deliveries: guarded against internal addresses
// (allow lists those it may call), no redirects, a timeout.
func newWebhookClient(allow *safehttp.Allowlist) *http.Client {
	c := &http.Client{Timeout: sendTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return allow.Guard(c)
}
