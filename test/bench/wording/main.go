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

// Command wording measures the wording checker against the labelled corpus of public
// status-page updates (internal/wording/corpus), given each update's components where the
// corpus records them: per rule and per set, how many of its findings the labels call for
// (precision) and how many labelled departures it finds (recall). With -errors it lists the
// tuning set's disagreements, to work on; the held-out set is only ever counted, so that its
// figures stay an honest estimate. The held-out set is also scored per batch: a batch
// collected after the rules were tuned is the one whose held-out figures no tuning has seen.
//
// The newest batch is collected after the last rule change and never tuned on: its tuning
// part is left out of the tuning set and of -errors, and it is scored whole, as its own rows.
// -newest names that batch when it is not the highest: -newest 9 while batch 9 is being
// collected lets a round tune on batch 8's tuning part, which has been counted.
// With -tuning only the tuning set is scored, which is all a round of rule changes may read.
//
// -save writes the rules every message gets to a file, and -before reads such a file written
// by other rules (an earlier commit's) and prints their figures next to the current ones.
//
// It also prints what a check costs: the mean time per message over every corpus message,
// checked -passes times (0 skips it).
//
//	go run ./test/bench/wording
//	go run ./test/bench/wording -tuning -errors
//	go run ./test/bench/wording -passes 10
//	go run ./test/bench/wording -save before.json   # with the earlier rules
//	go run ./test/bench/wording -before before.json
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"firescope.dev/firescope/internal/wording"
	"firescope.dev/firescope/internal/wording/corpus"
)

func main() {
	errors := flag.Bool("errors", false, "list the tuning set's false and missed findings")
	tuning := flag.Bool("tuning", false, "score the tuning set only, leaving every held-out figure unread")
	passes := flag.Int("passes", 5, "how many times every message is checked to time the checker")
	save := flag.String("save", "", "write the rules each message gets to this file")
	before := flag.String("before", "", "a file written by -save with other rules, to print their figures next to these")
	newest := flag.Int("newest", 0, "the batch never tuned on (default the highest); one above the highest while the next is being collected")
	flag.Parse()
	if err := run(options{*errors, *tuning, *passes, *save, *before, *newest}); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	errors, tuning bool
	passes         int
	save, before   string
	newest         int
}

// checker returns the rules a message gets.
type checker func(corpus.Entry) []string

// check gives Check the entry's components too, as the StatusUpdate controller gives it the
// update's.
func check(e corpus.Entry) []string {
	return corpus.Rules(wording.Check(e.Status, e.Message, e.Components...))
}

// saved returns a checker that answers from a file written by -save: one JSON object from
// message to the rules it got.
func saved(path string, entries []corpus.Entry) (checker, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	got := map[string][]string{}
	if err := json.Unmarshal(b, &got); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range entries {
		if _, ok := got[e.Message]; !ok {
			return nil, fmt.Errorf("%s has no findings for %q: write it with -save on the same corpus", path, e.Message)
		}
	}
	return func(e corpus.Entry) []string { return got[e.Message] }, nil
}

func writeSaved(path string, entries []corpus.Entry) error {
	got := map[string][]string{}
	for _, e := range entries {
		got[e.Message] = check(e)
	}
	b, err := json.MarshalIndent(got, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func run(o options) error {
	entries, err := corpus.Entries()
	if err != nil {
		return err
	}
	if o.save != "" {
		return writeSaved(o.save, entries)
	}
	checkers := []checker{check}
	if o.before != "" {
		old, err := saved(o.before, entries)
		if err != nil {
			return err
		}
		checkers = []checker{old, check}
	}
	sources := map[string]bool{}
	batches := map[int][]corpus.Entry{}
	withComponents := 0
	for _, e := range entries {
		sources[e.Source] = true
		batches[e.Batch] = append(batches[e.Batch], e)
		if len(e.Components) > 0 {
			withComponents++
		}
	}
	ids := slices.Sorted(maps.Keys(batches))
	newest := cmp.Or(o.newest, ids[len(ids)-1])
	if newest < ids[len(ids)-1] {
		return fmt.Errorf("-newest %d: batch %d is newer, and was collected after batch %d's figures", newest, ids[len(ids)-1], newest)
	}
	// The tuning set is the tuning part of every batch but the newest.
	var tunable []corpus.Entry
	for _, e := range entries {
		if e.Batch != newest {
			tunable = append(tunable, e)
		}
	}
	fmt.Printf("corpus: %d status-page updates from %d sources; of every batch but %d, tuning set %d and held-out set %d\n",
		len(entries), len(sources), newest, count(tunable, corpus.SetTune), count(tunable, corpus.SetTest))
	for _, b := range ids {
		note := ""
		if b == newest {
			note = ", never tuned on: scored whole"
		}
		fmt.Printf("batch %d: %d updates, %d held out%s\n", b, len(batches[b]), count(batches[b], corpus.SetTest), note)
	}
	fmt.Printf("components: %d of the %d updates carry their update's components, which Check is given\n", withComponents, len(entries))
	fmt.Println()

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	head(w, "set\trule", len(checkers))
	table(w, "tune", tunable, corpus.SetTune, checkers)
	if !o.tuning {
		table(w, fmt.Sprintf("batch %d, whole", newest), batches[newest], "", checkers)
		table(w, fmt.Sprintf("test, all but batch %d", newest), tunable, corpus.SetTest, checkers)
		for _, b := range ids {
			table(w, fmt.Sprintf("test, batch %d", b), batches[b], corpus.SetTest, checkers)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !o.tuning {
		// A batch's tuning part is new to the rules until a round tunes on it, so both
		// parts of a batch added after the last rule change estimate the rules as they are.
		fmt.Println()
		w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		head(w, "batch\tpart", len(checkers))
		for _, b := range ids {
			for _, set := range []string{corpus.SetTune, corpus.SetTest, ""} {
				part := set
				if set == "" {
					part = "whole"
				}
				rowOf(w, fmt.Sprintf("batch %d", b), part, batches[b], set, checkers, nil)
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	cost(entries, o.passes)
	if o.errors {
		printErrors(tunable)
	}
	return nil
}

func count(entries []corpus.Entry, set string) int {
	n := 0
	for _, e := range entries {
		if e.Set == set {
			n++
		}
	}
	return n
}

// score is corpus.Score over the entries of set, or over all of them when set is "".
func score(entries []corpus.Entry, set string, got checker) map[string]corpus.Counts {
	if set != "" {
		return corpus.Score(entries, set, got)
	}
	all := corpus.Score(entries, corpus.SetTune, got)
	for r, c := range corpus.Score(entries, corpus.SetTest, got) {
		a := all[r]
		all[r] = corpus.Counts{TP: a.TP + c.TP, FP: a.FP + c.FP, FN: a.FN + c.FN, TN: a.TN + c.TN}
	}
	return all
}

// cost prints the mean wall and CPU time of one Check over the corpus messages, checked
// passes times. The CPU time is the process's own (user and system), which a machine shared
// with other work disturbs less than the wall time.
func cost(entries []corpus.Entry, passes int) {
	if passes < 1 || len(entries) == 0 {
		return
	}
	bytes := 0
	for _, e := range entries {
		bytes += len(e.Message)
	}
	cpu0, cpuOK := cpuTime()
	start := time.Now()
	for range passes {
		for _, e := range entries {
			wording.Check(e.Status, e.Message, e.Components...)
		}
	}
	wall := time.Since(start)
	cpu1, cpuOK1 := cpuTime()
	checks := passes * len(entries)
	per := func(d time.Duration) time.Duration { return (d / time.Duration(checks)).Round(time.Microsecond) }
	fmt.Printf("\ncost: %d checks of messages averaging %d bytes: %v wall", checks, bytes/len(entries), per(wall))
	if cpuOK && cpuOK1 {
		fmt.Printf(", %v CPU", per(cpu1-cpu0))
	}
	fmt.Println(" per message")
}

// cpuTime is the user and system time the process has used so far; ok is false when the
// system does not say.
func cpuTime() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

func head(w *tabwriter.Writer, first string, checkers int) {
	cols := "\tjudged\tlabelled\tTP\tFP\tFN\tprecision\trecall\t"
	if checkers > 1 {
		cols = "\tjudged\tlabelled\tbefore TP\tFP\tFN\tprecision\trecall\tnow TP\tFP\tFN\tprecision\trecall\t"
	}
	fmt.Fprintln(w, first+cols)
}

// table writes one row per rule and one for all rules, over the entries of set.
func table(w *tabwriter.Writer, name string, entries []corpus.Entry, set string, checkers []checker) {
	for _, r := range wording.Rules {
		rowOf(w, name, r, entries, set, checkers, func(m map[string]corpus.Counts) corpus.Counts { return m[r] })
	}
	rowOf(w, name, "all rules", entries, set, checkers, nil)
}

// rowOf writes the counts of every checker over the entries of set, for one rule (pick) or
// for all rules (pick nil).
func rowOf(w *tabwriter.Writer, name, rule string, entries []corpus.Entry, set string, checkers []checker, pick func(map[string]corpus.Counts) corpus.Counts) {
	if pick == nil {
		pick = allRules
	}
	fmt.Fprintf(w, "%s\t%s", name, rule)
	for i, got := range checkers {
		c := pick(score(entries, set, got))
		if i == 0 {
			fmt.Fprintf(w, "\t%d\t%d", c.TP+c.FP+c.FN+c.TN, c.TP+c.FN)
		}
		fmt.Fprintf(w, "\t%d\t%d\t%d\t%s\t%s", c.TP, c.FP, c.FN, ratio(c.Precision()), ratio(c.Recall()))
	}
	fmt.Fprintln(w, "\t")
}

// allRules adds up the counts of every rule.
func allRules(scores map[string]corpus.Counts) corpus.Counts {
	var all corpus.Counts
	for _, c := range scores {
		all.TP, all.FP, all.FN, all.TN = all.TP+c.TP, all.FP+c.FP, all.FN+c.FN, all.TN+c.TN
	}
	return all
}

func ratio(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// printErrors lists, for the tuning set only, each entry whose findings differ from its
// labels.
func printErrors(entries []corpus.Entry) {
	fmt.Println()
	for _, e := range entries {
		if e.Set != corpus.SetTune {
			continue
		}
		got := check(e)
		var diff []string
		for _, r := range wording.Rules {
			switch want, have := slices.Contains(e.Want, r), slices.Contains(got, r); {
			case have && !want:
				diff = append(diff, "+"+r)
			case want && !have:
				diff = append(diff, "-"+r)
			}
		}
		if len(diff) > 0 {
			fmt.Printf("%s [%s] %s\n  %q\n", e.Status, strings.Join(diff, " "), e.Source, e.Message)
		}
	}
}
