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
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// openAPI is Atlassian's published OpenAPI document of the Statuspage management API v1, as
// mirrored in sbecker59/statuspage-api-client-go (api/v1/statuspage/api/openapi.yaml).
//
//go:embed testdata/statuspage-v1-openapi.yaml
var openAPI []byte

// apiBase is the document's server URL: the fake routes requests as if sent there.
const apiBase = "https://api.statuspage.io"

var (
	docOnce sync.Once
	doc     *openapi3.T
	router  routers.Router
	docErr  error
)

// document loads the OpenAPI document once, with three corrections of its generated schemas:
//   - Incident.metadata has type "Object", which is not a JSON Schema type; it is "object".
//   - Incident.postmortem_published_at, "The timestamp when the postmortem was published",
//     has type boolean (and its example the value true); it is a date-time string like
//     Postmortem.published_at.
//   - The components map of an incident ("Map of status changes to apply to affected
//     components") is written as one property literally named "component_id"; Statuspage
//     reads it as a map from any component id to a status, so the fake checks every value
//     against that property's enum.
func document() (*openapi3.T, routers.Router, error) {
	docOnce.Do(func() {
		d, err := openapi3.NewLoader().LoadFromData(openAPI)
		if err != nil {
			docErr = fmt.Errorf("loading the Statuspage OpenAPI document: %w", err)
			return
		}
		if err := correct(d); err != nil {
			docErr = err
			return
		}
		if err := d.Validate(context.Background()); err != nil {
			docErr = fmt.Errorf("the Statuspage OpenAPI document is not valid: %w", err)
			return
		}
		r, err := legacy.NewRouter(d)
		if err != nil {
			docErr = fmt.Errorf("routing the Statuspage OpenAPI document: %w", err)
			return
		}
		doc, router = d, r
	})
	return doc, router, docErr
}

func correct(d *openapi3.T) error {
	schema := func(name string) (*openapi3.Schema, error) {
		s := d.Components.Schemas[name]
		if s == nil || s.Value == nil {
			return nil, fmt.Errorf("the Statuspage OpenAPI document has no schema %q", name)
		}
		return s.Value, nil
	}
	inc, err := schema("Incident")
	if err != nil {
		return err
	}
	if md := inc.Properties["metadata"]; md != nil && md.Value != nil && md.Value.Type.Is("Object") {
		md.Value.Type = &openapi3.Types{openapi3.TypeObject}
	}
	if at := inc.Properties["postmortem_published_at"]; at != nil && at.Value != nil && at.Value.Type.Is(openapi3.TypeBoolean) {
		at.Value.Type, at.Value.Format = &openapi3.Types{openapi3.TypeString}, "date-time"
		if ex, ok := inc.Example.(map[string]any); ok {
			ex["postmortem_published_at"] = "2000-01-23T04:56:07.000+00:00"
		}
	}
	comps, err := schema("postPagesPageIdIncidents_incident_components")
	if err != nil {
		return err
	}
	if status := comps.Properties["component_id"]; status != nil {
		comps.AdditionalProperties = openapi3.AdditionalProperties{Schema: status}
		delete(comps.Properties, "component_id")
	}
	return nil
}

// route finds the document's operation for a request to the fake.
func route(r *http.Request) (*routers.Route, map[string]string, error) {
	_, rt, err := document()
	if err != nil {
		return nil, nil, err
	}
	u := *r.URL
	u.Scheme, u.Host = "https", strings.TrimPrefix(apiBase, "https://")
	rr := r.Clone(r.Context())
	rr.URL, rr.Host = &u, u.Host
	return rt.FindRoute(rr)
}

// validateRequest checks a request against its operation in the document: path and query
// parameters, and the JSON body against the request schema. It returns Statuspage-style
// messages, nil if the request is valid. Authentication is the handler's.
func validateRequest(r *http.Request, rt *routers.Route, params map[string]string, body []byte) []string {
	rr := r.Clone(r.Context())
	rr.Body = http.NoBody
	if len(body) > 0 {
		rr.Body = nopCloser{bytes.NewReader(body)}
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    rr,
		PathParams: params,
		Route:      rt,
		Options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
	}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		return dedupe(messages(err))
	}
	return nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// messages flattens kin-openapi's errors into one short line each: where, then what.
func messages(err error) []string {
	switch e := err.(type) { //nolint:errorlint // flattens kin-openapi's error tree one level at a time
	case openapi3.MultiError:
		var out []string
		for _, x := range e {
			out = append(out, messages(x)...)
		}
		return out
	case *openapi3filter.RequestError:
		where := "request body"
		if e.Parameter != nil {
			where = fmt.Sprintf("parameter '%s' in %s", e.Parameter.Name, e.Parameter.In)
		}
		if e.Err == nil {
			return []string{where + ": " + e.Reason}
		}
		var out []string
		for _, m := range messages(e.Err) {
			out = append(out, where+": "+m)
		}
		return out
	case *openapi3.SchemaError:
		if p := strings.Join(e.JSONPointer(), "."); p != "" {
			return []string{fmt.Sprintf("'%s' %s", p, e.Reason)}
		}
		return []string{e.Reason}
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return messages(se)
	}
	return []string{err.Error()}
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
