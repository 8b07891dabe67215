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
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "firescope.dev/firescope/api/v1alpha1"
)

const urlParts = "url must have no query ('?'), fragment ('#') or user and password ('@'): paths are appended to it, and credentials belong in the Secret"

func TestAPIServerRefusesAStatusPageWithoutWhatItsProviderNeeds(t *testing.T) {
	ref := SecretKeyReference{Name: "s", Key: "k"}
	cases := map[string]struct {
		spec StatusPageSpec
		want string
	}{
		"statuspage without pageID": {StatusPageSpec{Provider: ProviderStatuspage, CredentialsSecretRef: ref}, "pageID is required for the statuspage provider"},
		"firescope without url":     {StatusPageSpec{Provider: ProviderFirescope, CredentialsSecretRef: ref}, "url is required for the firescope and webhook providers"},
		"webhook with a bad url":    {StatusPageSpec{Provider: ProviderWebhook, URL: "hooks", CredentialsSecretRef: ref}, "url must be an absolute http or https URL"},
		"unknown provider":          {StatusPageSpec{Provider: "pagerduty", URL: "https://x.example", CredentialsSecretRef: ref}, `Unsupported value: "pagerduty"`},
		// Concatenated, a trailing "?" would turn the provider's paths into a query.
		"url with a trailing ?":  {StatusPageSpec{Provider: ProviderFirescope, URL: "https://status.example.com/x?", CredentialsSecretRef: ref}, urlParts},
		"url with a query":       {StatusPageSpec{Provider: ProviderWebhook, URL: "https://hooks.example.com/x?token=1", CredentialsSecretRef: ref}, urlParts},
		"url with a fragment":    {StatusPageSpec{Provider: ProviderFirescope, URL: "https://status.example.com/#x", CredentialsSecretRef: ref}, urlParts},
		"url with user and pass": {StatusPageSpec{Provider: ProviderFirescope, URL: "https://me:hunter2@status.example.com", CredentialsSecretRef: ref}, urlParts},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &StatusPage{ObjectMeta: metav1.ObjectMeta{GenerateName: "page-", Namespace: "default"}, Spec: tc.spec}
			err := k8s.Create(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	ok := &StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "default"},
		Spec: StatusPageSpec{Provider: ProviderFirescope, URL: "http://127.0.0.1:8080", CredentialsSecretRef: ref}}
	if err := k8s.Create(context.Background(), ok); err != nil {
		t.Fatalf("valid StatusPage refused: %v", err)
	}
}

func TestAPIServerKeepsAStatusUpdateOnItsIncident(t *testing.T) {
	ctx := context.Background()
	su := &StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: "default"}, Spec: StatusUpdateSpec{
		IncidentRef: LocalReference{Name: "ec2-api-errors"}, Status: "investigating",
		Message:    "We are investigating errors provisioning Postgres databases.",
		Components: []UpdateComponent{{Name: "Postgres provisioning", Status: "partial_outage"}},
	}}
	if err := k8s.Create(ctx, su); err != nil {
		t.Fatal(err)
	}
	su.Spec.IncidentRef.Name = "other"
	err := k8s.Update(ctx, su)
	if err == nil || !strings.Contains(err.Error(), "incidentRef cannot change: create a new StatusUpdate for another incident") {
		t.Fatalf("got %v", err)
	}
	bad := &StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "default"}, Spec: StatusUpdateSpec{
		IncidentRef: LocalReference{Name: "x"}, Status: "fixed", Message: "ok"}}
	if err := k8s.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), `Unsupported value: "fixed"`) {
		t.Fatalf("got %v", err)
	}
}
