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
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// metricBody is a PUT /api/v1/metrics/{id} body: availability with thresholds, shown on
// incident "inc-1", with one point per minute from start, values as given.
func metricBody(start time.Time, values ...float64) api.MetricRequest {
	req := api.MetricRequest{Name: "Availability", Unit: "%", Incidents: []string{"inc-1"},
		Thresholds: &api.MetricThresholds{BadWhen: api.BadBelow, Degraded: 99.5, Down: 95}}
	for i, v := range values {
		req.Points = append(req.Points, api.MetricPoint{Timestamp: start.Add(time.Duration(i) * time.Minute), Value: v})
	}
	return req
}

func mustPutIncident(t *testing.T, p *Page, id string, at time.Time) {
	t.Helper()
	if _, _, err := p.PutIncident(id, api.IncidentRequest{Name: "Elevated API errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u1", Status: api.Investigating, Body: "We are investigating.", CreatedAt: &at}}); err != nil {
		t.Fatal(err)
	}
}

func TestAMetricPointSentAgainIsStoredOnceAndSurvivesAReopen(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "page.db")
	p := openTestPage(t, path, clock)
	start := clock.Now().Add(-10 * time.Minute)
	m, created, err := p.PutMetric("availability", metricBody(start, 99.9, 97.1, 93.4))
	if err != nil || !created || m.PointCount != 3 {
		t.Fatalf("first PUT = %+v, %v, %v; want a new metric of 3 points", m, created, err)
	}
	// The publisher re-sends after an unknown outcome, and the next reading carries the last.
	before := p.snap.Load().routes["/"]
	m, created, err = p.PutMetric("availability", metricBody(start, 99.9, 97.1, 93.4))
	if err != nil || created || m.PointCount != 3 || m.UpdatedAt != m.CreatedAt {
		t.Fatalf("replay = %+v, %v, %v; want the stored metric unchanged", m, created, err)
	}
	if p.snap.Load().routes["/"] != before {
		t.Error("a replay rendered the page again")
	}
	clock.Advance(time.Minute)
	next := metricBody(start.Add(2*time.Minute), 93.4, 96)
	if m, _, err = p.PutMetric("availability", next); err != nil || m.PointCount != 4 {
		t.Fatalf("overlapping PUT = %+v, %v; want 4 points", m, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTestPage(t, path, clock)
	got, ok := p.Metric("availability")
	if !ok || len(got.Points) != 4 || got.Points[3].Value != 96 || !got.Points[0].Timestamp.Equal(start) {
		t.Fatalf("after reopening, the metric is %+v", got)
	}
}

func TestMetricPointsAreBoundedByCountAndRetention(t *testing.T) {
	p, clock := newTestPage(t)
	start := clock.Now().Add(-api.MetricRetention + time.Hour)
	// Past the point limit, in requests of the largest size, the oldest go first.
	sent := 0
	for sent < api.MaxMetricPoints+api.MaxPointsPerRequest {
		req := api.MetricRequest{Name: "Latency", Unit: "ms"}
		for range api.MaxPointsPerRequest {
			req.Points = append(req.Points, api.MetricPoint{Timestamp: start.Add(time.Duration(sent) * time.Second), Value: float64(sent)})
			sent++
		}
		if _, _, err := p.PutMetric("latency", req); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := p.Metric("latency")
	if len(m.Points) != api.MaxMetricPoints || m.Points[0].Value != float64(sent-api.MaxMetricPoints) {
		t.Fatalf("the metric keeps %d points from %v; want the latest %d", len(m.Points), m.Points[0].Value, api.MaxMetricPoints)
	}
	// Two hours on, the points of the first hour are past the retention: the next write
	// drops them.
	clock.Advance(2 * time.Hour)
	if _, _, err := p.PutMetric("latency", api.MetricRequest{Name: "Latency", Unit: "ms",
		Points: []api.MetricPoint{{Timestamp: clock.Now(), Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	m, _ = p.Metric("latency")
	if oldest := m.Points[0].Timestamp; oldest.Before(clock.Now().Add(-api.MetricRetention)) {
		t.Errorf("the oldest point is from %s, past the retention", oldest)
	}
}

func TestTheMetricWriteAPIRefusesBadRequestsClearly(t *testing.T) {
	p, clock := newTestPage(t)
	s := newScopedServer(t, p)
	now := clock.Now().UTC()
	ts := now.Format(time.RFC3339)
	s.mustPut(t, "/api/v1/metrics/availability", `{"name":"Availability","points":[{"timestamp":"`+ts+`","value":99.9}]}`)
	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
		code, field, says               string
	}{
		{"no token", "", "PUT", "/api/v1/metrics/a", `{"name":"A"}`, 401, api.CodeUnauthorized, "", "bearer token"},
		{"bad id", testToken, "PUT", "/api/v1/metrics/-a", `{"name":"A"}`, 422, api.CodeInvalid, "id", "not a valid id"},
		{"no name", testToken, "PUT", "/api/v1/metrics/a", `{"unit":"%"}`, 422, api.CodeInvalid, "name", "name is required"},
		{"unknown field", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","colour":"red"}`, 400, api.CodeMalformedJSON, "", "unknown field"},
		{"not a number", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","points":[{"timestamp":"` + ts + `","value":"NaN"}]}`, 400, api.CodeMalformedJSON, "", "cannot unmarshal string"},
		{"too large", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","points":[{"timestamp":"` + ts + `","value":1e16}]}`, 422, api.CodeInvalid, "points[0].value", "out of range"},
		{"too old", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","points":[{"timestamp":"2020-01-01T00:00:00Z","value":1}]}`, 422, api.CodeInvalid, "points[0].timestamp", "retention"},
		{"in the future", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","points":[{"timestamp":"` + now.Add(time.Hour).Format(time.RFC3339) + `","value":1}]}`, 422, api.CodeInvalid, "points[0].timestamp", "plus 5m0s"},
		{"bad direction", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","thresholds":{"bad_when":"sideways","degraded":1,"down":2}}`, 422, api.CodeInvalid, "thresholds.bad_when", `"below", "above"`},
		{"down better than degraded", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","thresholds":{"bad_when":"below","degraded":95,"down":99}}`, 422, api.CodeInvalid, "thresholds.down", "at least as bad"},
		{"bad incident id", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","incidents":["a/b"]}`, 422, api.CodeInvalid, "incidents[0]", "not a valid id"},
		{"two values at one time", testToken, "PUT", "/api/v1/metrics/a", `{"name":"A","points":[{"timestamp":"` + ts + `","value":1},{"timestamp":"` + ts + `","value":2}]}`, 422, api.CodeInvalid, "points", "different values"},
		{"a stored point changed", testToken, "PUT", "/api/v1/metrics/availability", `{"name":"Availability","points":[{"timestamp":"` + ts + `","value":50}]}`, 409, api.CodeConflict, "", "already has the value 99.9"},
		{"another namespace's metric", searchToken, "PUT", "/api/v1/metrics/availability", `{"name":"Availability"}`, 403, api.CodeForbidden, "", "another namespace"},
		{"another namespace's metric, read", searchToken, "GET", "/api/v1/metrics/availability", ``, 403, api.CodeForbidden, "", "another namespace"},
		{"missing", testToken, "GET", "/api/v1/metrics/nope", ``, 404, api.CodeNotFound, "", "does not exist"},
		{"method", testToken, "POST", "/api/v1/metrics/availability", `{}`, 405, api.CodeMethodNotAllowed, "", "GET, PUT, DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, tc.token, []byte(tc.body))
			e := wantError(t, r, tc.status, tc.code)
			if e.Field != tc.field || !strings.Contains(e.Message, tc.says) {
				t.Errorf("error = %+v; want field %q and a message that says %q", e, tc.field, tc.says)
			}
		})
	}
	// Too many points in one request, and too many metrics on the page.
	var many []string
	for i := range api.MaxPointsPerRequest + 1 {
		many = append(many, fmt.Sprintf(`{"timestamp":"%s","value":1}`, now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339)))
	}
	e := wantError(t, s.put(t, "/api/v1/metrics/a", `{"name":"A","points":[`+strings.Join(many, ",")+`]}`), 422, api.CodeLimitExceeded)
	if e.Field != "points" || !strings.Contains(e.Message, "send them in several") {
		t.Errorf("too many points: %+v", e)
	}
	for i := 1; i < api.MaxMetrics; i++ {
		s.mustPut(t, fmt.Sprintf("/api/v1/metrics/m%d", i), `{"name":"M"}`)
	}
	e = wantError(t, s.put(t, "/api/v1/metrics/one-more", `{"name":"M"}`), 422, api.CodeLimitExceeded)
	if !strings.Contains(e.Message, "DELETE /api/v1/metrics/{id}") {
		t.Errorf("too many metrics: %+v", e)
	}
	if r := s.do(t, "DELETE", "/api/v1/metrics/m1", testToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	s.mustPut(t, "/api/v1/metrics/one-more", `{"name":"M"}`)
	// Nothing refused was stored.
	if m, _ := p.Metric("availability"); m.PointCount != 1 || m.Latest.Value != 99.9 {
		t.Errorf("after the refusals the metric is %+v", m)
	}
}

// svgDoc is a chart as the tests read it.
type svgDoc struct {
	Title string `xml:"title"`
	Desc  string `xml:"desc"`
	Role  string `xml:"role,attr"`
	Rects []struct {
		Class string `xml:"class,attr"`
	} `xml:"rect"`
	Texts []struct {
		Class string `xml:"class,attr"`
		Text  string `xml:",chardata"`
	} `xml:"text"`
	Paths []struct {
		D string `xml:"d,attr"`
	} `xml:"path"`
	Circles []struct {
		Class string `xml:"class,attr"`
	} `xml:"circle"`
}

func charts(t *testing.T, html []byte) []svgDoc {
	t.Helper()
	var out []svgDoc
	for _, m := range regexp.MustCompile(`(?s)<svg viewBox="0 0 640 180".*?</svg>`).FindAll(html, -1) {
		var d svgDoc
		if err := xml.Unmarshal(m, &d); err != nil {
			t.Fatalf("the chart is not well-formed SVG: %v\n%s", err, m)
		}
		out = append(out, d)
	}
	return out
}

func TestAnIncidentPageChartsItsMetricsOverItsWindow(t *testing.T) {
	p, clock := newTestPage(t)
	start := clock.Now()
	mustPutIncident(t, p, "inc-1", start)
	mustPutIncident(t, p, "inc-2", start)
	// A reading before the chart's lead, one in the lead, the incident's, and one after its
	// resolution: the chart shows the middle ones.
	req := metricBody(start.Add(-20*time.Minute), 99.9)
	req.Points = append(req.Points, metricBody(start.Add(-5*time.Minute), 99.8, 99.6, 99.2, 97, 94.5, 96.2, 99.1, 99.7).Points...)
	clock.Advance(10 * time.Minute)
	if _, _, err := p.PutMetric("availability", req); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.PutUpdate("inc-1", "u2", api.UpdateRequest{Status: api.Identified, Body: "A bad deploy; rolling back."}); err != nil {
		t.Fatal(err)
	}
	page := incidentHTML(p, "inc-1")
	cs := charts(t, page)
	if len(cs) != 1 {
		t.Fatalf("the incident page has %d charts, want 1", len(cs))
	}
	c := cs[0]
	if c.Role != "img" || c.Title != "Availability" {
		t.Errorf("the chart's role and title are %q, %q", c.Role, c.Title)
	}
	for _, want := range []string{"8 readings", "lowest 94.5%", "highest 99.8%", "Degraded at or below 99.5%, down at or below 95%", "Last reading 99.7%", "healthy."} {
		if !strings.Contains(c.Desc, want) {
			t.Errorf("the description lacks %q: %s", want, c.Desc)
		}
	}
	var classes, labels []string
	for _, r := range c.Rects {
		classes = append(classes, r.Class)
	}
	for _, tx := range c.Texts {
		labels = append(labels, tx.Text)
	}
	if strings.Join(classes, ",") != "band band-degraded,band band-down,frame" {
		t.Errorf("the rectangles are %v, want the degraded and down bands and the frame", classes)
	}
	for _, want := range []string{"Degraded below 99.5%", "Down below 95%", "96%|98%|100%", "Started", "09:26|09:28|09:30|09:32"} {
		if !strings.Contains(strings.Join(labels, "|"), want) {
			t.Errorf("the labels %q lack %q", labels, want)
		}
	}
	if len(c.Paths) != 1 || strings.Count(c.Paths[0].D, "M") != 1 || strings.Count(c.Paths[0].D, "L") != 7 {
		t.Errorf("the line is %+v, want one path through 8 points", c.Paths)
	}
	if len(c.Circles) != 1 || c.Circles[0].Class != "last st-healthy" {
		t.Errorf("the last reading's dot is %+v", c.Circles)
	}
	if !strings.Contains(string(page), `Last reading <strong>99.7%</strong>`) || !strings.Contains(string(page), `chart-state st-healthy">Healthy<`) {
		t.Error("the caption does not give the last reading and its state as text")
	}
	// Not on an incident the metric was not published for.
	if n := len(charts(t, incidentHTML(p, "inc-2"))); n != 0 {
		t.Errorf("the other incident's page has %d charts", n)
	}
	// On the front page while the incident is open, and in the JSON.
	if n := len(charts(t, p.snap.Load().routes["/"].plain.body)); n != 1 {
		t.Errorf("the front page has %d charts, want 1 (inc-1's)", n)
	}
	var doc v2MetricsDoc
	if err := json.Unmarshal(p.snap.Load().routes["/api/v2/metrics.json"].plain.body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Incidents) != 1 || doc.Incidents[0].ID != "inc-1" || len(doc.Incidents[0].Metrics[0].Points) != 8 || doc.Incidents[0].Metrics[0].State != "healthy" {
		t.Errorf("metrics.json = %+v", doc)
	}
	// A reading during a gap in publishing is drawn apart, not joined across the gap.
	clock.Advance(30 * time.Minute)
	if _, _, err := p.PutMetric("availability", metricBody(clock.Now(), 93)); err != nil {
		t.Fatal(err)
	}
	c = charts(t, incidentHTML(p, "inc-1"))[0]
	if strings.Count(c.Paths[0].D, "M") != 2 || c.Circles[0].Class != "last st-down" || !strings.Contains(c.Desc, "down.") {
		t.Errorf("after a gap and a reading of 93: path %s, dot %v, %s", c.Paths[0].D, c.Circles, c.Desc)
	}
	// Resolved, the incident leaves the front page and keeps its chart.
	if _, _, err := p.PutUpdate("inc-1", "u3", api.UpdateRequest{Status: api.Resolved, Body: "Resolved."}); err != nil {
		t.Fatal(err)
	}
	if n := len(charts(t, p.snap.Load().routes["/"].plain.body)); n != 0 {
		t.Errorf("the front page has %d charts with no incident open", n)
	}
	if n := len(charts(t, incidentHTML(p, "inc-1"))); n != 1 {
		t.Errorf("the resolved incident's page has %d charts, want 1", n)
	}
}

func TestTheStaticExportCarriesTheChartsAndTheirJSON(t *testing.T) {
	p, clock := newTestPage(t)
	mustPutIncident(t, p, "inc-1", clock.Now())
	clock.Advance(time.Minute)
	if _, _, err := p.PutMetric("availability", metricBody(clock.Now().Add(-time.Minute), 97.5, 96)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := p.Export(dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"incidents/inc-1/index.html": "Last reading <strong>96%</strong>",
		"index.html":                 "Last reading <strong>96%</strong>",
		"api/v2/metrics.json":        `"points":[{"timestamp":"2026-11-25T09:30:00Z","value":97.5},{"timestamp":"2026-11-25T09:31:00Z","value":96}]`,
	} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s (%v) lacks %s", file, err, want)
		}
	}
}

func TestChartAxesAndValuesReadAsAPersonWritesThem(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{99.95, "99.95"}, {99.9512, "99.95"}, {0, "0"}, {math.Copysign(0, -1), "0"}, {2.5, "2.5"}, {1250.4, "1250"}, {123.45, "123.5"}, {0.0004, "0.0004"}, {-3.1, "-3.1"}} {
		if got := formatValue(tc.v); got != tc.want {
			t.Errorf("formatValue(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{{92.08, 100.6, "[92.5 95 97.5 100]"}, {-0.4, 7.6, "[0 2 4 6]"}, {0, 1000, "[0 250 500 750 1000]"}} {
		if got := fmt.Sprint(valueTicks(tc.lo, tc.hi)); got != tc.want {
			t.Errorf("valueTicks(%v, %v) = %s, want %s", tc.lo, tc.hi, got, tc.want)
		}
	}
	at := func(s string) int64 { t, _ := time.Parse(time.RFC3339, s); return t.UnixMilli() }
	hhmm := func(ts []int64, loc *time.Location) string {
		var out []string
		for _, t := range ts {
			out = append(out, time.UnixMilli(t).In(loc).Format("15:04"))
		}
		return strings.Join(out, " ")
	}
	india, _ := time.LoadLocation("Asia/Kolkata")
	for _, tc := range []struct {
		from, to string
		loc      *time.Location
		want     string
	}{
		{"2026-11-25T09:03:10Z", "2026-11-25T09:58:00Z", time.UTC, "09:15 09:30 09:45"},
		{"2026-11-25T09:03:10Z", "2026-11-25T09:09:00Z", time.UTC, "09:04 09:06 09:08"},
		{"2026-11-25T01:00:00Z", "2026-11-25T13:00:00Z", time.UTC, "03:00 06:00 09:00 12:00"},
		// Round times on the reader's clock, not UTC's.
		{"2026-11-25T09:03:10Z", "2026-11-25T09:58:00Z", india, "14:45 15:00 15:15"},
	} {
		if got := hhmm(timeTicks(at(tc.from), at(tc.to), tc.loc), tc.loc); got != tc.want {
			t.Errorf("timeTicks(%s, %s, %s) = %s, want %s", tc.from, tc.to, tc.loc, got, tc.want)
		}
	}
	below := &api.MetricThresholds{BadWhen: api.BadBelow, Degraded: 99.5, Down: 95}
	above := &api.MetricThresholds{BadWhen: api.BadAbove, Degraded: 1, Down: 5}
	for _, tc := range []struct {
		t    *api.MetricThresholds
		v    float64
		want string
	}{{below, 99.9, "healthy"}, {below, 99.5, "degraded"}, {below, 95, "down"}, {above, 0.5, "healthy"}, {above, 1, "degraded"}, {above, 7, "down"}} {
		if got := metricState(tc.t, tc.v); got != tc.want {
			t.Errorf("metricState(%+v, %v) = %s, want %s", *tc.t, tc.v, got, tc.want)
		}
	}
}

// The lists count maxChartBytes per chart against their budget: the worst chart, a full metric
// of jagged readings with a name and unit of characters that grow when escaped, fits in it.
func TestTheWorstChartFitsItsBudget(t *testing.T) {
	p, clock := newTestPage(t)
	start := clock.Now().Add(-time.Duration(api.MaxMetricPoints) * 20 * time.Second)
	mustPutIncident(t, p, "inc-1", start)
	name, unit := strings.Repeat(`&<>"'`, api.MaxNameLength/5), strings.Repeat("<", api.MaxUnitLength)
	for sent := 0; sent < api.MaxMetricPoints; {
		req := api.MetricRequest{Name: name, Unit: unit, Incidents: []string{"inc-1"},
			Thresholds: &api.MetricThresholds{BadWhen: api.BadAbove, Degraded: 1.23456789, Down: 5.87654321}}
		for ; len(req.Points) < api.MaxPointsPerRequest && sent < api.MaxMetricPoints; sent++ {
			req.Points = append(req.Points, api.MetricPoint{Timestamp: start.Add(time.Duration(sent) * 20 * time.Second), Value: float64(sent%7)*1.111111 + 0.123456})
		}
		if _, _, err := p.PutMetric("jagged", req); err != nil {
			t.Fatal(err)
		}
	}
	page := string(incidentHTML(p, "inc-1"))
	chart := page[strings.Index(page, `<figure class="chart">`) : strings.Index(page, "</figure>")+len("</figure>")]
	if len(chart) > maxChartBytes {
		t.Errorf("the chart is %d bytes, past maxChartBytes (%d)", len(chart), maxChartBytes)
	}
	t.Logf("the worst chart: %d bytes", len(chart))
}
