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

package plugin

import (
	"encoding/json"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Server-side apply removes a field its manager applied before and leaves out now. All
// plugin commands share one field manager, so each apply must carry every spec field the
// plugin already owns, at its live value, plus the change: `escalate` after `declare` must
// not drop the title. ownedSpec extracts those fields from the object's managed fields, the
// way client-go's Extract functions do for built-in types; the write that follows carries
// the resourceVersion it was read at, so a concurrent change is never applied over.

// ownedSpec returns the part of live's spec that manager owns through apply.
func ownedSpec(live *unstructured.Unstructured, manager string) map[string]any {
	spec, _ := live.Object["spec"].(map[string]any)
	out := map[string]any{}
	for _, f := range appliedFields(live, manager) {
		if s, ok := f["f:spec"].(map[string]any); ok && spec != nil {
			if m, ok := extract(s, spec).(map[string]any); ok {
				merge(out, m)
			}
		}
	}
	return out
}

// appliedFields returns the field sets manager owns on the main resource: through apply, and
// through the update of its own create (kubectl incident declare).
func appliedFields(live *unstructured.Unstructured, manager string) []map[string]any {
	var sets []map[string]any
	for _, e := range live.GetManagedFields() {
		if e.Manager != manager || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		var f map[string]any
		if json.Unmarshal(e.FieldsV1.GetRawBytes(), &f) == nil {
			sets = append(sets, f)
		}
	}
	return sets
}

// extract walks a FieldsV1 set (f:name for a map key, k:{...} for a keyed list item, v:value
// for a set item, "." for the item itself) over live, and returns the owned values. A set
// entry with no children owns the whole value beneath it (a leaf, an atomic list or struct).
func extract(fields map[string]any, live any) any {
	switch v := live.(type) {
	case map[string]any:
		out := map[string]any{}
		for key, child := range fields {
			name, ok := strings.CutPrefix(key, "f:")
			if !ok {
				continue
			}
			val, present := v[name]
			if !present {
				continue
			}
			if sub, _ := child.(map[string]any); len(withoutSelf(sub)) > 0 {
				out[name] = extract(sub, val)
			} else {
				out[name] = val
			}
		}
		return out
	case []any:
		// In the live list's order: an apply that lists items in another order reorders them.
		var out []any
		for _, item := range v {
			for key, child := range fields {
				if owned, ok := ownedItem(key, child, item); ok {
					out = append(out, owned)
					break
				}
			}
		}
		return out
	default:
		return live
	}
}

// ownedItem returns the owned part of a list item when the set entry key (k:{...} for a keyed
// item, v:value for a set item) names it.
func ownedItem(key string, child, item any) (any, bool) {
	switch {
	case strings.HasPrefix(key, "k:"):
		var k map[string]any
		m, ok := item.(map[string]any)
		if !ok || json.Unmarshal([]byte(key[2:]), &k) != nil || !matches(m, k) {
			return nil, false
		}
		if sub, _ := child.(map[string]any); len(withoutSelf(sub)) > 0 {
			e, _ := extract(sub, m).(map[string]any)
			merge(e, k)
			return e, true
		}
		return m, true
	case strings.HasPrefix(key, "v:"):
		var want any
		if json.Unmarshal([]byte(key[2:]), &want) != nil || !reflect.DeepEqual(item, want) {
			return nil, false
		}
		return item, true
	}
	return nil, false
}

func withoutSelf(fields map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range fields {
		if k != "." {
			out[k] = v
		}
	}
	return out
}

// matches reports whether item has every key field of k, with JSON numbers compared as such.
func matches(item, k map[string]any) bool {
	for name, want := range k {
		a, _ := json.Marshal(item[name])
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			return false
		}
	}
	return true
}

// merge copies src into dst, recursing into maps present in both.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if dm, ok := dst[k].(map[string]any); ok {
			if sm, ok := v.(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// owners returns the managers other than self that own the field at path, a list of FieldsV1
// keys such as f:spec, f:roles, f:commander.
func owners(live *unstructured.Unstructured, self string, path ...string) []string {
	var out []string
	for _, e := range live.GetManagedFields() {
		if e.Manager == self || e.FieldsV1 == nil {
			continue
		}
		var f map[string]any
		if json.Unmarshal(e.FieldsV1.GetRawBytes(), &f) != nil {
			continue
		}
		if hasPath(f, path) {
			out = append(out, e.Manager)
		}
	}
	return out
}

func hasPath(f map[string]any, path []string) bool {
	for _, p := range path {
		next, ok := f[p].(map[string]any)
		if !ok {
			return false
		}
		f = next
	}
	return true
}
