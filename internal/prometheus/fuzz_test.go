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

package prometheus

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// FuzzDecode: whatever a server answers, decode returns a finite number or a classified
// error, and never panics.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"99.5"]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"+Inf"]}]}}`,
		`{"status":"error","errorType":"bad_data"}`,
		`{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`,
		`[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := decode(bytes.NewReader(body))
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Reason == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("decoded %v", v)
		}
	})
}
