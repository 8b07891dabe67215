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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExportServesTheSameBytesFromAPlainFileServer(t *testing.T) {
	s := newTestServer(t)
	s.mustPut(t, "/api/v1/components/api", `{"name":"API"}`)
	s.mustPut(t, "/api/v1/incidents/inc-1", `{"name":"Elevated errors","impact":"major",
		"update":{"id":"u1","status":"investigating","body":"We are looking into errors.","components":[{"id":"api","status":"major_outage"}]}}`)
	s.mustPut(t, "/api/v1/incidents/inc-2", `{"name":"Slow logins","impact":"minor","update":{"id":"u1","status":"resolved","body":"Logins are fast again."}}`)

	dir := t.TempDir()
	files, err := s.page.Export(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"index.html", "history/index.html", "history.atom", "incidents/inc-1/index.html", "incidents/inc-2/index.html",
		"api/v2/summary.json", "api/v2/status.json", "api/v2/components.json", "api/v2/incidents.json", "api/v2/incidents/unresolved.json", "404.html"} {
		if !slices.Contains(files, want) {
			t.Errorf("the export lacks %s; it wrote %q", want, files)
		}
	}

	// A static host that serves a directory's index.html (object storage websites, CDNs,
	// http.FileServer) answers every path with the server's bytes.
	static := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(static.Close)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, path := range []string{"/", "/history", "/history.atom", "/incidents/inc-1", "/incidents/inc-2", "/api/v2/summary.json", "/api/v2/incidents/unresolved.json"} {
		resp, err := client.Get(static.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if want := s.get(t, path).body; resp.StatusCode != http.StatusOK || !bytes.Equal(body.Bytes(), want) {
			t.Errorf("the export at %s = %d, %d bytes; the server answers %d bytes", path, resp.StatusCode, body.Len(), len(want))
		}
	}
	notFound, err := os.ReadFile(filepath.Join(dir, "404.html"))
	if err != nil || !bytes.Equal(notFound, s.get(t, "/no-such-page").body) {
		t.Errorf("404.html is not the server's not-found page: %v", err)
	}
}
