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

// Command image builds Firescope's images without a container engine or a registry: static
// binaries cross-compiled with the Go toolchain, on a base layer made here (the CA
// certificates, /etc/passwd with the non-root user 65532, /tmp), written as OCI image layouts
// holding a multi-platform index. `make images` runs it; docs/install.md describes the images.
//
//	image -out bin/images -version v0.1.0 -revision $(git rev-parse HEAD) \
//	  manager=./cmd/manager statuspage=./cmd/statuspage:8080 gateway=./cmd/gateway:8081
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the images run as: distroless's nonroot, which the manifests' securityContext and
// the Dockerfile name too.
const (
	uid  = 65532
	user = "65532:65532"
)

type options struct {
	out, version, revision, source, caFile, repoRoot, repository string
	created                                                      time.Time
	platforms                                                    []v1.Platform
}

// target is one image: a name, the main package, and the port it serves on (if any).
type target struct{ name, pkg, port string }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o options
	var epoch int64
	var platforms string
	fs.StringVar(&o.out, "out", "bin/images", "Directory to write an OCI image layout per image into.")
	fs.StringVar(&o.repoRoot, "C", ".", "The Firescope repository, whose packages are built.")
	fs.StringVar(&o.repository, "repository", "firescope", "Repository prefix of the images' names: <repository>/<name>:<version>.")
	fs.StringVar(&o.version, "version", "dev", "The images' tag and org.opencontainers.image.version.")
	fs.StringVar(&o.revision, "revision", "", "The commit built, org.opencontainers.image.revision (required).")
	fs.StringVar(&o.source, "source", "https://firescope.dev", "org.opencontainers.image.source.")
	fs.StringVar(&o.caFile, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "The CA bundle to put in the images (Debian's ca-certificates package).")
	fs.Int64Var(&epoch, "created", 0, "Creation time in Unix seconds, for every file and the config (e.g. the commit's time), so that a build is reproducible.")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "Comma-separated os/arch to build for.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.revision == "" {
		return errors.New("-revision is required (the commit built, e.g. $(git rev-parse HEAD))")
	}
	o.created = time.Unix(epoch, 0).UTC()
	for _, p := range strings.Split(platforms, ",") {
		osArch := strings.Split(p, "/")
		if len(osArch) != 2 {
			return fmt.Errorf("-platforms: %q is not os/arch", p)
		}
		o.platforms = append(o.platforms, v1.Platform{OS: osArch[0], Architecture: osArch[1]})
	}
	var targets []target
	for _, a := range fs.Args() {
		name, rest, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q is not name=package[:port]", a)
		}
		pkg, port, _ := strings.Cut(rest, ":")
		targets = append(targets, target{name, pkg, port})
	}
	if len(targets) == 0 {
		return errors.New("no images named: give name=package[:port] arguments")
	}

	base, err := baseLayer(o)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "firescope-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, t := range targets {
		if err := buildImage(o, t, base, tmp); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// buildImage writes the layout <out>/<name> with one image per platform under an index.
func buildImage(o options, t target, base v1.Layer, tmp string) error {
	ref := fmt.Sprintf("%s/%s:%s", o.repository, t.name, o.version)
	labels := map[string]string{
		"org.opencontainers.image.title":    "firescope-" + t.name,
		"org.opencontainers.image.source":   o.source,
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.revision": o.revision,
		"org.opencontainers.image.created":  o.created.Format(time.RFC3339),
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.platforms {
		bin := filepath.Join(tmp, t.name+"-"+p.OS+"-"+p.Architecture)
		if err := goBuild(o.repoRoot, t.pkg, bin, p); err != nil {
			return err
		}
		img, err := platformImage(o, t, p, base, bin, labels)
		if err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%-32s %-12s %s %6.1f MiB\n", ref, p.OS+"/"+p.Architecture, d, float64(size)/(1<<20))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.Annotations(idx, labels).(v1.ImageIndex)

	dir := filepath.Join(o.out, t.name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	// The tag names the index in index.json, as `podman run oci:<dir>:<version>` looks it up.
	return lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.version}))
}

func platformImage(o options, t target, p v1.Platform, base v1.Layer, bin string, labels map[string]string) (v1.Image, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	binLayer, err := layer([]file{{name: t.name, mode: 0o755, data: exe}}, o.created)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "firescope base: CA certificates, /etc/passwd (65532 nonroot), /tmp"}},
		mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "go build " + t.pkg}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = p.OS, p.Architecture, v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       user,
		Entrypoint: []string{"/" + t.name},
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:     labels,
	}
	if t.port != "" {
		cf.Config.ExposedPorts = map[string]struct{}{t.port + "/tcp": {}}
	}
	return mutate.ConfigFile(img, cf)
}

// goBuild cross-compiles a static binary (no cgo), reproducibly (no paths, no build ID). A
// cold cross-compile of the manager takes a quarter of an hour on two busy cores.
func goBuild(root, pkg, out string, p v1.Platform) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %w", pkg, p.OS, p.Architecture, err)
	}
	return nil
}

// baseLayer holds what distroless/static:nonroot gives a static binary: the CA certificates
// for its HTTPS calls, the users (so that the uid has a name and a home) and a /tmp.
func baseLayer(o options) (v1.Layer, error) {
	ca, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("the CA certificates (install Debian's ca-certificates or pass -ca-certificates): %w", err)
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
	return layer([]file{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, owner: uid},
		{name: "tmp/", mode: 0o1777},
	}, o.created)
}

// file is an entry of a layer; a name ending in / is a directory.
type file struct {
	name  string
	mode  int64
	owner int
	data  []byte
}

// layer makes a gzipped tar layer of files, every header fixed (times, owners) so that the
// same files give the same digest.
func layer(files []file, mtime time.Time) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.owner, Gid: f.owner, ModTime: mtime, Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return gzipLayer(b.Bytes())
}

// imageSize is what a pull transfers: the config and the compressed layers.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// gzipLayer compresses an uncompressed tar as an OCI layer.
func gzipLayer(tarBytes []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
