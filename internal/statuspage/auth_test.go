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
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/statuspage/api"
)

const (
	paymentsToken = "payments-token-0123456789"
	searchToken   = "search-token-0123456789"
)

// newScopedServer serves a page with the admin token and the tokens of two namespaces,
// payments and search.
func newScopedServer(t *testing.T, p *Page) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(NewScopedHandler(p, Tokens{Admin: testToken,
		Namespaces: map[string]string{"payments": paymentsToken, "search": searchToken}}, log))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{Server: srv, page: p, logs: logs, transport: tr}
}

// The attack: with one shared token, any namespace's publisher could rewrite every team's
// public incidents. With a token per namespace, search's token can neither change nor read
// what payments published, whatever the endpoint.
func TestANamespacesTokenCannotTouchAnotherNamespacesIncident(t *testing.T) {
	p, _ := newTestPage(t)
	s := newScopedServer(t, p)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	as := func(token, method, path, body string) response {
		return s.do(t, method, path, token, []byte(body))
	}
	if r := as(paymentsToken, http.MethodPut, "/api/v1/incidents/pay-1", `{"name":"Card payments failing","impact":"major","update":{"id":"u1","status":"investigating","body":"We are looking into failed card payments."}}`); r.status != http.StatusCreated {
		t.Fatalf("payments creating its incident = %d %s", r.status, r.body)
	}
	if r := as(paymentsToken, http.MethodPut, "/api/v1/incidents/pay-1/postmortem", `{"body":"Private draft."}`); r.status != http.StatusCreated {
		t.Fatalf("payments drafting its post-mortem = %d %s", r.status, r.body)
	}
	before := s.get(t, "/incidents/pay-1").body

	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPut, "/api/v1/incidents/pay-1", `{"name":"All fine, ignore this","impact":"none"}`},
		{http.MethodPut, "/api/v1/incidents/pay-1", `{"name":"Card payments failing","impact":"major","update":{"id":"u2","status":"resolved","body":"Resolved, nothing to see."}}`},
		{http.MethodPut, "/api/v1/incidents/pay-1/updates/u2", `{"status":"resolved","body":"Resolved, nothing to see."}`},
		{http.MethodPatch, "/api/v1/incidents/pay-1/updates/u1", `{"body":"Nothing happened."}`},
		{http.MethodPut, "/api/v1/incidents/pay-1/postmortem", `{"body":"It was search's fault.","published":true}`},
		{http.MethodDelete, "/api/v1/incidents/pay-1", ``},
		{http.MethodGet, "/api/v1/incidents/pay-1", ``},
		{http.MethodGet, "/api/v1/incidents/pay-1/postmortem", ``},
		{http.MethodPut, "/api/v1/components/api", `{"name":"API","status":"major_outage"}`},
		{http.MethodDelete, "/api/v1/components/api", ``},
	} {
		r := as(searchToken, tc.method, tc.path, tc.body)
		e := wantError(t, r, http.StatusForbidden, api.CodeForbidden)
		if strings.Contains(string(r.body), "Private draft") {
			t.Errorf("%s %s: the refusal shows the draft", tc.method, tc.path)
		}
		if tc.path != "/api/v1/components/api" && !strings.Contains(e.Message, "another namespace") {
			t.Errorf("%s %s: message %q does not say why", tc.method, tc.path, e.Message)
		}
	}
	if after := s.get(t, "/incidents/pay-1").body; !bytes.Equal(after, before) {
		t.Error("search's token changed payments' incident page")
	}
	inc, _ := p.Incident("pay-1")
	pm, _ := p.Postmortem("pay-1")
	if inc.Name != "Card payments failing" || len(inc.Updates) != 1 || inc.Updates[0].Body != "We are looking into failed card payments." || pm.Draft != "Private draft." || pm.Published {
		t.Errorf("after search's attempts: %+v, post-mortem %+v", inc, pm)
	}

	// Each namespace still writes its own, and the admin writes everything.
	if r := as(searchToken, http.MethodPut, "/api/v1/incidents/search-1", `{"name":"Slow search","impact":"minor","update":{"id":"u1","status":"investigating","body":"Slow.","components":[{"id":"api","status":"degraded_performance"}]}}`); r.status != http.StatusCreated {
		t.Errorf("search creating its own incident = %d %s", r.status, r.body)
	}
	wantError(t, as(paymentsToken, http.MethodPatch, "/api/v1/incidents/search-1/updates/u1", `{"body":"x"}`), http.StatusForbidden, api.CodeForbidden)
	if r := as(paymentsToken, http.MethodPatch, "/api/v1/incidents/pay-1/updates/u1", `{"body":"We are looking into failed card payments in Europe."}`); r.status != http.StatusOK {
		t.Errorf("payments correcting its own update = %d %s", r.status, r.body)
	}
	if r := as(testToken, http.MethodPut, "/api/v1/incidents/pay-1/updates/u3", `{"status":"monitoring","body":"A fix is out."}`); r.status != http.StatusCreated {
		t.Errorf("the admin posting to payments' incident = %d %s", r.status, r.body)
	}
	if r := as(testToken, http.MethodDelete, "/api/v1/incidents/search-1", ``); r.status != http.StatusNoContent {
		t.Errorf("the admin deleting search's incident = %d %s", r.status, r.body)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "as=\"namespace search\"") || strings.Contains(logs, searchToken) {
		t.Errorf("the log does not name the writer's namespace, or shows a token:\n%s", logs)
	}
}

// An incident the admin created, or one stored before namespace tokens existed, belongs to
// no namespace: only the admin token changes it, also after a restart.
func TestAnIncidentWithoutANamespaceTakesOnlyTheAdminToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock()
	p := openTestPage(t, path, clock)
	if err := putIncident(t, p, "legacy", "Looking."); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.putIncident(scope{namespace: "payments"}, "pay-1", api.IncidentRequest{Name: "Payments", Impact: api.ImpactMinor}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	s := newScopedServer(t, openTestPage(t, path, clock))
	wantError(t, s.do(t, http.MethodPut, "/api/v1/incidents/legacy/updates/u1", paymentsToken, []byte(`{"status":"resolved","body":"Done."}`)), http.StatusForbidden, api.CodeForbidden)
	wantError(t, s.do(t, http.MethodPut, "/api/v1/incidents/pay-1/updates/u1", searchToken, []byte(`{"status":"resolved","body":"Done."}`)), http.StatusForbidden, api.CodeForbidden)
	if r := s.do(t, http.MethodPut, "/api/v1/incidents/pay-1/updates/u1", paymentsToken, []byte(`{"status":"resolved","body":"Done."}`)); r.status != http.StatusCreated {
		t.Errorf("payments after the restart = %d %s", r.status, r.body)
	}
	if r := s.do(t, http.MethodPut, "/api/v1/incidents/legacy/updates/u1", testToken, []byte(`{"status":"resolved","body":"Done."}`)); r.status != http.StatusCreated {
		t.Errorf("the admin on the legacy incident = %d %s", r.status, r.body)
	}
}

func TestTokensComeFromAMountedSecret(t *testing.T) {
	// A Secret mounted as a volume: each key a link into a timestamped directory.
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_12_03_08_00_00.123")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for ns, token := range map[string]string{"payments": paymentsToken + "\n", "search": searchToken} {
		if err := os.WriteFile(filepath.Join(data, ns), []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", ns), filepath.Join(dir, ns)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]string{"--tokens-dir", dir}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tokens.Namespaces) != 2 || cfg.Tokens.Namespaces["payments"] != paymentsToken || cfg.Tokens.Namespaces["search"] != searchToken || cfg.Tokens.Admin != "" {
		t.Errorf("tokens: %d namespaces, admin set %v", len(cfg.Tokens.Namespaces), cfg.Tokens.Admin != "")
	}
	cfg, err = ParseConfig([]string{"--tokens-dir", dir}, env(map[string]string{EnvToken: "admin-token-0123456789"}), io.Discard)
	if err != nil || cfg.Tokens.Admin != "admin-token-0123456789" || len(cfg.Tokens.Namespaces) != 2 {
		t.Errorf("tokens with an admin token: %v", err)
	}
}

func TestBadTokensDirectoriesAreRefusedWithTheReason(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		env   map[string]string
		want  string
	}{
		{"empty, and no admin token", nil, nil, "no write token"},
		{"not a namespace name", map[string]string{"Payments_Team": paymentsToken}, nil, "not a namespace name"},
		{"short token", map[string]string{"payments": "short"}, nil, `namespace "payments"`},
		{"two namespaces, one token", map[string]string{"payments": paymentsToken, "search": paymentsToken}, nil, "same token"},
		{"a namespace with the admin token", map[string]string{"payments": paymentsToken}, map[string]string{EnvToken: paymentsToken}, "same token as the admin token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, token := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(token), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ParseConfig([]string{"--tokens-dir", dir}, env(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789") {
				t.Errorf("the error shows a token: %v", err)
			}
		})
	}
	if _, err := ParseConfig([]string{"--tokens-dir", filepath.Join(t.TempDir(), "missing")}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "--tokens-dir") {
		t.Errorf("a missing directory: %v", err)
	}
}
