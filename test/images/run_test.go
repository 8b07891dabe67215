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

package images

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/testenv"
)

// podman runs Debian's podman (hack/install-test-deps.sh). runc, because crun refuses a
// cgroup v1/v2 hybrid host such as this one; explicit limits of open files and processes
// (in run), because podman's defaults (1048576 files, the host's processes) are above what a
// sandbox without CAP_SYS_RESOURCE may set.
func podman(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "podman", append([]string{"--runtime", "runc"}, args...)...)
}

// Each image, for this machine's platform, runs with a read-only root filesystem as its
// own user, and answers /healthz: the manager and the gateway against a real API server
// (their kubeconfig mounted), the status page on its own.
func TestTheImagesRunAndAnswerHealthz(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
	}
	env, err := testenv.Start(false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeKubeconfig(t, env.Environment, kubeconfig)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("not-a-real-secret"), 0o644); err != nil {
		t.Fatal(err)
	}

	images := filepath.Join(testenv.RepoRoot(), "bin", "images")
	for _, tc := range []struct {
		name  string
		args  func(addr string) []string
		mount []string
		ready bool
	}{{
		name: "manager",
		args: func(addr string) []string {
			return []string{"--webhooks=false", "--metrics-bind-address=0", "--health-probe-bind-address=" + addr}
		},
		mount: []string{"-v", kubeconfig + ":/kubeconfig:ro", "-e", "KUBECONFIG=/kubeconfig"},
	}, {
		name: "gateway",
		args: func(addr string) []string {
			return []string{"--listen=" + addr, "--kubeconfig=/kubeconfig", "--signing-secret-file=/secret", "--bot-token-file=/secret"}
		},
		mount: []string{"-v", kubeconfig + ":/kubeconfig:ro", "-v", secret + ":/secret:ro"},
		// /readyz asks the API server: the image's CA certificates and network reach it.
		ready: true,
	}, {
		name: "statuspage",
		args: func(addr string) []string {
			return []string{"--listen=" + addr, "--data=/tmp/statuspage.db", "--token-file=/secret"}
		},
		mount: []string{"-v", secret + ":/secret:ro", "--tmpfs", "/tmp"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			name := fmt.Sprintf("firescope-image-test-%s-%d", tc.name, os.Getpid())
			args := append([]string{"run", "--rm", "--rmi", "--name", name, "--network=host", "--read-only",
				"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "--cap-drop=ALL", "--security-opt=no-new-privileges"}, tc.mount...)
			args = append(args, "oci:"+filepath.Join(images, tc.name)+":dev")
			args = append(args, tc.args(addr)...)
			log := filepath.Join(t.TempDir(), "log")
			f, err := os.Create(log)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd := podman(ctx, args...)
			cmd.Stdout, cmd.Stderr = f, f
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				stop, cancelStop := context.WithTimeout(context.Background(), time.Minute)
				defer cancelStop()
				_ = podman(stop, "stop", "--time", "10", name).Run()
				select {
				case <-exited:
				case <-stop.Done():
				}
				if t.Failed() {
					b, _ := os.ReadFile(log)
					t.Logf("podman %s:\n%s", strings.Join(args, " "), b)
				}
			}()
			probe := func(path string) {
				testenv.Eventually(t, 2*time.Minute, func() error {
					select {
					case err := <-exited:
						t.Fatalf("the container exited: %v", err)
					default:
					}
					return localcluster.Probe(ctx, "http://"+addr+path)
				})
			}
			probe("/healthz")
			if tc.ready {
				probe("/readyz")
			}
			t.Logf("the %s image runs and answers on %s", tc.name, addr)
		})
	}
}

// writeKubeconfig writes an admin kubeconfig of env, readable by the images' user.
func writeKubeconfig(t *testing.T, env *envtest.Environment, path string) {
	t.Helper()
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientcmd.Load(kc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, kc, 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
