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

package admission

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/attribution"
)

// now has a fraction of a second, which sitrep times leave out.
var (
	now       = time.Date(2026, 11, 25, 10, 0, 0, 750_000_000, time.UTC)
	nowSecond = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	earlier   = metav1.NewTime(time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC))
)

const deployer = "system:serviceaccount:ci:deployer"

func newIncident() *v1alpha1.Incident {
	return &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: "default"},
		Spec:       v1alpha1.IncidentSpec{Title: "EC2 API errors", State: v1alpha1.StateInvestigating},
	}
}

// created returns an Incident as alice created it through the webhook: in command, with the
// postgres group under noah, one sitrep, and the changed-by annotation naming her for all.
func created(t *testing.T) *v1alpha1.Incident {
	t.Helper()
	inc := newIncident()
	inc.Spec.Roles.Communications = "keiko"
	inc.Spec.Roles.Operations = []v1alpha1.OperationsGroup{{Name: "postgres", Supervisor: "noah"}}
	inc.Spec.Sitreps = []v1alpha1.Sitrep{{Summary: "EC2 API errors"}}
	if err := Default(inc, nil, "alice", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	return inc
}

func changedBy(t *testing.T, inc *v1alpha1.Incident) map[string]string {
	t.Helper()
	raw, ok := inc.Annotations[v1alpha1.AnnotationChangedBy]
	if !ok {
		t.Fatalf("no %s annotation", v1alpha1.AnnotationChangedBy)
	}
	by := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &by); err != nil {
		t.Fatalf("%s annotation %q is not a JSON object of strings: %v", v1alpha1.AnnotationChangedBy, raw, err)
	}
	return by
}

func setChangedBy(inc *v1alpha1.Incident, raw string) {
	if inc.Annotations == nil {
		inc.Annotations = map[string]string{}
	}
	inc.Annotations[v1alpha1.AnnotationChangedBy] = raw
}

func TestIsServiceAccount(t *testing.T) {
	for user, want := range map[string]bool{
		deployer:                             true,
		"system:serviceaccount:default:argo": true,
		"alice":                              false,
		"alice@example.com":                  false,
		"system:admin":                       false,
		"system:serviceaccounts:ci":          false, // a group, not a user
		"":                                   false,
	} {
		if got := IsServiceAccount(user); got != want {
			t.Errorf("IsServiceAccount(%q) = %v, want %v", user, got, want)
		}
	}
}

func TestDefaultMakesTheFirstResponderTheIC(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		commander  v1alpha1.Person
		want       v1alpha1.Person
	}{
		{"a person declaring without an IC takes command", "alice", "", "alice"},
		{"an IC named in the manifest is kept", "alice", "ricardo", "ricardo"},
		{"a service account naming the IC is accepted", deployer, "ricardo", "ricardo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := newIncident()
			inc.Spec.Roles.Commander = tc.commander
			if err := Default(inc, nil, tc.user, now); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := inc.Spec.Roles.Commander; got != tc.want {
				t.Errorf("IC = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultRefusesAServiceAccountAsFirstResponder(t *testing.T) {
	inc := newIncident()

	err := Default(inc, nil, deployer, now)

	if err == nil {
		t.Fatalf("accepted; IC = %q", inc.Spec.Roles.Commander)
	}
	for _, want := range []string{"spec.roles.commander", deployer, inc.Name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if inc.Spec.Roles.Commander != "" {
		t.Errorf("IC = %q, want none", inc.Spec.Roles.Commander)
	}
}

func TestDefaultLeavesTheICAloneOnUpdate(t *testing.T) {
	for _, user := range []string{"bob", deployer} {
		t.Run(user, func(t *testing.T) {
			old := created(t)
			inc := old.DeepCopy()
			inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{Summary: "Postgres provisioning restored"})
			if err := Default(inc, old, user, now); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := inc.Spec.Roles.Commander; got != "alice" {
				t.Errorf("IC = %q, want alice to stay in command", got)
			}
		})
	}
}

func TestDefaultFillsInNewSitreps(t *testing.T) {
	type sitrep struct {
		at     *metav1.Time
		author v1alpha1.Person
	}
	stamped := func(author v1alpha1.Person) sitrep { t := metav1.NewTime(nowSecond); return sitrep{&t, author} }
	for _, tc := range []struct {
		name string
		user string
		old  []v1alpha1.Sitrep // nil: a create
		new  []v1alpha1.Sitrep
		want []sitrep
	}{{
		name: "on create: the time to the second and the requesting user",
		user: "alice",
		new:  []v1alpha1.Sitrep{{Summary: "one"}, {Summary: "two"}},
		want: []sitrep{stamped("alice"), stamped("alice")},
	}, {
		name: "a time and author given are kept",
		user: "alice",
		new:  []v1alpha1.Sitrep{{At: &earlier, Author: "ricardo", Summary: "one"}, {Author: "ricardo", Summary: "two"}, {At: &earlier, Summary: "three"}},
		want: []sitrep{{&earlier, "ricardo"}, stamped("ricardo"), {&earlier, "alice"}},
	}, {
		name: "no user: the time only",
		user: "",
		new:  []v1alpha1.Sitrep{{Summary: "one"}},
		want: []sitrep{stamped("")},
	}, {
		name: "on update only the appended sitrep is filled in",
		user: "keiko",
		old:  []v1alpha1.Sitrep{{At: &earlier, Author: "ricardo", Summary: "one"}},
		new:  []v1alpha1.Sitrep{{At: &earlier, Author: "ricardo", Summary: "one"}, {Summary: "two"}},
		want: []sitrep{{&earlier, "ricardo"}, stamped("keiko")},
	}, {
		name: "re-applying a manifest without the filled-in fields keeps them from the stored sitrep",
		user: "keiko",
		old:  []v1alpha1.Sitrep{{At: &earlier, Author: "ricardo", Summary: "one"}},
		new:  []v1alpha1.Sitrep{{Summary: "one"}, {Summary: "two"}},
		want: []sitrep{{&earlier, "ricardo"}, stamped("keiko")},
	}, {
		// Filling it in now would be an edit the API server refuses as append-only.
		name: "an earlier sitrep stored without time or author (webhook down) stays without",
		user: "keiko",
		old:  []v1alpha1.Sitrep{{Summary: "one"}},
		new:  []v1alpha1.Sitrep{{Summary: "one"}, {Summary: "two"}},
		want: []sitrep{{nil, ""}, stamped("keiko")},
	}, {
		name: "an update without a new sitrep changes none",
		user: "keiko",
		old:  []v1alpha1.Sitrep{{At: &earlier, Author: "ricardo", Summary: "one"}},
		new:  []v1alpha1.Sitrep{{At: &earlier, Author: "ricardo", Summary: "one"}},
		want: []sitrep{{&earlier, "ricardo"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var old *v1alpha1.Incident
			inc := newIncident()
			inc.Spec.Roles.Commander = "alice"
			if tc.old != nil {
				old = inc.DeepCopy()
				old.Spec.Sitreps = tc.old
			}
			inc.Spec.Sitreps = tc.new

			if err := Default(inc, old, tc.user, now); err != nil {
				t.Fatalf("refused: %v", err)
			}

			if len(inc.Spec.Sitreps) != len(tc.want) {
				t.Fatalf("%d sitreps, want %d", len(inc.Spec.Sitreps), len(tc.want))
			}
			for i, s := range inc.Spec.Sitreps {
				w := tc.want[i]
				switch {
				case w.at == nil && s.At != nil:
					t.Errorf("sitrep %d at %s, want no time", i+1, s.At.UTC())
				case w.at != nil && (s.At == nil || !s.At.Time.Equal(w.at.Time)):
					t.Errorf("sitrep %d at %v, want %s", i+1, s.At, w.at.UTC())
				}
				if s.Author != w.author {
					t.Errorf("sitrep %d author %q, want %q", i+1, s.Author, w.author)
				}
			}
		})
	}
}

func TestDefaultRecordsEveryTrackedFieldOnCreate(t *testing.T) {
	inc := newIncident()
	inc.Annotations = map[string]string{
		"team": "platform",
		// A manifest cannot claim that someone else made the incident.
		v1alpha1.AnnotationChangedBy: `{"state":"mallory","ops/ghost":"mallory"}`,
	}
	inc.Spec.Roles = v1alpha1.Roles{Commander: "ricardo", Operations: []v1alpha1.OperationsGroup{
		{Name: "postgres", Supervisor: "noah"}, {Name: "dynos"},
	}}
	inc.Spec.Sitreps = []v1alpha1.Sitrep{{Summary: "EC2 API errors"}}

	if err := Default(inc, nil, "alice", now); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"state": "alice", "commander": "alice", "communications": "alice", "sitreps": "alice",
		"ops/postgres": "alice", "ops/dynos": "alice", "sitrep/1": "alice",
	}
	if got := changedBy(t, inc); !maps.Equal(got, want) {
		t.Errorf("changed-by = %v, want %v", got, want)
	}
	if inc.Annotations["team"] != "platform" {
		t.Errorf("other annotations lost: %v", inc.Annotations)
	}
}

func TestDefaultRecordsWhoChangedEachFieldOnUpdate(t *testing.T) {
	byAlice := map[string]string{
		"state": "alice", "commander": "alice", "communications": "alice", "sitreps": "alice", "ops/postgres": "alice",
		"sitrep/1": "alice",
	}
	with := func(changes map[string]string) map[string]string {
		m := maps.Clone(byAlice)
		for k, v := range changes {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		change func(old, inc *v1alpha1.Incident)
		want   map[string]string
	}{{
		name:   "a state change",
		change: func(_, inc *v1alpha1.Incident) { inc.Spec.State = v1alpha1.StateConfirmed },
		want:   with(map[string]string{"state": "bob"}),
	}, {
		name:   "an IC hand-off",
		change: func(_, inc *v1alpha1.Incident) { inc.Spec.Roles.Commander = "ricardo" },
		want:   with(map[string]string{"commander": "bob"}),
	}, {
		name:   "Comms stands down",
		change: func(_, inc *v1alpha1.Incident) { inc.Spec.Roles.Communications = "" },
		want:   with(map[string]string{"communications": "bob"}),
	}, {
		name: "a new sitrep",
		change: func(_, inc *v1alpha1.Incident) {
			inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{Summary: "Postgres provisioning restored"})
		},
		want: with(map[string]string{"sitreps": "bob", "sitrep/2": "bob"}),
	}, {
		name: "an Operations group formed",
		change: func(_, inc *v1alpha1.Incident) {
			inc.Spec.Roles.Operations = append(inc.Spec.Roles.Operations, v1alpha1.OperationsGroup{Name: "dynos", Supervisor: "ann"})
		},
		want: with(map[string]string{"ops/dynos": "bob"}),
	}, {
		name:   "an Operations supervisor replaced",
		change: func(_, inc *v1alpha1.Incident) { inc.Spec.Roles.Operations[0].Supervisor = "maria" },
		want:   with(map[string]string{"ops/postgres": "bob"}),
	}, {
		name:   "members joining a group change no owner",
		change: func(_, inc *v1alpha1.Incident) { inc.Spec.Roles.Operations[0].Members = []v1alpha1.Person{"maria"} },
		want:   byAlice,
	}, {
		name:   "a removed Operations group records who removed it",
		change: func(_, inc *v1alpha1.Incident) { inc.Spec.Roles.Operations = nil },
		want:   with(map[string]string{"ops/postgres": "bob"}),
	}, {
		name:   "nothing changed",
		change: func(_, _ *v1alpha1.Incident) {},
		want:   byAlice,
	}, {
		name: "a request without the annotation (a GitOps apply) cannot erase history",
		change: func(_, inc *v1alpha1.Incident) {
			delete(inc.Annotations, v1alpha1.AnnotationChangedBy)
			inc.Spec.State = v1alpha1.StateConfirmed
		},
		want: with(map[string]string{"state": "bob"}),
	}, {
		name: "a forged annotation in the request cannot rewrite history",
		change: func(_, inc *v1alpha1.Incident) {
			setChangedBy(inc, `{"state":"mallory","commander":"mallory","communications":"mallory","sitreps":"mallory","ops/postgres":"mallory","ops/ghost":"mallory"}`)
			inc.Spec.State = v1alpha1.StateConfirmed
		},
		want: with(map[string]string{"state": "bob"}),
	}, {
		name: "a malformed stored annotation counts as unknown",
		change: func(old, inc *v1alpha1.Incident) {
			setChangedBy(old, `{"state":"alice"`)
			inc.Spec.State = v1alpha1.StateConfirmed
		},
		want: map[string]string{"state": "bob"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			old := created(t)
			inc := old.DeepCopy()
			tc.change(old, inc)

			if err := Default(inc, old, "bob", now); err != nil {
				t.Fatalf("refused: %v", err)
			}

			if got := changedBy(t, inc); !maps.Equal(got, tc.want) {
				t.Errorf("changed-by = %v, want %v", got, tc.want)
			}
		})
	}
}

// The webhook runs with failurePolicy Ignore, so a group may have been formed while it was
// down and have no changed-by key; its removal is still someone's change.
func TestDefaultRecordsWhoRemovedAnOpsGroupTheWebhookNeverSawFormed(t *testing.T) {
	old := created(t)
	setChangedBy(old, `{"state":"alice","commander":"alice","communications":"alice","sitreps":"alice"}`)
	inc := old.DeepCopy()
	inc.Spec.Roles.Operations = nil

	if err := Default(inc, old, "bob", now); err != nil {
		t.Fatal(err)
	}

	if got := changedBy(t, inc)["ops/postgres"]; got != "bob" {
		t.Errorf(`changed-by["ops/postgres"] = %q, want "bob", who removed the group`, got)
	}
}

// Who removed a group is kept "only until the controller has recorded it": a second update
// that comes before the controller has recorded the removal must not lose it, or the
// timeline's "Ops/postgres -> (unassigned)" has nobody to attribute it to.
func TestDefaultKeepsWhoRemovedAnOpsGroupUntilTheControllerRecordedIt(t *testing.T) {
	stored := created(t)
	stored.Status.Recorded = &v1alpha1.Recorded{
		State: v1alpha1.StateInvestigating,
		Roles: v1alpha1.RecordedRoles{Commander: "alice", Communications: "keiko",
			Operations: []v1alpha1.RecordedGroup{{Name: "postgres", Supervisor: "noah"}}},
		Sitreps: 1,
	}

	// bob removes the group.
	inc := stored.DeepCopy()
	inc.Spec.Roles.Operations = nil
	if err := Default(inc, stored, "bob", now); err != nil {
		t.Fatal(err)
	}
	if got := changedBy(t, inc)["ops/postgres"]; got != "bob" {
		t.Fatalf(`after the removal: changed-by["ops/postgres"] = %q, want "bob"`, got)
	}
	stored = inc

	// carol posts a sitrep before the controller has run.
	inc = stored.DeepCopy()
	inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{Summary: "Postgres provisioning restored"})
	if err := Default(inc, stored, "carol", now); err != nil {
		t.Fatal(err)
	}
	if got := changedBy(t, inc)["ops/postgres"]; got != "bob" {
		t.Errorf(`before the controller recorded the removal: changed-by["ops/postgres"] = %q, want "bob"`, got)
	}
	stored = inc

	// The controller records the removal; the key is noise from then on.
	stored.Status.Recorded.Roles.Operations = nil
	stored.Status.Recorded.Sitreps = 2
	inc = stored.DeepCopy()
	inc.Spec.State = v1alpha1.StateConfirmed
	if err := Default(inc, stored, "dave", now); err != nil {
		t.Fatal(err)
	}
	if got, ok := changedBy(t, inc)["ops/postgres"]; ok {
		t.Errorf(`after the controller recorded the removal: changed-by["ops/postgres"] = %q, want no key`, got)
	}
}

func TestDefaultRefusesASitrepFromTheFutureAndTakesSmallSkewAsNow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      time.Time
		refused bool
		want    time.Time
	}{
		{name: "an hour ahead: refused, so that it cannot silence reminders", at: now.Add(time.Hour), refused: true},
		{name: "seconds ahead, as clocks disagree: taken as now", at: now.Add(20 * time.Second), want: nowSecond},
		{name: "in the past: kept", at: earlier.Time, want: earlier.Time},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := created(t)
			inc := old.DeepCopy()
			at := metav1.NewTime(tc.at)
			inc.Spec.Sitreps = append(inc.Spec.Sitreps, v1alpha1.Sitrep{At: &at, Summary: "two"})
			err := Default(inc, old, "bob", now)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "sitrep 2: at") || !strings.Contains(err.Error(), "leave at out") {
					t.Fatalf("want a refusal naming the sitrep and the fix, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := inc.Spec.Sitreps[1].At; !got.Time.Equal(tc.want) {
				t.Fatalf("at = %s, want %s", got.UTC(), tc.want.UTC())
			}
		})
	}
}

func TestTheWebhookOverwritesASignatureTheRequestCarries(t *testing.T) {
	key := func() ([]byte, error) { return []byte("k"), nil }
	old := created(t)
	old.UID, old.Generation = "uid-1", 4
	inc := old.DeepCopy()
	inc.Spec.Roles.Commander = "greg"
	inc.Annotations[v1alpha1.AnnotationChangedBySignature] = "v1.5.0.forged"
	if err := Default(inc, old, "bob", now); err != nil {
		t.Fatal(err)
	}
	(&IncidentDefaulter{Keys: key}).sign(inc, old, now)
	// The API server gives the changed spec generation 5.
	inc.Generation = 5
	if by := attribution.Verified(key, inc); by["commander"] != "bob" {
		t.Fatalf("the webhook's record is not believed: %v (signature %q)", by, inc.Annotations[v1alpha1.AnnotationChangedBySignature])
	}
	// Without a key the request's signature is removed, not kept.
	inc.Annotations[v1alpha1.AnnotationChangedBySignature] = "v1.5.0.forged"
	(&IncidentDefaulter{}).sign(inc, old, now)
	if sig, ok := inc.Annotations[v1alpha1.AnnotationChangedBySignature]; ok {
		t.Fatalf("a request's signature survived: %q", sig)
	}
}
