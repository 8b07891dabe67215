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

// Command alerts measures the gateway's Alertmanager intake on a local control plane with the
// manager and the gateway binaries and a real Alertmanager (Debian's
// prometheus-alertmanager): the time from Alertmanager sending a new group's notification to
// the Incident created (seen through a watch), and the duplicates over repeated sends: the
// repeats Alertmanager makes every repeat_interval, and the same notification sent
// concurrently, as retries and Alertmanager replicas do.
//
//	make build && KUBEBUILDER_ASSETS=$PWD/bin/k8s-... go run ./test/bench/alerts -n 100
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/gateway"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/test/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 100, "alert groups to open, and repeated sends to count duplicates over")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench/alerts:", err)
		os.Exit(1)
	}
}

// sends records when Alertmanager sent each notification, by group, on its way to the gateway.
type sends struct {
	mu    sync.Mutex
	first map[string]time.Time
	count map[string]int
	total int
}

func (s *sends) proxy(target string) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		var n struct {
			GroupKey string `json:"groupKey"`
		}
		_ = json.Unmarshal(body, &n)
		s.mu.Lock()
		if _, ok := s.first[n.GroupKey]; !ok {
			s.first[n.GroupKey] = at
		}
		s.count[n.GroupKey]++
		s.total++
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}), nil
}

func run(n int) error {
	ctx := context.Background()
	amBin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		return fmt.Errorf("prometheus-alertmanager is not installed: run hack/install-test-deps.sh")
	}
	e, err := benchenv.StartWithGateway(ctx)
	if err != nil {
		return err
	}
	defer e.Stop()
	cl, dir, gwAddr := e.Client, e.Dir(), e.GatewayAddr
	if err := cl.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"},
		Spec: v1alpha1.ResponsePolicySpec{Alerts: &v1alpha1.AlertIntake{DefaultIncidentCommander: "ricardo"}}}); err != nil {
		return err
	}

	// Alertmanager delivers to the gateway through a proxy that notes when each notification left.
	s := &sends{first: map[string]time.Time{}, count: map[string]int{}}
	h, err := s.proxy("http://" + gwAddr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	proxy := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = proxy.Serve(ln) }()
	defer proxy.Close()
	amAddr, err := localcluster.FreeAddr()
	if err != nil {
		return err
	}
	// New groups are sent at once; repeats wait for the second phase, so that the first measures
	// the send of a new group alone. A notification's deadline is Alertmanager's group_interval.
	writeConf := func(repeat string) error {
		conf := fmt.Sprintf(`
route: {receiver: firescope, group_by: [alertname], group_wait: 0s, group_interval: 5s, repeat_interval: %s}
receivers:
- name: firescope
  webhook_configs:
  - url: http://%s/alertmanager/default
    http_config: {authorization: {credentials_file: %s}}
`, repeat, ln.Addr(), filepath.Join(dir, localcluster.AlertTokenFile))
		return os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(conf), 0o600)
	}
	if err := writeConf("1h"); err != nil {
		return err
	}
	am := exec.Command(amBin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		return err
	}
	am.Stdout, am.Stderr = logf, logf
	if err := am.Start(); err != nil {
		return err
	}
	defer func() { _ = am.Process.Kill(); _ = am.Wait() }()
	if err := waitReady("http://" + amAddr + "/-/ready"); err != nil {
		return err
	}

	w, err := cl.Watch(ctx, &v1alpha1.IncidentList{}, client.InNamespace("default"))
	if err != nil {
		return err
	}
	defer w.Stop()
	// The watch is drained as it comes, or the API server would close it as too slow.
	var amu sync.Mutex
	added := map[string]time.Time{}
	go func() {
		for ev := range w.ResultChan() {
			if inc, ok := ev.Object.(*v1alpha1.Incident); ok && ev.Type == watch.Added && inc.Spec.Alerts != nil {
				amu.Lock()
				added[inc.Spec.Alerts.GroupKey] = time.Now()
				amu.Unlock()
			}
		}
	}()
	var created []time.Duration
	for i := range n {
		name := fmt.Sprintf("BenchAlert%d", i)
		key := `{}:{alertname="` + name + `"}`
		ends := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if err := post("http://"+amAddr+"/api/v2/alerts", fmt.Sprintf(`[{"labels":{"alertname":%q,"service":"api"},"annotations":{"summary":"Bench %d"},"endsAt":%q}]`, name, i, ends)); err != nil {
			return err
		}
		var seen time.Time
		if err := poll(30*time.Second, func() bool {
			amu.Lock()
			defer amu.Unlock()
			seen = added[key]
			return !seen.IsZero()
		}); err != nil {
			return fmt.Errorf("group %s: no incident: %w", name, err)
		}
		s.mu.Lock()
		sent := s.first[key]
		s.mu.Unlock()
		if sent.IsZero() {
			return fmt.Errorf("group %s: an incident appeared with no send seen", name)
		}
		created = append(created, seen.Sub(sent))
	}

	if err := writeConf("5s"); err != nil {
		return err
	}
	if err := post("http://"+amAddr+"/-/reload", ""); err != nil {
		return err
	}
	// Alertmanager repeats every group every repeat_interval: wait for n repeated sends.
	if err := poll(5*time.Minute, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.total-len(s.first) >= n
	}); err != nil {
		return fmt.Errorf("fewer than %d repeated sends: %w", n, err)
	}
	// Let the sends in flight land.
	time.Sleep(2 * time.Second)
	s.mu.Lock()
	total, groups := s.total, len(s.first)
	s.mu.Unlock()
	list := &v1alpha1.IncidentList{}
	if err := cl.List(ctx, list, client.InNamespace("default")); err != nil {
		return err
	}
	repeatDuplicates := len(list.Items) - groups

	// The same new group's notification sent n times, 10 at a time, straight to the gateway.
	token, err := os.ReadFile(filepath.Join(dir, localcluster.AlertTokenFile))
	if err != nil {
		return err
	}
	body, _ := json.Marshal(gateway.Notification{Version: "4", GroupKey: `{}:{alertname="BenchConcurrent"}`, Status: "firing", Receiver: "firescope",
		GroupLabels: map[string]string{"alertname": "BenchConcurrent"},
		Alerts:      []gateway.Alert{{Status: "firing", Labels: map[string]string{"alertname": "BenchConcurrent"}, StartsAt: time.Now()}}})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	failed, refusal := 0, ""
	var mu sync.Mutex
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req, _ := http.NewRequest(http.MethodPost, "http://"+gwAddr+"/alertmanager/default", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
			resp, err := http.DefaultClient.Do(req)
			why := ""
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				why = resp.Status + " " + strings.TrimSpace(string(b))
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				mu.Lock()
				failed++
				refusal = cmp.Or(refusal, fmt.Sprint(why, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	conc := &v1alpha1.IncidentList{}
	if err := cl.List(ctx, conc, client.InNamespace("default"), client.MatchingLabels{gateway.GroupLabel: gateway.GroupHash(`{}:{alertname="BenchConcurrent"}`)}); err != nil {
		return err
	}
	var recorded int32
	if len(conc.Items) > 0 && conc.Items[0].Spec.Alerts != nil {
		recorded = conc.Items[0].Spec.Alerts.Notifications
	}

	q := benchenv.Quantile
	fmt.Printf("alert groups: %d, from Alertmanager's send to the Incident created (watch)\n", n)
	fmt.Printf("  send -> Incident created  p50 %7.1f ms  p99 %7.1f ms\n", benchenv.Ms(q(created, .5)), benchenv.Ms(q(created, .99)))
	fmt.Printf("repeats: %d sends by Alertmanager for %d groups (%d repeated): %d incidents, %d duplicates\n",
		total, groups, total-groups, len(list.Items), repeatDuplicates)
	fmt.Printf("concurrent: %d sends of one group, 10 at a time: %d incidents (%d duplicates), %d notifications recorded, %d sends refused\n",
		n, len(conc.Items), max(len(conc.Items)-1, 0), recorded, failed)
	if refusal != "" {
		fmt.Printf("  first refusal: %s\n", refusal)
	}
	return nil
}

func post(url, body string) error {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, b)
	}
	return nil
}

func waitReady(url string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within a minute: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// poll calls done until it is true, or fails after timeout.
func poll(timeout time.Duration, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
