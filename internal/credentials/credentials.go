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

// Package credentials reads the Secrets that Firescope's channels, pagers and status pages
// name. Whoever may edit a ResponsePolicy or a StatusPage chooses both a Secret and where its
// value is sent; writing Secrets is a higher privilege. So a Secret says itself what it may be
// used for: the label firescope.dev/credential=true opts it in, the annotation
// firescope.dev/provider binds it to one provider, and the annotation firescope.dev/hosts
// lists the hosts its value may be sent to (the vendor's own hosts when unsaid; "*.example.com"
// allows every host under example.com). Any other use is refused before a request is made,
// with an error that says what to change.
package credentials

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/safehttp"
)

const (
	// Label marks a Secret as meant for Firescope.
	Label = "firescope.dev/credential"
	// ProviderAnnotation names the one provider the Secret's keys are for.
	ProviderAnnotation = "firescope.dev/provider"
	// HostsAnnotation lists, comma-separated, the hosts (host or host:port) the Secret's keys
	// may be sent to.
	HostsAnnotation = "firescope.dev/hosts"
)

// Provider is what a credential is for: the provider that sends it.
type Provider string

// The providers, as firescope.dev/provider names them.
const (
	// Statuspage is an Atlassian Statuspage API key.
	Statuspage Provider = "statuspage"
	// Firescope is a Firescope status page write token.
	Firescope Provider = "firescope"
	// Webhook is the HMAC signing key of a generic webhook (status page or comms channel).
	Webhook Provider = "webhook"
	// Slack is a Slack incoming webhook URL: the credential is its own destination.
	Slack Provider = "slack"
	// Teams is a Microsoft Teams Workflows webhook URL, signature included: the credential is
	// its own destination.
	Teams Provider = "teams"
	// Mattermost is a Mattermost incoming webhook URL: the credential is its own destination.
	// Mattermost is self-hosted, so its Secrets must name their hosts.
	Mattermost Provider = "mattermost"
	// PagerDuty is a PagerDuty Events API v2 routing key.
	PagerDuty Provider = "pagerduty"
	// Prometheus is the bearer token of a Prometheus server that health signals query.
	Prometheus Provider = "prometheus"
)

var providers = []Provider{Statuspage, Firescope, Webhook, Slack, Teams, Mattermost, PagerDuty, Prometheus}

// urlIsCredential are the providers whose credential is a webhook URL: it is checked as the
// destination itself.
var urlIsCredential = []Provider{Slack, Teams, Mattermost}

// DefaultHosts are the hosts a provider's credentials may be sent to when the Secret does not
// list any: the vendor's. The Firescope status page, webhooks and Prometheus servers have no
// default: their Secrets must name their hosts, and so must Mattermost's, which is self-hosted.
var DefaultHosts = map[Provider][]string{
	Statuspage: {safehttp.StatuspageHost},
	Slack:      {safehttp.SlackHost},
	Teams:      safehttp.TeamsWorkflowHosts,
	PagerDuty:  {safehttp.PagerDutyHost},
}

// Read returns the value of one key of a Secret, without surrounding whitespace (a value saved
// from a file often ends in a newline), if the Secret is labelled, bound to provider and lets
// its value be sent to destination, the URL it will be sent to. For Slack, Teams and
// Mattermost, whose webhook URL is the credential, destination is ignored and the value
// itself is checked. Errors name the Secret, the provider and the host, never the value.
func Read(ctx context.Context, r client.Reader, namespace string, ref v1alpha1.SecretKeyReference, provider Provider, destination string) (string, error) {
	sec := &corev1.Secret{}
	// Served from the API server's watch cache, not a quorum read of etcd: a read per delivery
	// otherwise queues behind every write in flight.
	fromCache := &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, sec, fromCache); err != nil {
		if apierrors.IsForbidden(err) {
			return "", fmt.Errorf("reading Secret %s/%s: Firescope may not read credentials in namespace %s: bind the ClusterRole "+
				"firescope-credential-reader there to the manager's service account (kubectl create rolebinding firescope-credentials -n %s "+
				"--clusterrole=firescope-credential-reader --serviceaccount=firescope-system:firescope-controller-manager)", namespace, ref.Name, namespace, namespace)
		}
		return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, ref.Name, err)
	}
	name := namespace + "/" + ref.Name
	if sec.Labels[Label] != "true" {
		return "", fmt.Errorf("Secret %s is not labelled %s=true: Firescope only uses Secrets meant for it (kubectl label secret %s %s=true)",
			name, Label, ref.Name, Label)
	}
	if err := checkProvider(sec, name, provider); err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(sec.Data[ref.Key]))
	if v == "" {
		return "", fmt.Errorf("Secret %s has no key %q", name, ref.Key)
	}
	what, parse := "the URL", safehttp.ParseEndpoint
	if slices.Contains(urlIsCredential, provider) {
		destination, what = v, fmt.Sprintf("the webhook URL in key %q", ref.Key)
	}
	if provider == Teams { // its signature is in the query
		parse = safehttp.ParseWebhookURL
	}
	u, err := parse(destination)
	if err != nil {
		return "", fmt.Errorf("Secret %s is for %s, but %s cannot be used: %w", name, provider, what, err)
	}
	if err := checkHost(sec, name, provider, u.Scheme, u.Host); err != nil {
		return "", err
	}
	return v, nil
}

func checkProvider(sec *corev1.Secret, name string, want Provider) error {
	got, ok := sec.Annotations[ProviderAnnotation]
	switch {
	case !ok:
		return fmt.Errorf("Secret %s does not say which provider it is for: whoever may write it annotates it %s=%s "+
			"(kubectl annotate secret %s %s=%s) once it holds a %s credential", name, ProviderAnnotation, want, sec.Name, ProviderAnnotation, want, want)
	case !slices.Contains(providers, Provider(got)):
		return fmt.Errorf("Secret %s has %s=%q, which is not one of %s", name, ProviderAnnotation, got, joined(providers))
	case Provider(got) != want:
		return fmt.Errorf("Secret %s is for %s, not %s: name a Secret annotated %s=%s", name, got, want, ProviderAnnotation, want)
	}
	return nil
}

// checkHost matches the destination's host against the Secret's hosts: an entry without a
// port allows every port of that host, one with a port only that port.
func checkHost(sec *corev1.Secret, name string, provider Provider, scheme, hostport string) error {
	hosts := DefaultHosts[provider]
	if s, ok := sec.Annotations[HostsAnnotation]; ok {
		hosts = nil
		for h := range strings.SplitSeq(s, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				hosts = append(hosts, h)
			}
		}
	}
	host, port := splitHostPort(scheme, hostport)
	if len(hosts) == 0 {
		return fmt.Errorf("Secret %s names no host it may be sent to, and %s has no default: annotate it %s=%s",
			name, provider, HostsAnnotation, host)
	}
	for _, h := range hosts {
		hh, hp, err := net.SplitHostPort(h)
		if err != nil {
			hh, hp = strings.Trim(h, "[]"), ""
		}
		if safehttp.MatchHost(strings.TrimSuffix(hh, "."), host) && (hp == "" || hp == port) {
			return nil
		}
	}
	return fmt.Errorf("Secret %s may be sent only to %s, not to %s: use one of those hosts, or have the Secret's %s annotation list %s",
		name, strings.Join(hosts, ", "), host, HostsAnnotation, host)
}

// splitHostPort returns the host in lower case and the port, the scheme's when unsaid.
func splitHostPort(scheme, hostport string) (host, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), ""
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return strings.TrimSuffix(strings.ToLower(host), "."), port
}

func joined(ps []Provider) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Annotations returns the annotations that bind a Secret to provider and, when hosts are
// given, to those hosts instead of the vendor's.
func Annotations(provider Provider, hosts ...string) map[string]string {
	a := map[string]string{ProviderAnnotation: string(provider)}
	if len(hosts) > 0 {
		a[HostsAnnotation] = strings.Join(hosts, ",")
	}
	return a
}
