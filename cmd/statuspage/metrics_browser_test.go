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

package main

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
)

func TestABrowserDrawsTheIncidentsHealthSignalCharts(t *testing.T) {
	srv := start(t, buildBinary(t), filepath.Join(t.TempDir(), "statuspage.db"))
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	if _, _, err := c.PutComponent(ctx, "api", api.ComponentRequest{Name: "API", Description: "The platform API and the dashboard"}); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-48 * time.Minute).Truncate(time.Minute)
	if _, _, err := c.PutIncident(ctx, "api-errors", api.IncidentRequest{Name: "Elevated errors on the platform API", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "su-1", Status: api.Investigating, CreatedAt: &started,
			Body:       "We are investigating elevated error rates on the platform API.",
			Components: []api.ComponentChange{{ID: "api", Status: api.PartialOutage}}}}); err != nil {
		t.Fatal(err)
	}
	identified := started.Add(20 * time.Minute)
	if _, _, err := c.PutUpdate(ctx, "api-errors", "su-2", api.UpdateRequest{Status: api.Identified, CreatedAt: &identified,
		Body: "A faulty deploy is failing a share of API requests. We are rolling it back; retrying failed requests works for most customers."}); err != nil {
		t.Fatal(err)
	}
	// A reading every 30 seconds, as the health evaluator publishes them: availability dips
	// below the down threshold and is recovering; the error rate mirrors it.
	avail := api.MetricRequest{Name: "Availability", Unit: "%", Incidents: []string{"api-errors"},
		Thresholds: &api.MetricThresholds{BadWhen: api.BadBelow, Degraded: 99.5, Down: 95}}
	errs := api.MetricRequest{Name: "API errors", Unit: "%", Incidents: []string{"api-errors"},
		Thresholds: &api.MetricThresholds{BadWhen: api.BadAbove, Degraded: 1, Down: 5}}
	for at := started.Add(-10 * time.Minute); at.Before(time.Now()); at = at.Add(30 * time.Second) {
		m := at.Sub(started).Minutes()
		dip := 7.5 * math.Exp(-math.Pow((m-18)/9, 2))
		wobble := 0.15 * math.Sin(m*1.7)
		avail.Points = append(avail.Points, api.MetricPoint{Timestamp: at, Value: math.Round((99.95-dip+wobble/3)*100) / 100})
		errs.Points = append(errs.Points, api.MetricPoint{Timestamp: at, Value: math.Round((0.3+dip*0.9+wobble)*100) / 100})
	}
	for _, m := range []struct {
		id  string
		req api.MetricRequest
	}{{"availability", avail}, {"api-errors", errs}} {
		if _, _, err := c.PutMetric(ctx, m.id, m.req); err != nil {
			t.Fatal(err)
		}
	}

	b := browser(t, 1280, 1100)
	var width float64
	var bandFill, captions string
	run(t, b, "the incident page", chromedp.Navigate(srv.url+"/incidents/api-errors"), chromedp.WaitVisible(`.chart svg`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('.chart svg').getBoundingClientRect().width`, &width),
		chromedp.Evaluate(`getComputedStyle(document.querySelector('.chart .band-down')).fill`, &bandFill),
		chromedp.Text(`.charts`, &captions, chromedp.ByQuery))
	// The stylesheet reaches the SVG (the Content-Security-Policy allows it): an unstyled
	// band would be filled black.
	if width < 600 || bandFill == "" || bandFill == "rgb(0, 0, 0)" {
		t.Errorf("the chart is %.0f px wide with the down band filled %q; want it the card's width and styled", width, bandFill)
	}
	for _, want := range []string{"Availability", "API errors", "Last reading", "Healthy", "Degraded below 99.5%", "Down above 5%"} {
		if !strings.Contains(captions, want) {
			t.Errorf("the charts lack %q:\n%s", want, captions)
		}
	}
	shot(t, b, "metric-chart-incident.png")
	run(t, b, "the front page", chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(`.chart svg`, chromedp.ByQuery))
	shot(t, b, "metric-chart-front.png")
	run(t, b, "the incident page, dark", emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Navigate(srv.url+"/incidents/api-errors?dark"), chromedp.WaitVisible(`.chart svg`, chromedp.ByQuery))
	shot(t, b, "metric-chart-incident-dark.png")

	phone := browser(t, 390, 900)
	run(t, phone, "the incident page on a phone", chromedp.EmulateViewport(390, 900, chromedp.EmulateMobile),
		chromedp.Navigate(srv.url+"/incidents/api-errors"), chromedp.WaitVisible(`.chart svg`, chromedp.ByQuery))
	shot(t, phone, "metric-chart-phone.png")
}
