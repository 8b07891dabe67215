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

// Package corpus is what the wording checker is measured against: real updates from public
// status pages, each labelled by hand with the findings the guidelines call for, split by a
// hash of the message into a tuning set (two thirds) and a held-out test set (one third).
// Rules are changed by looking at the tuning set only; the test set is read for its figures.
// Entries come in batches: the held-out part of batch 1 was counted while the rules were
// tuned, so each later batch gives a held-out set whose figures no tuning has seen.
//
// The labels follow docs/statusupdates.md ("How the wording checker is measured"), not the
// checker's own patterns.
package corpus

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"unicode/utf8"

	"firescope.dev/firescope/internal/wording"
)

//go:embed testdata/corpus.jsonl
var corpusJSONL []byte

// The two sets.
const (
	SetTune = "tune"
	SetTest = "test"
)

// statuses are the statuses an entry may carry: the four of the StatusUpdate API.
var statuses = []string{"investigating", "identified", "monitoring", "resolved"}

// The StatusUpdate API's bounds on spec.components, which an entry's components keep to.
const (
	maxComponents    = 50
	maxComponentName = 100 // characters
)

// Entry is one status-page update with the findings it should get.
type Entry struct {
	// Set is SetTune or SetTest, always SetOf(Message).
	Set string `json:"set"`
	// Status is the update's status as the page labelled it.
	Status string `json:"status"`
	// StatusInferred is set when the page shows no status and it was read from the text.
	StatusInferred bool `json:"statusInferred,omitempty"`
	// Want lists the rules the message breaks, in the order of wording.Rules.
	Want []string `json:"want"`
	// Message is the update's text as published.
	Message string `json:"message"`
	// Source is where the update was published or quoted.
	Source string `json:"source"`
	// Batch is the collection the entry came in, from 1; entries of a later batch were
	// labelled before the checker was run on them.
	Batch int `json:"batch"`
	// Components are the status-page components the update's incident marked, by name, when
	// the source records them: what a StatusUpdate's spec.components would hold. A component
	// in a group is named "Group / Component", as the page shows it under the group.
	Components []string `json:"components,omitempty"`
}

// SetOf returns the set a message belongs to: test when the FNV-1a hash of its text is
// divisible by three. The split depends on nothing but the text, so adding entries never
// moves an old one.
func SetOf(message string) string {
	h := fnv.New64a()
	h.Write([]byte(message))
	if h.Sum64()%3 == 0 {
		return SetTest
	}
	return SetTune
}

// Entries returns the corpus.
func Entries() ([]Entry, error) { return Parse(corpusJSONL) }

// Parse reads one JSON entry per line and checks each: known fields only, a valid set that
// matches the message's hash, a known status, known rules that apply to that status, listed
// once each in rule order, a non-empty message the checker reads whole, a batch, an http(s)
// source, components a StatusUpdate could hold, and no message twice.
func Parse(b []byte) ([]Entry, error) {
	var out []Entry
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 2*wording.MaxCheckedBytes)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, dup := seen[e.Message]; dup {
			return nil, fmt.Errorf("line %d: the same message as line %d", n, first)
		}
		seen[e.Message] = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (e Entry) validate() error {
	if !slices.Contains(statuses, e.Status) {
		return fmt.Errorf("status %q is not one of %v", e.Status, statuses)
	}
	if strings.TrimSpace(e.Message) == "" {
		return fmt.Errorf("empty message")
	}
	if len(e.Message) > wording.MaxCheckedBytes {
		return fmt.Errorf("message of %d bytes is longer than the checker reads (%d)", len(e.Message), wording.MaxCheckedBytes)
	}
	if want := SetOf(e.Message); e.Set != want {
		return fmt.Errorf("set is %q, but the message's hash puts it in %q", e.Set, want)
	}
	if e.Batch < 1 {
		return fmt.Errorf("batch %d: want 1 or more", e.Batch)
	}
	if !strings.HasPrefix(e.Source, "https://") && !strings.HasPrefix(e.Source, "http://") {
		return fmt.Errorf("source %q is not an http(s) address", e.Source)
	}
	last := -1
	for _, r := range e.Want {
		i := slices.Index(wording.Rules, r)
		if i < 0 {
			return fmt.Errorf("unknown rule %q", r)
		}
		if i <= last {
			return fmt.Errorf("rule %q repeated or out of the order of wording.Rules", r)
		}
		last = i
		if !wording.Applies(r, e.Status) {
			return fmt.Errorf("rule %q does not apply to status %q", r, e.Status)
		}
	}
	return validComponents(e.Components)
}

// validComponents checks names as the StatusUpdate API would: at most maxComponents, each
// 1 to maxComponentName characters and not blank, none twice.
func validComponents(names []string) error {
	if len(names) > maxComponents {
		return fmt.Errorf("%d components: a status update holds at most %d", len(names), maxComponents)
	}
	for i, n := range names {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("component %d has no name", i+1)
		}
		if c := utf8.RuneCountInString(n); c > maxComponentName {
			return fmt.Errorf("component %q has %d characters, more than %d", n, c, maxComponentName)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("component %q listed twice", n)
		}
	}
	return nil
}

// Counts is how a rule's findings compare with the labels, over the entries it applies to.
type Counts struct {
	TP, FP, FN, TN int
}

// Precision is the share of findings that the labels call for; ok is false with no findings.
func (c Counts) Precision() (p float64, ok bool) {
	if c.TP+c.FP == 0 {
		return 0, false
	}
	return float64(c.TP) / float64(c.TP+c.FP), true
}

// Recall is the share of labelled departures that got a finding; ok is false with none.
func (c Counts) Recall() (r float64, ok bool) {
	if c.TP+c.FN == 0 {
		return 0, false
	}
	return float64(c.TP) / float64(c.TP+c.FN), true
}

// Score compares got (the rules a checker reports for an entry) with the labels of the
// entries in set, per rule, counting only entries of a status the rule applies to.
func Score(entries []Entry, set string, got func(Entry) []string) map[string]Counts {
	out := map[string]Counts{}
	for _, e := range entries {
		if e.Set != set {
			continue
		}
		reported := got(e)
		for _, r := range wording.Rules {
			if !wording.Applies(r, e.Status) {
				continue
			}
			c := out[r]
			switch want, have := slices.Contains(e.Want, r), slices.Contains(reported, r); {
			case want && have:
				c.TP++
			case have:
				c.FP++
			case want:
				c.FN++
			default:
				c.TN++
			}
			out[r] = c
		}
	}
	return out
}

// Rules returns the rules a checker's findings name, for Score.
func Rules(fs []wording.Finding) []string {
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		ids = append(ids, f.Rule)
	}
	return ids
}
