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

package statusupdate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/testenv"
)

// An editor of a StatusPage picks the Secret key and the URL. Pointing a statuspage provider
// at a server of their own would send the Atlassian key there as "Authorization: OAuth ...".
// The Secret's binding refuses that, and every other use it does not name, before any
// request: the server receives nothing, and the condition says what to change without showing
// the key.
func TestIntegrationAStatusPageEditorCannotSendACredentialToTheirOwnServer(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"an Atlassian key to another host", credentials.Annotations(credentials.Statuspage),
			"may be sent only to api.statuspage.io, not to 127.0.0.1: use one of those hosts, or have the Secret's firescope.dev/hosts annotation list 127.0.0.1"},
		{"a status page token as an Atlassian key", credentials.Annotations(credentials.Firescope, "127.0.0.1"),
			"is for firescope, not statuspage: name a Secret annotated firescope.dev/provider=statuspage"},
		{"a Secret bound to nothing", nil,
			"does not say which provider it is for: whoever may write it annotates it firescope.dev/provider=statuspage"},
	}
	e := startEnv(t)
	ctx := context.Background()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The attacker's server, on this machine, which the manager may reach: only the
			// binding stands between the key and it.
			attacker := statuspage.New()
			t.Cleanup(attacker.Close)
			ns := fmt.Sprintf("bound-key-%d", i)
			namespace(t, e, ns)
			must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "key", Namespace: ns,
				Labels: map[string]string{credentials.Label: "true"}, Annotations: tc.annotations},
				StringData: map[string]string{"key": statuspage.APIKey}}))
			must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
				Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, URL: attacker.URL, PageID: statuspage.PageID,
					CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "key", Key: "key"}}}))
			must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
				Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}}))
			must(t, e.Client.Create(ctx, incident(ns, false)))
			su := update(ns, "first", "investigating", "Provisioning Postgres is failing; we are investigating.")
			su.Spec.Components = nil
			must(t, e.Client.Create(ctx, su))
			var msg string
			testenv.Eventually(t, 20*time.Second, func() error {
				c := condition(t, e.Client, ns, "first")
				if c == nil || c.Reason != v1alpha1.ReasonRetrying {
					return fmt.Errorf("condition %+v", c)
				}
				msg = c.Message
				return nil
			})
			if !strings.Contains(msg, "StatusPage public: Secret "+ns+"/key "+tc.want) {
				t.Errorf("condition says %q, want it to name the Secret and %q", msg, tc.want)
			}
			if strings.Contains(msg, statuspage.APIKey) {
				t.Errorf("the condition shows the key: %q", msg)
			}
			if n := len(attacker.Requests()); n != 0 {
				t.Fatalf("the attacker's server received %d requests, want none", n)
			}
		})
	}
}
