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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

func TestStatusTimeWeighsEachStatusWithinTheDay(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	for name, tc := range map[string]struct {
		hist                 []statusChange
		covered, down        float64
		worst, percentString string
	}{
		"operational all day": {[]statusChange{{day.AddDate(0, 0, -3), "operational"}}, 24, 0, "operational", "100%"},
		"a six-hour major outage": {[]statusChange{{day.AddDate(0, 0, -3), "operational"}, {at(6), "major_outage"}, {at(12), "operational"}},
			24, 6, "major_outage", "75%"},
		"a partial outage counts half": {[]statusChange{{day.AddDate(0, 0, -3), "operational"}, {at(0), "partial_outage"}, {at(12), "operational"}},
			24, 6, "partial_outage", "75%"},
		"degraded counts as up": {[]statusChange{{at(0), "degraded_performance"}}, 24, 0, "degraded_performance", "100%"},
		"history starting mid-day covers the rest": {[]statusChange{{at(18), "major_outage"}, {at(19), "operational"}},
			6, 1, "major_outage", "83.33%"},
		"a minute down is less than 100%": {[]statusChange{{day.AddDate(0, 0, -1), "operational"}, {at(1), "major_outage"}, {at(1).Add(time.Minute), "operational"}},
			24, 1.0 / 60, "major_outage", "99.93%"},
		"no history":       {nil, 0, 0, "operational", ""},
		"history after it": {[]statusChange{{day.AddDate(0, 0, 2), "major_outage"}}, 0, 0, "operational", ""},
	} {
		covered, down, worst := statusTime(tc.hist, day, day.AddDate(0, 0, 1))
		if covered/3600 != tc.covered || down/3600 != tc.down || worst != tc.worst {
			t.Errorf("%s: covered %.3fh, down %.3fh, worst %s; want %.3fh, %.3fh, %s", name, covered/3600, down/3600, worst, tc.covered, tc.down, tc.worst)
		}
		if covered > 0 {
			if got := formatUptime(covered, down); got != tc.percentString {
				t.Errorf("%s: uptime %s, want %s", name, got, tc.percentString)
			}
		}
	}
}

func TestUptimeBarsFollowThePublishedComponentStatuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.db")
	clock := newClock() // Nov 25, 09:30 UTC
	p := openTestPage(t, path, clock)
	mustPutComponent(t, p, "api", "API")
	clock.Advance(24 * time.Hour) // Nov 26
	start := clock.Now()
	if _, _, err := p.PutIncident("outage", api.IncidentRequest{Name: "API outage", Impact: api.ImpactCritical,
		Update: &api.UpdateRequest{ID: "1", Status: api.Investigating, Body: "Down.", Components: []api.ComponentChange{{ID: "api", Status: api.MajorOutage}}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	if _, _, err := p.PutUpdate("outage", "2", api.UpdateRequest{Status: api.Resolved, Body: "Back.", Components: []api.ComponentChange{{ID: "api", Status: api.Operational}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * 24 * time.Hour) // Nov 29
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// The history is read back from the file.
	p = openTestPage(t, path, clock)
	p.mu.Lock()
	var incs []*publicIncident
	for _, inc := range p.snap.Load().incidents {
		incs = append(incs, inc)
	}
	v := p.uptime(p.components["api"], incs, clock.Now())
	p.mu.Unlock()
	if len(v.Days) != historyDays {
		t.Fatalf("%d bars, want %d", len(v.Days), historyDays)
	}
	byDate := map[string]dayBar{}
	for _, d := range v.Days {
		byDate[d.Date] = d
	}
	if d := byDate["Nov 24, 2026"]; d.Class != "none" || d.Uptime != "No data" {
		t.Errorf("the day before the component existed: %+v", d)
	}
	if d := byDate["Nov 25, 2026"]; d.Class != "operational" || d.Uptime != "100% uptime" || strings.Join(d.Incidents, "|") != "No incidents" {
		t.Errorf("the day it was created: %+v", d)
	}
	outage := byDate[start.Format("Jan 2, 2006")]
	if outage.Class != "major_outage" || outage.Uptime != "91.66% uptime" || strings.Join(outage.Incidents, "|") != "API outage" {
		t.Errorf("the day of the outage: %+v", outage)
	}
	if d := byDate["Nov 28, 2026"]; d.Class != "operational" || strings.Join(d.Incidents, "|") != "No incidents" {
		t.Errorf("a day after it: %+v", d)
	}
	// Two hours down in the 98 hours since the component was created.
	if v.Percent != "97.95%" {
		t.Errorf("uptime over the history %q, want 97.95%%", v.Percent)
	}
	if page := string(p.snap.Load().routes["/"].plain.body); !strings.Contains(page, `<li class="u-major_outage"><span><strong>Nov 26, 2026</strong><br>91.66% uptime<br>API outage</span></li>`) || !strings.Contains(page, "API outage") {
		t.Error("the front page shows no outage bar with its incident")
	}
}

func TestComponentGroupsAreShownTogetherAndListedAsStatuspageGroups(t *testing.T) {
	p, _ := newTestPage(t)
	for _, c := range []struct{ id, name, group string }{
		{"eu-api", "API", "Europe"}, {"docs", "Docs", ""}, {"eu-db", "Database", "Europe"}, {"us-api", "API", "Americas"},
	} {
		if _, _, err := p.PutComponent(c.id, api.ComponentRequest{Name: c.name, Group: c.group}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := p.PutIncident("db", api.IncidentRequest{Name: "Slow database", Impact: api.ImpactMinor,
		Update: &api.UpdateRequest{ID: "1", Status: api.Investigating, Body: "Slow.", Components: []api.ComponentChange{{ID: "eu-db", Status: api.DegradedPerformance}}}}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components []struct {
			ID, Name, Status string
			Group            bool     `json:"group"`
			GroupID          *string  `json:"group_id"`
			Components       []string `json:"components"`
		} `json:"components"`
	}
	if err := json.Unmarshal(p.snap.Load().routes["/api/v2/summary.json"].plain.body, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range doc.Components {
		s := c.Name + "=" + c.Status
		if c.Group {
			s = "[" + s + " " + strings.Join(c.Components, ",") + "]"
		}
		if c.GroupID != nil {
			s = "  " + s
		}
		got = append(got, s)
	}
	want := []string{"[Europe=degraded_performance eu-api,eu-db]", "  API=operational", "  Database=degraded_performance", "Docs=operational",
		"[Americas=operational us-api]", "  API=operational"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary.json components:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if *doc.Components[1].GroupID != doc.Components[0].ID {
		t.Error("a component's group_id is not its group's id")
	}
	page := string(p.snap.Load().routes["/"].plain.body)
	if i, j, k := strings.Index(page, ">Europe<"), strings.Index(page, ">Database<"), strings.Index(page, ">Docs<"); i < 0 || !(i < j && j < k) {
		t.Errorf("the page does not show Europe's components under it before Docs (%d, %d, %d)", i, j, k)
	}
	if _, _, err := p.PutComponent("x", api.ComponentRequest{Name: "X", Group: strings.Repeat("g", api.MaxNameLength+1)}); err == nil || !strings.Contains(err.Error(), "group") {
		t.Errorf("a group name past the limit: %v", err)
	}
}
