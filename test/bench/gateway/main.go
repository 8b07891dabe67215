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

// Command gateway measures the chat gateway on a local control plane: a signed Slack hand-off
// to the Incident changed (seen through a watch), next to the API server's own patch-to-watch
// latency in the same run, and the gateway's memory at rest. It then runs the same hand-offs
// through the gateway's code in-process and times each step of a command, with a CPU profile
// of those steps when -cpuprofile is given (`go tool pprof -top FILE`).
//
//	make build && KUBEBUILDER_ASSETS=$PWD/bin/k8s-... go run ./test/bench/gateway -n 100
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/gateway"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/testenv"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 100, "hand-offs to send")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the in-process hand-offs to this file")
	flag.Parse()
	if err := run(*n, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/gateway:", err)
		os.Exit(1)
	}
}

func run(n int, profile string) error {
	ctx := context.Background()
	root := testenv.RepoRoot()
	e, err := benchenv.StartWithGateway(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl, dir, addr := e.Client, e.Dir(), e.GatewayAddr
	cfg, err := e.Config()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	secret, err := os.ReadFile(filepath.Join(dir, "slack-signing-secret"))
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "default", Name: gateway.IdentitiesConfigMap}, cm); err != nil {
		return err
	}
	cm.Data["U0ALICE"], cm.Data["U0BOB"] = "alice", "bob"
	if err := cl.Update(ctx, cm); err != nil {
		return err
	}
	send := func(text string) (string, error) {
		form := url.Values{"command": {"/incident"}, "text": {text}, "user_id": {localcluster.LocalSlackUser}, "channel_id": {"C0BENCH"}}
		req, err := gateway.SignedRequest("http://"+addr, "/slack/commands", strings.TrimSpace(string(secret)), time.Now(), form)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Status, nil
	}
	if _, err := send("declare Gateway benchmark --confirmed"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	rssRest := rss(filepath.Join(root, "bin", "gateway"))

	list := &v1alpha1.IncidentList{}
	if err := cl.List(ctx, list, client.InNamespace("default")); err != nil || len(list.Items) != 1 {
		return fmt.Errorf("want the one declared incident: %v, %d", err, len(list.Items))
	}
	name := list.Items[0].Name
	w, err := cl.Watch(ctx, &v1alpha1.IncidentList{}, client.InNamespace("default"))
	if err != nil {
		return err
	}
	defer w.Stop()
	var chat, answer []time.Duration
	for i := range n {
		who := []string{"alice", "bob"}[i%2]
		start := time.Now()
		status, err := send(fmt.Sprintf("ic <@U0%s|%s>", strings.ToUpper(who), who))
		if err != nil || status != "200 OK" {
			return fmt.Errorf("hand-off %d: %v %s", i, err, status)
		}
		answer = append(answer, time.Since(start))
		if err := waitFor(w, func(o any) bool {
			inc, ok := o.(*v1alpha1.Incident)
			return ok && inc.Name == name && inc.Spec.Roles.Commander == v1alpha1.Person(who)
		}); err != nil {
			return err
		}
		chat = append(chat, time.Since(start))
	}
	// The API server's own figure, in the same run: a patch of a ConfigMap to its watch event.
	base := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench-baseline", Namespace: "default"}, Data: map[string]string{"i": "0"}}
	if err := cl.Create(ctx, base); err != nil {
		return err
	}
	cw, err := cl.Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace("default"))
	if err != nil {
		return err
	}
	defer cw.Stop()
	var api []time.Duration
	for i := range n {
		v := fmt.Sprint(i + 1)
		start := time.Now()
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"data":{"i":"`+v+`"}}`))
		if err := cl.Patch(ctx, base, patch); err != nil {
			return err
		}
		if err := waitFor(cw, func(o any) bool {
			c, ok := o.(*corev1.ConfigMap)
			return ok && c.Name == base.Name && c.Data["i"] == v
		}); err != nil {
			return err
		}
		api = append(api, time.Since(start))
	}
	steps, calls, err := inProcess(ctx, cfg, cl, name, n, profile)
	if err != nil {
		return err
	}
	q := benchenv.Quantile
	fmt.Printf("hand-offs: %d, from a signed Slack request to the Incident changed (watch)\n", n)
	fmt.Printf("  chat hand-off -> Incident changed  p50 %7.1f ms  p99 %7.1f ms\n", benchenv.Ms(q(chat, .5)), benchenv.Ms(q(chat, .99)))
	fmt.Printf("  gateway answered                   p50 %7.1f ms  p99 %7.1f ms\n", benchenv.Ms(q(answer, .5)), benchenv.Ms(q(answer, .99)))
	fmt.Printf("  API server patch -> watch          p50 %7.1f ms  p99 %7.1f ms\n", benchenv.Ms(q(api, .5)), benchenv.Ms(q(api, .99)))
	fmt.Printf("  ratio                              p50 %7.1fx    p99 %7.1fx\n", float64(q(chat, .5))/float64(q(api, .5)), float64(q(chat, .99))/float64(q(api, .99)))
	fmt.Printf("the steps of a hand-off, in-process (the bench's own client as the gateway):\n")
	for _, st := range steps {
		fmt.Printf("  %-34s p50 %7.1f ms  p99 %7.1f ms\n", st.name, benchenv.Ms(q(st.d, .5)), benchenv.Ms(q(st.d, .99)))
	}
	fmt.Print(calls)
	fmt.Printf("gateway memory at rest: %s; after the hand-offs: %s\n", rssRest, rss(filepath.Join(root, "bin", "gateway")))
	return nil
}

type step struct {
	name string
	d    []time.Duration
}

// inProcess runs n hand-offs through the gateway's own steps, as the typist would, and times
// each step: who typed it, the channel's incident, the hand-off (`kubectl incident handoff`).
// calls describes the API calls the typist made.
func inProcess(ctx context.Context, cfg *rest.Config, cl client.Client, incident string, n int, profile string) (steps []step, calls string, err error) {
	rec := &recorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec }
	ids := &gateway.Identities{Reader: cl, Namespace: "default"}
	kube := &gateway.Kube{Base: cfg, Namespace: "default"}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, "", err
		}
		defer pprof.StopCPUProfile()
	}
	steps = []step{{name: "who typed it (identities)"}, {name: "channel's incident (list)"}, {name: "hand-off (kubectl incident)"}}
	for i := range n {
		who := []string{"alice", "bob"}[i%2]
		start := time.Now()
		user, err := ids.Username(ctx, localcluster.LocalSlackUser)
		if err != nil {
			return nil, "", err
		}
		steps[0].d = append(steps[0].d, time.Since(start))
		start = time.Now()
		if _, err := kube.Linked(ctx, user, "C0BENCH"); err != nil {
			return nil, "", err
		}
		steps[1].d = append(steps[1].d, time.Since(start))
		start = time.Now()
		if _, err := kube.Run(ctx, user, "handoff", "--ic="+who, "--", incident); err != nil {
			return nil, "", err
		}
		steps[2].d = append(steps[2].d, time.Since(start))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	calls = fmt.Sprintf("a hand-off's calls as the typist: %.1f (%.1f ms in them), %.2f refused as conflicting (409), %.2f new connections\n",
		float64(rec.calls)/float64(n), benchenv.Ms(rec.in)/float64(n), float64(rec.conflicts)/float64(n), float64(rec.dials)/float64(n))
	for _, verb := range slices.Sorted(maps.Keys(rec.kinds)) {
		k := rec.kinds[verb]
		calls += fmt.Sprintf("  %-6s %.2f a hand-off, %.1f ms each on average\n", verb, float64(k.n)/float64(n), benchenv.Ms(k.d)/float64(k.n))
	}
	return steps, calls, nil
}

// recorder counts the typist's calls to the API server, the time spent in them, the stale
// writes refused, and the connections that were not reused.
type recorder struct {
	next                    http.RoundTripper
	mu                      sync.Mutex
	calls, conflicts, dials int
	in                      time.Duration
	kinds                   map[string]*kind
}

// kind is the calls of one sort (GET, LIST, PATCH) and the time spent in them.
type kind struct {
	n int
	d time.Duration
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			r.mu.Lock()
			r.dials++
			r.mu.Unlock()
		}
	}}
	start := time.Now()
	resp, err := r.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.in += time.Since(start)
	verb := req.Method
	if verb == http.MethodGet && strings.HasSuffix(req.URL.Path, "/incidents") {
		verb = "LIST"
	}
	if r.kinds == nil {
		r.kinds = map[string]*kind{}
	}
	if r.kinds[verb] == nil {
		r.kinds[verb] = &kind{}
	}
	r.kinds[verb].n++
	r.kinds[verb].d += time.Since(start)
	if err == nil && resp.StatusCode == http.StatusConflict {
		r.conflicts++
	}
	return resp, err
}

func waitFor(w watch.Interface, done func(any) bool) error {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("the watch ended")
			}
			if done(ev.Object) {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("nothing seen within 30s")
		}
	}
}

// rss is the resident memory of the running binary bin, from /proc.
func rss(bin string) string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(b), bin+"\x00") {
			continue
		}
		status, err := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}
