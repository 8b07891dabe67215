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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"firescope.dev/firescope/internal/statuspage/api"
)

// apiError is an error the write API reports to its client as api.ErrorBody.
type apiError struct {
	status  int
	code    string
	message string
	field   string
	// retryAfter, if set, is the Retry-After of the answer.
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.message }

func invalid(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: api.CodeInvalid, field: field, message: fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(api.IDPattern)

func validateID(field, id string) *apiError {
	if !idPattern.MatchString(id) {
		return invalid(field, "%q is not a valid id: use 1 to %d letters, digits, '.', '_', '~' or '-', starting with a letter or digit", id, api.MaxIDLength)
	}
	return nil
}

// decodeBody reads a JSON request body strictly: a body over the limit, invalid UTF-8,
// unknown fields and trailing data are refused, so that a typo never passes silently. The
// Content-Type is not checked: the bearer token already rules out cross-site form posts, and
// `curl -d` should just work.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) *apiError {
	return decodeBodyUpTo(w, r, dst, api.MaxBodyBytes)
}

// decodeBodyUpTo is decodeBody with a limit of its own, for the endpoints whose texts are
// longer than MaxBodyBytes allows.
func decodeBodyUpTo(w http.ResponseWriter, r *http.Request, dst any, limit int64) *apiError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: api.CodeBodyTooLarge,
				message: fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}
		}
		return &apiError{status: http.StatusBadRequest, code: api.CodeMalformedJSON, message: "cannot read the request body: " + err.Error()}
	}
	return decodeJSON(body, dst)
}

// decodeJSON is decodeBody's parser, apart so that it can be fuzzed.
func decodeJSON(body []byte, dst any) *apiError {
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; a status page must publish
	// exactly what the client meant, so refuse instead.
	if !utf8.Valid(body) {
		return &apiError{status: http.StatusBadRequest, code: api.CodeInvalidUTF8, message: "request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		msg := err.Error()
		if errors.Is(err, io.EOF) {
			msg = "request body is empty"
		}
		return &apiError{status: http.StatusBadRequest, code: api.CodeMalformedJSON, message: "malformed JSON: " + strings.TrimPrefix(msg, "json: ")}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &apiError{status: http.StatusBadRequest, code: api.CodeMalformedJSON, message: "malformed JSON: unexpected data after the JSON object"}
	}
	return nil
}

// validateText checks a human-readable string: present if required, at most max characters,
// and free of control characters (other than line breaks and tabs where multiline is set).
func validateText(field, s string, required bool, limit int, multiline bool) *apiError {
	if required && strings.TrimSpace(s) == "" {
		return invalid(field, "%s is required", field)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return invalid(field, "%s is %d characters long; the limit is %d", field, n, limit)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if r == utf8.RuneError {
			return invalid(field, "%s contains U+FFFD, the replacement character, a sign of text that was not valid Unicode (such as a lone surrogate escape)", field)
		}
		if unicode.IsControl(r) {
			return invalid(field, "%s contains the control character %U", field, r)
		}
	}
	return nil
}

func validateComponentStatus(field string, s api.ComponentStatus, required bool) *apiError {
	if s == "" && !required {
		return nil
	}
	if !slices.Contains(api.ComponentStatuses, s) {
		return invalid(field, "%s %q is not one of %s", field, s, joinQuoted(api.ComponentStatuses))
	}
	return nil
}

func validateComponentRequest(req *api.ComponentRequest) *apiError {
	if err := validateText("name", req.Name, true, api.MaxNameLength, false); err != nil {
		return err
	}
	if err := validateText("description", req.Description, false, api.MaxDescriptionLength, true); err != nil {
		return err
	}
	if err := validateText("group", req.Group, false, api.MaxNameLength, false); err != nil {
		return err
	}
	if p := req.Position; p != nil && (*p < 0 || *p > api.MaxPosition) {
		return invalid("position", "position %d is out of range 0..%d", *p, api.MaxPosition)
	}
	return validateComponentStatus("status", req.Status, false)
}

func validateIncidentRequest(req *api.IncidentRequest, now time.Time) *apiError {
	if err := validateText("name", req.Name, true, api.MaxNameLength, false); err != nil {
		return err
	}
	if !slices.Contains(api.Impacts, req.Impact) {
		return invalid("impact", "impact %q is not one of %s", req.Impact, joinQuoted(api.Impacts))
	}
	if req.Update == nil {
		return nil
	}
	if req.Update.ID == "" {
		return invalid("update.id", "update.id is required: the client chooses it, so that a retry is recognised")
	}
	if err := validateID("update.id", req.Update.ID); err != nil {
		return err
	}
	return validateUpdateRequest("update.", req.Update, now)
}

// maxClockSkew is how far in the future an update's created_at may be, for clients whose
// clock runs ahead of the server's.
const maxClockSkew = 5 * time.Minute

var earliestUpdate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func validateUpdateRequest(prefix string, req *api.UpdateRequest, now time.Time) *apiError {
	if !slices.Contains(api.IncidentStatuses, req.Status) {
		return invalid(prefix+"status", "%sstatus %q is not one of %s", prefix, req.Status, joinQuoted(api.IncidentStatuses))
	}
	if err := validateText(prefix+"body", req.Body, true, api.MaxUpdateBodyLength, true); err != nil {
		return err
	}
	if t := req.CreatedAt; t != nil {
		if t.Before(earliestUpdate) || t.After(now.Add(maxClockSkew)) {
			return invalid(prefix+"created_at", "%screated_at %s is not between %s and the server's time (%s) plus %s",
				prefix, t.Format(time.RFC3339), earliestUpdate.Format(time.RFC3339), now.UTC().Format(time.RFC3339), maxClockSkew)
		}
	}
	if n := len(req.Components); n > api.MaxComponents {
		return &apiError{status: http.StatusUnprocessableEntity, code: api.CodeLimitExceeded, field: prefix + "components",
			message: fmt.Sprintf("%d components in one update; the limit is %d", n, api.MaxComponents)}
	}
	seen := make(map[string]bool, len(req.Components))
	for i, c := range req.Components {
		field := fmt.Sprintf("%scomponents[%d]", prefix, i)
		if err := validateID(field+".id", c.ID); err != nil {
			return err
		}
		if seen[c.ID] {
			return invalid(field+".id", "component %q appears twice in one update", c.ID)
		}
		seen[c.ID] = true
		if err := validateComponentStatus(field+".status", c.Status, true); err != nil {
			return err
		}
	}
	return nil
}

func validatePostmortemRequest(req *api.PostmortemRequest) *apiError {
	return validateText("body", req.Body, true, api.MaxPostmortemLength, true)
}

func joinQuoted[T ~string](values []T) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
