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
// status-page updates (internal/wording/corpus): per rule and per set, how many of its
// findings the labels call for (precision) and how many labelled departures it finds
// (recall). With -errors it lists the tuning set's disagreements, to work on; the held-out
// set is only ever counted, so that its figures stay an honest estimate. The held-out set is
// also scored per batch: a batch collected after the rules were tuned is the one whose
// held-out figures no tuning has seen.
//
// It also prints what a check costs: the mean time per message over every corpus message,
// checked -passes times (0 skips it).
//
//	go run ./test/bench/wording
//	go run ./test/bench/wording -errors
//	go run ./test/bench/wording -passes 10
package main

import (
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
	passes := flag.Int("passes", 5, "how many times every message is checked to time the checker")
	flag.Parse()
	if err := run(*errors, *passes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func check(e corpus.Entry) []string { return corpus.Rules(wording.Check(e.Status, e.Message)) }

func run(listErrors bool, passes int) error {
	entries, err := corpus.Entries()
	if err != nil {
		return err
	}
	sources := map[string]bool{}
	perSet := map[string]int{}
	batches := map[int][]corpus.Entry{}
	for _, e := range entries {
		sources[e.Source] = true
		perSet[e.Set]++
		batches[e.Batch] = append(batches[e.Batch], e)
	}
	fmt.Printf("corpus: %d status-page updates from %d sources; tuning set %d, held-out set %d\n",
		len(entries), len(sources), perSet[corpus.SetTune], perSet[corpus.SetTest])
	ids := slices.Sorted(maps.Keys(batches))
	for _, b := range ids {
		n := 0
		for _, e := range batches[b] {
			if e.Set == corpus.SetTest {
				n++
			}
		}
		fmt.Printf("batch %d: %d updates, %d held out\n", b, len(batches[b]), n)
	}
	fmt.Println()

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "set\trule\tjudged\tlabelled\tTP\tFP\tFN\tprecision\trecall\t")
	table(w, "tune", entries, corpus.SetTune)
	table(w, "test", entries, corpus.SetTest)
	for _, b := range ids {
		table(w, fmt.Sprintf("test, batch %d", b), batches[b], corpus.SetTest)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// A batch's tuning part is new to the rules until a round tunes on it, so both parts
	// of a batch added after the last rule change estimate the rules as they are.
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "batch\tpart\tjudged\tlabelled\tTP\tFP\tFN\tprecision\trecall\t")
	for _, b := range ids {
		for _, set := range []string{corpus.SetTune, corpus.SetTest} {
			row(w, fmt.Sprintf("batch %d", b), set, allRules(corpus.Score(batches[b], set, check)))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	cost(entries, passes)
	if listErrors {
		printErrors(entries)
	}
	return nil
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
			wording.Check(e.Status, e.Message)
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

// table writes one row per rule and one for all rules, over the entries of set.
func table(w *tabwriter.Writer, name string, entries []corpus.Entry, set string) {
	scores := corpus.Score(entries, set, check)
	for _, r := range wording.Rules {
		row(w, name, r, scores[r])
	}
	row(w, name, "all rules", allRules(scores))
}

// allRules adds up the counts of every rule.
func allRules(scores map[string]corpus.Counts) corpus.Counts {
	var all corpus.Counts
	for _, c := range scores {
		all.TP, all.FP, all.FN, all.TN = all.TP+c.TP, all.FP+c.FP, all.FN+c.FN, all.TN+c.TN
	}
	return all
}

func row(w *tabwriter.Writer, set, rule string, c corpus.Counts) {
	fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", set, rule, c.TP+c.FP+c.FN+c.TN, c.TP+c.FN,
		c.TP, c.FP, c.FN, ratio(c.Precision()), ratio(c.Recall()))
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
