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

package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

// freeAddr is a loopback address nothing listens on, for a server the test starts.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// daemon is a real Prometheus or Alertmanager, from Debian's packages.
type daemon struct {
	t    *testing.T
	name string
	args []string
	log  string
	cmd  *exec.Cmd
}

func startDaemon(t *testing.T, bin string, args ...string) *daemon {
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is not installed: run hack/install-test-deps.sh (Debian's prometheus and prometheus-alertmanager)", bin)
	}
	d := &daemon{t: t, name: path, args: args, log: filepath.Join(t.TempDir(), bin+".log")}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("%s log:\n%s", bin, b)
		}
	})
	return d
}

func (d *daemon) start() {
	f, err := os.OpenFile(d.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	must(d.t, err)
	defer f.Close()
	d.cmd = exec.Command(d.name, d.args...)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	must(d.t, d.cmd.Start())
}

func (d *daemon) stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
}

func waitHTTP(t *testing.T, url string) {
	testenv.Eventually(t, time.Minute, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return nil
	})
}

// TestRealAlertmanagerOpensOneIncidentThroughRepeatsAndARestart runs the whole path: a test
// exporter whose value the test sets, a real Prometheus that scrapes it and fires an alerting
// rule, a real Alertmanager that delivers to the gateway with a bearer token, repeating the
// group every few seconds. The incident opens once and stays one through the repeats and an
// Alertmanager restart; the resolution is recorded, hinted to the IC, and changes no state;
// once the IC resolves it, the next firing opens a new incident.
func TestRealAlertmanagerOpensOneIncidentThroughRepeatsAndARestart(t *testing.T) {
	in := newIntake(t, teamPolicy)
	ctx := context.Background()

	var errorsNow atomic.Int64
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE firescope_test_errors gauge\nfirescope_test_errors{service=\"api\"} %d\n", errorsNow.Load())
	}))
	t.Cleanup(exporter.Close)

	dir := t.TempDir()
	amAddr, promAddr := freeAddr(t), freeAddr(t)
	tokenFile := filepath.Join(dir, "token")
	must(t, os.WriteFile(tokenFile, []byte(alertToken), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(fmt.Sprintf(`
route:
  receiver: firescope
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
- name: firescope
  webhook_configs:
  - url: %s
    send_resolved: true
    http_config:
      authorization:
        credentials_file: %s
`, in.url, tokenFile)), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(`
groups:
- name: test
  interval: 1s
  rules:
  - alert: HighErrorRate
    expr: firescope_test_errors > 0
    labels: {severity: critical}
    annotations:
      summary: API errors on {{ $labels.service }}
      runbook_url: https://runbooks.example.com/api-errors
`), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%s]
alerting:
  alertmanagers:
  - static_configs: [{targets: ["%s"]}]
scrape_configs:
- job_name: exporter
  static_configs: [{targets: ["%s"]}]
`, filepath.Join(dir, "rules.yml"), amAddr, strings.TrimPrefix(exporter.URL, "http://"))), 0o600))

	amArgs := []string{"--config.file=" + filepath.Join(dir, "alertmanager.yml"), "--storage.path=" + filepath.Join(dir, "am-data"),
		"--web.listen-address=" + amAddr, "--web.external-url=http://" + amAddr, "--cluster.listen-address=", "--log.level=debug"}
	am := startDaemon(t, "prometheus-alertmanager", amArgs...)
	waitHTTP(t, "http://"+amAddr+"/-/ready")
	startDaemon(t, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr, "--web.external-url=http://"+promAddr, "--rules.alert.resend-delay=1s")
	waitHTTP(t, "http://"+promAddr+"/-/ready")

	// one returns the namespace's only incident, failing the test if there are more.
	one := func() (*v1alpha1.Incident, error) {
		incs := in.incidents()
		switch {
		case len(incs) > 1:
			t.Fatalf("%d incidents for one alert group: %v", len(incs), names(incs))
		case len(incs) == 0:
			return nil, fmt.Errorf("no incident yet")
		}
		return &incs[0], nil
	}
	notifiedAtLeast := func(n int32) func() error {
		return func() error {
			inc, err := one()
			if err != nil {
				return err
			}
			if got := inc.Spec.Alerts.Notifications; got < n {
				return fmt.Errorf("%d notifications, want %d", got, n)
			}
			return nil
		}
	}

	errorsNow.Store(3)
	testenv.Eventually(t, 2*time.Minute, notifiedAtLeast(1))
	inc, _ := one()
	if inc.Spec.Title != "API errors on api" || inc.Spec.State != v1alpha1.StateMajor || inc.Spec.Roles.Commander != "oncall@example.com" ||
		!slices.Equal(inc.Spec.Impact.Components, []string{"api"}) {
		t.Fatalf("incident %s: title %q, state %s, IC %q, impact %+v", inc.Name, inc.Spec.Title, inc.Spec.State, inc.Spec.Roles.Commander, inc.Spec.Impact)
	}
	if !slices.ContainsFunc(inc.Spec.Links, func(l v1alpha1.Link) bool { return l.Name == "runbook" }) ||
		!slices.ContainsFunc(inc.Spec.Links, func(l v1alpha1.Link) bool {
			return l.Name == "source" && strings.HasPrefix(l.URL, "http://"+promAddr+"/graph")
		}) ||
		!slices.ContainsFunc(inc.Spec.Links, func(l v1alpha1.Link) bool { return l.Name == "alertmanager" && l.URL == "http://"+amAddr }) {
		t.Fatalf("links %+v", inc.Spec.Links)
	}
	// Repeats every repeat_interval add to the same incident.
	testenv.Eventually(t, 2*time.Minute, notifiedAtLeast(3))

	// A restarted Alertmanager (its notification log kept on disk) goes on with the same group.
	am.stop()
	inc, _ = one()
	before := inc.Spec.Alerts.Notifications
	am.start()
	waitHTTP(t, "http://"+amAddr+"/-/ready")
	testenv.Eventually(t, 2*time.Minute, notifiedAtLeast(before+2))

	// Resolved: recorded and hinted to the IC; the state is the IC's to change.
	errorsNow.Store(0)
	testenv.Eventually(t, 2*time.Minute, func() error {
		inc, err := one()
		if err != nil {
			return err
		}
		if inc.Spec.Alerts.Status != v1alpha1.AlertsResolved {
			return fmt.Errorf("alerts %+v", inc.Spec.Alerts)
		}
		if !slices.ContainsFunc(inc.Status.Timeline, func(e v1alpha1.TimelineEntry) bool {
			return e.Type == v1alpha1.TimelineAlert && strings.Contains(e.Message, "resolved: HighErrorRate") && strings.Contains(e.Message, "the IC decides")
		}) {
			return fmt.Errorf("no resolution in the timeline %+v", inc.Status.Timeline)
		}
		evs := &eventsv1.EventList{}
		must(t, in.e.Client.List(ctx, evs, client.InNamespace(in.ns)))
		if !slices.ContainsFunc(evs.Items, func(e eventsv1.Event) bool {
			return e.Reason == v1alpha1.EventAlertsResolved && e.Regarding.Name == inc.Name
		}) {
			return fmt.Errorf("no %s Event", v1alpha1.EventAlertsResolved)
		}
		return nil
	})
	inc, _ = one()
	if inc.Spec.State != v1alpha1.StateMajor {
		t.Fatalf("the resolution changed the state to %s", inc.Spec.State)
	}
	firing := 0
	for _, e := range inc.Status.Timeline {
		if e.Type == v1alpha1.TimelineAlert && e.By != "alertmanager" {
			t.Errorf("alert entry by %q", e.By)
		}
		if e.Type == v1alpha1.TimelineAlert && strings.Contains(e.Message, "firing") {
			firing++
		}
	}
	if firing < 2 {
		t.Errorf("%d firing entries in the timeline, want one per recorded notification: %+v", firing, inc.Status.Timeline)
	}

	// Once the IC resolves the incident, the group firing again opens a new one.
	resolve := inc.DeepCopy()
	resolve.Spec.State = v1alpha1.StateResolved
	must(t, in.e.Client.Patch(ctx, resolve, client.MergeFrom(inc)))
	errorsNow.Store(5)
	testenv.Eventually(t, 2*time.Minute, func() error {
		incs := in.incidents()
		if len(incs) > 2 {
			t.Fatalf("%d incidents: %v", len(incs), names(incs))
		}
		if len(incs) < 2 {
			return fmt.Errorf("no new incident yet")
		}
		return nil
	})
	for _, i := range in.incidents() {
		if i.Name != inc.Name && (!strings.HasSuffix(i.Name, "-2") || i.Spec.State != v1alpha1.StateMajor) {
			t.Fatalf("new incident %s in %s", i.Name, i.Spec.State)
		}
	}
}

func names(incs []v1alpha1.Incident) []string {
	var out []string
	for _, i := range incs {
		out = append(out, i.Name)
	}
	return out
}
