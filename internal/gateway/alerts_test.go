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

package gateway

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"firescope.dev/firescope/api/v1alpha1"
)

// sample is a notification as Alertmanager 0.25 sends it (captured from its webhook).
const sample = `{"receiver":"firescope","status":"firing","alerts":[
 {"status":"firing","labels":{"alertname":"HighErrorRate","service":"api","severity":"critical"},
  "annotations":{"summary":"API error rate above 5%","runbook_url":"https://runbooks.example.com/api-errors"},
  "startsAt":"2026-12-03T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
  "generatorURL":"http://prometheus:9090/graph?g0.expr=errors","fingerprint":"a1b2c3d4e5f60718"},
 {"status":"firing","labels":{"alertname":"HighErrorRate","service":"web","severity":"warning"},
  "annotations":{"summary":"Web error rate above 5%"},
  "startsAt":"2026-12-03T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
  "generatorURL":"http://prometheus:9090/graph?g0.expr=errors","fingerprint":"0718a1b2c3d4e5f6"},
 {"status":"resolved","labels":{"alertname":"HighLatency","service":"db","severity":"critical"},
  "annotations":{},"startsAt":"2026-12-03T09:00:00Z","endsAt":"2026-12-03T09:30:00Z",
  "generatorURL":"javascript:alert(1)","fingerprint":"ffff"}],
 "groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{"alertname":"HighErrorRate"},
 "commonAnnotations":{},"externalURL":"http://alertmanager:9093",
 "version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0}`

func mustDecode(t *testing.T, body string) Notification {
	t.Helper()
	n, err := DecodeNotification([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDecodeNotificationRefusesWhatAlertmanagerNeverSends(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"another version": {strings.Replace(sample, `"version":"4"`, `"version":"3"`, 1), `version "3" is not supported`},
		"no group key":    {strings.Replace(sample, `"groupKey":"{}:{alertname=\"HighErrorRate\"}"`, `"groupKey":""`, 1), "no groupKey"},
		"bad status":      {strings.Replace(sample, `"status":"firing","alerts"`, `"status":"burning","alerts"`, 1), `status "burning"`},
		"bad alert":       {strings.Replace(sample, `"status":"resolved","labels"`, `"status":"gone","labels"`, 1), `alert 3: status "gone"`},
		"unknown field":   {strings.Replace(sample, `"receiver"`, `"recevier"`, 1), `unknown field "recevier"`},
		"two values":      {sample + `{}`, "more than one JSON value"},
		"not JSON":        {"receiver=firescope", "not an Alertmanager webhook payload"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeNotification([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestNotificationMapping(t *testing.T) {
	n := mustDecode(t, sample)
	policy := &v1alpha1.AlertIntake{DefaultIncidentCommander: "oncall@example.com", ComponentsLabel: "service",
		States: map[string]v1alpha1.IncidentState{"critical": v1alpha1.StateMajor, "warning": v1alpha1.StateConfirmed}}
	now := time.Date(2026, 12, 3, 10, 1, 2, 500, time.UTC)
	inc := n.NewIncident("payments", 1, policy, now)

	if got, want := inc.Spec.Title, "API error rate above 5%"; got != want {
		t.Errorf("title %q, want %q (the first firing alert's summary)", got, want)
	}
	if inc.Spec.State != v1alpha1.StateMajor {
		t.Errorf("state %s, want Major: the most severe state a firing alert maps to", inc.Spec.State)
	}
	if inc.Spec.Roles.Commander != "oncall@example.com" {
		t.Errorf("IC %q, want the policy's defaultIncidentCommander", inc.Spec.Roles.Commander)
	}
	// The resolved alert's service is not impacted any more.
	if got := inc.Spec.Impact.Components; !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("components %v, want [api web]", got)
	}
	wantLinks := []v1alpha1.Link{{Name: "runbook", URL: "https://runbooks.example.com/api-errors"},
		{Name: "source", URL: "http://prometheus:9090/graph?g0.expr=errors"}, {Name: "alertmanager", URL: "http://alertmanager:9093"}}
	if !slices.Equal(inc.Spec.Links, wantLinks) {
		t.Errorf("links %v, want %v (no javascript: URL, no duplicate)", inc.Spec.Links, wantLinks)
	}
	a := inc.Spec.Alerts
	if a.GroupKey != n.GroupKey || a.Notifications != 1 || a.Status != v1alpha1.AlertsFiring || !a.LastNotifiedAt.Time.Equal(now.Truncate(time.Second)) {
		t.Errorf("alerts %+v", a)
	}
	if want := "2 firing: HighErrorRate; 1 resolved: HighLatency"; a.Summary != want {
		t.Errorf("summary %q, want %q", a.Summary, want)
	}
	if inc.Labels[GroupLabel] != GroupHash(n.GroupKey) || len(GroupHash(n.GroupKey)) > 63 {
		t.Errorf("label %q", inc.Labels[GroupLabel])
	}
	if errs := validation.IsDNS1123Subdomain(inc.Name); len(errs) > 0 || !strings.HasPrefix(inc.Name, "higherrorrate-") || !strings.HasSuffix(inc.Name, "-1") {
		t.Errorf("name %q: %v", inc.Name, errs)
	}

	n.Status, n.Alerts = "resolved", n.Alerts[2:]
	n.Record(inc, now.Add(time.Minute))
	if a.Notifications != 2 || a.Status != v1alpha1.AlertsResolved || a.Summary != "1 resolved: HighLatency" {
		t.Errorf("after a resolved notification: %+v", a)
	}
	if inc.Spec.State != v1alpha1.StateMajor {
		t.Errorf("a notification changed the state to %s", inc.Spec.State)
	}
}

func TestNotificationTitleAndState(t *testing.T) {
	policy := &v1alpha1.AlertIntake{StateLabel: "level", States: map[string]v1alpha1.IncidentState{"p1": v1alpha1.StateConfirmed}}
	for name, tc := range map[string]struct {
		n         Notification
		title     string
		state     v1alpha1.IncidentState
		incidents string
	}{
		"common summary first": {n: Notification{CommonAnnotations: map[string]string{"summary": "  Deploys\n failing "}, Alerts: []Alert{
			{Status: "firing", Annotations: map[string]string{"summary": "one"}, Labels: map[string]string{"level": "p1"}}}},
			title: "Deploys failing", state: v1alpha1.StateConfirmed},
		"description when no summary": {n: Notification{Alerts: []Alert{{Status: "firing", Annotations: map[string]string{"summary": " ", "description": "Disk full"}}}},
			title: "Disk full", state: v1alpha1.StateInvestigating},
		"alert name when no annotation": {n: Notification{GroupLabels: map[string]string{"alertname": "DiskFull"}, Alerts: []Alert{{Status: "firing"}}},
			title: "DiskFull", state: v1alpha1.StateInvestigating},
		"resolved alerts do not pick the state": {n: Notification{Alerts: []Alert{{Status: "resolved", Labels: map[string]string{"alertname": "X", "level": "p1"}}}},
			title: "X", state: v1alpha1.StateInvestigating},
		"nothing at all": {n: Notification{Receiver: "team"}, title: "Alert from Alertmanager receiver team", state: v1alpha1.StateInvestigating},
		"long": {n: Notification{CommonAnnotations: map[string]string{"summary": strings.Repeat("é", 150)}},
			title: strings.Repeat("é", 98) + "…", state: v1alpha1.StateInvestigating},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.n.Title(); got != tc.title {
				t.Errorf("title %q, want %q", got, tc.title)
			}
			if got := tc.n.State(policy); got != tc.state {
				t.Errorf("state %s, want %s", got, tc.state)
			}
		})
	}
}

func TestOpenOfPicksTheGroupsOpenIncident(t *testing.T) {
	mk := func(name, key string, state v1alpha1.IncidentState) v1alpha1.Incident {
		inc := v1alpha1.Incident{Spec: v1alpha1.IncidentSpec{State: state, Alerts: &v1alpha1.AlertGroup{GroupKey: key}}}
		inc.Name = name
		return inc
	}
	incs := []v1alpha1.Incident{mk("x-abc-1", "k", v1alpha1.StateResolved), mk("x-abc-3", "other", v1alpha1.StateMajor), mk("x-abc-2", "k", v1alpha1.StateResolved)}
	if open, seq := openOf(incs, "k"); open != nil || seq != 3 {
		t.Errorf("got %v, %d; want none open and the next name after 3", open, seq)
	}
	incs = append(incs, mk("x-abc-4", "k", v1alpha1.StateInvestigating))
	if open, seq := openOf(incs, "k"); open == nil || open.Name != "x-abc-4" || seq != 4 {
		t.Errorf("got %v, %d; want x-abc-4", open, seq)
	}
}

// FuzzDecodeNotification feeds the decoder arbitrary bodies: it never panics, and whatever it
// accepts maps to an Incident the API server's schema would take.
func FuzzDecodeNotification(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"version":"4","groupKey":"k","status":"resolved","alerts":[]}`))
	f.Add([]byte(`{"version":"4","groupKey":"k","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"\u00e9\u00e9"},"generatorURL":"http://[::1"}]}`))
	policy := &v1alpha1.AlertIntake{DefaultIncidentCommander: "ic", ComponentsLabel: "service", States: map[string]v1alpha1.IncidentState{"critical": v1alpha1.StateMajor}}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := DecodeNotification(body)
		if err != nil {
			return
		}
		inc := n.NewIncident("ns", 7, policy, time.Now())
		if l := utf8.RuneCountInString(inc.Spec.Title); l == 0 || l > 200 {
			t.Fatalf("title of %d characters: %q", l, inc.Spec.Title)
		}
		if errs := validation.IsDNS1123Subdomain(inc.Name); len(errs) > 0 || len(inc.Name) > 63 {
			t.Fatalf("name %q: %v", inc.Name, errs)
		}
		if !inc.Spec.State.IsOpen() {
			t.Fatalf("state %s", inc.Spec.State)
		}
		if len(inc.Spec.Links) > maxLinks {
			t.Fatalf("%d links", len(inc.Spec.Links))
		}
		names := map[string]bool{}
		for _, l := range inc.Spec.Links {
			u, err := url.Parse(l.URL)
			if names[l.Name] || err != nil || (u.Scheme != "http" && u.Scheme != "https") || len(l.URL) > 512 || len(l.Name) > 64 {
				t.Fatalf("link %+v", l)
			}
			names[l.Name] = true
		}
		if inc.Spec.Impact != nil {
			for _, c := range inc.Spec.Impact.Components {
				if c == "" || len(c) > 100 {
					t.Fatalf("component %q", c)
				}
			}
			if len(inc.Spec.Impact.Components) > 50 {
				t.Fatalf("%d components", len(inc.Spec.Impact.Components))
			}
		}
		if s := inc.Spec.Alerts.Summary; utf8.RuneCountInString(s) > 400 || !utf8.ValidString(s) {
			t.Fatalf("summary %q", s)
		}
	})
}
