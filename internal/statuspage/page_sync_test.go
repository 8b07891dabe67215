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
	"bytes"
	"fmt"
	"testing"

	"firescope.dev/firescope/internal/statuspage/api"
)

// An incident deleted and created again under the same id, heard of in one catch-up, ends
// as the new incident alone, counted as a page that only ever had the new one counts it.
func TestChangesDeleteBeforeTheyWriteAndCountBytesAsAFreshPage(t *testing.T) {
	behind, _ := newTestPage(t)
	mustPutComponent(t, behind, "api", "API")
	if _, _, err := behind.PutIncident("inc-1", api.IncidentRequest{Name: "Elevated errors", Impact: api.ImpactMajor,
		Update: &api.UpdateRequest{ID: "u1", Status: api.Investigating, Body: "The old incident's update."}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := behind.PutUpdate("inc-1", "u2", api.UpdateRequest{Status: api.Identified, Body: "Another of its updates."}); err != nil {
		t.Fatal(err)
	}

	fresh, _ := newTestPage(t)
	mustPutComponent(t, fresh, "api", "API")
	if _, _, err := fresh.PutIncident("inc-1", api.IncidentRequest{Name: "Slow logins", Impact: api.ImpactMinor,
		Update: &api.UpdateRequest{ID: "v1", Status: api.Investigating, Body: "The new incident's update.",
			Components: []api.ComponentChange{{ID: "api", Status: api.DegradedPerformance}}}}); err != nil {
		t.Fatal(err)
	}
	inc := fresh.incidents["inc-1"]
	ch := changes{
		deletes: batch{deleteIncidents: []string{"inc-1"}},
		puts:    batch{incidents: []*incidentRecord{inc.rec}, updates: inc.updates, components: []*componentRecord{fresh.components["api"]}},
	}
	behind.mu.Lock()
	behind.applyChanges(ch)
	behind.mu.Unlock()

	gotTotal, gotByIncident := storedBytes(behind)
	wantTotal, wantByIncident := storedBytes(fresh)
	if gotTotal != wantTotal || fmt.Sprint(gotByIncident) != fmt.Sprint(wantByIncident) {
		t.Errorf("after the changes the page counts %d bytes (%v), a page with only the new incident %d (%v)", gotTotal, gotByIncident, wantTotal, wantByIncident)
	}
	page := incidentHTML(behind, "inc-1")
	if !bytes.Contains(page, []byte("The new incident&#39;s update.")) || bytes.Contains(page, []byte("old incident")) || bytes.Contains(page, []byte("Another of its updates")) {
		t.Errorf("the incident page shows the old incident's updates, or not the new one's:\n%s", page)
	}
	if got := behind.Components()[0].Status; got != api.DegradedPerformance {
		t.Errorf("component status = %s, want the written %s", got, api.DegradedPerformance)
	}
}
