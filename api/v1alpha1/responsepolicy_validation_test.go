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
			raw := fmt.Sprintf(`{"apiVersion":"firescope.dev/v1alpha1","kind":"ResponsePolicy","metadata":{"name":"p-%d","namespace":"default"},"spec":{"sitrepCadence":{"major":%q}}}`, i, tc.value)
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

func TestAPIServerWantsExactlyOneCommsChannel(t *testing.T) {
	ref := SecretKeyReference{Name: "s", Key: "k"}
	p := &ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "two-channels", Namespace: "default"},
		Spec: ResponsePolicySpec{CommsChannel: &CommsChannel{
			Slack:   &SlackChannel{WebhookURLSecretRef: ref},
			Webhook: &WebhookChannel{URL: "https://hooks.example.com/x", SigningSecretRef: ref},
		}}}
	err := k8s.Create(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "set exactly one of slack or webhook") {
		t.Fatalf("got %v", err)
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
