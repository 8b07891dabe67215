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
	"bufio"
	"compress/gzip"
	"net/http"
	"slices"
	"sync"
	"time"
)

// An incident's own page shows its whole history, which may be long (api.MaxIncidentBytes),
// so it is not kept rendered: keeping every incident's page would hold several times the
// page's data in memory. It is rendered per request from a frozen copy of the incident,
// streamed to the client, with an ETag that changes with the incident, so that a revalidation
// costs nothing and a CDN absorbs a read storm. Rendering copies no text: the memory of one
// render is a few pointers per update, and renderSlots bounds how many run at once.

const (
	// incidentRenderSlots is how many incident pages render at once.
	incidentRenderSlots = 4
	// renderWait is how long a request waits for a slot before it is told to retry.
	renderWait = 10 * time.Second
)

// publicIncident is a frozen copy of an incident: nothing in it changes after freeze, so
// reads use it without a lock.
type publicIncident struct {
	incidentPage
	// affected is every component the incident's updates set, newest mention first.
	affected []affectedComponent
	// charts are the incident's metrics as drawn when it was frozen (metrics_chart.go).
	charts []chartView
	etag   string
}

func freeze(inc *incidentState, etag string) *publicIncident {
	out := &publicIncident{incidentPage: incidentPage{rec: inc.rec, updates: slices.Clone(inc.updates), postmortem: inc.postmortem}, etag: etag}
	seen := map[string]bool{}
	for _, u := range slices.Backward(out.updates) {
		for _, c := range u.Components {
			if !seen[c.ID] {
				seen[c.ID] = true
				out.affected = append(out.affected, c)
			}
		}
	}
	return out
}

var gzipWriters = sync.Pool{New: func() any { zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return zw }}

// serveIncident renders an incident's page into the response, or answers 304.
func (p *Page) serveIncident(w http.ResponseWriter, r *http.Request, inc *publicIncident) {
	compress := acceptsGzip(r.Header["Accept-Encoding"])
	etag := inc.etag
	if compress {
		etag = etag[:len(etag)-1] + `-gzip"`
	}
	h := w.Header()
	h["Cache-Control"] = []string{cacheControl(http.StatusOK, p.info.CacheMaxAge)}
	h["Etag"] = []string{etag}
	h["Vary"] = []string{"Accept-Encoding"}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["Content-Security-Policy"] = []string{htmlCSP}
	h["Referrer-Policy"] = []string{"no-referrer"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	if compress {
		h["Content-Encoding"] = []string{"gzip"}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	select {
	case p.renderSlots <- struct{}{}:
		defer func() { <-p.renderSlots }()
	case <-r.Context().Done():
		return
	case <-time.After(renderWait):
		for _, k := range []string{"Etag", "Content-Encoding", "Content-Security-Policy"} {
			delete(h, k)
		}
		h["Cache-Control"] = []string{"no-store"}
		h["Retry-After"] = []string{"1"}
		http.Error(w, "busy: try again in a moment", http.StatusServiceUnavailable)
		return
	}
	view := incidentPageView{Title: inc.rec.Name + " · " + p.info.Name, Site: p.site(inc.rec.UpdatedAt), Incident: p.incidentView(inc, -1)}
	view.Incident.Postmortem = p.postmortemView(inc)
	view.Incident.Charts = inc.charts
	out := bufio.NewWriterSize(w, 32<<10)
	var zw *gzip.Writer
	if compress {
		zw = gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(zw)
		zw.Reset(w)
		out.Reset(zw)
	}
	// An error here is the client going away (the templates are covered by tests): the
	// response is cut short either way.
	if templates["incident"].ExecuteTemplate(out, "layout", view) == nil && out.Flush() == nil && zw != nil {
		_ = zw.Close()
	}
}
