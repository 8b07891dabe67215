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
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// parser reads the five standard fields and descriptors such as @weekly, as the CronJob
// controller does, and an optional leading seconds field, for drills that run every few
// seconds in tests and demonstrations.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseSchedule parses spec.schedule, in UTC, with an error a person can act on.
func parseSchedule(s string) (cron.Schedule, error) {
	sched, err := parser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule %q is not a cron expression (%w): use five fields such as \"0 14 * * 2\" (Tuesdays 14:00 UTC), six with leading seconds such as \"*/30 * * * * *\", or a descriptor such as @weekly", s, err)
	}
	return sched, nil
}

// maxMissed bounds the walk over missed schedule times after a long downtime; beyond it the
// missed times are all skipped.
const maxMissed = 100000

// skipReason says why a scheduled time started no run.
type skipReason string

const (
	skipNone      skipReason = ""
	skipSuspended skipReason = "Suspended"
	skipTooLate   skipReason = "TooLate"
	skipUnderWay  skipReason = "RunUnderWay"
)

// decision is what the scheduler does now.
type decision struct {
	// handled is the scheduled time now handled, zero when none fell due; it becomes
	// status.lastScheduleTime.
	handled time.Time
	// start is true when a run starts for handled.
	start bool
	// skipped says why handled starts no run.
	skipped skipReason
	// missed is how many scheduled times fell due since the last one handled; all but the
	// latest are dropped, never run as a backlog.
	missed int
	// next is the next scheduled time after now, zero when suspended.
	next time.Time
}

// decide is the scheduler. last is the latest scheduled time already handled (or the Drill's
// creation); deadline is spec.startingDeadlineSeconds, zero for none; active says a run is
// under way. Of the times missed since last only the latest counts, and it starts a run unless
// the Drill is suspended, it is later than the deadline allows, or a run is under way (runs
// never overlap). A suspended Drill lets its times pass, so that lifting suspend does not start
// a run for a time missed meanwhile.
func decide(s cron.Schedule, last, now time.Time, deadline time.Duration, suspended, active bool) decision {
	var d decision
	for t := s.Next(last); !t.After(now); t = s.Next(t) {
		d.handled, d.missed = t, d.missed+1
		if d.missed == maxMissed {
			d.handled = now
			break
		}
	}
	if !suspended {
		d.next = s.Next(now)
	}
	switch {
	case d.handled.IsZero():
	case suspended:
		d.skipped = skipSuspended
	case deadline > 0 && now.Sub(d.handled) > deadline:
		d.skipped = skipTooLate
	case active:
		d.skipped = skipUnderWay
	default:
		d.start = true
	}
	return d
}
