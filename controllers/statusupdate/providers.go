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

package statusupdate

import (
	"context"
	"fmt"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/publish/atlassian"
	"firescope.dev/firescope/internal/publish/firescope"
	"firescope.dev/firescope/internal/publish/webhook"
	"firescope.dev/firescope/internal/ratelimit"
)

// SecretProviders reads StatusPage credentials from Secrets by name, uncached.
type SecretProviders struct {
	Secrets client.Reader
	HTTP    *http.Client
	// Limits paces the calls per credential and per namespace; nil means no pacing.
	Limits *ratelimit.Registry
}

// Reading Secrets is granted per namespace by binding the ClusterRole
// firescope-credential-reader (config/rbac/credential_reader_role.yaml), not to the manager
// everywhere: see docs/install.md.

// For implements Providers. The credential is read only if its Secret is bound to the page's
// provider and lets it go to the page's host (internal/credentials).
func (s *SecretProviders) For(ctx context.Context, page *v1alpha1.StatusPage) (publish.Provider, error) {
	url := page.Spec.URL
	if url == "" && page.Spec.Provider == v1alpha1.ProviderStatuspage {
		url = atlassian.DefaultBaseURL
	}
	key, err := credentials.Read(ctx, s.Secrets, page.Namespace, page.Spec.CredentialsSecretRef, credentials.Provider(page.Spec.Provider), url)
	if err != nil {
		return nil, fmt.Errorf("StatusPage %s: %w", page.Name, err)
	}
	hc := countRequests(s.HTTP, page)
	switch page.Spec.Provider {
	case v1alpha1.ProviderStatuspage:
		return atlassian.New(page.Spec.PageID, key, url, hc, s.Limits.Gate(page.Namespace, ratelimit.Statuspage, key)), nil
	case v1alpha1.ProviderFirescope:
		return firescope.New(url, key, hc, s.Limits.Gate(page.Namespace, ratelimit.FirescopePage, key)), nil
	case v1alpha1.ProviderWebhook:
		return webhook.New(url, []byte(key), hc, s.Limits.Gate(page.Namespace, ratelimit.Webhook, url, key)), nil
	}
	return nil, fmt.Errorf("unknown StatusPage provider %q", page.Spec.Provider)
}
