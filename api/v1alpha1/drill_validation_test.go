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

package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestAPIServerValidatesDrills(t *testing.T) {
	const scenario = `"scenario":{"inline":{"title":"EC2 API errors","injects":[{"at":"2m","type":"Note","message":"AWS confirms"}]}}`
	cases := []struct {
		name, spec string
		// message is a part of the API server's refusal; empty means the Drill is accepted.
		message string
	}{
		{"a scheduled drill with injects", `{` + scenario + `,"commander":"ricardo","schedule":"*/5 * * * *","startingDeadlineSeconds":60,"timeLimit":"15m"}`, ""},
		{"a one-off drill from a ConfigMap", `{"scenario":{"configMapRef":{"name":"ec2"}},"commander":"ricardo","timeLimit":"15m"}`, ""},
		{"an impact inject with its impact", `{"scenario":{"inline":{"title":"x","injects":[{"at":"0s","type":"Impact","message":"dynos","impact":{"description":"PX dynos cannot scale"}}]}},"commander":"r","timeLimit":"1m"}`, ""},
		{"both inline and a ConfigMap", `{"scenario":{"configMapRef":{"name":"ec2"},"inline":{"title":"x"}},"commander":"r","timeLimit":"15m"}`,
			"set exactly one of scenario.inline and scenario.configMapRef"},
		{"no scenario at all", `{"scenario":{},"commander":"r","timeLimit":"15m"}`,
			"set exactly one of scenario.inline and scenario.configMapRef"},
		{"an inject after the time limit", `{` + scenario + `,"commander":"r","timeLimit":"2m"}`,
			"every inject must play before timeLimit: raise timeLimit or move the inject earlier"},
		{"an impact inject without impact", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"Impact","message":"m"}]}},"commander":"r","timeLimit":"15m"}`,
			"an Impact inject needs impact"},
		{"impact on a note", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"Note","message":"m","impact":{"description":"d"}}]}},"commander":"r","timeLimit":"15m"}`,
			"impact is only for injects of type Impact"},
		{"an unknown inject type", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"Page","message":"m"}]}},"commander":"r","timeLimit":"15m"}`,
			`Unsupported value: "Page"`},
		{"an offset that is not a duration", `{"scenario":{"inline":{"title":"x","injects":[{"at":"five minutes","type":"Note","message":"m"}]}},"commander":"r","timeLimit":"15m"}`,
			"must be an offset from the start of the run, such as 0s, 90s, 5m or 1h30m"},
		{"a drill starting Resolved", `{"scenario":{"inline":{"title":"x","state":"Resolved"}},"commander":"r","timeLimit":"15m"}`,
			"a drill cannot start Resolved"},
		{"a deadline without a schedule", `{` + scenario + `,"commander":"r","startingDeadlineSeconds":60,"timeLimit":"15m"}`,
			"startingDeadlineSeconds applies only to a schedule"},
		{"a time limit of two days", `{` + scenario + `,"commander":"r","timeLimit":"48h"}`,
			"must be a duration between 1s and 24h"},
		{"no commander", `{` + scenario + `,"timeLimit":"15m"}`, `spec.commander: Required value`},
		{"a health signal inject with its value", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"HealthSignal","message":"availability drops to 97%","signal":{"name":"availability","value":"97"}}]}},"commander":"r","timeLimit":"15m"}`, ""},
		{"a health signal inject without a value", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"HealthSignal","message":"availability drops"}]}},"commander":"r","timeLimit":"15m"}`,
			"an inject of type HealthSignal needs signal"},
		{"a signal on a note", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"Note","message":"m","signal":{"name":"availability","value":"97"}}]}},"commander":"r","timeLimit":"15m"}`,
			"only such an inject has one"},
		{"a signal value that is not a number", `{"scenario":{"inline":{"title":"x","injects":[{"at":"1m","type":"HealthSignal","message":"m","signal":{"name":"availability","value":"97%"}}]}},"commander":"r","timeLimit":"15m"}`,
			"signal.value"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := fmt.Sprintf(`{"apiVersion":"firescope.dev/v1alpha1","kind":"Drill","metadata":{"name":"drill-%d","namespace":"default"},"spec":%s}`, i, tc.spec)
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			err := k8s.Create(context.Background(), u)
			switch {
			case tc.message == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.message != "" && err == nil:
				t.Fatalf("accepted; want a refusal saying %q", tc.message)
			case tc.message != "" && !strings.Contains(err.Error(), tc.message):
				t.Fatalf("refused with %v; want %q", err, tc.message)
			}
		})
	}
}

func TestAPIServerRefusesDrillNamesTooLongForTheirRuns(t *testing.T) {
	raw := fmt.Sprintf(`{"apiVersion":"firescope.dev/v1alpha1","kind":"Drill","metadata":{"name":%q,"namespace":"default"},"spec":{"scenario":{"configMapRef":{"name":"x"}},"commander":"r","timeLimit":"1m"}}`, strings.Repeat("d", 231))
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	err := k8s.Create(context.Background(), u)
	if err == nil || !strings.Contains(err.Error(), "a Drill name is at most 230 characters") {
		t.Fatalf("got %v; want the name refused", err)
	}
}
