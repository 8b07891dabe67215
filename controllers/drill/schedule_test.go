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
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecide(t *testing.T) {
	hourly, err := parseSchedule("0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		last, now string
		deadline  time.Duration
		suspended bool
		active    bool
		want      decision
	}{
		{name: "nothing due before the first scheduled time", last: "2026-12-03T08:10:00Z", now: "2026-12-03T08:59:59Z",
			want: decision{next: at("2026-12-03T09:00:00Z")}},
		{name: "a scheduled time starts a run", last: "2026-12-03T08:00:00Z", now: "2026-12-03T09:00:01Z",
			want: decision{handled: at("2026-12-03T09:00:00Z"), start: true, missed: 1, next: at("2026-12-03T10:00:00Z")}},
		{name: "after a day of downtime only the latest missed time starts, once", last: "2026-12-02T08:00:00Z", now: "2026-12-03T08:30:00Z",
			want: decision{handled: at("2026-12-03T08:00:00Z"), start: true, missed: 24, next: at("2026-12-03T09:00:00Z")}},
		{name: "the latest missed time within the deadline starts", last: "2026-12-03T06:00:00Z", now: "2026-12-03T08:00:50Z", deadline: time.Minute,
			want: decision{handled: at("2026-12-03T08:00:00Z"), start: true, missed: 2, next: at("2026-12-03T09:00:00Z")}},
		{name: "the latest missed time past the deadline is skipped", last: "2026-12-03T06:00:00Z", now: "2026-12-03T08:30:00Z", deadline: time.Minute,
			want: decision{handled: at("2026-12-03T08:00:00Z"), skipped: skipTooLate, missed: 2, next: at("2026-12-03T09:00:00Z")}},
		{name: "suspended: times pass without a run and nothing is next", last: "2026-12-03T06:00:00Z", now: "2026-12-03T08:30:00Z", suspended: true,
			want: decision{handled: at("2026-12-03T08:00:00Z"), skipped: skipSuspended, missed: 2}},
		{name: "a run under way refuses an overlapping one", last: "2026-12-03T08:00:00Z", now: "2026-12-03T09:00:00Z", active: true,
			want: decision{handled: at("2026-12-03T09:00:00Z"), skipped: skipUnderWay, missed: 1, next: at("2026-12-03T10:00:00Z")}},
		{name: "a time already handled is not handled again", last: "2026-12-03T09:00:00Z", now: "2026-12-03T09:00:30Z",
			want: decision{next: at("2026-12-03T10:00:00Z")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(hourly, at(tc.last), at(tc.now), tc.deadline, tc.suspended, tc.active)
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecideBoundsTheWalkAfterAVeryLongDowntime(t *testing.T) {
	everyMinute, _ := parseSchedule("* * * * *")
	now := at("2026-12-03T09:00:30Z")
	got := decide(everyMinute, now.AddDate(-1, 0, 0), now, 0, false, false)
	if got.missed != maxMissed || !got.handled.Equal(now) || !got.start {
		t.Fatalf("got %+v; want the walk stopped at %d, one run now", got, maxMissed)
	}
}

func TestParseScheduleSaysHowToWriteOne(t *testing.T) {
	for _, ok := range []string{"*/5 * * * *", "0 14 * * 2", "@weekly", "*/10 * * * * *"} {
		if _, err := parseSchedule(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	_, err := parseSchedule("every tuesday")
	if err == nil || !strings.Contains(err.Error(), `use five fields such as "0 14 * * 2"`) {
		t.Fatalf("got %v", err)
	}
}
