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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// StatusPageProvider names the kind of status page.
// +kubebuilder:validation:Enum=statuspage;firescope;webhook
type StatusPageProvider string

const (
	// ProviderStatuspage is Atlassian Statuspage (REST API v1).
	ProviderStatuspage StatusPageProvider = "statuspage"
	// ProviderFirescope is the Firescope status page server (cmd/statuspage).
	ProviderFirescope StatusPageProvider = "firescope"
	// ProviderWebhook posts each update as JSON signed with HMAC-SHA256.
	ProviderWebhook StatusPageProvider = "webhook"
)

// StatusPageSpec says where customer-facing updates are published.
// +kubebuilder:validation:XValidation:rule="self.provider != 'statuspage' || has(self.pageID)",message="pageID is required for the statuspage provider"
// +kubebuilder:validation:XValidation:rule="self.provider == 'statuspage' || has(self.url)",message="url is required for the firescope and webhook providers"
type StatusPageSpec struct {
	// provider is the kind of status page: statuspage, firescope or webhook.
	// +required
	Provider StatusPageProvider `json:"provider"`

	// url is the provider's endpoint: the Firescope status page server's base URL, the
	// webhook's URL, or for statuspage the API base (default https://api.statuspage.io). It
	// must use https unless the manager's --allow-private-destinations lists its host, and
	// its host must be one the credential's Secret may be sent to (annotation
	// firescope.dev/hosts; for statuspage, api.statuspage.io when unsaid).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an absolute http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#') && !self.contains('@')",message="url must have no query ('?'), fragment ('#') or user and password ('@'): paths are appended to it, and credentials belong in the Secret"
	URL string `json:"url,omitempty"`

	// pageID is the Atlassian Statuspage page id.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PageID string `json:"pageID,omitempty"`

	// credentialsSecretRef names the Secret key with the API key (statuspage), the write token
	// (firescope) or the HMAC signing key (webhook).
	// +required
	CredentialsSecretRef SecretKeyReference `json:"credentialsSecretRef"`

	// components maps the component names used in Incidents and StatusUpdates to the
	// provider's component ids.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Components []ComponentMapping `json:"components,omitempty"`

	// allowDrills lets drill incidents publish here. Leave it false for public pages: drills
	// must never reach customers.
	// +optional
	AllowDrills bool `json:"allowDrills,omitempty"`
}

// ComponentMapping maps a component name to the provider's id for it.
type ComponentMapping struct {
	// name of the component, as Incidents and StatusUpdates say it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Name string `json:"name"`
	// id of the component at the provider.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=firescope
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Drills",type=boolean,JSONPath=`.spec.allowDrills`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// StatusPage is an external status page that StatusUpdates are published to.
type StatusPage struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// spec says where and how to publish.
	// +required
	Spec StatusPageSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// StatusPageList contains a list of StatusPage.
type StatusPageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []StatusPage `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &StatusPage{}, &StatusPageList{})
		return nil
	})
}
