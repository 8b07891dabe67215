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
// name. Whoever can write a ResponsePolicy or a StatusPage chooses both a Secret and where its
// value is sent, so Firescope reads only Secrets that opt in with the label
// firescope.dev/credential=true: the manager's permission to get Secrets cannot be turned into
// a way to send any Secret of the namespace to any URL.
package credentials

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
)

// Label marks a Secret as meant for Firescope.
const Label = "firescope.dev/credential"

// Read returns the value of one key of a labelled Secret, without surrounding whitespace (a
// value saved from a file often ends in a newline). Errors name the Secret, never the value.
func Read(ctx context.Context, r client.Reader, namespace string, ref v1alpha1.SecretKeyReference) (string, error) {
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
	if sec.Labels[Label] != "true" {
		return "", fmt.Errorf("Secret %s/%s is not labelled %s=true: Firescope only uses Secrets meant for it (kubectl label secret %s %s=true)",
			namespace, ref.Name, Label, ref.Name, Label)
	}
	v := strings.TrimSpace(string(sec.Data[ref.Key]))
	if v == "" {
		return "", fmt.Errorf("Secret %s/%s has no key %q", namespace, ref.Name, ref.Key)
	}
	return v, nil
}
