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
	"testing"
)

func TestTheFakeAddsMetricDataAsTheDocumentDescribes(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddMetric("mtr0avail001")
	data := "/v1/pages/" + PageID + "/metrics/mtr0avail001/data"
	cases := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"a point", data, `{"data":{"timestamp":1764756000,"value":99.5}}`, http.StatusCreated, ""},
		{"the same timestamp again replaces it", data, `{"data":{"timestamp":1764756000,"value":97}}`, http.StatusCreated, ""},
		{"a later point", data, `{"data":{"timestamp":1764756030,"value":93.25}}`, http.StatusCreated, ""},
		{"a value that is not a number", data, `{"data":{"timestamp":1764756060,"value":"97"}}`, http.StatusBadRequest, "'data.value'"},
		{"a timestamp that is not an integer", data, `{"data":{"timestamp":1764756060.5,"value":97}}`, http.StatusBadRequest, "'data.timestamp'"},
		{"no data", data, `{}`, http.StatusBadRequest, "data"},
		{"no timestamp", data, `{"data":{"value":97}}`, http.StatusUnprocessableEntity, "timestamp"},
		{"an unknown metric", "/v1/pages/" + PageID + "/metrics/nosuchmetric/data", `{"data":{"timestamp":1764756000,"value":1}}`, http.StatusNotFound, ""},
		{"another page", "/v1/pages/otherpage000/metrics/mtr0avail001/data", `{"data":{"timestamp":1764756000,"value":1}}`, http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, APIKey, http.MethodPost, tc.path, tc.body)
			if a.status != tc.status || (tc.want != "" && !strings.Contains(string(a.body), tc.want)) {
				t.Fatalf("answered %d %s; want %d naming %q", a.status, a.body, tc.status, tc.want)
			}
		})
	}
	got := s.MetricPoints("mtr0avail001")
	if len(got) != 2 || got[0] != (MetricPoint{Timestamp: 1764756000, Value: 97}) || got[1] != (MetricPoint{Timestamp: 1764756030, Value: 93.25}) {
		t.Fatalf("points = %+v", got)
	}
	if a := call(t, s, "wrong-key", http.MethodPost, data, `{"data":{"timestamp":1764756090,"value":1}}`); a.status != http.StatusUnauthorized {
		t.Fatalf("a wrong key answered %d", a.status)
	}
}
