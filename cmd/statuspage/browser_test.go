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
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
	"firescope.dev/firescope/internal/statuspage/client"
	"firescope.dev/firescope/internal/testenv"
)

// chromium runs Debian's headless Chromium with args and returns its standard output.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	return testenv.Chromium(t, args...)
}

// artifactDir is artifacts/statuspage at the repository root (gitignored), where the
// screenshots stay after the test for people to look at.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "artifacts", "statuspage")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func screenshot(t *testing.T, url, path string, width, height int) {
	t.Helper()
	_ = os.Remove(path)
	chromium(t, "--screenshot="+path, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), url)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer func() { _ = f.Close() }()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != width || cfg.Height != height {
		t.Fatalf("screenshot %s is %dx%d (%v), want %dx%d", path, cfg.Width, cfg.Height, err, width, height)
	}
	t.Logf("screenshot: %s", path)
}

func TestABrowserShowsTheIncidentAndItsUpdate(t *testing.T) {
	srv := start(t, buildBinary(t), filepath.Join(t.TempDir(), "statuspage.db"))
	ctx := context.Background()
	c := client.New(srv.url, token, nil)
	for _, comp := range []struct{ id, name, desc string }{
		{"api", "API", "The platform API and the dashboard"},
		{"git", "Git operations", ""},
		{"postgres", "Postgres provisioning", "New databases and plan changes"},
		{"routing", "Routing", "HTTP traffic to running apps"},
	} {
		if _, _, err := c.PutComponent(ctx, comp.id, api.ComponentRequest{Name: comp.name, Description: comp.desc}); err != nil {
			t.Fatal(err)
		}
	}
	// A past incident, so that the page shows history as well.
	earlier := time.Now().Add(-50 * time.Hour)
	if _, _, err := c.PutIncident(ctx, "git-pushes", api.IncidentRequest{Name: "Delayed Git pushes", Impact: api.ImpactMinor,
		Update: &api.UpdateRequest{ID: "1", Status: api.Investigating, Body: "Some git pushes are slow to complete.", CreatedAt: &earlier}}); err != nil {
		t.Fatal(err)
	}
	resolved := earlier.Add(83 * time.Minute)
	if _, _, err := c.PutUpdate(ctx, "git-pushes", "2", api.UpdateRequest{Status: api.Resolved,
		Body: "Git pushes complete normally again. This incident has been resolved.", CreatedAt: &resolved}); err != nil {
		t.Fatal(err)
	}

	// The incident under test, as the firescope provider publishes it: created with its first
	// update in one write, then a second update.
	first := time.Now().Add(-20 * time.Minute)
	if _, _, err := c.PutIncident(ctx, "ec2-api-errors", api.IncidentRequest{Name: "Elevated errors on the platform API", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "su-1", Status: api.Investigating, CreatedAt: &first,
			Body:       "We are investigating elevated error rates on the platform API. <script>document.title='pwned'</script>",
			Components: []api.ComponentChange{{ID: "api", Status: api.PartialOutage}}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutUpdate(ctx, "ec2-api-errors", "su-2", api.UpdateRequest{Status: api.Identified,
		Body:       "An upstream provider's API in us-east-1 is failing requests. Provisioning new Postgres databases is delayed; existing databases and running apps are not affected.",
		Components: []api.ComponentChange{{ID: "postgres", Status: api.DegradedPerformance}}}); err != nil {
		t.Fatal(err)
	}

	dom := chromium(t, "--dump-dom", srv.url+"/")
	for _, want := range []string{
		"<title>Example Status</title>",
		"Partial System Outage",
		"Active incidents",
		"Elevated errors on the platform API",
		"An upstream provider's API in us-east-1 is failing requests.",
		"We are investigating elevated error rates on the platform API. &lt;script&gt;document.title='pwned'&lt;/script&gt;",
		"Postgres provisioning",
		"Degraded performance",
		"Partial outage",
		"Delayed Git pushes",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") {
		t.Error("the message's <script> became an element")
	}
	identified, investigating := strings.Index(dom, "An upstream provider"), strings.Index(dom, "We are investigating elevated")
	if identified < 0 || investigating < identified {
		t.Error("the updates are not shown newest first")
	}

	incident := chromium(t, "--dump-dom", srv.url+"/incidents/ec2-api-errors")
	for _, want := range []string{"Elevated errors on the platform API", "Identified", "Investigating", "API (partial outage)"} {
		if !strings.Contains(incident, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}

	dir := artifactDir(t)
	screenshot(t, srv.url+"/", filepath.Join(dir, "statuspage-desktop.png"), 1280, 1500)
	screenshot(t, srv.url+"/", filepath.Join(dir, "statuspage-phone.png"), 390, 1400)
	screenshot(t, srv.url+"/incidents/ec2-api-errors", filepath.Join(dir, "statuspage-incident.png"), 1280, 900)
}
