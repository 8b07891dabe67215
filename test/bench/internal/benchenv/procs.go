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

package benchenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/test/bench/internal/webbench"
)

// CPU is the CPU time used so far by this program ("bench") and by each program it started
// (kube-apiserver, etcd, kube-controller-manager, manager), and by the whole machine.
type CPU struct {
	At time.Time
	// Used is each program's user and system time, by command name.
	Used map[string]time.Duration
	// Busy and Total are the machine's non-idle and total CPU time over every core.
	Busy, Total time.Duration
}

// ReadCPU reads the CPU times from /proc; on error the times are missing, not wrong.
func ReadCPU() CPU {
	c := CPU{At: time.Now(), Used: map[string]time.Duration{}}
	self := os.Getpid()
	if name, _, used, ok := webbench.ProcStat(filepath.Join("/proc", strconv.Itoa(self), "stat")); ok {
		c.Used[name] = used
		c.Used["bench"] = c.Used[name]
		delete(c.Used, name)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		name, ppid, used, ok := webbench.ProcStat(path)
		if ok && ppid == self {
			c.Used[name] += used
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseInt(f, 10, 64)
			c.Total += time.Duration(v) * webbench.ClockTick
			if i != 3 && i != 4 { // idle and iowait
				c.Busy += time.Duration(v) * webbench.ClockTick
			}
		}
	}
	return c
}

// Sub is the CPU time used since an earlier reading.
func (c CPU) Sub(a CPU) CPU {
	d := CPU{At: c.At, Used: map[string]time.Duration{}, Busy: c.Busy - a.Busy, Total: c.Total - a.Total}
	for k, v := range c.Used {
		d.Used[k] = v - a.Used[k]
	}
	return d
}

// String lists the programs' CPU time over the interval, per op of n (a reminder, say), and
// how busy the whole machine was.
func (c CPU) String(n int, op string) string {
	var parts []string
	for _, name := range []string{"manager", "kube-apiserver", "etcd", "kube-controller", "bench"} {
		if v, ok := c.Used[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1fs (%.1fms per %s)", name, v.Seconds(), Ms(v)/float64(max(n, 1)), op))
		}
	}
	busy := 0.0
	if c.Total > 0 {
		busy = float64(c.Busy) / float64(c.Total)
	}
	return fmt.Sprintf("%s; the machine was %.0f%% busy", strings.Join(parts, ", "), 100*busy)
}

// SaveAPIServer writes what a GET of path on the API server returns (its CPU profile,
// /debug/pprof/profile?seconds=30, say) to file, as the benchmark's user.
func (e *Env) SaveAPIServer(ctx context.Context, path, file string) error {
	cfg, err := e.Config()
	if err != nil {
		return err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	hc.Timeout = 5 * time.Minute
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ProbeWrites creates a small ConfigMap in ns every interval, one at a time, timing each
// create: the API server's own latency for a small write under the load of the moment. The
// returned stop ends the probe, deletes its ConfigMaps and returns the latencies.
func (e *Env) ProbeWrites(ctx context.Context, ns string, every time.Duration) (stop func() []time.Duration) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var took []time.Duration
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("probe-%d", i), Namespace: ns, Labels: probeLabel}}
			start := time.Now()
			if err := e.Client.Create(ctx, cm); err == nil {
				took = append(took, time.Since(start))
			}
		}
	})
	return func() []time.Duration {
		close(done)
		wg.Wait()
		_ = e.Client.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(ns), client.MatchingLabels(probeLabel))
		return took
	}
}

var probeLabel = map[string]string{"firescope.dev/bench": "probe"}

// Resident is a program's resident memory, split into what it allocated (anonymous: the Go
// heap, stacks, the runtime's own) and the pages of files it maps (its binary, shared with
// the page cache and dropped first under memory pressure), in bytes.
type Resident struct{ Anon, File float64 }

// ReadResident reads the resident memory of the program named name that this program
// started, from /proc; zero when there is none.
func ReadResident(name string) Resident {
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		comm, ppid, _, ok := webbench.ProcStat(path)
		if !ok || ppid != self || comm != name {
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "status"))
		if err != nil {
			return Resident{}
		}
		var r Resident
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "RssAnon:":
				r.Anon = kb * 1024
			case "RssFile:":
				r.File = kb * 1024
			}
		}
		return r
	}
	return Resident{}
}

// String is the split in MiB.
func (r Resident) String() string {
	return fmt.Sprintf("%.0f MiB anonymous + %.0f MiB of mapped files", r.Anon/(1<<20), r.File/(1<<20))
}
