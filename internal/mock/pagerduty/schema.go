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

package pagerduty

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// openAPI is PagerDuty's published OpenAPI document of the Events API v2
// (PagerDuty/api-schema, reference/events-v2/openapiv3.json).
//
//go:embed testdata/pagerduty-events-v2-openapi.json
var openAPI []byte

var (
	schemaOnce sync.Once
	enqueue    *openapi3.Schema
	schemaErr  error
)

// enqueueSchema is the request body schema of POST /v2/enqueue.
func enqueueSchema() (*openapi3.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(openAPI)
		if err != nil {
			schemaErr = fmt.Errorf("loading the PagerDuty OpenAPI document: %w", err)
			return
		}
		// PagerDuty's own examples carry timestamps such as "2015-07-17T08:42:58.315+0000",
		// which PagerDuty takes but strict RFC 3339 does not.
		if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
			schemaErr = fmt.Errorf("the PagerDuty OpenAPI document is not valid: %w", err)
			return
		}
		item := doc.Paths.Find("/enqueue")
		if item == nil || item.Post == nil || item.Post.RequestBody == nil || item.Post.RequestBody.Value == nil {
			schemaErr = errors.New("the PagerDuty OpenAPI document has no POST /enqueue request body")
			return
		}
		mt := item.Post.RequestBody.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			schemaErr = errors.New("the PagerDuty OpenAPI document has no JSON schema for POST /enqueue")
			return
		}
		enqueue = mt.Schema.Value
	})
	return enqueue, schemaErr
}

// formats are the document's string formats as PagerDuty reads them: "url" (not a standard
// format) is anything that parses as a URL, and "date-time" is ISO 8601 with or without the
// colon in the zone offset, as in PagerDuty's own examples.
var formats = map[string]openapi3.StringFormatValidator{
	"url": openapi3.NewCallbackValidator(func(s string) error {
		if _, err := url.Parse(s); err != nil {
			return errors.New("not a URL")
		}
		return nil
	}),
	"date-time": openapi3.NewCallbackValidator(func(s string) error {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
			if _, err := time.Parse(layout, s); err == nil {
				return nil
			}
		}
		return errors.New("not an ISO 8601 date-time")
	}),
}

// Validate checks an Events API v2 request body (POST /v2/enqueue) the way PagerDuty does:
// against the request schema of PagerDuty's OpenAPI document, then the rules the document
// states in prose (a trigger needs a payload, acknowledge and resolve need a dedup_key, the
// routing key has 32 characters). It returns PagerDuty's error strings, nil if the event is
// valid.
func Validate(body map[string]any) []string {
	schema, err := enqueueSchema()
	if err != nil {
		return []string{err.Error()}
	}
	var errs []string
	if err := schema.VisitJSON(body, openapi3.MultiErrors(), openapi3.EnableFormatValidation(), openapi3.WithStringFormatValidators(formats), openapi3.VisitAsRequest()); err != nil {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				errs = append(errs, schemaMessage(e))
			}
		} else {
			errs = append(errs, schemaMessage(err))
		}
	}
	if key, ok := body["routing_key"].(string); ok && utf8.RuneCountInString(key) != 32 {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	switch body["event_action"] {
	case "trigger":
		p, ok := body["payload"].(map[string]any)
		if !ok {
			errs = append(errs, "'payload' is missing or blank")
			break
		}
		for _, f := range []string{"summary", "source"} {
			if s, _ := p[f].(string); strings.TrimSpace(s) == "" {
				errs = append(errs, fmt.Sprintf("'payload.%s' is missing or blank", f))
			}
		}
	case "acknowledge", "resolve":
		if k, _ := body["dedup_key"].(string); strings.TrimSpace(k) == "" {
			errs = append(errs, "'dedup_key' is missing or blank")
		}
	}
	if k, ok := body["dedup_key"].(string); ok && utf8.RuneCountInString(k) > 255 {
		errs = append(errs, "Length of 'dedup_key' is incorrect (should be at most 255 characters)")
	}
	return dedupe(errs)
}

func schemaMessage(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		path := strings.Join(se.JSONPointer(), ".")
		if path == "" {
			return se.Reason
		}
		return fmt.Sprintf("'%s': %s", path, se.Reason)
	}
	return err.Error()
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
