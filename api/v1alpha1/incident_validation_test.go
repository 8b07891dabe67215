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

package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	. "firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

var k8s client.Client

// TestMain runs these tests against a real kube-apiserver: the CEL rules and schema bounds
// in the CRD are what is under test, and only the API server evaluates them.
func TestMain(m *testing.M) {
	env, err := testenv.Start(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = env.Client
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

var seq int

func newIncident(state IncidentState) *Incident {
	seq++
	return &Incident{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("inc-%d", seq), Namespace: "default"},
		Spec: IncidentSpec{
			Title: "EC2 API errors",
			State: state,
			Roles: Roles{Commander: "ricardo"},
		},
	}
}

// create makes an Incident that is in state from, going through a valid path for Resolved.
func create(t *testing.T, from IncidentState) *Incident {
	t.Helper()
	ctx := context.Background()
	start := from
	if from == StateResolved {
		start = StateInvestigating
	}
	inc := newIncident(start)
	if err := k8s.Create(ctx, inc); err != nil {
		t.Fatalf("create %s: %v", start, err)
	}
	if from == StateResolved {
		inc.Spec.State = StateResolved
		if err := k8s.Update(ctx, inc); err != nil {
			t.Fatalf("resolve: %v", err)
		}
	}
	return inc
}

func TestAPIServerAcceptsExactlyTheTransitionTable(t *testing.T) {
	ctx := context.Background()
	for _, from := range States {
		for _, to := range States {
			if from == to {
				continue
			}
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				inc := create(t, from)
				inc.Spec.State = to
				err := k8s.Update(ctx, inc)
				if CanTransition(from, to) {
					if err != nil {
						t.Fatalf("valid transition refused: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatalf("invalid transition accepted")
				}
				want := fmt.Sprintf("cannot move the incident from %s to %s: from %s it can move to %s",
					from, to, from, allowed(from))
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("message does not name the allowed targets\nwant: %s\ngot:  %v", want, err)
				}
			})
		}
	}
}

func allowed(from IncidentState) string {
	var names []string
	for _, s := range Transitions[from] {
		names = append(names, string(s))
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func TestAPIServerAcceptsCreationOnlyInOpenStates(t *testing.T) {
	ctx := context.Background()
	for _, s := range States {
		t.Run(string(s), func(t *testing.T) {
			err := k8s.Create(ctx, newIncident(s))
			if CanTransition("", s) {
				if err != nil {
					t.Fatalf("create in %s refused: %v", s, err)
				}
				return
			}
			want := "a new incident cannot start Resolved: declare it Investigating, Confirmed or Major"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("want %q, got %v", want, err)
			}
		})
	}
}

func TestAPIServerDefaultsStateToInvestigating(t *testing.T) {
	inc := newIncident("")
	if err := k8s.Create(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	if inc.Spec.State != StateInvestigating {
		t.Fatalf("state defaulted to %q", inc.Spec.State)
	}
}

func TestAPIServerKeepsSitrepsAppendOnly(t *testing.T) {
	ctx := context.Background()
	inc := newIncident(StateMajor)
	inc.Spec.Sitreps = []Sitrep{{Author: "ricardo", Summary: "EC2 API errors"}, {Author: "ricardo", Summary: "Postgres cannot be provisioned"}}
	if err := k8s.Create(ctx, inc); err != nil {
		t.Fatal(err)
	}

	appended := inc.DeepCopy()
	appended.Spec.Sitreps = append(appended.Spec.Sitreps, Sitrep{Author: "keiko", Summary: "PX dynos cannot scale"})
	if err := k8s.Update(ctx, appended); err != nil {
		t.Fatalf("appending a sitrep refused: %v", err)
	}

	cases := map[string]struct {
		change func(*Incident)
		want   string
	}{
		"removing the last": {func(i *Incident) { i.Spec.Sitreps = i.Spec.Sitreps[:2] },
			"sitreps are append-only: an earlier sitrep cannot be removed; post a new sitrep that corrects it"},
		"removing all": {func(i *Incident) { i.Spec.Sitreps = nil },
			"sitreps are append-only: an earlier sitrep cannot be removed; post a new sitrep that corrects it"},
		"editing the first": {func(i *Incident) { i.Spec.Sitreps[0].Summary = "nothing happened" },
			"sitreps are append-only: an earlier sitrep cannot be edited; post a new sitrep that corrects it"},
		"reordering": {func(i *Incident) { i.Spec.Sitreps[0], i.Spec.Sitreps[1] = i.Spec.Sitreps[1], i.Spec.Sitreps[0] },
			"sitreps are append-only: an earlier sitrep cannot be edited; post a new sitrep that corrects it"},
		"editing while appending": {func(i *Incident) {
			i.Spec.Sitreps[2].Author = "noah"
			i.Spec.Sitreps = append(i.Spec.Sitreps, Sitrep{Summary: "more"})
		}, "sitreps are append-only: an earlier sitrep cannot be edited; post a new sitrep that corrects it"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			changed := appended.DeepCopy()
			tc.change(changed)
			err := k8s.Update(ctx, changed)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestAPIServerRefusesInvalidFields(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("x", 2001)
	cases := map[string]struct {
		change func(*Incident)
		want   string
	}{
		"empty title":       {func(i *Incident) { i.Spec.Title = "" }, "spec.title"},
		"unknown state":     {func(i *Incident) { i.Spec.State = "Panic" }, `Unsupported value: "Panic"`},
		"relative link":     {func(i *Incident) { i.Spec.Links = []Link{{Name: "ticket", URL: "/tickets/1"}} }, "url must be an absolute http or https URL"},
		"javascript link":   {func(i *Incident) { i.Spec.Links = []Link{{Name: "x", URL: "javascript:alert(1)"}} }, "url must be an absolute http or https URL"},
		"bad group name":    {func(i *Incident) { i.Spec.Roles.Operations = []OperationsGroup{{Name: "Postgres DB"}} }, "spec.roles.operations[0].name"},
		"long impact":       {func(i *Incident) { i.Spec.Impact = &Impact{Description: long} }, "spec.impact.description"},
		"too many sitreps":  {func(i *Incident) { i.Spec.Sitreps = make([]Sitrep, MaxSitreps+1); fill(i.Spec.Sitreps) }, "spec.sitreps: Too many"},
		"negative affected": {func(i *Incident) { n := int64(-1); i.Spec.Impact = &Impact{CustomersAffected: &n} }, "spec.impact.customersAffected"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inc := newIncident(StateInvestigating)
			tc.change(inc)
			err := k8s.Create(ctx, inc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error mentioning %q, got %v", tc.want, err)
			}
		})
	}
}

func fill(s []Sitrep) {
	for i := range s {
		s[i].Summary = fmt.Sprintf("sitrep %d", i+1)
	}
}

func TestAPIServerKeepsDrillFixed(t *testing.T) {
	ctx := context.Background()
	for _, drill := range []bool{true, false} {
		inc := newIncident(StateInvestigating)
		inc.Spec.Drill = drill
		if err := k8s.Create(ctx, inc); err != nil {
			t.Fatal(err)
		}
		inc.Spec.Drill = !drill
		err := k8s.Update(ctx, inc)
		want := "spec.drill cannot change"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("drill %v -> %v: want %q, got %v", drill, !drill, want, err)
		}
	}
}

// TestWorstCaseIncidentFitsInEtcd stores an Incident with every list at its bound and every
// string at its maximum length, and checks its size against etcd's default 1.5 MiB limit.
func TestWorstCaseIncidentFitsInEtcd(t *testing.T) {
	ctx := context.Background()
	inc := WorstCaseIncident(fmt.Sprintf("worst-%d", seq), "default")
	if err := k8s.Create(ctx, inc); err != nil {
		t.Fatalf("worst-case incident refused: %v", err)
	}
	inc.Status = WorstCaseStatus()
	if err := k8s.Status().Update(ctx, inc); err != nil {
		t.Fatalf("worst-case status refused: %v", err)
	}
	size := ObjectSize(t, inc)
	const etcdLimit = 1536 * 1024
	if size > etcdLimit/2 {
		t.Fatalf("worst-case Incident is %d bytes, more than half of etcd's %d-byte limit", size, etcdLimit)
	}
	t.Logf("worst-case Incident: %d bytes (%.0f%% of etcd's limit)", size, 100*float64(size)/etcdLimit)
}

func TestAPIServerKeepsAnIncidentsAlertGroup(t *testing.T) {
	ctx := context.Background()
	inc := newIncident(StateInvestigating)
	inc.Spec.Alerts = &AlertGroup{GroupKey: `{}:{alertname="A"}`, Status: AlertsFiring, Notifications: 2, LastNotifiedAt: metav1.Now()}
	if err := k8s.Create(ctx, inc); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		change func(*AlertGroup)
		msg    string
	}{
		"another group": {func(a *AlertGroup) { a.GroupKey = `{}:{alertname="B"}` }, "alerts.groupKey cannot change"},
		"fewer":         {func(a *AlertGroup) { a.Notifications = 1 }, "alerts.notifications only grows"},
	} {
		t.Run(name, func(t *testing.T) {
			changed := inc.DeepCopy()
			tc.change(changed.Spec.Alerts)
			if err := k8s.Update(ctx, changed); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("want %q, got %v", tc.msg, err)
			}
		})
	}
	inc.Spec.Alerts.Notifications, inc.Spec.Alerts.Status = 3, AlertsResolved
	if err := k8s.Update(ctx, inc); err != nil {
		t.Fatalf("a new notification refused: %v", err)
	}
}
