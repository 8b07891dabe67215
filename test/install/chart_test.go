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
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// helm runs the pinned Helm that `make test` builds into bin/ and names in $HELM.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM is not set: run the tests with `make test`, which builds Helm into bin/")
	}
	return run1(t, "", bin, args...)
}

func chartDir() string { return filepath.Join(root, "charts", "firescope") }

// template renders the chart with --set values.
func template(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "firescope", chartDir()}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return objects(t, helm(t, args...))
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// With no values the chart renders the objects of config/default, field for field; the one
// difference is the annotation that keeps the CRDs on `helm uninstall` (crds.keep). With
// gateway.enabled it adds those of config/gateway, as they are.
func TestTheChartWithDefaultsRendersTheObjectsOfConfigDefault(t *testing.T) {
	t.Run("config/default", func(t *testing.T) {
		sameObjects(t, template(t), "config/default")
	})
	t.Run("with the gateway", func(t *testing.T) {
		sameObjects(t, template(t, "gateway.enabled=true"), "config/default", "config/gateway")
	})
}

// sameObjects fails unless the rendered objects are those of the kustomizations, crds.keep's
// annotation aside.
func sameObjects(t *testing.T, rendered []*unstructured.Unstructured, dirs ...string) {
	t.Helper()
	want := map[string]*unstructured.Unstructured{}
	for _, dir := range dirs {
		for _, o := range objects(t, kustomize(t, dir)) {
			want[key(o)] = o
		}
	}
	got := map[string]*unstructured.Unstructured{}
	for _, o := range rendered {
		if o.GetKind() == "CustomResourceDefinition" {
			a := o.GetAnnotations()
			if a["helm.sh/resource-policy"] != "keep" {
				t.Errorf("CRD %s is not kept on uninstall", o.GetName())
			}
			delete(a, "helm.sh/resource-policy")
			if len(a) == 0 {
				a = nil
			}
			o.SetAnnotations(a)
		}
		got[key(o)] = o
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if want[k] == nil {
			t.Errorf("the chart renders %s, which %s do not have", k, strings.Join(dirs, " and "))
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case got[k] == nil:
			t.Errorf("the chart does not render %s", k)
		case !reflect.DeepEqual(got[k].Object, want[k].Object):
			g, _ := json.Marshal(got[k].Object)
			w, _ := json.Marshal(want[k].Object)
			t.Errorf("%s differs:\nchart:     %s\nkustomize: %s", k, g, w)
		}
	}
	t.Logf("helm template and kubectl kustomize %s agree on all %d objects", strings.Join(dirs, " + "), len(want))
}

func TestTheChartLints(t *testing.T) {
	t.Log(strings.TrimSpace(string(helm(t, "lint", "--strict", chartDir()))))
	t.Log(strings.TrimSpace(string(helm(t, "lint", "--strict", chartDir(), "--set", "certManager.enabled=true,statusPage.enabled=true,credentials.allNamespaces=true,metrics.serviceMonitor=true,metrics.prometheusRule=true,gateway.enabled=true"))))
}

// Every value, rendered and validated by the API server; the Prometheus Operator's and
// cert-manager's kinds, whose CRDs this API server lacks, are checked by reference.
func TestTheChartsValuesPassServerSideValidation(t *testing.T) {
	ctx := context.Background()
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "chart-team"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  []string
		// check looks at the rendered objects.
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{{
		name: "one replica in another namespace, with credentials in one team namespace, resources and an image",
		set: []string{"namespace=chart-fs", "replicas=1", "image.repository=registry.example.com/firescope/manager", "image.tag=v0.1.0",
			"resources.requests.cpu=100m", "resources.requests.memory=128Mi", "resources.limits.memory=512Mi",
			"credentials.namespaces={chart-team}"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			dep := find(t, objs, "Deployment", "firescope-controller-manager")
			if dep.GetNamespace() != "chart-fs" {
				t.Errorf("the Deployment is in %s", dep.GetNamespace())
			}
			if r, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas"); fmt.Sprint(r) != "1" {
				t.Errorf("replicas %v", r)
			}
			c := fmt.Sprint(dep.Object["spec"])
			for _, want := range []string{"registry.example.com/firescope/manager:v0.1.0", "memory:512Mi"} {
				if !strings.Contains(c, want) {
					t.Errorf("the Deployment lacks %q: %s", want, c)
				}
			}
			for _, o := range objs {
				if o.GetKind() == "PodDisruptionBudget" {
					t.Error("one replica has a PodDisruptionBudget, which would block every drain")
				}
				if strings.Contains(fmt.Sprint(o.Object), "firescope-system") {
					t.Errorf("%s still names firescope-system", key(o))
				}
			}
			b := find(t, objs, "RoleBinding", "firescope-credentials")
			if b.GetNamespace() != "chart-team" {
				t.Errorf("the credentials RoleBinding is in %s", b.GetNamespace())
			}
		},
	}, {
		name: "credentials in every namespace, the status page and the Prometheus objects",
		set:  []string{"credentials.allNamespaces=true", "statusPage.enabled=true", "statusPage.image.tag=v0.1.0", "metrics.serviceMonitor=true", "metrics.prometheusRule=true"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			find(t, objs, "ClusterRoleBinding", "firescope-credential-reader")
			find(t, objs, "ServiceMonitor", "firescope-controller-manager-metrics-monitor")
			find(t, objs, "PrometheusRule", "firescope-alerts")
			sp := find(t, objs, "Deployment", "firescope-statuspage")
			if !strings.Contains(fmt.Sprint(sp.Object["spec"]), "firescope/statuspage:v0.1.0") {
				t.Errorf("the status page's image is not the one set")
			}
		},
	}, {
		name: "cert-manager",
		set:  []string{"certManager.enabled=true"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			find(t, objs, "Certificate", "firescope-serving-cert")
			for _, o := range objs {
				if o.GetName() == "firescope-webhook-certs" {
					t.Errorf("%s is there with cert-manager", key(o))
				}
			}
		},
	}, {
		name: "the gateway, one replica, with its Secret's keys renamed, identities and resources",
		set: []string{"gateway.enabled=true", "gateway.replicas=1", "gateway.image.tag=v0.1.0", "gateway.incidentNamespace=chart-team",
			"gateway.slackSecret.name=slack-app", "gateway.slackSecret.botTokenKey=xoxb", "gateway.identities.U024BE7LH=keiko",
			"gateway.resources.limits.memory=64Mi"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			dep := find(t, objs, "Deployment", "firescope-gateway")
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(dep.Object, &d); err != nil {
				t.Fatal(err)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if *d.Spec.Replicas != 1 || c.Image != "firescope/gateway:v0.1.0" || c.Resources.Limits.Memory().String() != "64Mi" {
				t.Errorf("replicas %d, image %s, resources %v", *d.Spec.Replicas, c.Image, c.Resources)
			}
			if !slices.Contains(c.Args, "--namespace=chart-team") || slices.Contains(c.Args, "--namespace=default") {
				t.Errorf("args %v", c.Args)
			}
			want := &corev1.SecretVolumeSource{SecretName: "slack-app", Items: []corev1.KeyToPath{
				{Key: "signing-secret", Path: "signing-secret"}, {Key: "xoxb", Path: "bot-token"}}}
			if got := d.Spec.Template.Spec.Volumes[0].Secret; !reflect.DeepEqual(got, want) {
				t.Errorf("the Slack volume is %+v, want %+v", got, want)
			}
			ids := find(t, objs, "ConfigMap", "firescope-chat-identities")
			if u, _, _ := unstructured.NestedString(ids.Object, "data", "U024BE7LH"); u != "keiko" {
				t.Errorf("identities %v", ids.Object["data"])
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			objs := template(t, tc.set...)
			tc.check(t, objs)
			var core []*unstructured.Unstructured
			for _, o := range objs {
				if g := o.GroupVersionKind().Group; g != "monitoring.coreos.com" && g != "cert-manager.io" {
					core = append(core, o)
				}
			}
			t.Logf("the API server validated %d of the %d objects", dryRun(t, core), len(objs))
		})
	}
}
