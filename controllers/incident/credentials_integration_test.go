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

package incident_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/pagerduty"
	"firescope.dev/firescope/internal/testenv"
)

// An editor of a ResponsePolicy picks the Secret key and the URL a pager uses. Pointing
// paging at a Slack webhook URL and at a server of their own would send the URL there as the
// routing_key; so would pointing a real PagerDuty key at it. The Secret's binding refuses both
// before any request: the server receives nothing, and the Incident says what to change
// without showing the value.
func TestIntegrationAPolicyEditorCannotSendACredentialToTheirOwnServer(t *testing.T) {
	const slackURL = "https://hooks.slack.com/services/T0/B0/SLACKTOKEN0123"
	cases := []struct {
		name, provider, value, want string
	}{
		{"a Slack webhook URL as a routing key", "slack", slackURL, "is for slack, not pagerduty: name a Secret annotated firescope.dev/provider=pagerduty"},
		{"a routing key to another host", "pagerduty", routingKey, "may be sent only to events.pagerduty.com, not to 127.0.0.1"},
	}
	e := startEnv(t)
	ctx := context.Background()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The attacker's server, on this machine, which the manager may reach: only the
			// binding stands between the credential and it.
			attacker := pagerduty.New()
			t.Cleanup(attacker.Close)
			ns := fmt.Sprintf("bound-credentials-%d", i)
			must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
			must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns,
				Labels:      map[string]string{credentials.Label: "true"},
				Annotations: map[string]string{credentials.ProviderAnnotation: tc.provider}},
				StringData: map[string]string{"value": tc.value}}))
			must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
				Spec: v1alpha1.ResponsePolicySpec{Paging: &v1alpha1.Paging{PagerDuty: v1alpha1.PagerDuty{URL: attacker.EventsURL(),
					RoutingKeySecretRef: v1alpha1.SecretKeyReference{Name: "creds", Key: "value"}}}}}))
			inc := confirmedIncident(ns, "paged")
			must(t, e.As("ricardo").Create(ctx, inc))
			var msg string
			testenv.Eventually(t, 20*time.Second, func() error {
				got := &v1alpha1.Incident{}
				must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), got))
				for _, en := range got.Status.Timeline {
					if strings.HasPrefix(en.Message, "Could not deliver") {
						msg = en.Message
						return nil
					}
				}
				return fmt.Errorf("no delivery failure in the timeline yet: %+v", got.Status.Timeline)
			})
			if !strings.Contains(msg, "Secret "+ns+"/creds "+tc.want) {
				t.Errorf("timeline says %q, want it to name the Secret and %q", msg, tc.want)
			}
			if strings.Contains(msg, "SLACKTOKEN") || strings.Contains(msg, routingKey) {
				t.Errorf("the timeline shows the credential: %q", msg)
			}
			// The Event follows the status write that records the failure.
			testenv.Eventually(t, 5*time.Second, func() error {
				if notes := eventNotes(t, e.Client, ns, inc.Name, v1alpha1.EventNotificationFailed); len(notes) == 0 || !strings.Contains(notes[0], tc.want) {
					return fmt.Errorf("NotificationFailed Events %q, want one saying %q", notes, tc.want)
				}
				return nil
			})
			if n := len(attacker.Requests()); n != 0 {
				t.Fatalf("the attacker's server received %d requests, want none", n)
			}
		})
	}
}
