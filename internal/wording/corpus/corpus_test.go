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

package corpus

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"firescope.dev/firescope/internal/wording"
)

// TestCorpusIsWellFormed loads the committed corpus through every check Parse makes, and
// checks that it is large enough and that the split is near one third held out.
func TestCorpusIsWellFormed(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 200 {
		t.Errorf("%d entries, want at least 200", len(entries))
	}
	test := 0
	for _, e := range entries {
		if e.Set == SetTest {
			test++
		}
	}
	if share := float64(test) / float64(len(entries)); share < 0.25 || share > 0.42 {
		t.Errorf("held-out share %.2f (%d of %d), want about one third", share, test, len(entries))
	}
	// Every rule has labelled departures to be measured on.
	for _, r := range wording.Rules {
		n := 0
		for _, e := range entries {
			for _, w := range e.Want {
				if w == r {
					n++
				}
			}
		}
		if n == 0 {
			t.Errorf("no entry is labelled %s", r)
		}
	}
}

// TestSetOfIsStable pins the hash split: a change to SetOf would silently move entries
// between the tuning and the held-out set.
func TestSetOfIsStable(t *testing.T) {
	for msg, want := range map[string]string{
		"This incident has been resolved.":                              SetTest,
		"We are investigating reports of degraded performance.":         SetTune,
		"We are currently investigating this issue.":                    SetTune,
		"A fix has been implemented and we are monitoring the results.": SetTune,
	} {
		if got := SetOf(msg); got != want {
			t.Errorf("SetOf(%q) = %s, want %s", msg, got, want)
		}
	}
}

func TestParseRejectsBadEntries(t *testing.T) {
	const msg = "This incident has been resolved." // in the test set
	line := func(set, status, want, message, source string) string {
		return `{"set":"` + set + `","status":"` + status + `","want":[` + want + `],"message":"` + message + `","source":"` + source + `","batch":1}`
	}
	ok := line(SetTest, "investigating", `"missing-what-is-broken"`, msg, "https://status.example.com/i/1")
	if _, err := Parse([]byte(ok + "\n")); err != nil {
		t.Fatalf("a good entry was refused: %v", err)
	}
	for name, tc := range map[string]struct{ input, wantErr string }{
		"wrong set for the hash": {line(SetTune, "investigating", "", msg, "https://x"), `hash puts it in "test"`},
		"unknown set":            {line("train", "investigating", "", msg, "https://x"), `hash puts it in "test"`},
		"unknown status":         {line(SetTest, "degraded", "", msg, "https://x"), "status"},
		"unknown rule":           {line(SetTest, "investigating", `"vague"`, msg, "https://x"), `unknown rule "vague"`},
		"rule out of order": {line(SetTest, "investigating", `"blame","explicit-eta"`, msg, "https://x"),
			"out of the order"},
		"rule repeated": {line(SetTest, "investigating", `"blame","blame"`, msg, "https://x"), "repeated"},
		"rule that does not apply to the status": {line(SetTest, "resolved", `"missing-what-is-being-done"`, msg, "https://x"),
			"does not apply"},
		"no source":            {line(SetTest, "investigating", "", msg, ""), "not an http(s) address"},
		"empty message":        {line(SetTune, "investigating", "", "", "https://x"), "empty message"},
		"unknown field":        {`{"set":"test","status":"investigating","want":[],"message":"` + msg + `","source":"https://x","batch":1,"note":"x"}`, "unknown field"},
		"no batch":             {`{"set":"test","status":"investigating","want":[],"message":"` + msg + `","source":"https://x"}`, "batch 0"},
		"duplicate":            {ok + "\n" + ok, "same message as line 1"},
		"not JSON":             {"set: test", "line 1"},
		"empty component name": {withComponents(ok, `"API",""`), "component 2 has no name"},
		"blank component name": {withComponents(ok, `"  "`), "component 1 has no name"},
		"component twice":      {withComponents(ok, `"API","Webhooks","API"`), `component "API" listed twice`},
		"component name over 100 characters": {withComponents(ok, `"`+strings.Repeat("é", 101)+`"`),
			"101 characters, more than 100"},
		"more than 50 components": {withComponents(ok, componentItems(componentNames(51))), "51 components"},
		"components not a list":   {strings.TrimSuffix(ok, "}") + `,"components":"API"}`, "line 1"},
	} {
		_, err := Parse([]byte(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, tc.wantErr)
		}
	}
}

// TestParseTakesComponentsWithinTheAPIBounds is the other side of the bounds above: as many
// components and as long a name as a StatusUpdate may hold are taken, in their order.
func TestParseTakesComponentsWithinTheAPIBounds(t *testing.T) {
	const ok = `{"set":"test","status":"investigating","want":[],"message":"This incident has been resolved.","source":"https://x","batch":1}`
	long := strings.Repeat("é", 100) // 100 characters, 200 bytes
	for name, want := range map[string][]string{
		"grouped and not": {"Hosted Pages / HTTP Pages", "API"},
		"longest name":    {long},
		"most components": componentNames(50),
	} {
		entries, err := Parse([]byte(withComponents(ok, componentItems(want))))
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
			continue
		}
		if got := entries[0].Components; !slices.Equal(got, want) {
			t.Errorf("%s: components %q, want %q", name, got, want)
		}
	}
	entries, err := Parse([]byte(ok))
	if err != nil {
		t.Fatalf("an entry without components was refused: %v", err)
	}
	if entries[0].Components != nil {
		t.Errorf("an entry without components got %q", entries[0].Components)
	}
}

// withComponents adds a components list (its JSON items) to an entry's line.
func withComponents(line, items string) string {
	return strings.TrimSuffix(line, "}") + `,"components":[` + items + `]}`
}

// componentItems is names as JSON list items.
func componentItems(names []string) string {
	b, _ := json.Marshal(names)
	return strings.Trim(string(b), "[]")
}

// componentNames is n distinct component names.
func componentNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("Component %d", i+1)
	}
	return names
}

func TestScoreCountsOnlyWhereARuleApplies(t *testing.T) {
	entries := []Entry{
		{Set: SetTune, Status: "investigating", Want: []string{wording.RuleBlame, wording.RulePresumedRootCause}},
		{Set: SetTune, Status: "resolved", Want: nil},
		{Set: SetTest, Status: "investigating", Want: []string{wording.RuleBlame}},
	}
	// The fake checker reports blame and a missing workaround everywhere.
	got := Score(entries, SetTune, func(Entry) []string {
		return []string{wording.RuleMissingWhatCustomersCanDo, wording.RuleBlame}
	})
	want := map[string]Counts{
		wording.RuleBlame:                     {TP: 1, FP: 1},
		wording.RulePresumedRootCause:         {FN: 1}, // resolved is not judged by it
		wording.RuleMissingWhatCustomersCanDo: {FP: 1}, // nor by can-do
		wording.RuleMissingWhatIsBeingDone:    {TN: 1},
		wording.RuleMissingWhatIsBroken:       {TN: 2},
		wording.RuleExplicitETA:               {TN: 2},
	}
	for r, w := range want {
		if got[r] != w {
			t.Errorf("%s: %+v, want %+v", r, got[r], w)
		}
	}
	if p, ok := got[wording.RuleBlame].Precision(); !ok || p != 0.5 {
		t.Errorf("blame precision = %v, %v; want 0.5", p, ok)
	}
	if _, ok := got[wording.RuleMissingWhatIsBeingDone].Precision(); ok {
		t.Error("precision with no findings must be undefined")
	}
	if r, ok := got[wording.RulePresumedRootCause].Recall(); !ok || r != 0 {
		t.Errorf("cause recall = %v, %v; want 0", r, ok)
	}
}
