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

package slack_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/mock/slack"
)

func send(t *testing.T, s *slack.Server, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.WebhookURL(), contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTheFakeAnswersLikeSlack(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int
		answer                  string
	}{
		{"text", "application/json", `{"text":"@all: Incident Confirmed"}`, 200, "ok"},
		{"blocks only", "application/json", `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]}`, 200, "ok"},
		{"form payload", "application/x-www-form-urlencoded", "payload=" + url.QueryEscape(`{"text":"from a form"}`), 200, "ok"},
		{"not JSON", "application/json", "{", 400, "invalid_payload"},
		{"no text", "application/json", `{"text":"  "}`, 400, "no_text"},
		{"empty object", "application/json", `{}`, 400, "no_text"},
		{"blocks not a list", "application/json", `{"blocks":{}}`, 400, "invalid_blocks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := slack.New()
			defer s.Close()
			status, answer := send(t, s, tc.contentType, tc.body)
			if status != tc.status || answer != tc.answer {
				t.Errorf("answer = %d %q, want %d %q", status, answer, tc.status, tc.answer)
			}
			if wantMsgs := map[bool]int{true: 1, false: 0}[tc.status == 200]; len(s.Messages()) != wantMsgs {
				t.Errorf("%d messages, want %d", len(s.Messages()), wantMsgs)
			}
		})
	}
}

func TestInjectedFailuresCarrySlacksErrorCodes(t *testing.T) {
	for status, code := range map[int]string{400: "invalid_payload", 403: "action_prohibited", 404: "channel_not_found", 410: "channel_is_archived", 429: "rate_limited", 500: "rollup_error"} {
		s := slack.New()
		s.FailNext(1, status, 0)
		got, answer := send(t, s, "application/json", `{"text":"x"}`)
		s.Close()
		if got != status || answer != code {
			t.Errorf("FailNext(%d): answer %d %q, want %q", status, got, answer, code)
		}
	}
}

func TestMessagesShowSlackEntitiesAsCharacters(t *testing.T) {
	s := slack.New()
	defer s.Close()
	send(t, s, "application/json", `{"text":"@all: IC -&gt; ricardo &amp; &lt;chris&gt;"}`)
	if got := s.Texts(); len(got) != 1 || got[0] != "@all: IC -> ricardo & <chris>" {
		t.Errorf("texts = %q", got)
	}
}
