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

// Package dist checks what `make dist` writes into dist/: the krew manifest of `kubectl
// incident` against krew's own validation and against the archives it names.
package dist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"firescope.dev/firescope/internal/testenv"
)

type plugin struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version   string `json:"version"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// tool runs a pinned tool that `make test` builds into bin/ and names in the environment.
func tool(t *testing.T, envName string, env []string, args ...string) string {
	t.Helper()
	bin := os.Getenv(envName)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which builds krew into bin/", envName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The manifest passes krew's validation, covers linux and darwin on amd64 and arm64, and each
// platform's archive is in dist/ with the manifest's sha256, holds the plugin built for that
// platform and its LICENSE, and installs with krew (which checks the sum again).
func TestTheKrewManifestMatchesTheArchives(t *testing.T) {
	dist := filepath.Join(testenv.RepoRoot(), "dist")
	manifest := filepath.Join(dist, "incident.yaml")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatalf("no krew manifest (`make dist` writes it): %v", err)
	}
	var p plugin
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(tool(t, "VALIDATE_KREW_MANIFEST", nil, "-manifest", manifest, "-skip-install")))

	sums, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, pl := range p.Spec.Platforms {
		goos, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		platform := goos + "/" + arch
		platforms = append(platforms, platform)
		t.Run(platform, func(t *testing.T) {
			name := path.Base(pl.URI)
			archive, err := os.ReadFile(filepath.Join(dist, name))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(archive)
			if got := hex.EncodeToString(sum[:]); got != pl.SHA256 {
				t.Fatalf("%s has sha256 %s, the manifest says %s", name, got, pl.SHA256)
			}
			if !strings.Contains(string(sums), pl.SHA256+"  "+name+"\n") {
				t.Errorf("checksums.txt lacks %s  %s:\n%s", pl.SHA256, name, sums)
			}
			files := untar(t, archive)
			if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{"LICENSE", "kubectl-incident"}) {
				t.Errorf("%s holds %v, want kubectl-incident and LICENSE", name, got)
			}
			checkBinary(t, files["kubectl-incident"], goos, arch)

			root := t.TempDir()
			env := []string{"KREW_ROOT=" + root, "KREW_OS=" + goos, "KREW_ARCH=" + arch}
			tool(t, "KREW", env, "install", "--manifest="+manifest, "--archive="+filepath.Join(dist, name))
			installed := filepath.Join(root, "bin", "kubectl-"+p.Metadata.Name)
			if _, err := os.Stat(installed); err != nil {
				t.Fatalf("krew installed no %s: %v", installed, err)
			}
			if goos == "linux" && arch == runtime.GOARCH {
				out, err := exec.Command(installed, "--help").CombinedOutput()
				if err != nil || !strings.Contains(string(out), "declare") {
					t.Errorf("the installed plugin's --help: %v\n%s", err, out)
				}
			}
			t.Logf("%s: %d bytes, sha256 %s, installed by krew", name, len(archive), pl.SHA256)
		})
	}
	slices.Sort(platforms)
	if want := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}
}

func untar(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
}

// checkBinary checks that exe is an executable for goos/arch.
func checkBinary(t *testing.T, exe []byte, goos, arch string) {
	t.Helper()
	var got string
	switch goos {
	case "linux":
		f, err := elf.NewFile(bytes.NewReader(exe))
		if err != nil {
			t.Fatal(err)
		}
		got = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
	case "darwin":
		f, err := macho.NewFile(bytes.NewReader(exe))
		if err != nil {
			t.Fatal(err)
		}
		got = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	default:
		t.Fatalf("no check for %s", goos)
	}
	if got != arch {
		t.Errorf("kubectl-incident for %s/%s is built for %q", goos, arch, got)
	}
}
