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
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Export writes a static copy of the page to dir: every public path the server answers,
// with the bytes it answers. A path without an extension becomes a directory with an
// index.html (/history is history/index.html, an incident's page incidents/ID/index.html),
// as object storage and CDN static sites serve them; 404.html is the not-found page. It
// returns the files written, relative to dir.
func (p *Page) Export(dir string) ([]string, error) {
	snap := p.snap.Load()
	h := &handler{page: p}
	paths := make([]string, 0, len(snap.routes)+len(snap.incidents))
	for route := range snap.routes {
		paths = append(paths, route)
	}
	for id := range snap.incidents {
		paths = append(paths, "/incidents/"+id)
	}
	slices.Sort(paths)
	var files []string
	write := func(name string, body []byte) error {
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		files = append(files, name)
		return os.WriteFile(file, body, 0o644)
	}
	for _, route := range paths {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, route, nil))
		if rec.Code != http.StatusOK {
			return files, fmt.Errorf("export %s: the page answered %d", route, rec.Code)
		}
		if err := write(exportName(route), rec.Body.Bytes()); err != nil {
			return files, fmt.Errorf("export %s: %w", route, err)
		}
	}
	if err := write("404.html", snap.notFound.plain.body); err != nil {
		return files, fmt.Errorf("export the not-found page: %w", err)
	}
	return files, nil
}

// exportName is the file that serves route on a static host.
func exportName(route string) string {
	name := strings.TrimPrefix(route, "/")
	if path.Ext(name) == "" {
		return path.Join(name, "index.html")
	}
	return name
}

// mainExport is `statuspage export`: it reads the page from its database and writes the copy.
func mainExport(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var dir string
	cfg, err := parseConfig(args, getenv, stderr, &dir)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	page, err := openConfigured(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = page.Close() }()
	files, err := page.Export(dir)
	if err != nil {
		return err
	}
	log.Info("exported the page", "to", dir, "files", len(files), "url", cfg.Page.URL)
	return nil
}
