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

package mattermost_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/mock/mattermost"
)

func post(t *testing.T, u, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			ID         string `json:"id"`
			Message    string `json:"message"`
			StatusCode int    `json:"status_code"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.ID == "" || e.StatusCode != resp.StatusCode {
			t.Errorf("error answer %q is not Mattermost's error object", b)
		}
		return resp.StatusCode, e.ID
	}
	return resp.StatusCode, string(b)
}

func TestTheFakeAnswersLikeMattermost(t *testing.T) {
	cases := []struct {
		name, path, contentType, body string
		status                        int
		answer                        string
	}{
		{"text", "", "application/json", `{"text":"IC -> ricardo"}`, 200, "ok"},
		{"everything documented", "", "application/json", `{"text":"x","username":"firescope","icon_url":"https://x/i.png","channel":"ops","props":{"a":1},"type":"custom_x","priority":{"priority":"urgent"}}`, 200, "ok"},
		{"form payload", "", "application/x-www-form-urlencoded", "payload=" + url.QueryEscape(`{"text":"from a form"}`), 200, "ok"},
		{"attachments only", "", "application/json", `{"attachments":[{"text":"x"}]}`, 200, "ok"},
		{"not JSON", "", "application/json", "{", 400, "web.incoming_webhook.parse.app_error"},
		{"text not a string", "", "application/json", `{"text":5}`, 400, "web.incoming_webhook.parse.app_error"},
		{"props not an object", "", "application/json", `{"text":"x","props":[1]}`, 400, "web.incoming_webhook.parse.app_error"},
		{"no text", "", "application/json", `{"text":"  "}`, 400, "web.incoming_webhook.text.app_error"},
		{"unknown channel", "", "application/json", `{"text":"x","channel":"nowhere"}`, 404, "web.incoming_webhook.channel.app_error"},
		{"unknown webhook", "/hooks/other", "application/json", `{"text":"x"}`, 400, "web.incoming_webhook.invalid.app_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mattermost.New("ops")
			defer s.Close()
			u := s.WebhookURL()
			if tc.path != "" {
				u = s.URL + tc.path
			}
			status, answer := post(t, u, tc.contentType, tc.body)
			if status != tc.status || answer != tc.answer {
				t.Errorf("answer = %d %q, want %d %q", status, answer, tc.status, tc.answer)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.status == 200]; len(s.Messages()) != want {
				t.Errorf("%d messages, want %d", len(s.Messages()), want)
			}
		})
	}
}

func TestInjectedFailuresCarryMattermostsErrors(t *testing.T) {
	s := mattermost.New()
	defer s.Close()
	s.FailNext(1, http.StatusTooManyRequests, 3*time.Second)
	resp, err := http.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), `"status_code":429`) {
		t.Errorf("answer %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}
