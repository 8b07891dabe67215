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

package attribution

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func keyOf(s string) Keys { return func() ([]byte, error) { return []byte(s), nil } }

func stored(by string) *v1alpha1.Incident {
	return &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "db-down", UID: "uid-1", Generation: 3,
		CreationTimestamp: metav1.NewTime(t0),
		Annotations:       map[string]string{v1alpha1.AnnotationChangedBy: by}}}
}

func TestVerified(t *testing.T) {
	const by = `{"commander":"alice","state":"bob"}`
	signed := func(uid string, gen int64, at time.Time) func(*v1alpha1.Incident) {
		return func(inc *v1alpha1.Incident) {
			inc.Annotations[v1alpha1.AnnotationChangedBySignature] = Sign([]byte("k"), inc, uid, gen, at)
		}
	}
	then := func(fs ...func(*v1alpha1.Incident)) func(*v1alpha1.Incident) {
		return func(inc *v1alpha1.Incident) {
			for _, f := range fs {
				f(inc)
			}
		}
	}
	cases := []struct {
		name  string
		gen   int64
		edit  func(*v1alpha1.Incident)
		keys  Keys
		trust bool
	}{
		{name: "signed by the webhook for this incident and generation", gen: 3, edit: signed("uid-1", 3, t0.Add(time.Hour)), keys: keyOf("k"), trust: true},
		{name: "no signature: written while the webhook was down", gen: 3, edit: func(*v1alpha1.Incident) {}, keys: keyOf("k")},
		{name: "a signature of an earlier generation", gen: 3, edit: signed("uid-1", 2, t0), keys: keyOf("k")},
		{name: "a signature of another incident of the same name", gen: 3, edit: signed("uid-0", 3, t0), keys: keyOf("k")},
		{name: "the annotation edited after signing", gen: 3, edit: then(signed("uid-1", 3, t0), func(inc *v1alpha1.Incident) {
			inc.Annotations[v1alpha1.AnnotationChangedBy] = `{"commander":"mallory","state":"bob"}`
		}), keys: keyOf("k")},
		{name: "signed with another key", gen: 3, edit: signed("uid-1", 3, t0), keys: keyOf("other")},
		{name: "no key to check with", gen: 3, edit: signed("uid-1", 3, t0), keys: func() ([]byte, error) { return nil, errors.New("no file") }},
		{name: "a garbled signature", gen: 3, edit: func(inc *v1alpha1.Incident) { inc.Annotations[v1alpha1.AnnotationChangedBySignature] = "v1.3.x" }, keys: keyOf("k")},
		{name: "signed on create, before the uid existed, at the creation", gen: 1, edit: signed("", 1, t0.Add(2*time.Second)), keys: keyOf("k"), trust: true},
		{name: "an old declaration's signature on a new incident of the same name", gen: 1, edit: signed("", 1, t0.Add(-time.Hour)), keys: keyOf("k")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := stored(by)
			inc.Generation = tc.gen
			tc.edit(inc)
			got := Verified(tc.keys, inc)
			switch {
			case tc.trust && !maps.Equal(got, map[string]string{"commander": "alice", "state": "bob"}):
				t.Fatalf("not believed: %v", got)
			case !tc.trust && got != nil:
				t.Fatalf("believed %v", got)
			}
		})
	}
}

func TestFromFileDerivesTheKeyFromTheFileAndFollowsItsRenewal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls.key")
	if _, err := FromFile(path)(); err == nil {
		t.Fatal("a missing file gave a key")
	}
	if err := os.WriteFile(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, err := FromFile(path)()
	if err != nil || len(first) != 32 || string(first) == "first" {
		t.Fatalf("key %x, %v: want 32 bytes derived from the file, not the file", first, err)
	}
	if err := os.WriteFile(path, []byte("renewed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if renewed, _ := FromFile(path)(); string(renewed) == string(first) {
		t.Fatal("a renewed file gives the same key")
	}
}
