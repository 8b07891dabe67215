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
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: labels},
			Data: map[string][]byte{"key": []byte(value)}}
	}
	c := fake.NewClientBuilder().WithObjects(
		secret("db-creds", nil, "hunter2"),
		secret("labelled-false", map[string]string{Label: "false"}, "hunter2"),
		secret("slack", map[string]string{Label: "true"}, "https://hooks.slack.com/services/T/B/x\n"),
		secret("empty", map[string]string{Label: "true"}, "  \n"),
	).Build()
	cases := map[string]struct{ value, err string }{
		"db-creds":       {err: "is not labelled firescope.dev/credential=true"},
		"labelled-false": {err: "is not labelled firescope.dev/credential=true"},
		"slack":          {value: "https://hooks.slack.com/services/T/B/x"},
		"empty":          {err: `has no key "key"`},
		"missing":        {err: "reading Secret team/missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := Read(context.Background(), c, "team", v1alpha1.SecretKeyReference{Name: name, Key: "key"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("the error shows the value: %v", err)
				}
				return
			}
			if err != nil || v != tc.value {
				t.Fatalf("got %q, %v", v, err)
			}
		})
	}
}

func TestReadSaysHowToGrantANamespaceItMayNotRead(t *testing.T) {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(_ context.Context, _ client.WithWatch, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, errors.New("RBAC: access denied"))
		},
	}).Build()
	_, err := Read(context.Background(), c, "payments", v1alpha1.SecretKeyReference{Name: "slack", Key: "url"})
	want := "reading Secret payments/slack: Firescope may not read credentials in namespace payments: bind the ClusterRole firescope-credential-reader there"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "kubectl create rolebinding firescope-credentials -n payments") {
		t.Fatalf("got %v, want %q and the command", err, want)
	}
}
