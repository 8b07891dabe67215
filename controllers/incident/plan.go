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

package incident

import (
	"time"

	"firescope.dev/firescope/api/v1alpha1"
)

// inputs are what a reconcile reads besides the Incident.
type inputs struct {
	// policy is the Incident's ResponsePolicy; nil when it does not exist (the defaults).
	policy *v1alpha1.ResponsePolicy
	// updates are the StatusUpdates bound to the Incident.
	updates []v1alpha1.StatusUpdate
	// by is who changed each tracked field, as the webhook signed it; nil when unverified.
	by map[string]string
	// maintenances are the Maintenances of the Incident's namespace (suppressPaging).
	maintenances []v1alpha1.Maintenance
}

// planned is what one reconcile records and delivers.
type planned struct {
	// at is the time the plan was made for; its waits count from it.
	at time.Time
	// facts are the new facts, each reported as an Event.
	facts []fact
	// claimed are the indexes of the outbox items to deliver now, marked Sending.
	claimed []int
	// wait is how long until the next timer or outbox item falls due; zero for none.
	wait time.Duration
	// unknown are announcements a stopped process left mid-call, dropped.
	unknown []v1alpha1.OutboxItem
	// settled are the ids of items this process delivered, whose removal the write stores.
	settled []string
	// skew is how late a sitrep reminder goes out, or negative when none does.
	skew    time.Duration
	cadence map[v1alpha1.IncidentState]time.Duration
}

// plan updates inc.Status to what it must become at now, and returns the facts to report and
// the deliveries to make. It makes no call: delivered says which outbox items this process
// delivered. Its phases, in order:
//  1. settle the deliveries a stopped process left mid-call (recoverOutbox);
//  2. count what customers have been told (summarizeStatusUpdates);
//  3. turn what changed in the spec into timeline facts (recordChanges);
//  4. run the IC's checklist, as reminders due now (checklist);
//  5. derive the conditions and observedGeneration;
//  6. enqueue the announcements and pages of the new facts, hold back the pages a Maintenance
//     in progress covers, and claim those due (enqueue, suppressPaging, claimDue).
func plan(inc *v1alpha1.Incident, in inputs, now time.Time, delivered func(id string) bool) planned {
	p := planned{at: now, cadence: cadenceOf(in.policy)}
	p.unknown, p.settled = recoverOutbox(inc, delivered)
	inc.Status.StatusUpdates = summarizeStatusUpdates(inc, in.updates)
	p.facts = recordChanges(inc, in.by, now)
	reminders, wait, skew := checklist(inc, in.policy, p.cadence, now)
	p.facts, p.skew = append(p.facts, reminders...), skew
	appendTimeline(inc, reminders)
	setConditions(inc, in.policy, p.cadence, now)
	inc.Status.ObservedGeneration = inc.Generation
	enqueue(inc, p.facts, in.policy)
	p.facts = append(p.facts, suppressPaging(inc, in.maintenances, now)...)
	claimed, outboxWait := claimDue(inc, now)
	p.claimed, p.wait = claimed, minPositive(wait, outboxWait)
	return p
}
