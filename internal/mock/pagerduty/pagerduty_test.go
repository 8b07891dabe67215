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

package pagerduty_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/mock/pagerduty"
)

const key = "e93facc04764012d7bfb002500d5d1a6"

type answer struct {
	Status, Message, DedupKey string
	Errors                    []string
	code                      int
}

func send(t *testing.T, url, body string) answer {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var a struct {
		Status   string   `json:"status"`
		Message  string   `json:"message"`
		DedupKey string   `json:"dedup_key"`
		Errors   []string `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return answer{a.Status, a.Message, a.DedupKey, a.Errors, resp.StatusCode}
}

func TestTheFakeAcceptsPagerDutysOwnExample(t *testing.T) {
	s := pagerduty.New()
	defer s.Close()
	// The example request of PagerDuty's OpenAPI document, timestamp format included.
	example := `{"payload":{"summary":"DISK at 99% on machine prod-datapipe03.example.com","timestamp":"2015-07-17T08:42:58.315+0000",
		"severity":"critical","source":"prod-datapipe03.example.com","component":"mysql","group":"prod-datapipe","class":"disk",
		"custom_details":{"free space":"1%","ping time":"1500ms","load avg":0.75}},"routing_key":"` + key + `","dedup_key":"srv01/mysql",
		"event_action":"trigger","client":"Sample Monitoring Service","client_url":"https://monitoring.service.com",
		"links":[{"href":"http://pagerduty.example.com","text":"An example link."}],
		"images":[{"src":"https://chart.googleapis.com/chart?chs=600x400","href":"https://google.com","alt":"An example link with an image"}]}`
	got := send(t, s.EventsURL(), example)
	if got.code != 202 || got.Status != "success" || got.Message != "Event processed" || got.DedupKey != "srv01/mysql" {
		t.Fatalf("answer = %+v", got)
	}
	if a := s.OpenAlerts(); len(a) != 1 || a[0].Source != "prod-datapipe03.example.com" {
		t.Errorf("open alerts = %+v", a)
	}
}

func TestTheFakeRefusesInvalidEventsLikePagerDuty(t *testing.T) {
	cases := []struct {
		name, body string
		status     string
		wantErr    string
	}{
		{"not JSON", "{", "Unrecognized object", "JSON parse error"},
		{"unknown action", `{"routing_key":"` + key + `","event_action":"page"}`, "invalid event", "'event_action': value is not one of the allowed values"},
		{"trigger without payload", `{"routing_key":"` + key + `","event_action":"trigger"}`, "invalid event", "'payload' is missing or blank"},
		{"bad severity", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"sev1"}}`, "invalid event", "'payload.severity'"},
		{"blank summary", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":" ","source":"x","severity":"info"}}`, "invalid event", "'payload.summary' is missing or blank"},
		{"bad timestamp", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","timestamp":"yesterday"}}`, "invalid event", "date-time"},
		{"link without href", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"},"links":[{"text":"t"}]}`, "invalid event", "href"},
		{"resolve without key", `{"routing_key":"` + key + `","event_action":"resolve"}`, "invalid event", "'dedup_key' is missing or blank"},
		{"short routing key", `{"routing_key":"abc","event_action":"resolve","dedup_key":"k"}`, "invalid event", "Length of 'routing_key' is incorrect (should be 32 characters)"},
		{"no routing key", `{"event_action":"resolve","dedup_key":"k"}`, "invalid event", "routing_key"},
		{"dedup key too long", `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"` + strings.Repeat("k", 256) + `"}`, "invalid event", "Length of 'dedup_key'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := pagerduty.New()
			defer s.Close()
			got := send(t, s.EventsURL(), tc.body)
			if got.code != 400 || got.Status != tc.status || !strings.Contains(strings.Join(got.Errors, "|"), tc.wantErr) {
				t.Errorf("answer = %+v, want 400 %q with an error containing %q", got, tc.status, tc.wantErr)
			}
			if len(s.Events()) != 0 || len(s.OpenAlerts()) != 0 {
				t.Error("an invalid event took effect")
			}
		})
	}
}

func TestTheFakeModelsAlertsByDedupKey(t *testing.T) {
	s := pagerduty.New()
	defer s.Close()
	trigger := `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"}}`
	made := send(t, s.EventsURL(), trigger)
	if made.code != 202 || len(made.DedupKey) != 32 {
		t.Fatalf("a trigger without a dedup_key should get one made up: %+v", made)
	}
	withKey := `{"routing_key":"` + key + `","event_action":"trigger","dedup_key":"k1","payload":{"summary":"s","source":"x","severity":"info"}}`
	send(t, s.EventsURL(), withKey)
	send(t, s.EventsURL(), withKey)
	send(t, s.EventsURL(), `{"routing_key":"`+key+`","event_action":"acknowledge","dedup_key":"k1"}`)
	open := s.OpenAlerts()
	if len(open) != 2 {
		t.Fatalf("open alerts = %+v, want 2", open)
	}
	for _, a := range open {
		if a.DedupKey == "k1" && (a.Triggers != 2 || a.Status != "acknowledged") {
			t.Errorf("k1 = %+v, want triggered twice and acknowledged", a)
		}
	}
	if got := send(t, s.EventsURL(), `{"routing_key":"`+key+`","event_action":"resolve","dedup_key":"k1"}`); got.code != 202 {
		t.Fatalf("resolve: %+v", got)
	}
	if got := send(t, s.EventsURL(), `{"routing_key":"`+key+`","event_action":"resolve","dedup_key":"never-opened"}`); got.code != 202 {
		t.Errorf("resolving an unknown key should be accepted like PagerDuty does: %+v", got)
	}
	if open := s.OpenAlerts(); len(open) != 1 || open[0].DedupKey != made.DedupKey {
		t.Errorf("open alerts = %+v", open)
	}
	if r := s.ResolvedAlerts(); len(r) != 1 || r[0].DedupKey != "k1" || r[0].Status != "resolved" {
		t.Errorf("resolved = %+v", r)
	}
	if n := len(s.Events()); n != 6 {
		t.Errorf("%d events recorded, want 6", n)
	}
}

func TestTheFakeServesOnlyTheEnqueueEndpoint(t *testing.T) {
	s := pagerduty.New()
	defer s.Close()
	if got := send(t, s.URL+"/enqueue", `{}`); got.code != 404 {
		t.Errorf("POST /enqueue = %d, want 404", got.code)
	}
	resp, err := http.Get(s.EventsURL())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET = %d, want 405", resp.StatusCode)
	}
}

func TestInjectedFailuresCarryPagerDutysErrorShape(t *testing.T) {
	s := pagerduty.New()
	defer s.Close()
	s.FailNext(1, 429, 0)
	s.FailNext(1, 500, 0)
	if got := send(t, s.EventsURL(), `{}`); got.code != 429 || got.Status != "throttle event" {
		t.Errorf("answer = %+v", got)
	}
	if got := send(t, s.EventsURL(), `{}`); got.code != 500 || got.Message == "" {
		t.Errorf("answer = %+v", got)
	}
}
