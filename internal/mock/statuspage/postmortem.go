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
	"net/http"
	"strings"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

// The post-mortem endpoints. Callers hold s.mu.

const notFound = "The requested resource could not be found."

// postmortemOf is the incident's post-mortem, or nil after answering 404 for an unknown
// incident or, when must is set, one without a post-mortem.
func (s *Server) postmortemOf(w http.ResponseWriter, incidentID string, must bool) (*Incident, *Postmortem) {
	inc := s.incident(incidentID)
	if inc == nil || (must && inc.Postmortem == nil) {
		writeError(w, http.StatusNotFound, notFound)
		return nil, nil
	}
	return inc, inc.Postmortem
}

func (s *Server) getPostmortem(w http.ResponseWriter, incidentID string) {
	if _, pm := s.postmortemOf(w, incidentID, true); pm != nil {
		mockhttp.WriteJSON(w, http.StatusOK, postmortemJSON(pm))
	}
}

// draftPostmortem is PUT .../postmortem: it creates the post-mortem or replaces its draft.
// What is published stays as it is until the next publish.
func (s *Server) draftPostmortem(w http.ResponseWriter, incidentID string, in map[string]any) {
	inc, pm := s.postmortemOf(w, incidentID, false)
	if inc == nil {
		return
	}
	now := time.Now()
	if pm == nil {
		pm = &Postmortem{CreatedAt: now}
		inc.Postmortem = pm
	}
	pm.BodyDraft, _ = in["body_draft"].(string) // required by the document, so present
	pm.BodyDraftUpdatedAt, pm.UpdatedAt = now, now
	mockhttp.WriteJSON(w, http.StatusOK, postmortemJSON(pm))
}

// publishPostmortem is PUT .../postmortem/publish: the draft becomes the published text.
// Without a draft there is nothing to publish, which the document's only client error for
// this operation, 400, reports.
func (s *Server) publishPostmortem(w http.ResponseWriter, incidentID string, in map[string]any) {
	inc, pm := s.postmortemOf(w, incidentID, false)
	if inc == nil {
		return
	}
	if pm == nil || strings.TrimSpace(pm.BodyDraft) == "" {
		writeError(w, http.StatusBadRequest, "Postmortem draft can't be blank: create the draft with PUT /v1/pages/{page_id}/incidents/{incident_id}/postmortem before publishing")
		return
	}
	now := time.Now()
	pm.NotifySubscribers, _ = in["notify_subscribers"].(bool)
	pm.NotifyTwitter, _ = in["notify_twitter"].(bool)
	pm.Body, pm.PublishedAt, pm.BodyUpdatedAt, pm.UpdatedAt = pm.BodyDraft, now, now, now
	pm.Publishes++
	inc.UpdatedAt = now
	mockhttp.WriteJSON(w, http.StatusOK, postmortemJSON(pm))
}

// revertPostmortem is PUT .../postmortem/revert: the post-mortem is no longer public; its
// draft stays.
func (s *Server) revertPostmortem(w http.ResponseWriter, incidentID string) {
	inc, pm := s.postmortemOf(w, incidentID, true)
	if pm == nil {
		return
	}
	if pm.PublishedAt.IsZero() {
		writeError(w, http.StatusBadRequest, "Postmortem is not published")
		return
	}
	now := time.Now()
	pm.Body, pm.PublishedAt, pm.BodyUpdatedAt, pm.UpdatedAt = "", time.Time{}, now, now
	inc.UpdatedAt = now
	mockhttp.WriteJSON(w, http.StatusOK, postmortemJSON(pm))
}

func (s *Server) deletePostmortem(w http.ResponseWriter, incidentID string) {
	inc, pm := s.postmortemOf(w, incidentID, true)
	if pm == nil {
		return
	}
	inc.Postmortem, inc.UpdatedAt = nil, time.Now()
	w.WriteHeader(http.StatusNoContent)
}

// postmortemJSON is pm as the document's Postmortem schema. The published text and time are
// left out while unpublished, and fields the fake does not model (preview_key, custom_tweet)
// always, rather than sent as null.
func postmortemJSON(pm *Postmortem) map[string]any {
	m := map[string]any{
		"body_draft": pm.BodyDraft, "body_draft_updated_at": stamp(pm.BodyDraftUpdatedAt),
		"notify_subscribers": pm.NotifySubscribers, "notify_twitter": pm.NotifyTwitter,
		"created_at": stamp(pm.CreatedAt), "updated_at": stamp(pm.UpdatedAt),
	}
	if !pm.PublishedAt.IsZero() {
		m["body"], m["published_at"] = pm.Body, stamp(pm.PublishedAt)
	}
	if !pm.BodyUpdatedAt.IsZero() {
		m["body_updated_at"] = stamp(pm.BodyUpdatedAt)
	}
	return m
}
