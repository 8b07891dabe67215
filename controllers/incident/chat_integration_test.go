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
	mattermostfake "firescope.dev/firescope/internal/mock/mattermost"
	teamsfake "firescope.dev/firescope/internal/mock/teams"
	"firescope.dev/firescope/internal/testenv"
)

// chatFake is what the test needs of a fake chat platform.
type chatFake interface {
	Texts() []string
	Close()
}

// TestIntegrationHandoffIsAnnouncedOnceToTeamsAndMattermost runs an incident's declaration
// and a hand-off through a ResponsePolicy whose comms channel is each platform, with the
// platform answering one 429 with Retry-After first: each fact reaches the channel once.
func TestIntegrationHandoffIsAnnouncedOnceToTeamsAndMattermost(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		provider credentials.Provider
		start    func() (chatFake, string, func(int, int, time.Duration))
		channel  func(ref v1alpha1.SecretKeyReference) *v1alpha1.CommsChannel
		// shown is how the platform shows an announcement's first line.
		shown func(string) string
	}{
		{"teams", credentials.Teams,
			func() (chatFake, string, func(int, int, time.Duration)) {
				s := teamsfake.New()
				return s, s.WebhookURL(), s.FailNext
			},
			func(ref v1alpha1.SecretKeyReference) *v1alpha1.CommsChannel {
				return &v1alpha1.CommsChannel{Teams: &v1alpha1.TeamsChannel{WebhookURLSecretRef: ref}}
			},
			func(s string) string { return s }},
		{"mattermost", credentials.Mattermost,
			func() (chatFake, string, func(int, int, time.Duration)) {
				s := mattermostfake.New("incident-ops")
				return s, s.WebhookURL(), s.FailNext
			},
			func(ref v1alpha1.SecretKeyReference) *v1alpha1.CommsChannel {
				return &v1alpha1.CommsChannel{Mattermost: &v1alpha1.MattermostChannel{WebhookURLSecretRef: ref, Channel: "incident-ops"}}
			},
			func(s string) string { return strings.NewReplacer("@", "@\u200b", ">", `\>`).Replace(s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, url, failNext := tc.start()
			t.Cleanup(fake.Close)
			ns := "chat-handoff-" + tc.name
			must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
			must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "comms", Namespace: ns,
				Labels: map[string]string{credentials.Label: "true"}, Annotations: credentials.Annotations(tc.provider, "127.0.0.1")},
				StringData: map[string]string{"webhook-url": url}}))
			must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
				Spec: v1alpha1.ResponsePolicySpec{CommsChannel: tc.channel(v1alpha1.SecretKeyReference{Name: "comms", Key: "webhook-url"})}}))
			failNext(1, 429, time.Second)

			inc := confirmedIncident(ns, "handoff")
			must(t, e.As("ricardo").Create(ctx, inc))
			once := func(prefixes ...string) {
				t.Helper()
				testenv.Eventually(t, 20*time.Second, func() error {
					for _, p := range prefixes {
						if n := countPrefix(fake.Texts(), tc.shown(p)); n != 1 {
							return fmt.Errorf("%d of %q in %q", n, p, fake.Texts())
						}
					}
					return nil
				})
			}
			once("@all: Incident declared (Confirmed)", "@all: IC -> ricardo", "@all: Comms -> keiko")

			cur := &v1alpha1.Incident{}
			must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), cur))
			patch := client.MergeFrom(cur.DeepCopy())
			cur.Spec.Roles.Commander = "greg"
			must(t, e.As("ricardo").Patch(ctx, cur, patch))
			once("@all: IC -> greg")
			// A later fact arrives after the hand-off; the hand-off is still there once.
			must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), cur))
			patch = client.MergeFrom(cur.DeepCopy())
			cur.Spec.State = v1alpha1.StateResolved
			must(t, e.As("greg").Patch(ctx, cur, patch))
			once("@all: Incident Resolved", "@all: IC -> greg", "@all: IC -> ricardo")
			// Post-mortem reminders to the IC may follow; the incident's own facts are five.
			if n := countPrefix(fake.Texts(), tc.shown("@all: ")); n != 5 {
				t.Fatalf("%d announcements to all, want 5: %q", n, fake.Texts())
			}
		})
	}
}
