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
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// plan orders the scenario's injects by offset; injects at the same offset keep their order.
func plan(sc *v1alpha1.DrillScenarioSpec) []v1alpha1.Inject {
	injects := slices.Clone(sc.Injects)
	slices.SortStableFunc(injects, func(a, b v1alpha1.Inject) int { return cmp.Compare(a.At.Duration, b.At.Duration) })
	return injects
}

// playDue records in run the injects due by now that have not played, and returns them and how
// long until the next one is due (zero when none is left). The run's list of played injects is
// the player's position in the plan: an inject is recorded once, before it is announced, so a
// restart resumes after the last recorded one, neither repeating nor skipping any. Injects that
// fell due while the manager was down play at once, in order, each marked with its lateness.
func playDue(run *v1alpha1.DrillRun, injects []v1alpha1.Inject, now time.Time) ([]v1alpha1.PlayedInject, time.Duration) {
	var played []v1alpha1.PlayedInject
	for i := len(run.Injects); i < len(injects); i++ {
		due := run.StartedAt.Add(injects[i].At.Duration)
		if due.After(now) {
			return played, due.Sub(now)
		}
		p := v1alpha1.PlayedInject{Index: int32(i), Type: injects[i].Type, PlannedAt: metav1.NewTime(due),
			PlayedAt: metav1.NewTime(now), Message: injects[i].Message, Signal: injects[i].Signal.DeepCopy()}
		run.Injects = append(run.Injects, p)
		played = append(played, p)
	}
	return played, 0
}
