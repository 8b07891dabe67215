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

package install

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// restrictedNamespace creates a namespace that enforces the restricted Pod Security profile,
// with a service account of the given name for the pods to run as.
func restrictedNamespace(t *testing.T, name, serviceAccount string) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := cl.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if serviceAccount != "" {
		if err := cl.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: serviceAccount}}); err != nil {
			t.Fatal(err)
		}
	}
}

// podsOf returns a Pod for the pod template of every Deployment in objs, in namespace ns.
func podsOf(t *testing.T, objs []*unstructured.Unstructured, ns string) []*corev1.Pod {
	t.Helper()
	var pods []*corev1.Pod
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		tmpl, _, _ := unstructured.NestedMap(o.Object, "spec", "template")
		pt := &corev1.PodTemplateSpec{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, pt); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: o.GetName(), Labels: pt.Labels}, Spec: pt.Spec})
	}
	return pods
}

// The API server itself checks the pods of every installation against the restricted Pod
// Security profile: the Deployments' pod templates, as pods in a namespace that enforces it.
// Pod Security admission enforces on pods, not on Deployments, hence the pods.
func TestTheInstallsPodsMeetTheRestrictedPodSecurityProfile(t *testing.T) {
	ctx := context.Background()
	restrictedNamespace(t, "psa-restricted", "firescope-controller-manager")

	// First, that this API server does enforce it: a pod with no security context is refused.
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "psa-restricted", Name: "bare"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if err := cl.Create(ctx, bare, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a pod without a security context was not refused by Pod Security: %v", err)
	}

	checked := 0
	for _, dir := range []string{"config/default", "config/certmanager", "config/statuspage", "config/statuspage-postgres", "config/gateway"} {
		pods := podsOf(t, objects(t, kustomize(t, dir)), "psa-restricted")
		if len(pods) == 0 {
			t.Fatalf("%s has no Deployment", dir)
		}
		for _, p := range pods {
			if err := cl.Create(ctx, p, client.DryRunAll); err != nil {
				t.Errorf("%s: the pod of Deployment %s: %v", dir, p.Name, err)
			}
			checked++
		}
	}
	t.Logf("the API server admitted the %d pods of config/default, config/certmanager, config/statuspage, config/statuspage-postgres and config/gateway under the restricted profile", checked)
}
