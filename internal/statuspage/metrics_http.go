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

	"firescope.dev/firescope/internal/statuspage/api"
)

// serveMetrics serves /api/v1/metrics (the metrics sc may write) and /api/v1/metrics/{id}.
func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request, sc scope, rest []string) {
	if len(rest) == 0 {
		h.route(w, r, map[string]func(){
			http.MethodGet: func() { writeJSON(w, http.StatusOK, h.page.listMetrics(sc)) },
		})
		return
	}
	id := rest[0]
	h.route(w, r, map[string]func(){
		http.MethodGet: func() {
			m, err := h.page.metric(sc, id)
			respond(w, m, false, "", err)
		},
		http.MethodPut: func() {
			var req api.MetricRequest
			if err := decodeBody(w, r, &req); err != nil {
				writeError(w, err)
				return
			}
			m, created, err := h.page.putMetric(sc, id, req)
			respond(w, m, created, "/api/v1/metrics/"+id, err)
		},
		http.MethodDelete: func() {
			if err := h.page.deleteMetric(sc, id); err != nil {
				writeError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		},
	})
}
