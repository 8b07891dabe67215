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

package atlassian

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"firescope.dev/firescope/internal/delivery"
	"firescope.dev/firescope/internal/publish"
)

// The provider New returns publishes post-mortems too, through the incident postmortem
// endpoints of the management API.
var _ publish.PostmortemPublisher = (*client)(nil)

// postmortem is the part of the API's Postmortem schema Firescope reads.
type postmortem struct {
	Body        string     `json:"body"`
	BodyDraft   string     `json:"body_draft"`
	PublishedAt *time.Time `json:"published_at"`
}

// DraftPostmortem stores body as the draft with PUT .../incidents/{incident_id}/postmortem.
// Statuspage keeps a published post-mortem's text until the next publish, so a new draft
// never changes what customers read.
func (c *client) DraftPostmortem(ctx context.Context, providerRef, body string) error {
	if providerRef == "" {
		return delivery.Terminal("Invalid", errors.New("statuspage: cannot store the post-mortem draft: the incident id is empty"))
	}
	req := map[string]any{"postmortem": map[string]any{"body_draft": body}}
	return c.postmortemCall(ctx, http.MethodPut, providerRef, "", req, nil, "store the post-mortem draft of incident "+providerRef,
		"the request was refused as malformed")
}

// PublishPostmortem makes the draft public with PUT .../postmortem/publish, notifying e-mail
// subscribers when notify is set and never Twitter. Statuspage answers 400 when there is no
// draft to publish.
func (c *client) PublishPostmortem(ctx context.Context, providerRef string, notify bool) error {
	if providerRef == "" {
		return delivery.Terminal("Invalid", errors.New("statuspage: cannot publish the post-mortem: the incident id is empty"))
	}
	req := map[string]any{"postmortem": map[string]any{"notify_subscribers": notify, "notify_twitter": false}}
	return c.postmortemCall(ctx, http.MethodPut, providerRef, "/publish", req, nil, "publish the post-mortem of incident "+providerRef,
		"the incident has no post-mortem draft to publish; store one first")
}

// Postmortem reads GET .../postmortem. Statuspage answers 404 both for an incident without a
// post-mortem and for an unknown incident; either way there is no post-mortem to find.
func (c *client) Postmortem(ctx context.Context, providerRef string) (publish.FoundPostmortem, bool, error) {
	if providerRef == "" {
		return publish.FoundPostmortem{}, false, delivery.Terminal("Invalid", errors.New("statuspage: cannot read the post-mortem: the incident id is empty"))
	}
	var out postmortem
	err := c.postmortemCall(ctx, http.MethodGet, providerRef, "", nil, &out, "read the post-mortem of incident "+providerRef,
		"the request was refused as malformed")
	if se, ok := errors.AsType[*delivery.StatusError](err); ok && se.StatusCode == http.StatusNotFound {
		return publish.FoundPostmortem{}, false, nil
	}
	if err != nil {
		return publish.FoundPostmortem{}, false, err
	}
	f := publish.FoundPostmortem{Draft: out.BodyDraft, Body: out.Body}
	if out.PublishedAt != nil {
		f.PublishedAt = *out.PublishedAt
	}
	if f == (publish.FoundPostmortem{}) {
		// An answer with neither a draft nor a published text holds no post-mortem.
		return f, false, nil
	}
	return f, true, nil
}

// postmortemCall makes one request to .../incidents/{providerRef}/postmortem{suffix}, with
// errors as do makes them except for the causes of a 400 (badRequest) and a 404, which differ
// from the incident calls'.
func (c *client) postmortemCall(ctx context.Context, method, providerRef, suffix string, in, out any, what, badRequest string) error {
	path := c.incidentsPath() + "/" + url.PathEscape(providerRef) + "/postmortem" + suffix
	err := c.request(ctx, 0, method, path, in, out)
	if err == nil {
		return nil
	}
	explained := explain(err)
	if se, ok := errors.AsType[*delivery.StatusError](err); ok && delivery.Assess(err).Terminal {
		// A permanent refusal; a retryable one is left as the client explained it.
		switch se.StatusCode {
		case http.StatusBadRequest:
			explained = fmt.Errorf("%s: %w", badRequest, se)
		case http.StatusNotFound:
			explained = fmt.Errorf("no such incident, or it has no post-mortem; check the page id and the incident id: %w", se)
		}
	}
	return delivery.Redact(fmt.Errorf("statuspage: %s: %w", what, explained), c.apiKey)
}
