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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	. "firescope.dev/firescope/api/v1alpha1"
)

func TestAPIServerValidatesResponsePolicyDurations(t *testing.T) {
	ctx := context.Background()
	const msg = "must be a duration of at least 1s, such as 10s, 30m or 1h30m"
	cases := []struct {
		value string
		valid bool
	}{
		{"10s", true}, {"1s", true}, {"1h30m", true}, {"2.5m", true},
		{"500ms", false}, {"0s", false}, {"5x", false}, {"ten minutes", false}, {"-10s", false},
	}
	for i, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			// Go's duration parser is what the manager uses: every accepted value must parse.
			raw := fmt.Sprintf(`{"apiVersion":"firescope.dev/v1alpha1","kind":"ResponsePolicy","metadata":{"name":"p-%d","namespace":"default"},"spec":{"purpose":"Drill","sitrepCadence":{"major":%q}}}`, i, tc.value)
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			err := k8s.Create(ctx, u)
			if tc.valid {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				p := &ResponsePolicy{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), p); err != nil {
					t.Fatal(err)
				}
				if d, ok := p.SitrepEvery(StateMajor); !ok || d < time.Second {
					t.Fatalf("accepted %q reads as %s", tc.value, d)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "spec.sitrepCadence.major") || !strings.Contains(err.Error(), msg) {
				t.Fatalf("want %q on spec.sitrepCadence.major, got %v", msg, err)
			}
		})
	}
}

func TestAPIServerKeepsCadencesUnderAMinuteForDrillPolicies(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, spec, field string // field "" means accepted
	}{
		{"a minute for real incidents", `{"sitrepCadence":{"investigating":"1m","confirmed":"90s","major":"1h"},"statusUpdateCadence":"1m","postmortemReminderInterval":"24h"}`, ""},
		{"seconds in a drill policy", `{"purpose":"Drill","sitrepCadence":{"investigating":"10s","confirmed":"10s","major":"1s"},"statusUpdateCadence":"2s","postmortemReminderInterval":"2s"}`, ""},
		{"other durations in seconds for real incidents", `{"purpose":"Response","customersInformedWithin":"20s","maxRoleHold":"30s"}`, ""},
		{"a sitrep every 30s", `{"sitrepCadence":{"investigating":"30s"}}`, "spec.sitrepCadence.investigating"},
		{"a sitrep every 59s while Confirmed", `{"purpose":"Response","sitrepCadence":{"confirmed":"59s"}}`, "spec.sitrepCadence.confirmed"},
		{"a sitrep every 500ms while Major", `{"sitrepCadence":{"major":"0.5m"}}`, "spec.sitrepCadence.major"},
		{"a status update every 10s", `{"statusUpdateCadence":"10s"}`, "spec.statusUpdateCadence"},
		{"a post-mortem reminder every 10s", `{"postmortemReminderInterval":"10s"}`, "spec.postmortemReminderInterval"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := fmt.Sprintf(`{"apiVersion":"firescope.dev/v1alpha1","kind":"ResponsePolicy","metadata":{"name":"floor-%d","namespace":"default"},"spec":%s}`, i, tc.spec)
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			err := k8s.Create(ctx, u)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "below 1m is for drills and tests only") ||
				!strings.Contains(err.Error(), "purpose: Drill") {
				t.Fatalf("want the drills-only message on %s, got %v", tc.field, err)
			}
		})
	}
	p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "floor-purpose", Namespace: "default"}, Spec: ResponsePolicySpec{Purpose: "Testing"}}
	if err := k8s.Create(ctx, p); err == nil || !strings.Contains(err.Error(), "spec.purpose") {
		t.Fatalf("an unknown purpose: got %v", err)
	}
}

func TestAPIServerWantsExactlyOneCommsChannel(t *testing.T) {
	ref := SecretKeyReference{Name: "s", Key: "k"}
	for name, c := range map[string]CommsChannel{
		"slack and webhook":    {Slack: &SlackChannel{WebhookURLSecretRef: ref}, Webhook: &WebhookChannel{URL: "https://hooks.example.com/x", SigningSecretRef: ref}},
		"teams and mattermost": {Teams: &TeamsChannel{WebhookURLSecretRef: ref}, Mattermost: &MattermostChannel{WebhookURLSecretRef: ref}},
		"none":                 {},
	} {
		t.Run(name, func(t *testing.T) {
			p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{GenerateName: "channels-", Namespace: "default"},
				Spec: ResponsePolicySpec{CommsChannel: &c}}
			err := k8s.Create(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), "set exactly one of slack, teams, mattermost or webhook") {
				t.Fatalf("got %v", err)
			}
		})
	}
	for name, c := range map[string]CommsChannel{
		"teams":      {Teams: &TeamsChannel{WebhookURLSecretRef: ref}},
		"mattermost": {Mattermost: &MattermostChannel{WebhookURLSecretRef: ref, Channel: "incident-ops", Username: "Firescope"}},
	} {
		p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{GenerateName: "channels-", Namespace: "default"},
			Spec: ResponsePolicySpec{CommsChannel: &c}}
		if err := k8s.Create(context.Background(), p); err != nil {
			t.Errorf("%s alone refused: %v", name, err)
		}
	}
	bad := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{GenerateName: "channels-", Namespace: "default"},
		Spec: ResponsePolicySpec{CommsChannel: &CommsChannel{Mattermost: &MattermostChannel{WebhookURLSecretRef: ref, Channel: "Town Square"}}}}
	if err := k8s.Create(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "spec.commsChannel.mattermost.channel") {
		t.Errorf("a channel display name instead of its name: got %v", err)
	}
}

func TestAPIServerRefusesPolicyURLsWithAQueryFragmentOrUser(t *testing.T) {
	ref := SecretKeyReference{Name: "s", Key: "k"}
	for name, spec := range map[string]ResponsePolicySpec{
		"webhook with a trailing ?": {CommsChannel: &CommsChannel{Webhook: &WebhookChannel{URL: "https://hooks.example.com/x?", SigningSecretRef: ref}}},
		"webhook with a user":       {CommsChannel: &CommsChannel{Webhook: &WebhookChannel{URL: "https://me@hooks.example.com/x", SigningSecretRef: ref}}},
		"pagerduty with a query":    {Paging: &Paging{PagerDuty: PagerDuty{RoutingKeySecretRef: ref, URL: "https://events.pagerduty.com/v2/enqueue?x=1"}}},
		"pagerduty with a fragment": {Paging: &Paging{PagerDuty: PagerDuty{RoutingKeySecretRef: ref, URL: "https://events.pagerduty.com/v2/enqueue#"}}},
	} {
		t.Run(name, func(t *testing.T) {
			p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{GenerateName: "urls-", Namespace: "default"}, Spec: spec}
			err := k8s.Create(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), urlParts) {
				t.Fatalf("got %v, want %q", err, urlParts)
			}
		})
	}
}

func TestAPIServerRefusesPagingOnResolved(t *testing.T) {
	ref := SecretKeyReference{Name: "s", Key: "k"}
	p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "page-resolved", Namespace: "default"},
		Spec: ResponsePolicySpec{Paging: &Paging{PagerDuty: PagerDuty{RoutingKeySecretRef: ref}, States: []IncidentState{StateResolved}}}}
	err := k8s.Create(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "Resolved does not page") {
		t.Fatalf("got %v", err)
	}
}

func TestAPIServerRefusesAlertsThatOpenResolvedIncidents(t *testing.T) {
	ctx := context.Background()
	p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "alerts-resolved", Namespace: "default"},
		Spec: ResponsePolicySpec{Alerts: &AlertIntake{DefaultIncidentCommander: "oncall",
			States: map[string]IncidentState{"critical": StateMajor, "info": StateResolved}}}}
	err := k8s.Create(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "spec.alerts.states") || !strings.Contains(err.Error(), "an alert cannot open a Resolved incident") {
		t.Fatalf("want the Resolved mapping refused, got %v", err)
	}
	p.Spec.Alerts.States = map[string]IncidentState{"critical": StateMajor}
	p.Spec.Alerts.StateLabel = "not a label"
	if err := k8s.Create(ctx, p); err == nil || !strings.Contains(err.Error(), "spec.alerts.stateLabel") {
		t.Fatalf("want the label name refused, got %v", err)
	}
	p.Spec.Alerts.StateLabel = "priority"
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatalf("refused: %v", err)
	}
}
