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

package drill

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestGradePostmortem(t *testing.T) {
	resolved := at("2026-12-03T10:00:00Z")
	due := metav1.NewTime(resolved.Add(24 * time.Hour))
	pm := func(state v1alpha1.PostmortemState, owner v1alpha1.Person, reason string, transition time.Time) *v1alpha1.Postmortem {
		p := &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "ec2-1764756000"},
			Spec: v1alpha1.PostmortemSpec{State: state, Owner: owner, DueAt: &due}}
		if reason != "" {
			status := metav1.ConditionTrue
			if reason == v1alpha1.ReasonPastDue {
				status = metav1.ConditionFalse
			}
			p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionOnSchedule, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(transition)}}
		}
		return p
	}
	cases := []struct {
		name     string
		wanted   bool
		end      v1alpha1.DrillEndReason
		pm       *v1alpha1.Postmortem
		now      time.Time
		result   v1alpha1.CriterionResult
		evidence string
	}{
		{"the policy gives drills no post-mortem", false, v1alpha1.DrillEndResolved, nil, resolved, v1alpha1.CriterionNotApplicable, "postmortemForDrills is false"},
		{"the incident was deleted", true, v1alpha1.DrillEndIncidentDeleted, nil, resolved, v1alpha1.CriterionNotApplicable, "deleted"},
		{"not opened yet", true, v1alpha1.DrillEndResolved, nil, resolved, v1alpha1.CriterionPending, "has not opened yet"},
		{"a draft before its due date", true, v1alpha1.DrillEndTimeLimit, pm(v1alpha1.PostmortemDraft, "", v1alpha1.ReasonNotDue, resolved), resolved.Add(time.Hour),
			v1alpha1.CriterionPending, "is Draft, owned by nobody, due 2026-12-04T10:00:00Z"},
		{"owned, in review, not due", true, v1alpha1.DrillEndResolved, pm(v1alpha1.PostmortemInReview, "keiko", v1alpha1.ReasonNotDue, resolved), resolved.Add(23 * time.Hour),
			v1alpha1.CriterionPending, "owned by keiko"},
		{"published before its due date", true, v1alpha1.DrillEndResolved, pm(v1alpha1.PostmortemPublished, "keiko", v1alpha1.ReasonDone, resolved), resolved.Add(30 * time.Hour),
			v1alpha1.CriterionPass, "post-mortem ec2-1764756000 owned by keiko and Published, due 2026-12-04T10:00:00Z"},
		{"published after it went past due", true, v1alpha1.DrillEndResolved, pm(v1alpha1.PostmortemPublished, "keiko", v1alpha1.ReasonDone, resolved.Add(25*time.Hour)), resolved.Add(26 * time.Hour),
			v1alpha1.CriterionFail, "Published by keiko at 2026-12-04T11:00:00Z, after it was due 2026-12-04T10:00:00Z"},
		{"past due in review", true, v1alpha1.DrillEndResolved, pm(v1alpha1.PostmortemInReview, "keiko", v1alpha1.ReasonPastDue, resolved.Add(24*time.Hour)), resolved.Add(24 * time.Hour),
			v1alpha1.CriterionFail, "is InReview, owned by keiko, and was due"},
		{"past due without an owner, before the post-mortem controller noticed", true, v1alpha1.DrillEndResolved, pm(v1alpha1.PostmortemDraft, "", v1alpha1.ReasonNotDue, resolved),
			resolved.Add(25 * time.Hour), v1alpha1.CriterionFail, "owned by nobody, and was due"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := gradePostmortem(tc.wanted, tc.end, tc.pm, tc.now)
			if c.Name != CriterionPostmortemWritten || c.Result != tc.result || !strings.Contains(c.Evidence, tc.evidence) {
				t.Fatalf("got %s %q; want %s with %q", c.Result, c.Evidence, tc.result, tc.evidence)
			}
		})
	}
}

func TestAPendingCriterionCountsOnlyOnceDecided(t *testing.T) {
	cs := []v1alpha1.Criterion{{Name: "A", Result: v1alpha1.CriterionPass}, {Name: CriterionPostmortemWritten, Result: v1alpha1.CriterionPending}}
	if g, _ := score(cs); g != "1/1" {
		t.Fatalf("with the post-mortem pending: %s, want 1/1", g)
	}
	cs[1].Result = v1alpha1.CriterionFail
	if g, _ := score(cs); g != "1/2" {
		t.Fatalf("once decided: %s, want 1/2", g)
	}
}
