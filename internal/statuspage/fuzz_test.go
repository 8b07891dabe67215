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
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"firescope.dev/firescope/internal/statuspage/api"
)

// FuzzWriteRequestDecoding feeds arbitrary bodies to the write API's decoder and validators.
// Whatever comes in, the outcome is a clean 400 or 422, or a request that holds only valid
// text and survives a round trip through JSON unchanged. `go test` runs the seeds; run
// `go test -fuzz FuzzWriteRequestDecoding ./internal/statuspage` to search further.
func FuzzWriteRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"name":"API","description":"REST API","position":2,"status":"degraded_performance"}`,
		`{"name":"Errors","impact":"major","update":{"id":"u1","status":"investigating","body":"Looking.","components":[{"id":"api","status":"major_outage"}]}}`,
		`{"status":"resolved","body":"Fixed.\nThanks for your patience.","created_at":"2026-11-25T09:30:00Z"}`,
		`{"status":"identified","body":"<script>alert(1)</script>"}`,
		`{"body":"We are sorry.\n\n- Alert on disk errors","published":true}`,
		"{\"name\":\"bad \xff\"}",
		`{"name":"\ud800"}`,
		`{"name":"x"} trailing`,
		`{"body":"\u0000"}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err *apiError, v any, validate func() *apiError) {
			if err == nil {
				err = validate()
			}
			if err != nil {
				if err.status != 400 && err.status != 422 {
					t.Fatalf("status %d for %q", err.status, body)
				}
				if err.message == "" || err.code == "" {
					t.Fatalf("error without code or message for %q", body)
				}
				return
			}
			assertCleanText(t, reflect.ValueOf(v))
			again := reflect.New(reflect.TypeOf(v).Elem())
			data, mErr := json.Marshal(v)
			if mErr != nil {
				t.Fatal(mErr)
			}
			if dErr := decodeJSON(data, again.Interface()); dErr != nil {
				t.Fatalf("accepted %q but not its re-encoding %s: %v", body, data, dErr)
			}
			if !reflect.DeepEqual(normalizeTimes(v), normalizeTimes(again.Interface())) {
				t.Fatalf("round trip changed the request: %q -> %s", body, data)
			}
		}
		var c api.ComponentRequest
		check(decodeJSON(body, &c), &c, func() *apiError { return validateComponentRequest(&c) })
		var i api.IncidentRequest
		check(decodeJSON(body, &i), &i, func() *apiError { return validateIncidentRequest(&i, now) })
		var u api.UpdateRequest
		check(decodeJSON(body, &u), &u, func() *apiError { return validateUpdateRequest("", &u, now) })
		var pm api.PostmortemRequest
		check(decodeJSON(body, &pm), &pm, func() *apiError { return validatePostmortemRequest(&pm) })
	})
}

// assertCleanText checks every string in an accepted request: valid UTF-8 and no control
// characters other than line breaks and tabs.
func assertCleanText(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			assertCleanText(t, v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			assertCleanText(t, v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			assertCleanText(t, v.Index(i))
		}
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
				t.Fatalf("accepted control character %U in %q", r, s)
			}
		}
	}
}

// normalizeTimes makes equal instants compare equal whatever their location.
func normalizeTimes(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
