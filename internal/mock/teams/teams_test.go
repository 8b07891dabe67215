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

package teams_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/mock/teams"
)

func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
			t.Errorf("error answer %q is not an Azure error object", b)
		}
		return resp.StatusCode, e.Error.Code
	}
	return resp.StatusCode, string(b)
}

func message(card string) string {
	return `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":` + card + `}]}`
}

func TestTheFakeTakesWhatTheWorkflowPosts(t *testing.T) {
	text := `{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"IC -> ricardo","wrap":true}]}`
	rich := `{"type":"AdaptiveCard","version":"1.5","body":[{"type":"RichTextBlock","inlines":[{"type":"TextRun","text":"Sitrep 1"}]}]}`
	cases := []struct {
		name, contentType, body string
		status                  int
		answer                  string
	}{
		{"text block", "application/json", message(text), 202, ""},
		{"rich text", "application/json; charset=utf-8", message(rich), 202, ""},
		{"not JSON", "application/json", "{", 400, "InvalidRequestContent"},
		{"not JSON content", "text/plain", message(text), 400, "InvalidRequestContent"},
		{"no attachments", "application/json", `{"type":"message","attachments":[]}`, 400, "InvalidRequestContent"},
		{"wrong content type", "application/json", strings.Replace(message(text), "card.adaptive", "card.hero", 1), 400, "InvalidRequestContent"},
		{"a MessageCard", "application/json", `{"@type":"MessageCard","text":"hi"}`, 400, "InvalidRequestContent"},
		{"card without a version", "application/json", message(`{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"x"}]}`), 400, "InvalidRequestContent"},
		{"a version Teams does not render", "application/json", message(`{"type":"AdaptiveCard","version":"1.6","body":[{"type":"TextBlock","text":"x"}]}`), 400, "InvalidRequestContent"},
		{"card without a body", "application/json", message(`{"type":"AdaptiveCard","version":"1.4"}`), 400, "InvalidRequestContent"},
		{"not a card", "application/json", message(`{"type":"HeroCard","version":"1.4","body":[{"type":"TextBlock","text":"x"}]}`), 400, "InvalidRequestContent"},
		{"text block without text", "application/json", message(`{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock"}]}`), 400, "InvalidRequestContent"},
		{"too large", "application/json", message(`{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"` + strings.Repeat("x", teams.MaxMessageBytes) + `"}]}`), 413, "MessageTooLarge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := teams.New()
			defer s.Close()
			status, answer := post(t, s.WebhookURL(), tc.contentType, tc.body)
			if status != tc.status || answer != tc.answer {
				t.Errorf("answer = %d %q, want %d %q", status, answer, tc.status, tc.answer)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.status == 202]; len(s.Messages()) != want {
				t.Errorf("%d messages, want %d", len(s.Messages()), want)
			}
		})
	}
}

func TestTheFakeChecksTheSignatureAndPath(t *testing.T) {
	s := teams.New()
	defer s.Close()
	body := message(`{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"x"}]}`)
	for url, want := range map[string]int{
		strings.Replace(s.WebhookURL(), teams.Signature, "wrong", 1):                   401,
		strings.Split(s.WebhookURL(), "&sig=")[0]:                                      401,
		s.URL + "/workflows/other/triggers/manual/paths/invoke?sig=" + teams.Signature: 404,
	} {
		if status, _ := post(t, url, "application/json", body); status != want {
			t.Errorf("%s: %d, want %d", url, status, want)
		}
	}
	if len(s.Messages()) != 0 {
		t.Error("a refused request was posted")
	}
}

func TestThrottlingAnswers429WithRetryAfter(t *testing.T) {
	s := teams.New()
	defer s.Close()
	s.FailNext(1, http.StatusTooManyRequests, 7*time.Second)
	resp, err := http.Post(s.WebhookURL(), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("answer %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
