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

package postmortem

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/notify"
	"firescope.dev/firescope/internal/outbox"
)

// Reminders reach the comms channel through status.outbox, by the rules of internal/outbox,
// as the Incident's announcements do: a reminder is enqueued in the status write that records
// it as sent, marked Sending in that write before the call, and removed (or put back with its
// backoff) in the write after it. So a channel that is down gets the reminder once it is back,
// and a crash mid-call never posts it twice.

// enqueueReminders adds an announcement for each reminder due, when the policy names a comms
// channel, and bounds the outbox.
func enqueueReminders(pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy, due []reminder) {
	if inc == nil || pol == nil || pol.Spec.CommsChannel == nil {
		return
	}
	for _, rm := range due {
		pm.Status.Outbox = append(pm.Status.Outbox, v1alpha1.OutboxItem{ID: reminderID(pm, rm.eventKey()), Kind: v1alpha1.OutboxAnnounce,
			Reason: rm.reason, Message: truncate(rm.note, 512), State: v1alpha1.OutboxPending})
	}
	for range outbox.Bound(&pm.Status.Outbox) {
		reminderAnnouncements.WithLabelValues("dropped").Inc()
	}
}

// planOutbox settles what a stopped process left mid-call, enqueues the reminders due and
// claims the items due now, returning their indexes.
func planOutbox(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy, due []reminder, now time.Time) []int {
	// This controller stores every outcome right after the call, so an item found Sending
	// was left by a process that stopped before it could.
	unknown, _ := outbox.Recover(&pm.Status.Outbox, nil)
	for _, it := range unknown {
		reminderAnnouncements.WithLabelValues("unknown").Inc()
		log.FromContext(ctx).Info("dropped a reminder whose delivery outcome is unknown, so as never to post it twice", "message", it.Message)
	}
	enqueueReminders(pm, inc, pol, due)
	claimed, _ := outbox.ClaimDue(pm.Status.Outbox, now)
	return claimed
}

// deliverOutbox sends the claimed items, then stores their outcome: delivered and given-up
// items leave the outbox, the others wait for their next attempt. A failure is reported by a
// NotificationFailed Warning on its first attempt and when it is given up.
func (r *Reconciler) deliverOutbox(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy, claimed []int) error {
	if len(claimed) == 0 {
		return nil
	}
	before := pm.DeepCopy()
	var ch notify.Channel
	outcomes := outbox.Deliver(pm.Status.Outbox, claimed, r.Clock.Now, func(it v1alpha1.OutboxItem) error {
		if ch == nil {
			c, err := r.channel(ctx, pm, inc, pol)
			if err != nil {
				return err
			}
			ch = c
		}
		return ch.Announce(ctx, notify.Announcement{ID: it.ID, Namespace: inc.Namespace, Incident: inc.Name,
			Kind: it.Reason, Text: reminderText(pm, inc, it), Drill: inc.Spec.Drill, At: r.Clock.Now()})
	})
	gone := map[string]bool{}
	for _, o := range outcomes {
		it := pm.Status.Outbox[o.Index]
		switch {
		case o.Held:
			continue
		case o.Err == nil:
			reminderAnnouncements.WithLabelValues("delivered").Inc()
			gone[it.ID] = true
			continue
		case o.Retry:
			reminderAnnouncements.WithLabelValues("retried").Inc()
		default:
			reminderAnnouncements.WithLabelValues("failed").Inc()
			gone[it.ID] = true
		}
		if it.Attempts == 1 || !o.Retry {
			msg := fmt.Sprintf("Could not deliver the reminder %q to the comms channel: %v", it.Message, o.Err)
			if o.Retry {
				msg += " (retrying)"
			}
			r.event(ctx, pm, fmt.Sprintf("NotificationFailed/%s/%v", it.ID, !o.Retry), corev1.EventTypeWarning, v1alpha1.EventNotificationFailed, msg)
		}
	}
	outbox.Remove(&pm.Status.Outbox, func(id string) bool { return gone[id] })
	// No optimistic lock: this reconcile stored the status a moment ago, and a conflict with
	// an unrelated change would leave the delivered items Sending, to be dropped as unknown.
	return r.Status().Patch(ctx, pm, client.MergeFrom(before))
}

// channel builds the comms channel the policy names now, or says why there is none.
func (r *Reconciler) channel(ctx context.Context, pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, pol *v1alpha1.ResponsePolicy) (notify.Channel, error) {
	switch {
	case inc == nil:
		return nil, delivery.Terminal("IncidentUnknown", errors.New("the post-mortem has recorded no incident to name"))
	case pol == nil || pol.Spec.CommsChannel == nil:
		return nil, delivery.Terminal("PolicyChanged", errors.New("the ResponsePolicy no longer names a comms channel"))
	}
	ch, err := r.Channels.Channel(ctx, pm.Namespace, pol.Spec.CommsChannel)
	if err != nil {
		// A missing Secret is fixed by a person; keep the reminder until then.
		return nil, &delivery.RetryableError{Err: err}
	}
	return ch, nil
}

// reminderText is a reminder as people read it on the comms channel, addressed to the owner
// or, while there is none, the IC.
func reminderText(pm *v1alpha1.Postmortem, inc *v1alpha1.Incident, it v1alpha1.OutboxItem) string {
	to := "@" + string(pm.Spec.Owner)
	if pm.Spec.Owner == "" {
		to = "@" + string(inc.Spec.Roles.Commander)
	}
	text := fmt.Sprintf("%s: %s\n(%s/%s)", to, it.Message, pm.Namespace, pm.Name)
	if inc.Spec.Drill {
		text = "[DRILL] " + text
	}
	return text
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
