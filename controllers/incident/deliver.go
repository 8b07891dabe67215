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

package incident

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/outbox"
	"firescope.dev/firescope/internal/paging"
	"firescope.dev/firescope/internal/ratelimit"
)

// Notifiers builds the comms channel and the pager a policy names, with their credentials.
type Notifiers interface {
	Channel(ctx context.Context, namespace string, c *v1alpha1.CommsChannel) (notify.Channel, error)
	Pager(ctx context.Context, namespace string, p *v1alpha1.Paging) (paging.Pager, error)
}

// SecretNotifiers reads credentials from Secrets by name, with a reader that does not cache,
// so the manager needs only "get" on Secrets and never holds them all in memory.
type SecretNotifiers struct {
	Secrets client.Reader
	// HTTP is the client for every call; its timeout bounds each one.
	HTTP *http.Client
	// Limits paces the calls per credential and per namespace; nil means no pacing.
	Limits *ratelimit.Registry
}

// Reading Secrets is granted per namespace by binding the ClusterRole
// firescope-credential-reader (config/rbac/credential_reader_role.yaml), not to the manager
// everywhere: see docs/install.md.

// Channel implements Notifiers. Each credential is read only if its Secret is bound to the
// channel's provider and lets it go to the channel's host (internal/credentials).
func (s *SecretNotifiers) Channel(ctx context.Context, ns string, c *v1alpha1.CommsChannel) (notify.Channel, error) {
	switch {
	case c.Slack != nil:
		url, err := credentials.Read(ctx, s.Secrets, ns, c.Slack.WebhookURLSecretRef, credentials.Slack, "")
		if err != nil {
			return nil, err
		}
		return notify.NewSlack(url, s.HTTP, s.Limits.Gate(ns, ratelimit.Slack, url)), nil
	case c.Teams != nil:
		url, err := credentials.Read(ctx, s.Secrets, ns, c.Teams.WebhookURLSecretRef, credentials.Teams, "")
		if err != nil {
			return nil, err
		}
		return notify.NewTeams(url, s.HTTP, s.Limits.Gate(ns, ratelimit.Teams, url)), nil
	case c.Mattermost != nil:
		url, err := credentials.Read(ctx, s.Secrets, ns, c.Mattermost.WebhookURLSecretRef, credentials.Mattermost, "")
		if err != nil {
			return nil, err
		}
		return notify.NewMattermost(url, c.Mattermost.Channel, c.Mattermost.Username, s.HTTP, s.Limits.Gate(ns, ratelimit.Mattermost, url)), nil
	case c.Webhook == nil:
		return nil, fmt.Errorf("the comms channel names no platform: set one of slack, teams, mattermost or webhook")
	}
	key, err := credentials.Read(ctx, s.Secrets, ns, c.Webhook.SigningSecretRef, credentials.Webhook, c.Webhook.URL)
	if err != nil {
		return nil, err
	}
	return notify.NewWebhook(c.Webhook.URL, []byte(key), s.HTTP, s.Limits.Gate(ns, ratelimit.Webhook, c.Webhook.URL, key)), nil
}

// Pager implements Notifiers, with the same binding of the routing key.
func (s *SecretNotifiers) Pager(ctx context.Context, ns string, p *v1alpha1.Paging) (paging.Pager, error) {
	url := p.PagerDuty.URL
	if url == "" {
		url = paging.PagerDutyEventsURL
	}
	key, err := credentials.Read(ctx, s.Secrets, ns, p.PagerDuty.RoutingKeySecretRef, credentials.PagerDuty, url)
	if err != nil {
		return nil, err
	}
	return paging.NewPagerDuty(key, url, s.HTTP, s.Limits.Gate(ns, ratelimit.PagerDuty, key)), nil
}

// send delivers one outbox item.
func (r *Reconciler) send(ctx context.Context, inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, it v1alpha1.OutboxItem, now time.Time) error {
	if p == nil {
		return delivery.Terminal("PolicyChanged", fmt.Errorf("the ResponsePolicy that named the %s is gone", outbox.Channel(it.Kind)))
	}
	switch it.Kind {
	case v1alpha1.OutboxAnnounce:
		if p.Spec.CommsChannel == nil {
			return delivery.Terminal("PolicyChanged", fmt.Errorf("the ResponsePolicy no longer names a comms channel"))
		}
		ch, err := r.Notifiers.Channel(ctx, inc.Namespace, p.Spec.CommsChannel)
		if err != nil {
			// A missing Secret is fixed by a person; keep the announcement until then.
			return &delivery.RetryableError{Err: err}
		}
		return ch.Announce(ctx, notify.Announcement{
			ID: it.ID, Namespace: inc.Namespace, Incident: inc.Name, Kind: it.Reason,
			Text: announcementText(inc, it), Drill: inc.Spec.Drill, At: now,
		})
	default:
		if p.Spec.Paging == nil {
			return delivery.Terminal("PolicyChanged", fmt.Errorf("the ResponsePolicy no longer names paging"))
		}
		pager, err := r.Notifiers.Pager(ctx, inc.Namespace, p.Spec.Paging)
		if err != nil {
			return &delivery.RetryableError{Err: err}
		}
		if it.Kind == v1alpha1.OutboxResolvePage {
			return r.resolve(ctx, inc, pager)
		}
		if err := pager.Trigger(ctx, page(inc, now)); err != nil {
			return err
		}
		r.pagers.Store(inc.UID, pager)
		return nil
	}
}

// deliver sends the claimed items and settles each (outbox.Deliver). A delivered item stays
// Sending in status and is remembered in memory; the next reconcile removes it (see
// recoverOutbox), so the happy path costs no status write of its own. A waiting or transient
// failure (any error nobody classified included) waits for Retry-After or its backoff, up to
// outbox.MaxAttempts; a terminal one leaves the outbox with a NotificationFailed Event.
// deliver returns those Events' facts, and whether the outcome must be stored now (any
// failure).
func (r *Reconciler) deliver(ctx context.Context, inc *v1alpha1.Incident, p *v1alpha1.ResponsePolicy, claimed []int) (facts []fact, store bool, removed []string) {
	failed := map[string]bool{}
	outcomes := outbox.Deliver(inc.Status.Outbox, claimed, r.Clock.Now, func(it v1alpha1.OutboxItem) error {
		return r.send(ctx, inc, p, it, r.Clock.Now())
	})
	for _, o := range outcomes {
		it := inc.Status.Outbox[o.Index]
		ch := outbox.Channel(it.Kind)
		switch {
		case o.Held:
			store = true
			continue
		case o.Err == nil:
			notificationsTotal.WithLabelValues(ch, "delivered").Inc()
			r.delivered.Store(it.ID, struct{}{})
			continue
		case o.Retry:
			notificationsTotal.WithLabelValues(ch, "retried").Inc()
		default:
			notificationsTotal.WithLabelValues(ch, "failed").Inc()
			failed[it.ID] = true
		}
		store = true
		if it.Attempts == 1 || !o.Retry {
			msg := fmt.Sprintf("Could not deliver %q to %s: %v", it.Message, ch, o.Err)
			if o.Retry {
				msg += " (retrying)"
			}
			facts = append(facts, fact{key: "NotificationFailed/" + it.ID + fmt.Sprint(!o.Retry), entry: entry(metav1.NewTime(r.Clock.Now()), v1alpha1.TimelineReminder, msg, ""),
				eventReason: v1alpha1.EventNotificationFailed, eventType: corev1.EventTypeWarning})
		}
	}
	if !store {
		return nil, false, nil
	}
	// Store the outcome now; delivered items can leave with it.
	outbox.Remove(&inc.Status.Outbox, func(id string) bool {
		_, ok := r.delivered.Load(id)
		if ok || failed[id] {
			removed = append(removed, id)
		}
		return ok || failed[id]
	})
	return facts, true, removed
}

// dedupKey identifies the incident's page, so that sending a trigger again is harmless.
func dedupKey(inc *v1alpha1.Incident) string {
	return fmt.Sprintf("firescope/%s/%s/%s", inc.Namespace, inc.Name, inc.UID)
}

func page(inc *v1alpha1.Incident, now time.Time) paging.Page {
	severity := map[v1alpha1.IncidentState]string{
		v1alpha1.StateInvestigating: "warning", v1alpha1.StateConfirmed: "error", v1alpha1.StateMajor: "critical",
	}[inc.Spec.State]
	p := paging.Page{
		DedupKey:  dedupKey(inc),
		Summary:   fmt.Sprintf("[%s] %s (%s/%s), IC %s", inc.Spec.State, inc.Spec.Title, inc.Namespace, inc.Name, holder(inc.Spec.Roles.Commander)),
		Source:    fmt.Sprintf("firescope/%s/%s", inc.Namespace, inc.Name),
		Severity:  severity,
		Timestamp: now,
		Details: map[string]string{
			"state": string(inc.Spec.State), "commander": string(inc.Spec.Roles.Commander),
			"communications": string(inc.Spec.Roles.Communications), "namespace": inc.Namespace, "incident": inc.Name,
		},
	}
	for _, l := range inc.Spec.Links {
		p.Links = append(p.Links, paging.Link{Href: l.URL, Text: l.Name})
	}
	return p
}
