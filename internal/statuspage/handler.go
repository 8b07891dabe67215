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
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// handler routes the public reads, the health check and the write API. Reads are matched
// first and by one map lookup, because they are the hot path.
type handler struct {
	page *Page
	auth authenticator
	log  *slog.Logger
}

// NewHandler serves page: public reads to everyone, the write API under /api/v1 to holders
// of the admin token, which writes everything.
func NewHandler(page *Page, adminToken string, log *slog.Logger) http.Handler {
	return NewScopedHandler(page, Tokens{Admin: adminToken}, log)
}

// NewScopedHandler serves page: public reads to everyone, the write API under /api/v1 to
// holders of tokens: the admin token writes everything, a namespace's token the incidents
// that namespace created (and nothing of the components).
func NewScopedHandler(page *Page, tokens Tokens, log *slog.Logger) http.Handler {
	return &handler{page: page, auth: newAuthenticator(tokens), log: log}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/api/v1/") || path == "/api/v1" {
		h.serveWrite(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = []string{"GET, HEAD"}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if path == "/healthz" {
		w.Header()["Cache-Control"] = []string{"no-store"}
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	snap := h.page.snap.Load()
	res := snap.routes[path]
	if res == nil {
		if id, ok := strings.CutPrefix(path, "/incidents/"); ok && snap.incidents[id] != nil {
			h.page.serveIncident(w, r, snap.incidents[id])
			return
		}
		res = snap.notFound
	}
	res.serve(w, r)
}

// serveWrite serves /api/v1: authenticate, route, decode, apply, answer in JSON.
func (h *handler) serveWrite(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	sc, ok := h.auth.identify(r)
	defer func() {
		// Logs the request line and outcome only: never headers, so never the token.
		level := slog.LevelDebug
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case rec.status < 300 && r.Method != http.MethodGet:
			level = slog.LevelInfo
		}
		who := "none"
		if ok {
			who = sc.String()
		}
		h.log.Log(r.Context(), level, "write API", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"as", who, "duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	}()
	w = rec
	w.Header()["Cache-Control"] = []string{"no-store"}
	if !ok {
		w.Header()["Www-Authenticate"] = []string{`Bearer realm="firescope-statuspage"`}
		writeError(w, &apiError{status: http.StatusUnauthorized, code: api.CodeUnauthorized,
			message: "missing or wrong bearer token: send Authorization: Bearer <token>"})
		return
	}
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/")
	switch {
	case len(seg) == 1 && seg[0] == "components":
		h.route(w, r, map[string]func(){
			http.MethodGet: func() { writeJSON(w, http.StatusOK, h.page.Components()) },
		})
	case len(seg) == 2 && seg[0] == "components":
		id := seg[1]
		if r.Method != http.MethodGet && !sc.admin {
			writeError(w, &apiError{status: http.StatusForbidden, code: api.CodeForbidden,
				message: "components belong to the whole page: change them with the admin token, not a namespace's"})
			return
		}
		h.route(w, r, map[string]func(){
			http.MethodGet: func() {
				for _, c := range h.page.Components() {
					if c.ID == id {
						writeJSON(w, http.StatusOK, c)
						return
					}
				}
				writeError(w, notFound("component", id))
			},
			http.MethodPut: func() {
				var req api.ComponentRequest
				if err := decodeBody(w, r, &req); err != nil {
					writeError(w, err)
					return
				}
				c, created, err := h.page.PutComponent(id, req)
				respond(w, c, created, "/api/v1/components/"+id, err)
			},
			http.MethodDelete: func() {
				if err := h.page.DeleteComponent(id); err != nil {
					writeError(w, err)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			},
		})
	case len(seg) == 2 && seg[0] == "incidents":
		id := seg[1]
		h.route(w, r, map[string]func(){
			http.MethodGet: func() {
				inc, err := h.page.incident(sc, id)
				respond(w, inc, false, "", err)
			},
			http.MethodPut: func() {
				var req api.IncidentRequest
				if err := decodeBody(w, r, &req); err != nil {
					writeError(w, err)
					return
				}
				inc, created, err := h.page.putIncident(sc, id, req)
				respond(w, inc, created, "/api/v1/incidents/"+id, err)
			},
			http.MethodDelete: func() {
				if err := h.page.deleteIncident(sc, id); err != nil {
					writeError(w, err)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			},
		})
	case len(seg) == 3 && seg[0] == "incidents" && seg[2] == "postmortem":
		id := seg[1]
		h.route(w, r, map[string]func(){
			http.MethodGet: func() {
				pm, err := h.page.postmortem(sc, id)
				respond(w, pm, false, "", err)
			},
			http.MethodPut: func() {
				var req api.PostmortemRequest
				if err := decodeBodyUpTo(w, r, &req, api.MaxPostmortemBodyBytes); err != nil {
					writeError(w, err)
					return
				}
				pm, created, err := h.page.putPostmortem(sc, id, req)
				respond(w, pm, created, "/api/v1/incidents/"+id+"/postmortem", err)
			},
		})
	case len(seg) == 4 && seg[0] == "incidents" && seg[2] == "updates":
		id, updateID := seg[1], seg[3]
		h.route(w, r, map[string]func(){
			http.MethodPut: func() {
				var req api.UpdateRequest
				if err := decodeBody(w, r, &req); err != nil {
					writeError(w, err)
					return
				}
				u, created, err := h.page.putUpdate(sc, id, updateID, req)
				respond(w, u, created, "/api/v1/incidents/"+id+"/updates/"+updateID, err)
			},
			http.MethodPatch: func() {
				var req api.UpdateEdit
				if err := decodeBody(w, r, &req); err != nil {
					writeError(w, err)
					return
				}
				u, err := h.page.editUpdate(sc, id, updateID, req)
				respond(w, u, false, "", err)
			},
		})
	case seg[0] == "metrics" && len(seg) <= 2:
		h.serveMetrics(w, r, sc, seg[1:])
	case len(seg) == 2 && seg[0] == "maintenances":
		h.serveMaintenance(w, r, sc, seg[1])
	default:
		writeError(w, &apiError{status: http.StatusNotFound, code: api.CodeNotFound,
			message: "no such endpoint: " + r.URL.Path + " (see docs/statuspage.md for the API)"})
	}
}

func (h *handler) route(w http.ResponseWriter, r *http.Request, methods map[string]func()) {
	if f, ok := methods[r.Method]; ok {
		f()
		return
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if methods[m] != nil {
			allowed = append(allowed, m)
		}
	}
	w.Header()["Allow"] = []string{strings.Join(allowed, ", ")}
	writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: api.CodeMethodNotAllowed,
		message: r.Method + " is not allowed here; allowed: " + strings.Join(allowed, ", ")})
}

func notFound(kind, id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: api.CodeNotFound, message: kind + " " + jsonQuote(id) + " does not exist"}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// respond answers a PUT: 201 with Location for a new resource, 200 for a change or a replay.
func respond(w http.ResponseWriter, v any, created bool, location string, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		w.Header()["Location"] = []string{location}
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := errors.AsType[*apiError](err)
	if !ok {
		e = &apiError{status: http.StatusInternalServerError, code: api.CodeInternal, message: err.Error()}
	}
	if e.retryAfter > 0 {
		w.Header()["Retry-After"] = []string{strconv.Itoa(int(e.retryAfter.Seconds()))}
	}
	writeJSON(w, e.status, api.ErrorBody{Error: api.ErrorDetail{Code: e.code, Message: e.message, Field: e.field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"cannot encode the response"}}`)
	}
	w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
	w.Header()["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}
