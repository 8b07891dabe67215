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
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestOrderingGoesByCreationNotByName(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	su := func(name string, second int, stampMs int) v1alpha1.StatusUpdate {
		s := v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(second) * time.Second))}}
		if stampMs >= 0 {
			s.Annotations = map[string]string{v1alpha1.AnnotationCreatedAt: t0.Add(time.Duration(second)*time.Second + time.Duration(stampMs)*time.Millisecond).Format(time.RFC3339Nano)}
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		updates []v1alpha1.StatusUpdate
		want    []string
	}{
		{"a burst within one second goes by the stamps", []v1alpha1.StatusUpdate{su("x-10", 0, 900), su("x-9", 0, 800), su("x-1", 0, 100)}, []string{"x-1", "x-9", "x-10"}},
		{"seconds come first", []v1alpha1.StatusUpdate{su("a", 1, 0), su("b", 0, 900)}, []string{"b", "a"}},
		{"a second with an unstamped update goes by name", []v1alpha1.StatusUpdate{su("u2", 0, 100), su("u1", 0, -1), su("u3", 0, 50)}, []string{"u1", "u2", "u3"}},
		{"other seconds keep their stamps", []v1alpha1.StatusUpdate{su("u2", 0, -1), su("u1", 0, -1), su("z", 1, 10), su("y", 1, 20)}, []string{"u1", "u2", "z", "y"}},
		{"a stamp far from creationTimestamp is not believed", []v1alpha1.StatusUpdate{su("b", 0, 900), su("a", 0, 5000)}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrdering(tc.updates)
			got := slices.Clone(tc.updates)
			slices.SortFunc(got, func(a, b v1alpha1.StatusUpdate) int {
				switch {
				case o.before(&a, &b):
					return -1
				case o.before(&b, &a):
					return 1
				}
				return 0
			})
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("order %v, want %v", names, tc.want)
			}
		})
	}
}
