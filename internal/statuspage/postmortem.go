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
	"fmt"
	"net/http"
	"strings"

	"firescope.dev/firescope/internal/statuspage/api"
)

// PutPostmortem stores req.Body as the incident's post-mortem draft and, when req.Published
// is set, as the text the page shows. It reports whether the post-mortem is new. A draft
// never withdraws or changes a published post-mortem, and the same request again writes
// nothing, so a publisher may retry any write.
func (p *Page) PutPostmortem(incidentID string, req api.PostmortemRequest) (api.Postmortem, bool, error) {
	return p.putPostmortem(adminScope, incidentID, req)
}

// Postmortem returns an incident's post-mortem, draft included.
func (p *Page) Postmortem(incidentID string) (api.Postmortem, error) {
	return p.postmortem(adminScope, incidentID)
}

func (p *Page) putPostmortem(sc scope, incidentID string, req api.PostmortemRequest) (api.Postmortem, bool, error) {
	now := p.clock()
	if err := validateID("incident id", incidentID); err != nil {
		return api.Postmortem{}, false, err
	}
	if err := validatePostmortemRequest(&req); err != nil {
		return api.Postmortem{}, false, err
	}
	if err := p.lockWrite(); err != nil {
		return api.Postmortem{}, false, err
	}
	defer p.unlockWrite()
	inc := p.incidents[incidentID]
	if inc == nil {
		return api.Postmortem{}, false, &apiError{status: http.StatusNotFound, code: api.CodeNotFound,
			message: fmt.Sprintf("incident %q does not exist: a post-mortem belongs to an incident published with PUT /api/v1/incidents/%s", incidentID, incidentID)}
	}
	if err := sc.mayWrite(inc); err != nil {
		return api.Postmortem{}, false, err
	}
	old := inc.postmortem
	rec := postmortemRecord{IncidentID: incidentID, CreatedAt: now}
	if old != nil {
		rec = *old
	}
	rec.Draft = req.Body
	if req.Published && rec.PublishedBody != req.Body {
		if !rec.published() {
			rec.PublishedAt, rec.Notify = now, req.Notify
		}
		rec.PublishedBody, rec.RevisedAt = req.Body, now
	}
	if old != nil && rec == *old {
		return p.postmortemAPI(old), false, nil
	}
	rec.UpdatedAt = now
	b := batch{postmortems: []*postmortemRecord{&rec}}
	// Only a change of the published text is news on the page; a draft is private. (A
	// published text is never empty.)
	oldText := ""
	if old != nil {
		oldText = old.PublishedBody
	}
	public := rec.PublishedBody != oldText
	incRec := *inc.rec
	if public {
		incRec.UpdatedAt = now
		b.incidents = []*incidentRecord{&incRec}
	}
	if err := p.commit(b); err != nil {
		return api.Postmortem{}, false, err
	}
	inc.postmortem = &rec
	p.announcePostmortem(inc, old)
	if public {
		inc.rec = &incRec
		p.touch(now)
		p.render(map[string]bool{incidentID: true}, false)
	}
	return p.postmortemAPI(&rec), old == nil, nil
}

func (p *Page) postmortem(sc scope, incidentID string) (api.Postmortem, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc := p.incidents[incidentID]
	if inc == nil {
		return api.Postmortem{}, notFound("incident", incidentID)
	}
	if err := sc.mayWrite(inc); err != nil {
		return api.Postmortem{}, err
	}
	if inc.postmortem == nil {
		return api.Postmortem{}, &apiError{status: http.StatusNotFound, code: api.CodeNotFound,
			message: fmt.Sprintf("incident %q has no post-mortem", incidentID)}
	}
	return p.postmortemAPI(inc.postmortem), nil
}

func (p *Page) postmortemAPI(r *postmortemRecord) api.Postmortem {
	out := api.Postmortem{IncidentID: r.IncidentID, Draft: r.Draft, Published: r.published(), PublishedBody: r.PublishedBody,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, URL: p.incidentURL(r.IncidentID) + "#postmortem"}
	if r.published() {
		published, revised := r.PublishedAt, r.RevisedAt
		out.PublishedAt, out.RevisedAt = &published, &revised
	}
	return out
}

// textBlock is a paragraph (its lines, shown with line breaks) or a list (its items).
type textBlock struct {
	List  bool
	Lines []string
}

// textBlocks reads plain text the way people write it in a chat or an e-mail: blank lines
// separate paragraphs, and lines starting with "- " (after any indentation) are list items.
// The result is only text, which the template escapes, so no markup in it can take effect.
func textBlocks(s string) []textBlock {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var out []textBlock
	var cur *textBlock
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		item, isItem := strings.CutPrefix(strings.TrimLeft(line, " \t"), "- ")
		if isItem {
			line = strings.TrimSpace(item)
		}
		if cur == nil || cur.List != isItem {
			out = append(out, textBlock{List: isItem})
			cur = &out[len(out)-1]
		}
		cur.Lines = append(cur.Lines, line)
	}
	return out
}
