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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/outbox"
)

// The outbox records every announcement and page before it is sent, by the rules of
// internal/outbox: a fact is enqueued in the same status write that records it, an item is
// marked Sending in a status write before the call, and removed in the write after it. So a
// crash never loses a fact, and never posts an announcement twice (an item found Sending is
// dropped; pages, idempotent by dedup key, are sent again).

func itemID(inc *v1alpha1.Incident, kind v1alpha1.OutboxKind, key string) string {
	sum := sha256.Sum256([]byte(string(inc.UID) + "\x00" + string(kind) + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}

// announced reports whether a fact goes to the comms channel.
func announced(f fact) bool {
	switch f.eventReason {
	case v1alpha1.EventStateChanged, v1alpha1.EventHandoff, v1alpha1.EventSitrepPosted, v1alpha1.EventSitrepOverdue:
		return true
	}
	return false
}

// enqueue adds the outbox items for new facts: announcements when the policy names a comms
// channel, pages when it names paging and the incident is not a drill.
func enqueue(inc *v1alpha1.Incident, facts []fact, p *v1alpha1.ResponsePolicy) {
	add := func(kind v1alpha1.OutboxKind, f fact) {
		item := v1alpha1.OutboxItem{
			ID:      itemID(inc, kind, f.key),
			Kind:    kind,
			Reason:  f.eventReason,
			Message: f.entry.Message,
			Sitrep:  f.sitrep,
			State:   v1alpha1.OutboxPending,
		}
		inc.Status.Outbox = append(inc.Status.Outbox, item)
	}
	for _, f := range facts {
		if p != nil && p.Spec.CommsChannel != nil && announced(f) {
			add(v1alpha1.OutboxAnnounce, f)
		}
		if p == nil || p.Spec.Paging == nil || inc.Spec.Drill || f.eventReason != v1alpha1.EventStateChanged {
			continue
		}
		// Every page of an incident has one dedup key, so only the latest pending trigger or
		// resolve matters: it replaces any other not yet being sent.
		inc.Status.Outbox = slices.DeleteFunc(inc.Status.Outbox, func(it v1alpha1.OutboxItem) bool {
			return it.Kind != v1alpha1.OutboxAnnounce && it.State == v1alpha1.OutboxPending
		})
		switch {
		case inc.Spec.State == v1alpha1.StateResolved:
			add(v1alpha1.OutboxResolvePage, f)
		case p.PagesIn(inc.Spec.State):
			add(v1alpha1.OutboxPage, f)
		}
	}
	// The outbox is bounded; under a flood (a channel down for hours) the oldest pending
	// announcements give way. Pages (at most one pending, one sending) are never dropped.
	for _, it := range outbox.Bound(&inc.Status.Outbox) {
		notificationsTotal.WithLabelValues(outbox.Channel(it.Kind), "dropped").Inc()
	}
}

// recoverOutbox settles items found Sending (outbox.Recover). Those this process delivered
// (delivered reports it) leave the outbox: their removal rides on this reconcile's status
// write instead of costing one of its own. Any other was left mid-call by a process that
// stopped, and its outcome is unknown: an announcement is dropped (at most once); a page goes
// back to Pending (PagerDuty deduplicates it by dedup key, so sending it again is harmless).
func recoverOutbox(inc *v1alpha1.Incident, delivered func(id string) bool) (unknown []v1alpha1.OutboxItem, settled []string) {
	return outbox.Recover(&inc.Status.Outbox, delivered)
}

// claimDue marks the items whose time has come as Sending and returns their indexes, at most
// outbox.MaxPerReconcile, oldest first, and how long until the next item that is not due.
func claimDue(inc *v1alpha1.Incident, now time.Time) ([]int, time.Duration) {
	return outbox.ClaimDue(inc.Status.Outbox, now)
}

// announcementText renders an outbox item for the comms channel, as people read it there.
func announcementText(inc *v1alpha1.Incident, it v1alpha1.OutboxItem) string {
	var b strings.Builder
	if inc.Spec.Drill {
		b.WriteString("[DRILL] ")
	}
	ref := fmt.Sprintf("*%s* (%s/%s, %s)", inc.Spec.Title, inc.Namespace, inc.Name, inc.Spec.State)
	switch it.Reason {
	case v1alpha1.EventSitrepOverdue:
		fmt.Fprintf(&b, "@%s: %s\n%s", holder(inc.Spec.Roles.Commander), it.Message, ref)
	case v1alpha1.EventSitrepPosted:
		writeSitrep(&b, inc, int(it.Sitrep))
	default:
		fmt.Fprintf(&b, "@all: %s\n%s", it.Message, ref)
	}
	return b.String()
}

// writeSitrep renders sitrep n (1-based) in full, in the shape of the talk's example: what is
// broken, how widespread, what is being done, what customers can do, links, and who is on it.
func writeSitrep(b *strings.Builder, inc *v1alpha1.Incident, n int) {
	if n < 1 || n > len(inc.Spec.Sitreps) {
		fmt.Fprintf(b, "@all: Sitrep %d of %s/%s", n, inc.Namespace, inc.Name)
		return
	}
	s := inc.Spec.Sitreps[n-1]
	fmt.Fprintf(b, "@all: Sitrep %d: *%s* (%s/%s, %s)\n\n%s\n", n, inc.Spec.Title, inc.Namespace, inc.Name, inc.Spec.State, s.Summary)
	for _, part := range []struct{ label, text string }{{"Impact", s.Impact}, {"Actions", s.Actions}, {"Workaround", s.Workaround}} {
		if part.text != "" {
			fmt.Fprintf(b, "\n*%s:* %s\n", part.label, part.text)
		}
	}
	writeHealth(b, inc)
	links := append(append([]v1alpha1.Link{}, s.Links...), inc.Spec.Links...)
	seen := map[string]bool{}
	for _, l := range links {
		if !seen[l.URL] {
			seen[l.URL] = true
			fmt.Fprintf(b, "\n%s: %s", l.Name, l.URL)
		}
	}
	r := inc.Spec.Roles
	fmt.Fprintf(b, "\n\nIC: %s\nComms: %s", holder(r.Commander), holder(r.Communications))
	for _, g := range r.Operations {
		people := append([]string{string(g.Supervisor) + " (lead)"}, personStrings(g.Members)...)
		if g.Supervisor == "" {
			people = people[1:]
		}
		fmt.Fprintf(b, "\nOps/%s: %s", g.Name, strings.Join(people, ", "))
	}
	if s.At != nil {
		fmt.Fprintf(b, "\n\nPosted %s by %s", s.At.UTC().Format("Jan 2, 2006 15:04:05 UTC"), holder(s.Author))
	}
}

func personStrings(ps []v1alpha1.Person) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
