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
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// The lists (front page, history, JSON, feed) are rendered here, on each write, into a
// snapshot of byte slices that the read handlers serve as they are. Each list holds a
// bounded part of the page, so that its size, and the memory of a render, do not grow with
// the page: the latest updates of each incident, and as many incidents as fit in
// listBudget. An incident's own page has its full history and is rendered per request
// (incident.go).

const (
	// pastOnFrontPage is how many resolved incidents the front page lists.
	pastOnFrontPage = 10
	// historyLength is how many incidents /history lists.
	historyLength = 500
	// v2IncidentsLength is how many incidents /api/v2/incidents.json lists, as Statuspage.
	v2IncidentsLength = 50
	// feedLength is how many updates the Atom feed carries.
	feedLength = 50
	// updatesInLists is how many updates of an incident, the latest, the front page and the
	// JSON show.
	updatesInLists = 5
	// listBudget bounds the bytes of incidents in one list document, by cost: far more than
	// a normal page needs (a few open incidents of a few kilobytes), far less than a page of
	// texts at their limits would take. Past it, the oldest incidents are left out of that
	// list; /history and their own pages still show them.
	listBudget = 2 << 20
)

//go:embed templates
var templateFS embed.FS

var (
	styleCSS = mustRead("templates/style.css")
	// styleHash lets the Content-Security-Policy allow exactly our inline style and nothing
	// else, so that no injected markup could load or run anything.
	styleHash = func() string {
		sum := sha256.Sum256([]byte(styleCSS))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}()
	htmlCSP   = "default-src 'none'; style-src " + styleHash + "; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	templates = parseTemplates()
)

func mustRead(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func parseTemplates() map[string]*template.Template {
	base := template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/metrics.html", "templates/maintenance.html"))
	out := map[string]*template.Template{}
	for _, name := range []string{"index", "incident", "history", "notfound"} {
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
	}
	return out
}

func executeTemplate(name string, data any) []byte {
	var buf bytes.Buffer
	// The templates are fixed and covered by tests; an error here is a bug, not a condition.
	if err := templates[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		panic(fmt.Sprintf("render %s: %v", name, err))
	}
	return buf.Bytes()
}

func marshalJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("render JSON: %v", err))
	}
	return b
}

// snapshot is everything the public reads serve, by path.
type snapshot struct {
	routes map[string]*resource
	// incidents are the incidents by id, for their own pages.
	incidents map[string]*publicIncident
	notFound  *resource
}

type timeView struct{ ISO, Text string }

type siteView struct {
	Subscribe bool
	Name      string
	CSS       template.CSS
	UpdatedAt timeView
	Zone      string
}

type overallView struct {
	overall
	// Class picks the banner colour; maintenance has its own.
	Class string
}

type componentView struct {
	Name, Description, Status, StatusText string
	// Group is set on a group's heading; InGroup on the components under it.
	Group, InGroup bool
	// Uptime is a component's history; nil for a group's heading.
	Uptime *uptimeView
}

type updateView struct {
	ID, StatusText, Body string
	At                   timeView
	Components           []componentChangeView
}

// componentChangeView is a component an update sets; its strings are the records' own, so
// that rendering a long history copies no text.
type componentChangeView struct{ Name, Status string }

type incidentView struct {
	ID, Name, Path, Impact, ImpactText, StatusText string
	Started                                        timeView
	Resolved                                       *timeView
	Duration                                       string
	// Updates are the latest ones, newest first; EarlierUpdates counts those left out.
	Updates        []updateView
	EarlierUpdates int
	Latest         *updateView
	// Components names every component the incident affected, on its own page only.
	Components []string
	// HasPostmortem is set when a post-mortem is published; Postmortem holds it, on the
	// incident's own page only (parsing every post-mortem for the lists would be wasted).
	HasPostmortem bool
	Postmortem    *postmortemView
	// Charts are the metrics published for the incident, on its own page and on the front
	// page while it is open.
	Charts []chartView
}

type postmortemView struct {
	Published timeView
	// Revised is set when the text changed after it was first published.
	Revised *timeView
	Blocks  []textBlock
}

type dayView struct {
	Date      string
	Incidents []incidentView
}

type monthView struct {
	Key, Title string
	Incidents  []incidentView
}

type indexView struct {
	Title   string
	Site    siteView
	Overall overallView
	Active  []incidentView
	// MoreActive counts the open incidents that did not fit in the list.
	MoreActive int
	Components []componentView
	// Maintenances are those not completed, for the notice.
	Maintenances []maintenanceView
	Past         []dayView
	MoreHistory  bool
}

type incidentPageView struct {
	Title    string
	Site     siteView
	Incident incidentView
}

type historyView struct {
	Title     string
	Site      siteView
	Months    []monthView
	Truncated bool
	Shown     int
}

var statusText = map[string]string{
	string(api.Investigating):       "Investigating",
	string(api.Identified):          "Identified",
	string(api.Monitoring):          "Monitoring",
	string(api.Resolved):            "Resolved",
	string(api.Operational):         "Operational",
	string(api.DegradedPerformance): "Degraded performance",
	string(api.PartialOutage):       "Partial outage",
	string(api.MajorOutage):         "Major outage",
	string(api.UnderMaintenance):    "Under maintenance",
	// A scheduled maintenance's statuses.
	string(api.MaintenanceScheduled):  "Scheduled",
	string(api.MaintenanceInProgress): "In progress",
	string(api.MaintenanceCompleted):  "Completed",
}

// changeText is statusText as it reads after a component's name.
var changeText = func() map[string]string {
	out := map[string]string{}
	for k, v := range statusText {
		out[k] = strings.ToLower(v)
	}
	return out
}()

var impactText = map[string]string{
	string(api.ImpactNone):     "No customer impact",
	string(api.ImpactMinor):    "Minor impact",
	string(api.ImpactMajor):    "Major impact",
	string(api.ImpactCritical): "Critical impact",
	"maintenance":              "Planned maintenance",
}

// render builds a new snapshot: the front page, history, JSON and feed, and a frozen copy of
// each incident in changed (or of every incident when all is set) for its own page. Callers
// hold p.mu.
func (p *Page) render(changed map[string]bool, all bool) {
	old := p.snap.Load()
	routes := make(map[string]*resource, 16)
	// set keeps a resource whose bytes did not change, so that its ETag stays and its
	// compressed variant, once made, is not made again.
	set := func(path string, body []byte, newRes func([]byte) *resource) {
		if old != nil {
			if prev := old.routes[path]; prev != nil && bytes.Equal(prev.plain.body, body) {
				routes[path] = prev
				return
			}
		}
		routes[path] = newRes(body)
	}
	html := func(body []byte) *resource { return p.htmlResource(body, 200) }
	jsonRes := func(body []byte) *resource { return jsonResource(body, p.info.CacheMaxAge) }
	comps := p.underMaintenance(p.sortedComponents())
	incs := make([]*publicIncident, 0, len(p.incidents))
	pages := make(map[string]*publicIncident, len(p.incidents))
	for _, inc := range p.incidents {
		if all || changed[inc.rec.ID] || inc.public == nil {
			p.freezes++
			inc.public = freeze(inc, fmt.Sprintf(`"%s-%d"`, p.etagBase, p.freezes))
			inc.public.charts = p.incidentCharts(inc.public)
		}
		incs = append(incs, inc.public)
		pages[inc.rec.ID] = inc.public
	}
	// Newest first, by start.
	slices.SortFunc(incs, func(a, b *publicIncident) int {
		return cmp.Or(b.startedAt().Compare(a.startedAt()), cmp.Compare(a.rec.ID, b.rec.ID))
	})
	var open, resolved []*publicIncident
	for _, inc := range incs {
		if inc.status() == api.Resolved {
			resolved = append(resolved, inc)
		} else {
			open = append(open, inc)
		}
	}
	roll := rollUp(comps, open)
	shownOpen := p.fit(open)

	site := p.site(p.updatedAt)
	idx := indexView{Title: p.info.Name, Site: site, Overall: overallView{roll, roll.Indicator},
		MoreActive: len(open) - len(shownOpen), MoreHistory: len(resolved) > pastOnFrontPage, Maintenances: p.maintenanceViews()}
	if roll.Indicator == "none" && roll.Description != "All Systems Operational" {
		idx.Overall.Class = "maintenance"
	}
	for _, inc := range shownOpen {
		v := p.incidentView(inc, updatesInLists)
		v.Charts = inc.charts
		idx.Active = append(idx.Active, v)
	}
	now := p.clock()
	for _, g := range groupComponents(comps) {
		if g.Name != "" {
			idx.Components = append(idx.Components, componentView{Name: g.Name, Status: g.status(), StatusText: statusText[g.status()], Group: true})
		}
		for _, c := range g.Members {
			idx.Components = append(idx.Components, componentView{Name: c.Name, Description: c.Description, Status: c.Status,
				StatusText: statusText[c.Status], InGroup: g.Name != "", Uptime: p.uptime(c, incs, now)})
		}
	}
	for _, inc := range resolved[:min(len(resolved), pastOnFrontPage)] {
		v := p.incidentView(inc, 1)
		date := inc.startedAt().In(p.info.Location).Format("January 2, 2006")
		if n := len(idx.Past); n > 0 && idx.Past[n-1].Date == date {
			idx.Past[n-1].Incidents = append(idx.Past[n-1].Incidents, v)
		} else {
			idx.Past = append(idx.Past, dayView{Date: date, Incidents: []incidentView{v}})
		}
	}
	set("/", executeTemplate("index", idx), html)

	hist := historyView{Title: "Incident history · " + p.info.Name, Site: site, Truncated: len(incs) > historyLength}
	for _, inc := range incs[:min(len(incs), historyLength)] {
		v := p.incidentView(inc, 0)
		start := inc.startedAt().In(p.info.Location)
		key := start.Format("2006-01")
		if n := len(hist.Months); n > 0 && hist.Months[n-1].Key == key {
			hist.Months[n-1].Incidents = append(hist.Months[n-1].Incidents, v)
		} else {
			hist.Months = append(hist.Months, monthView{Key: key, Title: start.Format("January 2006"), Incidents: []incidentView{v}})
		}
		hist.Shown++
	}
	set("/history", executeTemplate("history", hist), html)

	recent := p.fit(incs[:min(len(incs), v2IncidentsLength)])
	for path, body := range p.renderV2(comps, recent, shownOpen, roll) {
		set(path, body, jsonRes)
	}
	set("/history.atom", p.renderFeed(incs), p.feedResource)
	set("/api/v2/metrics.json", p.renderMetricsJSON(shownOpen), jsonRes)

	// The not-found page never changes.
	var notFound *resource
	if old != nil {
		notFound = old.notFound
	} else {
		notFound = p.htmlResource(executeTemplate("notfound", struct {
			Title string
			Site  siteView
		}{"Page not found · " + p.info.Name, p.site(time.Time{})}), 404)
	}
	p.snap.Store(&snapshot{routes: routes, incidents: pages, notFound: notFound})
}

// fit returns the first incidents whose latest updatesInLists updates fit in listBudget
// together, and at least the first one.
func (p *Page) fit(incs []*publicIncident) []*publicIncident {
	total := 0
	for i, inc := range incs {
		total += p.cost(inc)
		if total > listBudget && i > 0 {
			return incs[:i]
		}
	}
	return incs
}

// cost is an upper bound of the bytes an incident with its latest updatesInLists updates
// adds to a list document: each byte of its texts escaped to six (as JSON writes & or <),
// the components it affected in full (as the JSON lists them), and room for the markup.
func (p *Page) cost(inc *publicIncident) int {
	n := len(inc.rec.ID) + len(inc.rec.Name)
	for _, u := range inc.latestUpdates(updatesInLists) {
		n += len(u.ID) + len(u.Body) + 128
		for _, c := range u.Components {
			n += len(c.ID) + len(c.Name) + 64
		}
	}
	for _, c := range inc.affected {
		if live := p.components[c.ID]; live != nil {
			n += len(live.ID) + len(live.Name) + len(live.Description) + 128
		}
	}
	return 6*n + 1024 + len(inc.charts)*maxChartBytes
}

func (p *Page) site(updated time.Time) siteView {
	s := siteView{Name: p.info.Name, CSS: template.CSS(styleCSS), Zone: p.info.Location.String(), Subscribe: p.info.Subscriptions}
	if !updated.IsZero() {
		s.UpdatedAt = p.timeView(updated)
	}
	return s
}

func (p *Page) timeView(t time.Time) timeView {
	return timeView{ISO: t.UTC().Format(time.RFC3339), Text: t.In(p.info.Location).Format("Jan 2, 2006 15:04 MST")}
}

// incidentView is an incident with its latest limit updates (all of them when limit < 0,
// with the components it affected, for its own page).
func (p *Page) incidentView(inc *publicIncident, limit int) incidentView {
	v := incidentView{ID: inc.rec.ID, Name: inc.rec.Name, Path: "/incidents/" + inc.rec.ID, Impact: inc.rec.Impact,
		ImpactText: impactText[inc.rec.Impact], StatusText: statusText[string(inc.status())], Started: p.timeView(inc.startedAt())}
	if r := inc.resolvedAt(); r != nil {
		tv := p.timeView(*r)
		v.Resolved = &tv
		v.Duration = humanDuration(r.Sub(inc.startedAt()))
	}
	shown := inc.latestUpdates(limit)
	v.EarlierUpdates = len(inc.updates) - len(shown)
	v.Updates = make([]updateView, 0, len(shown))
	for _, u := range slices.Backward(shown) {
		uv := updateView{ID: u.ID, StatusText: statusText[u.Status], Body: u.Body, At: p.timeView(u.CreatedAt)}
		for _, c := range u.Components {
			uv.Components = append(uv.Components, componentChangeView{Name: c.Name, Status: changeText[c.NewStatus]})
		}
		v.Updates = append(v.Updates, uv)
	}
	if limit < 0 {
		for _, c := range inc.affected {
			v.Components = append(v.Components, c.Name)
		}
	}
	if len(v.Updates) > 0 {
		v.Latest = &v.Updates[0]
	}
	v.HasPostmortem = inc.postmortem != nil && inc.postmortem.published()
	return v
}

// postmortemView is the published post-mortem of inc, nil if there is none: a draft is
// never shown.
func (p *Page) postmortemView(inc *publicIncident) *postmortemView {
	pm := inc.postmortem
	if pm == nil || !pm.published() {
		return nil
	}
	v := &postmortemView{Published: p.timeView(pm.PublishedAt), Blocks: textBlocks(pm.PublishedBody)}
	if pm.RevisedAt.After(pm.PublishedAt) {
		tv := p.timeView(pm.RevisedAt)
		v.Revised = &tv
	}
	return v
}

// humanDuration says how long an incident lasted, to the minute.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	days, hours, minutes := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	unit := func(n int, name string) {
		if n == 1 {
			parts = append(parts, "1 "+name)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %ss", n, name))
		}
	}
	unit(days, "day")
	unit(hours, "hour")
	if days == 0 {
		unit(minutes, "minute")
	}
	return strings.Join(parts, " ")
}

// renderV2 returns the public JSON documents by path.
func (p *Page) renderV2(comps []*componentRecord, recent, open []*publicIncident, roll overall) map[string][]byte {
	page := v2Page{ID: p.info.ID, Name: p.info.Name, URL: p.info.URL, TimeZone: p.info.Location.String(), UpdatedAt: stamp(p.updatedAt)}
	status := v2Status{Indicator: roll.Indicator, Description: roll.Description}
	v2comps := p.v2Components(comps)
	v2open := make([]v2Incident, 0, len(open))
	for _, inc := range open {
		v2open = append(v2open, p.v2Incident(inc))
	}
	v2recent := make([]v2Incident, 0, len(recent))
	for _, inc := range recent {
		v2recent = append(v2recent, p.v2Incident(inc))
	}
	docs, maintenances := p.maintenanceDocs(page, comps)
	maps.Copy(docs, map[string][]byte{
		"/api/v2/status.json": marshalJSON(v2StatusDoc{Page: page, Status: status}),
		"/api/v2/summary.json": marshalJSON(v2SummaryDoc{Page: page, Components: v2comps, Incidents: v2open,
			ScheduledMaintenances: maintenances, Status: status}),
		"/api/v2/components.json":           marshalJSON(v2ComponentsDoc{Page: page, Components: v2comps}),
		"/api/v2/incidents.json":            marshalJSON(v2IncidentsDoc{Page: page, Incidents: v2recent}),
		"/api/v2/incidents/unresolved.json": marshalJSON(v2IncidentsDoc{Page: page, Incidents: v2open}),
	})
	return docs
}

func (p *Page) v2Component(c *componentRecord) v2Component {
	out := v2Component{ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: stamp(c.CreatedAt), UpdatedAt: stamp(c.UpdatedAt),
		Position: c.Position, PageID: p.info.ID}
	if c.Description != "" {
		out.Description = &c.Description
	}
	return out
}

// v2Incident is an incident in the Statuspage format, with its latest updatesInLists
// updates.
func (p *Page) v2Incident(inc *publicIncident) v2Incident {
	out := v2Incident{ID: inc.rec.ID, Name: inc.rec.Name, Status: string(inc.status()), CreatedAt: stamp(inc.startedAt()),
		UpdatedAt: stamp(inc.rec.UpdatedAt), ResolvedAt: stampPtr(inc.resolvedAt()), Impact: inc.rec.Impact, Shortlink: p.incidentURL(inc.rec.ID),
		StartedAt: stamp(inc.startedAt()), PageID: p.info.ID, IncidentUpdates: []v2IncidentUpdate{}, Components: []v2Component{}}
	for _, u := range slices.Backward(inc.updates) {
		if u.Status == string(api.Monitoring) {
			out.MonitoringAt = stampPtr(&u.CreatedAt)
			break
		}
	}
	for _, u := range slices.Backward(inc.latestUpdates(updatesInLists)) {
		at := stamp(u.CreatedAt)
		vu := v2IncidentUpdate{ID: u.ID, Status: u.Status, Body: u.Body, IncidentID: inc.rec.ID, CreatedAt: at,
			UpdatedAt: at, DisplayAt: at, DeliverNotifications: true}
		for _, c := range u.Components {
			vu.AffectedComponents = append(vu.AffectedComponents, v2AffectedComponent{Code: c.ID, Name: c.Name, OldStatus: c.OldStatus, NewStatus: c.NewStatus})
		}
		out.IncidentUpdates = append(out.IncidentUpdates, vu)
	}
	for _, c := range inc.affected {
		if live := p.components[c.ID]; live != nil {
			out.Components = append(out.Components, p.v2Component(live))
		}
	}
	return out
}
