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

package incident_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/testenv"
)

// Attribution cannot be forged: with the webhook serving, a request's own changed-by record
// and signature are overwritten; with it down, a forged record is not believed, a claimed
// sitrep author is marked as not verified and a sitrep from the future cannot hold the
// reminders off; once it is back, a claimed author is shown next to who posted it.
func TestIntegrationAttributionCannotBeForged(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	mallory := e.As("mallory")
	inc := newIncident("forged")
	must(t, e.As("ricardo").Create(ctx, inc))
	waitEntry := func(typ v1alpha1.TimelineEntryType, msg string) v1alpha1.TimelineEntry {
		t.Helper()
		var found v1alpha1.TimelineEntry
		testenv.Eventually(t, 10*time.Second, func() error {
			for _, en := range timeline(t, e.Client, inc.Name) {
				if en.Type == typ && en.Message == msg {
					found = en
					return nil
				}
			}
			return fmt.Errorf("no %s entry %q in %+v", typ, msg, timeline(t, e.Client, inc.Name))
		})
		return found
	}
	if en := waitEntry(v1alpha1.TimelineHandoff, "IC -> ricardo"); en.By != "ricardo" {
		t.Fatalf("the declaration through the webhook is attributed to %q, want ricardo", en.By)
	}

	// Webhook up: mallory's request claims the CEO made the hand-off, with a signature.
	forge := func(c client.Client, edit func(*v1alpha1.Incident)) {
		t.Helper()
		cur := &v1alpha1.Incident{}
		must(t, c.Get(ctx, client.ObjectKeyFromObject(inc), cur))
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Annotations[v1alpha1.AnnotationChangedBy] = `{"commander":"ceo","communications":"ceo","sitreps":"ceo","sitrep/1":"ceo","state":"ceo"}`
		cur.Annotations[v1alpha1.AnnotationChangedBySignature] = "v1.2.0.Zm9yZ2Vk"
		edit(cur)
		must(t, c.Patch(ctx, cur, patch))
	}
	forge(mallory, func(i *v1alpha1.Incident) { i.Spec.Roles.Commander = "greg" })
	if en := waitEntry(v1alpha1.TimelineHandoff, "IC -> greg"); en.By != "mallory" {
		t.Fatalf("with the webhook up the hand-off is attributed to %q, want mallory", en.By)
	}

	// Webhook down (the manager is stopped; the webhook fails open): the same forgery, a sitrep
	// claiming the CEO wrote it, dated a month ahead so that no reminder would fire.
	e.StopManager()
	future := metav1.NewTime(time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second))
	forge(mallory, func(i *v1alpha1.Incident) {
		i.Spec.Roles.Communications = "keiko"
		i.Spec.Sitreps = append(i.Spec.Sitreps, v1alpha1.Sitrep{At: &future, Author: "ceo", Summary: "All fine, stop asking"})
	})
	stored := &v1alpha1.Incident{}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), stored))
	if stored.Spec.Sitreps[0].At == nil || !stored.Spec.Sitreps[0].At.Equal(&future) {
		t.Fatalf("the webhook was not down: sitrep stored as %+v", stored.Spec.Sitreps[0])
	}
	if err := e.RunManager(); err != nil {
		t.Fatal(err)
	}
	if en := waitEntry(v1alpha1.TimelineHandoff, "Comms -> keiko"); en.By != "" {
		t.Fatalf("a forged record while the webhook was down is believed: by %q", en.By)
	}
	en := waitEntry(v1alpha1.TimelineSitrep, "Sitrep 1 from ceo (not verified): All fine, stop asking")
	if en.By != "" || en.At.After(time.Now()) {
		t.Fatalf("the unverified sitrep entry: %+v", en)
	}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), stored))
	if last := stored.Status.LastSitrepAt; last == nil || last.After(time.Now()) {
		t.Fatalf("lastSitrepAt %v: a sitrep from the future is trusted", last)
	}
	if due := stored.Status.NextSitrepDueAt; due == nil || due.After(time.Now().Add(31*time.Minute)) {
		t.Fatalf("next sitrep due %v: the future sitrep put the reminders off", due)
	}

	// Webhook back: a future sitrep is refused, and a claimed author is shown with its poster.
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), stored))
	patch := client.MergeFrom(stored.DeepCopy())
	stored.Spec.Sitreps = append(stored.Spec.Sitreps, v1alpha1.Sitrep{At: &future, Summary: "later"})
	if err := mallory.Patch(ctx, stored, patch); err == nil || !strings.Contains(err.Error(), "is in the future") {
		t.Fatalf("a sitrep dated a month ahead was not refused: %v", err)
	}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), stored))
	patch = client.MergeFrom(stored.DeepCopy())
	stored.Spec.Sitreps = append(stored.Spec.Sitreps, v1alpha1.Sitrep{Author: "ceo", Summary: "Failing over"})
	must(t, mallory.Patch(ctx, stored, patch))
	if en := waitEntry(v1alpha1.TimelineSitrep, "Sitrep 2 from ceo (posted by mallory): Failing over"); en.By != "mallory" {
		t.Fatalf("sitrep 2 by %q, want mallory", en.By)
	}
}
