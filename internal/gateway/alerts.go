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
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/plugin"
)

// Notification is Alertmanager's webhook payload, version 4, as its webhook_config documents
// it.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a Notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// DecodeNotification reads an Alertmanager webhook payload. It refuses what Alertmanager would
// never send, with an error that says what is wrong: another version, no group key, a status
// other than firing or resolved, unknown fields.
func DecodeNotification(body []byte) (Notification, error) {
	var n Notification
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return Notification{}, fmt.Errorf("not an Alertmanager webhook payload: %w", err)
	}
	if dec.More() {
		return Notification{}, errors.New("not an Alertmanager webhook payload: more than one JSON value")
	}
	switch {
	case n.Version != "4":
		return Notification{}, fmt.Errorf("payload version %q is not supported: Firescope reads Alertmanager's version 4", n.Version)
	case n.GroupKey == "":
		return Notification{}, errors.New("payload has no groupKey")
	case len(n.GroupKey) > 1024:
		return Notification{}, errors.New("payload's groupKey is over 1024 bytes")
	case !validStatus(n.Status):
		return Notification{}, fmt.Errorf("payload status %q is neither firing nor resolved", n.Status)
	}
	for i, a := range n.Alerts {
		if !validStatus(a.Status) {
			return Notification{}, fmt.Errorf("alert %d: status %q is neither firing nor resolved", i+1, a.Status)
		}
	}
	return n, nil
}

func validStatus(s string) bool {
	return s == string(v1alpha1.AlertsFiring) || s == string(v1alpha1.AlertsResolved)
}

// GroupLabel marks the Incidents opened for an alert group with a hash of its groupKey.
const GroupLabel = "firescope.dev/alert-group"

// GroupHash is the GroupLabel value of a groupKey: a label value is at most 63 characters and
// a groupKey may be far longer.
func GroupHash(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(sum[:])[:32]
}

// IncidentName is the name of the seq-th Incident opened for the alert group. Two
// notifications of a group that race to open its incident compute the same name, so the API
// server lets only one create it.
func IncidentName(n Notification, seq int) string {
	base := plugin.NameFromTitle(cmp.Or(n.GroupLabels["alertname"], "alert"), time.Time{})
	if len(base) > 30 {
		base = strings.TrimRight(base[:30], "-")
	}
	return fmt.Sprintf("%s-%s-%d", base, GroupHash(n.GroupKey)[:10], seq)
}

// firing returns the notification's firing alerts.
func (n Notification) firing() []Alert {
	var out []Alert
	for _, a := range n.Alerts {
		if a.Status == string(v1alpha1.AlertsFiring) {
			out = append(out, a)
		}
	}
	return out
}

// alertName is the alert's name as Prometheus gives it.
func (a Alert) alertName() string { return a.Labels["alertname"] }

// Title is what an incident opened by the notification is called: the summary or description
// annotation, else the alert's name.
func (n Notification) Title() string {
	alerts := n.firing()
	if len(alerts) == 0 {
		alerts = n.Alerts
	}
	first := Alert{}
	if len(alerts) > 0 {
		first = alerts[0]
	}
	for _, t := range []string{n.CommonAnnotations["summary"], first.Annotations["summary"],
		n.CommonAnnotations["description"], first.Annotations["description"],
		n.CommonLabels["alertname"], n.GroupLabels["alertname"], first.alertName()} {
		if t = oneLine(t); t != "" {
			return truncate(t, 200)
		}
	}
	return truncate(oneLine("Alert from Alertmanager receiver "+n.Receiver), 200)
}

// State is the state an incident opened by the notification starts in: the most severe that
// a firing alert's state label maps to, Investigating when none does.
func (n Notification) State(p *v1alpha1.AlertIntake) v1alpha1.IncidentState {
	label := cmp.Or(p.StateLabel, v1alpha1.DefaultAlertStateLabel)
	rank := map[v1alpha1.IncidentState]int{v1alpha1.StateInvestigating: 1, v1alpha1.StateConfirmed: 2, v1alpha1.StateMajor: 3}
	state := v1alpha1.StateInvestigating
	for _, a := range n.firing() {
		if s, ok := p.States[a.Labels[label]]; ok && rank[s] > rank[state] {
			state = s
		}
	}
	return state
}

// Components are the values of the policy's components label across the firing alerts, as
// impact.components bounds them.
func (n Notification) Components(p *v1alpha1.AlertIntake) []string {
	if p.ComponentsLabel == "" {
		return nil
	}
	var out []string
	for _, a := range n.firing() {
		c := strings.TrimSpace(a.Labels[p.ComponentsLabel])
		if c != "" && len(c) <= 100 && !slices.Contains(out, c) && len(out) < 50 {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// maxLinks leaves room in spec.links (20) for the links people add.
const maxLinks = 10

// Links are the alerts' sources (generatorURL), their runbooks (the runbook_url annotation)
// and Alertmanager itself, each an absolute http(s) URL that fits spec.links.
func (n Notification) Links() []v1alpha1.Link {
	var links []v1alpha1.Link
	seen := map[string]bool{}
	add := func(name, u string) {
		if len(links) >= maxLinks || seen[u] || !linkURL(u) {
			return
		}
		seen[u] = true
		for i := 1; ; i++ {
			nm := name
			if i > 1 {
				nm = fmt.Sprintf("%s-%d", name, i)
			}
			if !slices.ContainsFunc(links, func(l v1alpha1.Link) bool { return l.Name == nm }) {
				links = append(links, v1alpha1.Link{Name: nm, URL: u})
				return
			}
		}
	}
	add("runbook", n.CommonAnnotations["runbook_url"])
	for _, a := range n.Alerts {
		add("runbook", a.Annotations["runbook_url"])
	}
	for _, a := range n.Alerts {
		add("source", a.GeneratorURL)
	}
	add("alertmanager", n.ExternalURL)
	return links
}

func linkURL(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Summary says in a line how many alerts fire and are resolved, and which: what the timeline
// records of each notification.
func (n Notification) Summary() string {
	count := map[string]int{}
	names := map[string][]string{}
	for _, a := range n.Alerts {
		count[a.Status]++
		if nm := cmp.Or(a.alertName(), a.Fingerprint); nm != "" && !slices.Contains(names[a.Status], nm) {
			names[a.Status] = append(names[a.Status], nm)
		}
	}
	var parts []string
	for _, st := range []string{string(v1alpha1.AlertsFiring), string(v1alpha1.AlertsResolved)} {
		if count[st] == 0 {
			continue
		}
		p := fmt.Sprintf("%d %s", count[st], st)
		if len(names[st]) > 0 {
			p += ": " + strings.Join(names[st], ", ")
		}
		parts = append(parts, p)
	}
	if n.TruncatedAlerts > 0 {
		parts = append(parts, fmt.Sprintf("%d more not sent (max_alerts)", n.TruncatedAlerts))
	}
	if len(parts) == 0 {
		return n.Status
	}
	return truncate(oneLine(strings.Join(parts, "; ")), 400)
}

// NewIncident is the Incident the notification opens under the policy, seq-th of its group.
func (n Notification) NewIncident(namespace string, seq int, p *v1alpha1.AlertIntake, now time.Time) *v1alpha1.Incident {
	inc := &v1alpha1.Incident{}
	inc.Name, inc.Namespace = IncidentName(n, seq), namespace
	inc.Labels = map[string]string{GroupLabel: GroupHash(n.GroupKey)}
	inc.Spec = v1alpha1.IncidentSpec{
		Title: n.Title(),
		State: n.State(p),
		Roles: v1alpha1.Roles{Commander: p.DefaultIncidentCommander},
		Links: n.Links(),
	}
	if c := n.Components(p); len(c) > 0 {
		inc.Spec.Impact = &v1alpha1.Impact{Components: c}
	}
	n.Record(inc, now)
	return inc
}

// Record notes the notification in the incident's spec.alerts, one notification more.
func (n Notification) Record(inc *v1alpha1.Incident, now time.Time) {
	a := inc.Spec.Alerts
	if a == nil {
		a = &v1alpha1.AlertGroup{GroupKey: n.GroupKey}
		inc.Spec.Alerts = a
	}
	a.Notifications++
	a.Status = v1alpha1.AlertGroupStatus(n.Status)
	a.Summary = n.Summary()
	a.LastNotifiedAt.Time = now.UTC().Truncate(time.Second)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate cuts s to at most n bytes, on a character boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
