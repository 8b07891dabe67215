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

package credentials

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestReadUsesOnlySecretsThatOptIn(t *testing.T) {
	secret := func(name string, labels map[string]string, value string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: labels,
			Annotations: map[string]string{ProviderAnnotation: "webhook", HostsAnnotation: "hooks.example.com"}},
			Data: map[string][]byte{"key": []byte(value)}}
	}
	c := fake.NewClientBuilder().WithObjects(
		secret("db-creds", nil, "hunter2"),
		secret("labelled-false", map[string]string{Label: "false"}, "hunter2"),
		secret("signing", map[string]string{Label: "true"}, "hunter2\n"),
		secret("empty", map[string]string{Label: "true"}, "  \n"),
	).Build()
	cases := map[string]struct{ value, err string }{
		"db-creds":       {err: "is not labelled firescope.dev/credential=true"},
		"labelled-false": {err: "is not labelled firescope.dev/credential=true"},
		"signing":        {value: "hunter2"},
		"empty":          {err: `has no key "key"`},
		"missing":        {err: "reading Secret team/missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := Read(context.Background(), c, "team", v1alpha1.SecretKeyReference{Name: name, Key: "key"}, Webhook, "https://hooks.example.com/firescope")
			check(t, v, err, tc.value, tc.err)
		})
	}
}

// TestReadSendsACredentialOnlyWhereItsSecretSays covers the uses an editor of a StatusPage
// or a ResponsePolicy could choose: every provider and URL is theirs to pick, the Secret's
// binding is not.
func TestReadSendsACredentialOnlyWhereItsSecretSays(t *testing.T) {
	bound := func(name, value string, annotations ...string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: map[string]string{Label: "true"},
			Annotations: map[string]string{}}, Data: map[string][]byte{"key": []byte(value)}}
		for i := 0; i+1 < len(annotations); i += 2 {
			s.Annotations[annotations[i]] = annotations[i+1]
		}
		return s
	}
	const (
		slackURL              = "https://hooks.slack.com/services/T0/B0/hunter2"
		teamsURL              = "https://prod-12.westeurope.logic.azure.com:443/workflows/0123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=hunter2"
		teamsPowerPlatformURL = "https://default0123.45.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/0123/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=hunter2"
		mattermostURL         = "https://chat.example.com/hooks/hunter2"
	)
	c := fake.NewClientBuilder().WithObjects(
		bound("atlassian", "hunter2", ProviderAnnotation, "statuspage"),
		bound("unbound", "hunter2"),
		bound("slack", slackURL, ProviderAnnotation, "slack"),
		bound("slack-elsewhere", "https://127.0.0.1:9/services/hunter2", ProviderAnnotation, "slack"),
		bound("slack-query", slackURL+"?x=1", ProviderAnnotation, "slack"),
		bound("pagerduty-eu", "hunter2", ProviderAnnotation, "pagerduty", HostsAnnotation, "events.eu.pagerduty.com"),
		bound("page", "hunter2", ProviderAnnotation, "firescope", HostsAnnotation, " Status.Example.com , 127.0.0.1:8080"),
		bound("page-unsaid", "hunter2", ProviderAnnotation, "firescope"),
		bound("odd", "hunter2", ProviderAnnotation, "email"),
		bound("teams", teamsURL, ProviderAnnotation, "teams"),
		bound("teams-pp", teamsPowerPlatformURL, ProviderAnnotation, "teams"),
		bound("teams-lookalike", "https://logic.azure.com.example.com/workflows/1?sig=hunter2", ProviderAnnotation, "teams"),
		bound("mattermost", mattermostURL, ProviderAnnotation, "mattermost", HostsAnnotation, "chat.example.com"),
		bound("mattermost-unsaid", mattermostURL, ProviderAnnotation, "mattermost"),
		bound("wildcard", "hunter2", ProviderAnnotation, "firescope", HostsAnnotation, "*.example.com"),
		bound("prometheus", "hunter2", ProviderAnnotation, "prometheus", HostsAnnotation, "prometheus.example.com"),
		bound("prometheus-unsaid", "hunter2", ProviderAnnotation, "prometheus"),
	).Build()
	cases := []struct {
		name, secret string
		provider     Provider
		url          string
		value, err   string
	}{
		{"a Statuspage key goes to Statuspage", "atlassian", Statuspage, "https://api.statuspage.io", "hunter2", ""},
		{"a Statuspage key does not go to another host", "atlassian", Statuspage, "http://127.0.0.1:8080",
			"", "Secret team/atlassian may be sent only to api.statuspage.io, not to 127.0.0.1: use one of those hosts, or have the Secret's firescope.dev/hosts annotation list 127.0.0.1"},
		{"a Statuspage key is not a PagerDuty routing key", "atlassian", PagerDuty, "https://events.pagerduty.com/v2/enqueue",
			"", "Secret team/atlassian is for statuspage, not pagerduty: name a Secret annotated firescope.dev/provider=pagerduty"},
		{"a Slack webhook URL is not a PagerDuty routing key", "slack", PagerDuty, "https://events.pagerduty.com/v2/enqueue",
			"", "Secret team/slack is for slack, not pagerduty"},
		{"an unbound Secret is refused", "unbound", Slack, "",
			"", "Secret team/unbound does not say which provider it is for: whoever may write it annotates it firescope.dev/provider=slack (kubectl annotate secret unbound firescope.dev/provider=slack)"},
		{"an unknown provider is refused", "odd", Webhook, "https://hooks.example.com", "", `has firescope.dev/provider="email", which is not one of statuspage, firescope, webhook, slack, teams, mattermost, pagerduty, prometheus`},
		{"a Prometheus token goes to its named host", "prometheus", Prometheus, "https://prometheus.example.com", "hunter2", ""},
		{"a Prometheus token goes nowhere else", "prometheus", Prometheus, "https://metrics.example.net", "", "may be sent only to prometheus.example.com, not to metrics.example.net"},
		{"a Prometheus token needs its hosts", "prometheus-unsaid", Prometheus, "https://prometheus.example.com",
			"", "names no host it may be sent to, and prometheus has no default: annotate it firescope.dev/hosts=prometheus.example.com"},
		{"a status page token is not a Prometheus token", "page", Prometheus, "https://status.example.com", "", "is for firescope, not prometheus"},
		{"a Slack webhook URL is its own destination", "slack", Slack, "https://ignored.example.com", slackURL, ""},
		{"a Slack webhook URL elsewhere is refused", "slack-elsewhere", Slack, "", "", "may be sent only to hooks.slack.com, not to 127.0.0.1"},
		{"a Slack webhook URL with a query is refused", "slack-query", Slack, "", "", `the webhook URL in key "key" cannot be used: the URL must not have a query`},
		{"a listed host replaces the default", "pagerduty-eu", PagerDuty, "https://events.eu.pagerduty.com/v2/enqueue", "hunter2", ""},
		{"a listed host replaces the default, which is then refused", "pagerduty-eu", PagerDuty, "https://events.pagerduty.com/v2/enqueue", "", "may be sent only to events.eu.pagerduty.com"},
		{"hosts match without case or trailing dot", "page", Firescope, "https://status.example.COM./api", "hunter2", ""},
		{"a listed port allows that port", "page", Firescope, "http://127.0.0.1:8080", "hunter2", ""},
		{"a listed port allows no other", "page", Firescope, "http://127.0.0.1:8081", "", "not to 127.0.0.1"},
		{"a status page token needs its hosts", "page-unsaid", Firescope, "https://status.example.com",
			"", "Secret team/page-unsaid names no host it may be sent to, and firescope has no default: annotate it firescope.dev/hosts=status.example.com"},
		{"a URL with a query is refused", "page", Firescope, "https://status.example.com/?", "", "must not have a query"},
		{"a Teams Workflows URL goes to Logic Apps, signature and all", "teams", Teams, "", teamsURL, ""},
		{"a Teams Workflows URL goes to a Power Platform environment", "teams-pp", Teams, "", teamsPowerPlatformURL, ""},
		{"a Teams URL on a look-alike host is refused", "teams-lookalike", Teams, "",
			"", "may be sent only to *.logic.azure.com, *.environment.api.powerplatform.com, not to logic.azure.com.example.com"},
		{"a Teams Workflows URL is not a Slack webhook", "teams", Slack, "", "", "Secret team/teams is for teams, not slack"},
		{"a Mattermost webhook URL goes to its named server", "mattermost", Mattermost, "", mattermostURL, ""},
		{"a Mattermost webhook URL needs its hosts", "mattermost-unsaid", Mattermost, "",
			"", "Secret team/mattermost-unsaid names no host it may be sent to, and mattermost has no default: annotate it firescope.dev/hosts=chat.example.com"},
		{"a wildcard host allows the hosts under it", "wildcard", Firescope, "https://status.example.com", "hunter2", ""},
		{"a wildcard host does not allow the domain itself", "wildcard", Firescope, "https://example.com", "", "not to example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Read(context.Background(), c, "team", v1alpha1.SecretKeyReference{Name: tc.secret, Key: "key"}, tc.provider, tc.url)
			check(t, v, err, tc.value, tc.err)
		})
	}
}

func check(t *testing.T, v string, err error, value, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("want error %q, got %v", wantErr, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error shows the value: %v", err)
		}
		return
	}
	if err != nil || v != value {
		t.Fatalf("got %q, %v", v, err)
	}
}

func TestReadSaysHowToGrantANamespaceItMayNotRead(t *testing.T) {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(_ context.Context, _ client.WithWatch, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, errors.New("RBAC: access denied"))
		},
	}).Build()
	_, err := Read(context.Background(), c, "payments", v1alpha1.SecretKeyReference{Name: "slack", Key: "url"}, Slack, "")
	want := "reading Secret payments/slack: Firescope may not read credentials in namespace payments: bind the ClusterRole firescope-credential-reader there"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "kubectl create rolebinding firescope-credentials -n payments") {
		t.Fatalf("got %v, want %q and the command", err, want)
	}
}
