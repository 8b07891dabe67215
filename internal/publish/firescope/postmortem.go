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

package firescope

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

// The provider New returns publishes post-mortems too, over PUT and GET
// /api/v1/incidents/{id}/postmortem, which are idempotent: after an unknown outcome the same
// call may simply be made again.
var _ publish.PostmortemPublisher = (*provider)(nil)

// DraftPostmortem stores body as the draft. The status page keeps a published post-mortem
// published, with its text, whatever the draft becomes.
func (p *provider) DraftPostmortem(ctx context.Context, providerRef, body string) error {
	return p.call(ctx, "post-mortem draft", func(ctx context.Context) error {
		_, _, err := p.c.PutPostmortem(ctx, providerRef, body, false)
		return err
	})
}

// PublishPostmortem reads the stored draft and publishes it: two calls, both idempotent. With
// notify, the status page notifies its subscribers of the first publication, once.
func (p *provider) PublishPostmortem(ctx context.Context, providerRef string, notify bool) error {
	pm, err := p.postmortem(ctx, providerRef)
	if isNotFound(err) {
		return fmt.Errorf("the status page has no post-mortem draft to publish for incident %s: %w", providerRef, err)
	}
	if err != nil {
		return err
	}
	if pm.Published && pm.PublishedBody == pm.Draft {
		return nil // already public as drafted
	}
	return p.call(ctx, "post-mortem", func(ctx context.Context) error {
		_, _, err := p.c.PublishPostmortem(ctx, providerRef, pm.Draft, notify)
		return err
	})
}

// Postmortem reads the post-mortem; the status page answers 404 both for an incident
// without one and for an unknown incident, and either way there is none.
func (p *provider) Postmortem(ctx context.Context, providerRef string) (publish.FoundPostmortem, bool, error) {
	pm, err := p.postmortem(ctx, providerRef)
	if isNotFound(err) {
		return publish.FoundPostmortem{}, false, nil
	}
	if err != nil {
		return publish.FoundPostmortem{}, false, err
	}
	f := publish.FoundPostmortem{Draft: pm.Draft, Body: pm.PublishedBody}
	if pm.PublishedAt != nil {
		f.PublishedAt = *pm.PublishedAt
	}
	return f, true, nil
}

func (p *provider) postmortem(ctx context.Context, providerRef string) (pm api.Postmortem, err error) {
	err = p.call(ctx, "post-mortem", func(ctx context.Context) (err error) {
		pm, err = p.c.Postmortem(ctx, providerRef)
		return err
	})
	return pm, err
}

func isNotFound(err error) bool {
	apiErr, ok := errors.AsType[*client.Error](err)
	return ok && apiErr.StatusCode == http.StatusNotFound
}
