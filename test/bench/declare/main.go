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

// Command declare measures how long it takes to go from nothing to a declared incident with
// an Incident Commander: the keystrokes of the command line, and the seconds from pressing
// Enter until the IC shows in the incident's timeline, on a local control plane with the
// real manager binary. It runs bin/kubectl-incident, and kubectl apply of the shortest
// manifest for comparison.
//
//	make control-plane build
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s-v1.37.2-etcd-v3.7.3 go run ./test/bench/declare -n 50
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

// What a person types, Enter included.
const (
	pluginLine = `kubectl incident declare EC2 API errors`
	applyLines = `kubectl apply -f - <<'YAML'
apiVersion: firescope.dev/v1alpha1
kind: Incident
metadata: {name: ec2-api-errors}
spec: {title: EC2 API errors}
YAML
`
)

// runTimeout bounds one declaration, command and timeline both.
const runTimeout = time.Minute

func main() {
	n := flag.Int("n", 50, "declarations per way of declaring")
	flag.Parse()
	// The benchmark's own API client logs nothing worth reading.
	ctrllog.SetLogger(logr.Discard())
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// timelines records when each namespace's incident first showed its IC in the timeline.
type timelines struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *timelines) mark(ns string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[ns]; !ok {
		s.at[ns] = t
	}
}

func (s *timelines) wait(ns string, deadline time.Time) (time.Time, error) {
	for time.Now().Before(deadline) {
		s.mu.Lock()
		t, ok := s.at[ns]
		s.mu.Unlock()
		if ok {
			return t, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("the IC did not show in the timeline of the incident in %s", ns)
}

func run(n int) error {
	plugin := filepath.Join(testenv.RepoRoot(), "bin", "kubectl-incident")
	if _, err := os.Stat(plugin); err != nil {
		return fmt.Errorf("%v: run `make build` first", err)
	}
	ctx := context.Background()
	e, err := benchenv.Start(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()

	tl := &timelines{at: map[string]time.Time{}}
	w, err := e.Client.Watch(ctx, &v1alpha1.IncidentList{})
	if err != nil {
		return err
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			now := time.Now()
			inc, ok := ev.Object.(*v1alpha1.Incident)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			for _, entry := range inc.Status.Timeline {
				if entry.Type == v1alpha1.TimelineHandoff && entry.Message == "IC -> ricardo" {
					tl.mark(inc.Namespace, now)
				}
			}
		}
	}()

	fmt.Printf("Firescope declare benchmark: %d declarations each, local kube-apiserver v1.37.2 + etcd v3.7.3, manager binary\n\n", n)
	fmt.Printf("Keystrokes, Enter included:\n  %-60q %3d\n  %-60s %3d\n\n", pluginLine, len(pluginLine)+1,
		"kubectl apply of the shortest manifest (heredoc, 6 lines)", len(applyLines))

	ways := []struct {
		name string
		cmd  func(ctx context.Context, ns string) *exec.Cmd
	}{
		{"kubectl-incident declare", func(ctx context.Context, ns string) *exec.Cmd {
			return exec.CommandContext(ctx, plugin, "--kubeconfig", e.Kubeconfig, "-n", ns, "declare", "EC2", "API", "errors")
		}},
		{"kubectl apply -f -", func(ctx context.Context, ns string) *exec.Cmd {
			body := applyLines[strings.Index(applyLines, "\n")+1 : strings.LastIndex(applyLines, "YAML")]
			c := exec.CommandContext(ctx, "kubectl", "--kubeconfig", e.Kubeconfig, "-n", ns, "apply", "-f", "-")
			c.Stdin = strings.NewReader(body)
			return c
		}},
	}
	fmt.Println("Seconds                                      p50       p99       max")
	for wi, way := range ways {
		var exits, ics []time.Duration
		for i := range n {
			// A namespace per declaration: the same command line, the same derived name.
			ns := fmt.Sprintf("declare-%d-%d", wi, i)
			if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				return err
			}
			exit, ic, err := declareOnce(ctx, tl, ns, way.cmd)
			if err != nil {
				return fmt.Errorf("%s: %w", way.name, err)
			}
			exits, ics = append(exits, exit), append(ics, ic)
		}
		row(way.name+": command returns", exits)
		row(way.name+": IC in timeline", ics)
	}
	return nil
}

// declareOnce runs one declaration and returns how long the command took and how long until
// the timeline showed the IC, both from the command's start.
func declareOnce(ctx context.Context, tl *timelines, ns string, mk func(context.Context, string) *exec.Cmd) (time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	cmd := mk(ctx, ns)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, out.String())
	}
	exit := time.Since(start)
	at, err := tl.wait(ns, start.Add(runTimeout))
	if err != nil {
		return 0, 0, err
	}
	return exit, at.Sub(start), nil
}

func row(name string, d []time.Duration) {
	s := func(p float64) float64 { return benchenv.Quantile(d, p).Seconds() }
	fmt.Printf("%-42s %7.3fs  %7.3fs  %7.3fs\n", name, s(0.5), s(0.99), s(1))
}
