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

package mockhttp_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

func post(t *testing.T, url string) (*http.Response, error) {
	t.Helper()
	c := &http.Client{Timeout: 200 * time.Millisecond}
	return c.Post(url, "application/json", strings.NewReader(`{"text":"hi"}`))
}

func TestFaultsApplyInOrderThenTheHandlerAnswers(t *testing.T) {
	s := mockhttp.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mockhttp.WriteText(w, http.StatusOK, string(b))
	}), func(status int) (string, string) { return "text/plain", "vendor says " + http.StatusText(status) })
	defer s.Close()
	s.FailNext(2, 500, 0)
	s.FailNext(1, 429, 1500*time.Millisecond)
	s.DropNext(1)

	var got []string
	for range 4 {
		resp, err := post(t, s.URL+"/p")
		if err != nil {
			got = append(got, "dropped")
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got = append(got, resp.Status+"|"+resp.Header.Get("Retry-After")+"|"+string(b))
	}
	resp, err := post(t, s.URL+"/p")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	got = append(got, resp.Status+"|"+string(b))

	want := []string{
		"500 Internal Server Error||vendor says Internal Server Error",
		"500 Internal Server Error||vendor says Internal Server Error",
		"429 Too Many Requests|2|vendor says Too Many Requests",
		"dropped",
		`200 OK|{"text":"hi"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("answers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	reqs := s.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests recorded, want 5", len(reqs))
	}
	statuses := []int{500, 500, 429, 0, 200}
	for i, r := range reqs {
		if r.Status != statuses[i] || r.Method != http.MethodPost || r.Path != "/p" || r.JSON["text"] != "hi" || r.At.IsZero() ||
			r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d = %+v, want status %d", i, r, statuses[i])
		}
	}
}

func TestDelayMakesAnImpatientClientTimeOut(t *testing.T) {
	s := mockhttp.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil)
	defer s.Close()
	s.Delay(5 * time.Second)
	if _, err := post(t, s.URL); err == nil {
		t.Fatal("want a timeout")
	}
	s.Delay(0)
	resp, err := post(t, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

func TestResetForgetsRequestsAndFaults(t *testing.T) {
	s := mockhttp.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil)
	defer s.Close()
	s.FailNext(1, 500, 0)
	s.Reset()
	resp, err := post(t, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || len(s.Requests()) != 1 {
		t.Errorf("status %d with %d requests, want 200 and 1", resp.StatusCode, len(s.Requests()))
	}
}
