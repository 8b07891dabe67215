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

package statusupdate_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/publish"
	"firescope.dev/firescope/internal/testenv"
)

// Statuspage allows one request per second per API key. Sending a lookup and a write back to
// back made the write fail with 429 every time, so after the first unknown outcome no
// update was ever published again. With the key's requests paced by the manager, and 30% of
// writes failing with 503, a burst of 20 updates for one incident all reach the page, in
// order, once each; a write answered 503 is sent again without a lookup.
func TestIntegrationRateLimitedBurstPublishesInOrderOnceEach(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sp := page(t, e, false)
	sp.MinGap(time.Second)
	sp.FailWrites(0.3, 17)
	inc := incident(ns, false)
	must(t, e.Client.Create(ctx, inc))

	const n = 20
	var want []string
	for i := range n {
		msg := fmt.Sprintf("Update %d: provisioning Postgres is failing; we are working on it. Use an existing database meanwhile.", i)
		want = append(want, msg)
		must(t, e.Client.Create(ctx, update(ns, fmt.Sprintf("burst-%02d", i), "identified", msg)))
	}

	testenv.Eventually(t, 6*time.Minute, func() error {
		list := &v1alpha1.StatusUpdateList{}
		if err := e.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		published := 0
		for _, su := range list.Items {
			if meta.IsStatusConditionTrue(su.Status.Conditions, v1alpha1.ConditionPublished) {
				published++
			}
		}
		if published < n {
			return fmt.Errorf("%d of %d published", published, n)
		}
		return nil
	})

	// Only this incident's: a test server's port may have served another test before.
	key := publish.IncidentKey(ns, inc.Name, string(inc.UID))
	all := sp.Incidents()
	incs := slices.DeleteFunc(slices.Clone(all), func(i statuspage.Incident) bool {
		m, _ := i.Metadata["firescope"].(map[string]any)
		return m["incident"] != key
	})
	if len(incs) != len(all) {
		t.Logf("%d of the page's %d incidents are another test's: %+v", len(all)-len(incs), len(all), all)
	}
	if len(incs) != 1 {
		for i, r := range sp.Requests() {
			t.Logf("request %d at %s: %s %s -> %d %s", i, r.At.Format("15:04:05.000"), r.Method, r.Path, r.Status, r.Body)
		}
		t.Fatalf("%d provider incidents, want 1", len(incs))
	}
	var got []string
	for _, u := range incs[0].Updates {
		got = append(got, u.Body)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the page shows the updates out of order, twice or not at all:\n got %q\nwant %q", got, want)
	}
	// A 503 says the write was not applied, so it is sent again with no lookup first.
	failed, reqs := 0, sp.Requests()
	for i, r := range reqs {
		if r.Status != http.StatusServiceUnavailable {
			continue
		}
		failed++
		if i+1 < len(reqs) && reqs[i+1].Method == http.MethodGet {
			t.Errorf("request %d answered 503 is followed by a lookup (%s %s), not by the write again", i, reqs[i+1].Method, reqs[i+1].Path)
		}
	}
	if failed == 0 {
		t.Fatal("no write failed: the test did not exercise the failing vendor")
	}
	if bad := sp.Invalid(); len(bad) > 0 {
		t.Errorf("requests that do not match Statuspage's API: %+v", bad)
	}
}
