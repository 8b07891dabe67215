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

package statuspage

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Component groups: a component may name a group; the page shows the group where its first
// component (in page order) is, with its components together under it, and the group's
// status is the worst of theirs. The JSON lists a group as Statuspage does, as a component
// with "group": true and the ids of its components, which name it in "group_id".

// componentGroup is a group and its components, or (Name "") one component outside any.
type componentGroup struct {
	Name    string
	Members []*componentRecord
}

// groupComponents arranges components (in page order) by group.
func groupComponents(comps []*componentRecord) []componentGroup {
	var out []componentGroup
	at := map[string]int{}
	for _, c := range comps {
		if c.Group == "" {
			out = append(out, componentGroup{Members: []*componentRecord{c}})
			continue
		}
		if i, ok := at[c.Group]; ok {
			out[i].Members = append(out[i].Members, c)
			continue
		}
		at[c.Group] = len(out)
		out = append(out, componentGroup{Name: c.Group, Members: []*componentRecord{c}})
	}
	return out
}

// status is the worst status of the group's components.
func (g componentGroup) status() string {
	worst := g.Members[0].Status
	for _, c := range g.Members[1:] {
		if statusRank[c.Status] > statusRank[worst] {
			worst = c.Status
		}
	}
	return worst
}

// groupID is a group's id in the JSON: stable for its name, unlike any component id (which
// cannot contain ':').
func groupID(name string) string {
	sum := sha256.Sum256([]byte("group:" + name))
	return "group:" + hex.EncodeToString(sum[:8])
}

// v2Components lists the components in the Statuspage format, each group before its
// components.
func (p *Page) v2Components(comps []*componentRecord) []v2Component {
	out := make([]v2Component, 0, len(comps))
	for _, g := range groupComponents(comps) {
		if g.Name == "" {
			out = append(out, p.v2Component(g.Members[0]))
			continue
		}
		id := groupID(g.Name)
		group := v2Component{ID: id, Name: g.Name, Status: g.status(), Position: g.Members[0].Position, PageID: p.info.ID,
			Group: true, Components: []string{}}
		var created, updated time.Time
		for i, c := range g.Members {
			if i == 0 || c.CreatedAt.Before(created) {
				created = c.CreatedAt
			}
			if c.UpdatedAt.After(updated) {
				updated = c.UpdatedAt
			}
			group.Components = append(group.Components, c.ID)
		}
		group.CreatedAt, group.UpdatedAt = stamp(created), stamp(updated)
		out = append(out, group)
		for _, c := range g.Members {
			v := p.v2Component(c)
			v.GroupID = &id
			out = append(out, v)
		}
	}
	return out
}
