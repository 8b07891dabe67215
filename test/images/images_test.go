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

// Package images inspects the OCI image layouts `make images` writes into bin/images/, with
// the standard library only, so that the check does not share the builder's code.
package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/testenv"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type index struct {
	MediaType   string            `json:"mediaType"`
	Manifests   []descriptor      `json:"manifests"`
	Annotations map[string]string `json:"annotations"`
}

type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
}

type config struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Labels       map[string]string   `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// layout is an OCI image layout directory.
type layout string

// blob reads a blob and checks it against its descriptor: its digest and size.
func (l layout) blob(t *testing.T, d descriptor) []byte {
	t.Helper()
	hexDigest, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(string(l), "blobs", "sha256", hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexDigest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: %d bytes with digest %x, the descriptor says %d bytes", d.Digest, len(b), sum, d.Size)
	}
	return b
}

func (l layout) json(t *testing.T, d descriptor, v any) {
	t.Helper()
	if err := json.Unmarshal(l.blob(t, d), v); err != nil {
		t.Fatalf("%s: %v", d.Digest, err)
	}
}

// entry is a file of an image's filesystem, its layers applied in order.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// files reads the layers (checking each against the config's diff_ids) into one filesystem.
func (l layout) files(t *testing.T, m manifest, diffIDs []string) map[string]entry {
	t.Helper()
	if len(m.Layers) != len(diffIDs) {
		t.Fatalf("%d layers, %d diff_ids", len(m.Layers), len(diffIDs))
	}
	fs := map[string]entry{}
	for i, d := range m.Layers {
		if d.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("layer %s has media type %s", d.Digest, d.MediaType)
		}
		zr, err := gzip.NewReader(bytes.NewReader(l.blob(t, d)))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != diffIDs[i] {
			t.Errorf("layer %d: uncompressed digest %x, the config's diff_id %s", i, sum, diffIDs[i])
		}
		tr := tar.NewReader(bytes.NewReader(raw))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			fs["/"+strings.Trim(h.Name, "/")] = entry{h, data}
		}
	}
	return fs
}

func headRevision(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", testenv.RepoRoot(), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// Each image is a multi-platform index for linux/amd64 and linux/arm64 whose images run a
// static binary for their platform as the non-root user 65532, with nothing else to run (no
// shell), the CA certificates for HTTPS, and the OCI labels naming the commit built.
func TestTheImages(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "bin", "images")
	revision := headRevision(t)
	for _, im := range []struct{ name, port string }{{"manager", ""}, {"statuspage", "8080/tcp"}, {"gateway", "8081/tcp"}} {
		t.Run(im.name, func(t *testing.T) {
			l := layout(filepath.Join(dir, im.name))
			if _, err := os.Stat(filepath.Join(string(l), "oci-layout")); err != nil {
				t.Fatalf("no OCI image layout for %s (`make images` writes them): %v", im.name, err)
			}
			var top index
			b, err := os.ReadFile(filepath.Join(string(l), "index.json"))
			if err == nil {
				err = json.Unmarshal(b, &top)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
				t.Fatalf("index.json should name one image index: %s", b)
			}
			tag := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
			var idx index
			l.json(t, top.Manifests[0], &idx)

			var platforms []string
			for _, d := range idx.Manifests {
				if d.Platform == nil {
					t.Fatalf("manifest %s has no platform", d.Digest)
				}
				platform := d.Platform.OS + "/" + d.Platform.Architecture
				platforms = append(platforms, platform)
				var m manifest
				l.json(t, d, &m)
				var c config
				l.json(t, m.Config, &c)
				if c.OS != d.Platform.OS || c.Architecture != d.Platform.Architecture {
					t.Errorf("%s: the config is for %s/%s", platform, c.OS, c.Architecture)
				}
				if c.Config.User != "65532:65532" {
					t.Errorf("%s: runs as %q, not the non-root 65532:65532", platform, c.Config.User)
				}
				if want := []string{"/" + im.name}; !slices.Equal(c.Config.Entrypoint, want) || len(c.Config.Cmd) > 0 {
					t.Errorf("%s: entrypoint %q cmd %q, want %q", platform, c.Config.Entrypoint, c.Config.Cmd, want)
				}
				if _, ok := c.Config.ExposedPorts[im.port]; im.port != "" && !ok {
					t.Errorf("%s: exposes %v, not %s", platform, c.Config.ExposedPorts, im.port)
				}
				lb := c.Config.Labels
				if lb["org.opencontainers.image.source"] == "" || lb["org.opencontainers.image.version"] != tag || lb["org.opencontainers.image.revision"] != revision {
					t.Errorf("%s: labels %v; want a source, the version %q and the revision %s (HEAD; run `make images` again)", platform, lb, tag, revision)
				}

				fs := l.files(t, m, c.RootFS.DiffIDs)
				checkFilesystem(t, platform, fs, im.name, d.Platform.Architecture)
				size := m.Config.Size
				for _, ld := range m.Layers {
					size += ld.Size
				}
				t.Logf("firescope/%s:%s %s: %.1f MiB compressed, %d files", im.name, tag, platform, float64(size)/(1<<20), len(fs))
			}
			slices.Sort(platforms)
			if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
				t.Errorf("platforms %v, want linux/amd64 and linux/arm64", platforms)
			}
		})
	}
}

func checkFilesystem(t *testing.T, platform string, fs map[string]entry, name, arch string) {
	t.Helper()
	exe, ok := fs["/"+name]
	if !ok || exe.hdr.Typeflag != tar.TypeReg || exe.hdr.Mode&0o111 == 0 {
		t.Fatalf("%s: no executable /%s", platform, name)
	}
	f, err := elf.NewFile(bytes.NewReader(exe.data))
	if err != nil {
		t.Fatalf("%s: /%s: %v", platform, name, err)
	}
	if f.Machine != elfMachine[arch] {
		t.Errorf("%s: /%s is for %s", platform, name, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: /%s is dynamically linked; it needs CGO_ENABLED=0", platform, name)
		}
	}
	for path, e := range fs {
		base := filepath.Base(path)
		if e.hdr.Typeflag == tar.TypeReg && e.hdr.Mode&0o111 != 0 && path != "/"+name {
			t.Errorf("%s: %s is executable; the image should run nothing but /%s", platform, path, name)
		}
		if base == "sh" || base == "bash" || base == "busybox" {
			t.Errorf("%s: the image has a shell, %s", platform, path)
		}
	}
	passwd := string(fs["/etc/passwd"].data)
	if !strings.Contains(passwd, ":x:65532:65532:") {
		t.Errorf("%s: /etc/passwd has no user 65532:\n%s", platform, passwd)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(fs["/etc/ssl/certs/ca-certificates.crt"].data) {
		t.Errorf("%s: no CA certificates in /etc/ssl/certs/ca-certificates.crt", platform)
	}
	if tmp, ok := fs["/tmp"]; !ok || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode&0o1777 != 0o1777 {
		t.Errorf("%s: no /tmp writable by all", platform)
	}
	if exe.hdr.Uid != 0 || exe.hdr.Gid != 0 || exe.hdr.Mode&0o022 != 0 {
		t.Errorf("%s: /%s is owned by %d:%d with mode %o; the user it runs as must not be able to change it", platform, name, exe.hdr.Uid, exe.hdr.Gid, exe.hdr.Mode)
	}
}
