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

package publish

import (
	"context"
	"time"
)

// FoundPostmortem is what a provider holds as an incident's post-mortem.
type FoundPostmortem struct {
	// Draft is the body of the draft, "" if there is none.
	Draft string
	// Body is the published body, "" while unpublished.
	Body string
	// PublishedAt is when it was published; zero while unpublished.
	PublishedAt time.Time
}

// Published reports whether the post-mortem is public.
func (f FoundPostmortem) Published() bool { return !f.PublishedAt.IsZero() }

// PostmortemPublisher attaches post-mortems to provider incidents that status updates created
// (providerRef is that incident's id, Result.ProviderRef). Like Provider, each method makes
// exactly one external call and classifies its errors with internal/delivery.
//
// Exactly once rests on these rules: Draft is idempotent (it replaces the draft); Publish makes
// the current draft public and is the one call with a customer-visible effect (subscribers
// may be notified), so after a retryable error the caller asks Postmortem whether it landed
// before publishing again.
//
// A provider that can publish post-mortems implements this beside Provider, on the value its
// constructor returns, so callers find it with a type assertion: the Atlassian Statuspage
// and Firescope status page providers do; the webhook provider does not (a receiver cannot
// be asked what it holds, and publishing needs the stored draft). On both, a draft written
// after publication leaves the published text public until the next publish: drafting never
// withdraws a post-mortem.
type PostmortemPublisher interface {
	// DraftPostmortem stores body as the post-mortem's draft, replacing any earlier draft
	// (Statuspage: PUT .../incidents/{id}/postmortem with body_draft). It does not publish.
	DraftPostmortem(ctx context.Context, providerRef, body string) error
	// PublishPostmortem makes the stored draft public (Statuspage: PUT .../postmortem/publish),
	// notifying subscribers when notify is true. Without a stored draft it fails with a
	// permanent error. On the Firescope status page it is two idempotent calls (read the
	// draft, then publish that text), so the outcome of a retryable error is still asked of
	// Postmortem.
	PublishPostmortem(ctx context.Context, providerRef string, notify bool) error
	// Postmortem returns the provider's post-mortem of the incident; ok is false when it has
	// none (no draft was ever stored).
	Postmortem(ctx context.Context, providerRef string) (f FoundPostmortem, ok bool, err error)
}
