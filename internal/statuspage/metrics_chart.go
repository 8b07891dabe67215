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
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// An incident's page (and its card on the front page while it is open) shows each metric
// published for it as a small SVG chart of the incident's window, drawn on the server: no
// script, readable by screen readers through its title and description, with the degraded
// and down ranges shaded and named, and the last reading as text.

// The chart's geometry, in the units of its viewBox: the plot sits inside margins that hold
// the axis labels.
const (
	chartW, chartH                           = 640, 180
	plotLeft, plotRight, plotTop, plotBottom = 80, 8, 10, 26
	// chartColumns bounds the points drawn: past it, each column of the plot draws the
	// lowest and highest reading in it, so that a dip stays visible.
	chartColumns = 240
	// gapFactor: readings further apart than this many times the usual interval are drawn
	// with a gap between them, not joined by a line that would invent values.
	gapFactor = 4
	// maxChartBytes bounds the markup of one chart, for the lists' budget: a path through
	// 2*chartColumns points, and the metric's name and unit, escaped, in its texts.
	maxChartBytes = 16 << 10
)

type chartView struct {
	// ID makes the ids of the title and description unique on the page.
	ID, Title, Desc string
	W, H            int
	Plot            chartRect
	Bands           []chartBand
	Thresholds      []chartLine
	YTicks, XTicks  []chartTick
	// Marks are the incident's start and resolution, as vertical lines at X.
	Marks []chartTick
	Path  string
	Last  chartLast
	// metric and drawn are what the chart shows, for /api/v2/metrics.json.
	metric *metricRecord
	drawn  []sample
}

type chartRect struct{ X, Y, W, H float64 }

// Right and Bottom are the rectangle's right and bottom edges.
func (r chartRect) Right() float64  { return r.X + r.W }
func (r chartRect) Bottom() float64 { return r.Y + r.H }

type chartBand struct {
	chartRect
	Class string
}

type chartLine struct {
	Y, LabelX, LabelY float64
	Label, Class      string
}

// chartTick is an axis label at X, Y; a label of the y axis also has a grid line at LineY.
type chartTick struct {
	X, Y, LineY   float64
	Label, Anchor string
}

type chartLast struct {
	X, Y  float64
	Text  string
	At    timeView
	State string
	// Class is healthy, degraded or down ("" without thresholds).
	Class string
}

// incidentCharts draws the metrics published for inc over its window. Callers hold p.mu.
func (p *Page) incidentCharts(inc *publicIncident) []chartView {
	var ms []*metricRecord
	for _, m := range p.metrics {
		if slices.Contains(m.Incidents, inc.rec.ID) {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b *metricRecord) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	var out []chartView
	for _, m := range ms {
		if c, ok := p.chart(inc, m); ok {
			out = append(out, c)
		}
	}
	return out
}

// chart draws m over inc's window; there is nothing to draw without a reading in it.
func (p *Page) chart(inc *publicIncident, m *metricRecord) (chartView, bool) {
	from, to := window(&inc.incidentPage)
	lo := firstAt(m.Points, from.UnixMilli())
	hi := len(m.Points)
	if to != nil {
		hi = firstAt(m.Points, to.UnixMilli()+1)
	}
	pts := m.Points[lo:hi]
	if len(pts) == 0 {
		return chartView{}, false
	}
	start, end := pts[0].T, pts[len(pts)-1].T
	if end == start {
		start, end = start-int64(time.Minute/time.Millisecond), end+int64(time.Minute/time.Millisecond)
	}
	vmin, vmax := pts[0].V, pts[0].V
	for _, s := range pts {
		vmin, vmax = min(vmin, s.V), max(vmax, s.V)
	}
	ymin, ymax := vmin, vmax
	if t := m.Thresholds; t != nil {
		ymin, ymax = min(ymin, t.Degraded, t.Down), max(ymax, t.Degraded, t.Down)
	}
	// A flat line sits in the middle; a nearly flat one is not magnified into noise.
	pad := math.Max((ymax-ymin)*0.08, math.Abs(ymax)*0.005)
	if pad == 0 {
		pad = 1
	}
	ymin, ymax = ymin-pad, ymax+pad
	plot := chartRect{X: plotLeft, Y: plotTop, W: chartW - plotLeft - plotRight, H: chartH - plotTop - plotBottom}
	x := func(t int64) float64 { return round1(plot.X + plot.W*float64(t-start)/float64(end-start)) }
	y := func(v float64) float64 { return round1(plot.Y + plot.H*(ymax-v)/(ymax-ymin)) }
	unit := m.Unit
	val := func(v float64) string { return formatValue(v) + unit }

	c := chartView{ID: "chart-" + inc.rec.ID + "-" + m.ID, Title: m.Name, W: chartW, H: chartH, Plot: plot}
	if t := m.Thresholds; t != nil {
		worse := "below"
		if t.BadWhen == api.BadAbove {
			worse = "above"
		}
		yDeg, yDown := y(t.Degraded), y(t.Down)
		if t.BadWhen == api.BadBelow {
			c.Bands = []chartBand{{chartRect{plot.X, yDeg, plot.W, yDown - yDeg}, "degraded"}, {chartRect{plot.X, yDown, plot.W, plot.Y + plot.H - yDown}, "down"}}
		} else {
			c.Bands = []chartBand{{chartRect{plot.X, yDown, plot.W, yDeg - yDown}, "degraded"}, {chartRect{plot.X, plot.Y, plot.W, yDown - plot.Y}, "down"}}
		}
		// Labels sit on the bad side of their line, inside the band they name.
		off := 12.0
		if t.BadWhen == api.BadAbove {
			off = -4
		}
		c.Thresholds = []chartLine{
			{Y: yDeg, Label: "Degraded " + worse + " " + val(t.Degraded), Class: "degraded", LabelX: plot.X + plot.W - 4, LabelY: yDeg + off},
			{Y: yDown, Label: "Down " + worse + " " + val(t.Down), Class: "down", LabelX: plot.X + plot.W - 4, LabelY: yDown + off},
		}
		if t.Degraded == t.Down {
			c.Thresholds = c.Thresholds[1:]
		}
	}
	for _, v := range valueTicks(ymin, ymax) {
		c.YTicks = append(c.YTicks, chartTick{X: plot.X - 6, Y: y(v) + 4, LineY: y(v), Label: val(v), Anchor: "end"})
	}
	layout := "15:04"
	if time.Duration(end-start)*time.Millisecond > 20*time.Hour {
		layout = "Jan 2 15:04"
	}
	for _, t := range timeTicks(start, end, p.info.Location) {
		// A label near an edge is aligned with it rather than centred past it.
		tick := chartTick{X: x(t), Y: chartH - 6, Label: time.UnixMilli(t).In(p.info.Location).Format(layout), Anchor: "middle"}
		switch {
		case tick.X < plot.X+24:
			tick.Anchor = "start"
		case tick.X > plot.Right()-24:
			tick.Anchor = "end"
		}
		c.XTicks = append(c.XTicks, tick)
	}
	// The incident's start and resolution, where the chart's span holds them.
	marks := []struct {
		at   time.Time
		text string
	}{{inc.startedAt(), "Started"}}
	if r := inc.resolvedAt(); r != nil {
		marks = append(marks, struct {
			at   time.Time
			text string
		}{*r, "Resolved"})
	}
	for _, mk := range marks {
		if t := mk.at.UnixMilli(); t >= start && t <= end {
			c.Marks = append(c.Marks, chartTick{X: x(t), Y: plot.Y + 12, Label: mk.text})
		}
	}
	c.metric, c.drawn = m, thin(pts, start, end)
	c.Path = linePath(c.drawn, x, y)

	last := pts[len(pts)-1]
	c.Last = chartLast{X: x(last.T), Y: y(last.V), Text: val(last.V), At: p.timeView(last.at())}
	var limits string
	if t := m.Thresholds; t != nil {
		c.Last.Class = metricState(t, last.V)
		c.Last.State = strings.ToUpper(c.Last.Class[:1]) + c.Last.Class[1:]
		limits = fmt.Sprintf(" Degraded at or %s %s, down at or %s %s.", map[api.BadWhen]string{api.BadBelow: "below", api.BadAbove: "above"}[t.BadWhen],
			val(t.Degraded), map[api.BadWhen]string{api.BadBelow: "below", api.BadAbove: "above"}[t.BadWhen], val(t.Down))
	}
	readings := "1 reading"
	if len(pts) > 1 {
		readings = fmt.Sprintf("%d readings", len(pts))
	}
	c.Desc = fmt.Sprintf("%s from %s to %s: %s, lowest %s, highest %s.%s Last reading %s at %s",
		m.Name, p.timeView(pts[0].at()).Text, c.Last.At.Text, readings, val(vmin), val(vmax), limits, c.Last.Text, c.Last.At.Text)
	if c.Last.State != "" {
		c.Desc += ": " + strings.ToLower(c.Last.State)
	}
	c.Desc += "."
	return c, true
}

// valueTicks returns round values to label the y axis from lo to hi: three to six of them.
func valueTicks(lo, hi float64) []float64 {
	raw := (hi - lo) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		t := math.Round(v/step) * step
		if t == 0 {
			t = 0 // not -0
		}
		out = append(out, t)
	}
	return out
}

// timeSteps are the spacings of the x axis's labels, in minutes.
var timeSteps = []int64{1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080}

// timeTicks returns round times (in loc's wall clock) to label the x axis from start to end,
// in Unix milliseconds: at most five.
func timeTicks(start, end int64, loc *time.Location) []int64 {
	step := timeSteps[len(timeSteps)-1] * 60_000
	for _, m := range timeSteps {
		if (end-start)/(m*60_000) < 5 {
			step = m * 60_000
			break
		}
	}
	_, offset := time.UnixMilli(start).In(loc).Zone()
	shift := int64(offset) * 1000
	var out []int64
	for t := (start+shift+step-1)/step*step - shift; t <= end; t += step {
		out = append(out, t)
	}
	return out
}

// firstAt returns the index of the first sample at or after t.
func firstAt(pts []sample, t int64) int {
	i, _ := slices.BinarySearchFunc(pts, t, func(e sample, t int64) int { return cmp.Compare(e.T, t) })
	return i
}

// metricState is healthy, degraded or down, as the health evaluator decides it.
func metricState(t *api.MetricThresholds, v float64) string {
	bad := func(limit float64) bool {
		if t.BadWhen == api.BadBelow {
			return v <= limit
		}
		return v >= limit
	}
	switch {
	case bad(t.Down):
		return "down"
	case bad(t.Degraded):
		return "degraded"
	}
	return "healthy"
}

// thin keeps at most two samples (the lowest and highest, in time order) per column of the
// plot, and every sample when they fit.
func thin(pts []sample, start, end int64) []sample {
	if len(pts) <= chartColumns {
		return pts
	}
	out := make([]sample, 0, 2*chartColumns)
	col := func(t int64) int64 { return (t - start) * (chartColumns - 1) / max(end-start, 1) }
	for i := 0; i < len(pts); {
		j, lo, hi := i, i, i
		for ; j < len(pts) && col(pts[j].T) == col(pts[i].T); j++ {
			if pts[j].V < pts[lo].V {
				lo = j
			}
			if pts[j].V > pts[hi].V {
				hi = j
			}
		}
		out = append(out, pts[min(lo, hi)])
		if lo != hi {
			out = append(out, pts[max(lo, hi)])
		}
		i = j
	}
	return out
}

// linePath is an SVG path through the samples, broken where readings stopped for a while.
func linePath(pts []sample, x func(int64) float64, y func(float64) float64) string {
	gaps := make([]int64, 0, len(pts))
	for i := 1; i < len(pts); i++ {
		gaps = append(gaps, pts[i].T-pts[i-1].T)
	}
	var usual int64
	if len(gaps) > 0 {
		sorted := slices.Clone(gaps)
		slices.Sort(sorted)
		usual = sorted[len(sorted)/2]
	}
	var b strings.Builder
	for i, s := range pts {
		cmd := "L"
		if i == 0 || usual > 0 && gaps[i-1] > gapFactor*usual {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%s %s", cmd, strconv.FormatFloat(x(s.T), 'f', -1, 64), strconv.FormatFloat(y(s.V), 'f', -1, 64))
		// A lone reading is a dot: a zero-length line with round caps.
		if cmd == "M" && (i == len(pts)-1 || gaps[i] > gapFactor*usual) {
			b.WriteString("h0")
		}
	}
	return b.String()
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// formatValue writes a value with about four significant digits, as a person reads a chart.
func formatValue(v float64) string {
	if v == 0 {
		return "0" // not "-0", which rounding leaves
	}
	a := math.Abs(v)
	var s string
	switch {
	case a >= 1000:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 0.001:
		s = strconv.FormatFloat(v, 'f', 3, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// v2MetricsDoc is /api/v2/metrics.json: the charts of the open incidents on the front page,
// with the points they draw.
type v2MetricsDoc struct {
	Page      v2Page             `json:"page"`
	Incidents []v2MetricIncident `json:"incidents"`
}

type v2MetricIncident struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Metrics []v2Metric `json:"metrics"`
}

type v2Metric struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"`
	Unit       string                `json:"unit,omitempty"`
	Thresholds *api.MetricThresholds `json:"thresholds,omitempty"`
	// State is the state of the last point: healthy, degraded or down; "" without thresholds.
	State  string            `json:"state,omitempty"`
	Points []api.MetricPoint `json:"points"`
}

func (p *Page) renderMetricsJSON(open []*publicIncident) []byte {
	doc := v2MetricsDoc{Page: v2Page{ID: p.info.ID, Name: p.info.Name, URL: p.info.URL, TimeZone: p.info.Location.String(), UpdatedAt: stamp(p.updatedAt)},
		Incidents: []v2MetricIncident{}}
	for _, inc := range open {
		if len(inc.charts) == 0 {
			continue
		}
		vi := v2MetricIncident{ID: inc.rec.ID, Name: inc.rec.Name}
		for _, c := range inc.charts {
			vm := v2Metric{ID: c.metric.ID, Name: c.metric.Name, Unit: c.metric.Unit, Thresholds: c.metric.Thresholds, State: c.Last.Class,
				Points: make([]api.MetricPoint, len(c.drawn))}
			for i, s := range c.drawn {
				vm.Points[i] = api.MetricPoint{Timestamp: s.at(), Value: s.V}
			}
			vi.Metrics = append(vi.Metrics, vm)
		}
		doc.Incidents = append(doc.Incidents, vi)
	}
	return marshalJSON(doc)
}
