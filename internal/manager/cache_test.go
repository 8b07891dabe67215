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

package manager

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestTheCacheDropsManagedFieldsAndTheLastAppliedManifestOnly(t *testing.T) {
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{
		Name: "ec2", Namespace: "payments", ResourceVersion: "42",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
		Annotations:   map[string]string{lastApplied: `{"spec":{"title":"EC2"}}`, v1alpha1.AnnotationChangedBy: `{"state":"ricardo"}`},
	}}
	out, err := CacheOptions().DefaultTransform(inc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1alpha1.Incident)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[lastApplied]; ok {
		t.Error("the last-applied manifest was kept")
	}
	if got.Annotations[v1alpha1.AnnotationChangedBy] == "" || got.ResourceVersion != "42" || got.Name != "ec2" {
		t.Errorf("a field the controllers read was dropped: %+v", got.ObjectMeta)
	}

	// A deletion's tombstone is not an object with metadata: it passes unchanged.
	tomb := cache.DeletedFinalStateUnknown{Key: "payments/ec2"}
	if out, err := CacheOptions().DefaultTransform(tomb); err != nil || out != tomb {
		t.Errorf("tombstone: %v, %v", out, err)
	}
}
