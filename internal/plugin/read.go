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

package plugin

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"firescope.dev/firescope/api/v1alpha1"
)

func newStatusCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:               "status NAME",
		Short:             "Show one incident on one screen: state, roles, sitrep due, what is not OK, updates, links",
		Example:           "  kubectl incident status ec2-api-errors",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			_, inc, err := s.get(args[0])
			if err != nil {
				return err
			}
			list, err := s.client.Resource(statusUpdatesGVR).Namespace(s.ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			var updates []v1alpha1.StatusUpdate
			for _, u := range list.Items {
				su := v1alpha1.StatusUpdate{}
				if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &su) == nil && su.Spec.IncidentRef.Name == inc.Name {
					updates = append(updates, su)
				}
			}
			PrintStatus(s.Out, inc, updates, s.postmortem(inc), o.Now())
			return nil
		},
	}
}

// postmortem reads the incident's post-mortem: nil when it has none; one with only a name
// when it was deleted or cannot be read, which status says rather than failing.
func (s *session) postmortem(inc *v1alpha1.Incident) *v1alpha1.Postmortem {
	ref := inc.Status.Postmortem
	if ref == nil {
		return nil
	}
	pm := &v1alpha1.Postmortem{}
	pm.Name = ref.Name
	u, err := s.client.Resource(postmortemsGVR).Namespace(s.ns).Get(s.ctx, ref.Name, metav1.GetOptions{})
	if err == nil {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, pm)
	}
	return pm
}

// shownUpdates is how many of the latest status updates `status` shows.
const shownUpdates = 3

// PrintStatus writes the one-screen summary of an incident at time now; pm is its
// post-mortem, if it has one.
func PrintStatus(out io.Writer, inc *v1alpha1.Incident, updates []v1alpha1.StatusUpdate, pm *v1alpha1.Postmortem, now time.Time) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	drill := ""
	if inc.Spec.Drill {
		drill = "  [DRILL]"
	}
	fmt.Fprintf(w, "%s: %s%s\n", inc.Name, inc.Spec.Title, drill)
	st := inc.Status
	state := string(inc.Spec.State)
	if st.StateChangedAt != nil {
		state += ", since " + when(st.StateChangedAt.Time, now)
	}
	if st.OpenedAt != nil {
		state += "; declared " + when(st.OpenedAt.Time, now)
	}
	fmt.Fprintf(w, "State:\t%s\n", state)
	ic := orNobody(inc.Spec.Roles.Commander)
	if r := st.Recorded; r != nil && r.Roles.Commander == inc.Spec.Roles.Commander && r.Roles.CommanderSince != nil {
		ic += " (for " + duration.HumanDuration(now.Sub(r.Roles.CommanderSince.Time)) + ")"
	}
	fmt.Fprintf(w, "IC:\t%s\n", ic)
	fmt.Fprintf(w, "Comms:\t%s\n", orNobody(inc.Spec.Roles.Communications))
	for i, g := range inc.Spec.Roles.Operations {
		label := ""
		if i == 0 {
			label = "Operations:"
		}
		members := ""
		if len(g.Members) > 0 {
			names := make([]string, len(g.Members))
			for j, m := range g.Members {
				names[j] = string(m)
			}
			members = " with " + strings.Join(names, ", ")
		}
		fmt.Fprintf(w, "%s\t%s: %s%s\n", label, g.Name, orNobody(g.Supervisor), members)
	}
	fmt.Fprintf(w, "Sitrep:\t%s\n", sitrepLine(inc, now))
	if im := inc.Spec.Impact; im != nil {
		var parts []string
		if im.Description != "" {
			parts = append(parts, oneLine(im.Description, 100))
		}
		if im.CustomersAffected != nil {
			parts = append(parts, fmt.Sprintf("%d customers", *im.CustomersAffected))
		}
		if im.AppsAffected != nil {
			parts = append(parts, fmt.Sprintf("%d apps", *im.AppsAffected))
		}
		if len(im.Components) > 0 {
			parts = append(parts, "components: "+strings.Join(im.Components, ", "))
		}
		fmt.Fprintf(w, "Impact:\t%s\n", strings.Join(parts, "; "))
	} else if n, said := latestSitrepImpact(inc); n > 0 {
		fmt.Fprintf(w, "Impact:\t%s (sitrep %d)\n", oneLine(said, 100), n)
	} else {
		fmt.Fprintf(w, "Impact:\tnot described yet\n")
	}
	printHealth(w, inc, now)
	label := "Not OK:"
	for _, c := range st.Conditions {
		if c.Status == metav1.ConditionTrue {
			continue
		}
		fmt.Fprintf(w, "%s\t%s (%s): %s\n", label, c.Type, c.Reason, oneLine(c.Message, 120))
		label = ""
	}
	if label != "" {
		fmt.Fprintf(w, "Not OK:\tnothing\n")
	}
	slices.SortFunc(updates, func(a, b v1alpha1.StatusUpdate) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	if len(updates) == 0 {
		fmt.Fprintf(w, "Customers:\tno status update yet\n")
	} else {
		noun := "status updates"
		if len(updates) == 1 {
			noun = "status update"
		}
		fmt.Fprintf(w, "Customers:\t%d %s; latest:\n", len(updates), noun)
		for _, u := range updates[max(0, len(updates)-shownUpdates):] {
			published := "not published"
			for _, c := range u.Status.Conditions {
				if c.Type == v1alpha1.ConditionPublished {
					published = c.Reason
				}
			}
			fmt.Fprintf(w, "\t%s  %s  %s  %s\n", clock(u.CreationTimestamp.Time), u.Spec.Status, published, oneLine(u.Spec.Message, 70))
		}
	}
	if pm != nil {
		fmt.Fprintf(w, "Post-mortem:\t%s\n", postmortemLine(pm, now))
	}
	for i, l := range inc.Spec.Links {
		label := ""
		if i == 0 {
			label = "Links:"
		}
		fmt.Fprintf(w, "%s\t%s  %s\n", label, l.Name, l.URL)
	}
}

// postmortemLine says where the post-mortem stands: its state, owner and due date.
func postmortemLine(pm *v1alpha1.Postmortem, now time.Time) string {
	if pm.Spec.State == "" {
		return pm.Name + " (deleted, or not readable)"
	}
	owner := string(pm.Spec.Owner)
	if owner == "" {
		owner = "nobody yet"
		if p := pm.Status.ProposedOwner; p != "" {
			owner += " (" + string(p) + " proposed)"
		}
	}
	line := fmt.Sprintf("%s: %s, owner %s", pm.Name, pm.Spec.State, owner)
	switch due := pm.Spec.DueAt; {
	case due == nil || pm.Spec.State == v1alpha1.PostmortemPublished:
	case now.After(due.Time):
		line += fmt.Sprintf(", OVERDUE by %s", duration.HumanDuration(now.Sub(due.Time)))
	default:
		line += fmt.Sprintf(", due %s (in %s)", due.UTC().Format("2006-01-02 15:04 UTC"), duration.HumanDuration(due.Sub(now)))
	}
	return line
}

// posted says who really posted sitrep n, as the timeline records it from the webhook's
// signed record, when that is not the author it claims: " (posted by mallory)", or
// " (not verified)" when nobody can vouch for it. It says nothing until the sitrep is recorded.
func posted(inc *v1alpha1.Incident, n int, author v1alpha1.Person) string {
	prefix := fmt.Sprintf("Sitrep %d from ", n)
	for _, e := range inc.Status.Timeline {
		if e.Type != v1alpha1.TimelineSitrep || !strings.HasPrefix(e.Message, prefix) {
			continue
		}
		switch {
		case e.By == "" && author != "":
			return " (not verified)"
		case e.By != "" && e.By != string(author):
			return " (posted by " + e.By + ")"
		}
		return ""
	}
	return ""
}

// sitrepLine says how many sitreps there are, the last one, and when the next is due.
func sitrepLine(inc *v1alpha1.Incident, now time.Time) string {
	var b strings.Builder
	n := len(inc.Spec.Sitreps)
	if n == 0 {
		b.WriteString("none yet")
	} else {
		last := inc.Spec.Sitreps[n-1]
		fmt.Fprintf(&b, "%d posted, last", n)
		if last.At != nil {
			fmt.Fprintf(&b, " %s", when(last.At.Time, now))
		}
		fmt.Fprintf(&b, " by %s", orNobody(last.Author))
		b.WriteString(posted(inc, n, last.Author))
	}
	switch due := inc.Status.NextSitrepDueAt; {
	case inc.Spec.State == v1alpha1.StateResolved:
		b.WriteString("; none due (Resolved)")
	case due == nil:
		b.WriteString("; next due time not computed yet")
	case now.After(due.Time):
		fmt.Fprintf(&b, "; OVERDUE by %s (was due %s)", duration.HumanDuration(now.Sub(due.Time)), clock(due.Time))
	default:
		fmt.Fprintf(&b, "; next due %s (in %s)", clock(due.Time), duration.HumanDuration(due.Sub(now)))
	}
	return b.String()
}

// when is a time as "12:03 UTC (14m ago)".
func when(t, now time.Time) string {
	return fmt.Sprintf("%s (%s ago)", clock(t), duration.HumanDuration(now.Sub(t)))
}

func clock(t time.Time) string { return t.UTC().Format("15:04 UTC") }

// oneLine folds text onto one line and cuts it at n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// latestSitrepImpact returns the number and impact of the latest sitrep that states one.
func latestSitrepImpact(inc *v1alpha1.Incident) (int, string) {
	for n := len(inc.Spec.Sitreps); n > 0; n-- {
		if s := strings.TrimSpace(inc.Spec.Sitreps[n-1].Impact); s != "" {
			return n, s
		}
	}
	return 0, ""
}

func newTimelineCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:               "timeline NAME",
		Short:             "Show the incident's timeline: state changes, hand-offs, sitreps, status updates, and who made them",
		Example:           "  kubectl incident timeline ec2-api-errors",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			_, inc, err := s.get(args[0])
			if err != nil {
				return err
			}
			PrintTimeline(s.Out, inc)
			return nil
		},
	}
}

// PrintTimeline writes the timeline as a table, oldest first.
func PrintTimeline(out io.Writer, inc *v1alpha1.Incident) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "TIME\tTYPE\tBY\tMESSAGE")
	for _, e := range inc.Status.Timeline {
		by := e.By
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05Z"), e.Type, by, e.Message)
	}
}

func newListCommand(o *Options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List incidents, open and most severe first",
		Example: `  kubectl incident list
  kubectl incident list -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			ns := s.ns
			if all {
				ns = ""
			}
			list, err := s.client.Resource(incidentsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			var incs []v1alpha1.Incident
			for _, u := range list.Items {
				inc, err := toIncident(&u)
				if err != nil {
					return err
				}
				incs = append(incs, *inc)
			}
			if len(incs) == 0 {
				where := "in namespace " + s.ns
				if all {
					where = "in any namespace"
				}
				fmt.Fprintf(s.ErrOut, "No incidents %s.\n", where)
				return nil
			}
			PrintList(s.Out, incs, all, o.Now())
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the incidents of every namespace")
	return cmd
}

// severity orders states for the list: Major first, Resolved last.
var severity = map[v1alpha1.IncidentState]int{v1alpha1.StateMajor: 0, v1alpha1.StateConfirmed: 1, v1alpha1.StateInvestigating: 2, v1alpha1.StateResolved: 3}

// PrintList writes incidents as `kubectl get incidents` would, with the next sitrep's due
// time and the title, open and most severe first, newest first within a state.
func PrintList(out io.Writer, incs []v1alpha1.Incident, namespaces bool, now time.Time) {
	slices.SortFunc(incs, func(a, b v1alpha1.Incident) int {
		return cmp.Or(cmp.Compare(severity[a.Spec.State], severity[b.Spec.State]),
			b.CreationTimestamp.Compare(a.CreationTimestamp.Time), strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name))
	})
	w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	defer w.Flush()
	if namespaces {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "NAME\tSTATE\tIC\tCOMMS\tSITREP\tNEXT SITREP\tAGE\tTITLE")
	for _, inc := range incs {
		if namespaces {
			fmt.Fprintf(w, "%s\t", inc.Namespace)
		}
		sitrep, next := "Current", "-"
		switch due := inc.Status.NextSitrepDueAt; {
		case inc.Spec.State == v1alpha1.StateResolved:
			sitrep = v1alpha1.ReasonNotRequired
		case due == nil:
			sitrep = "-"
		case now.After(due.Time):
			sitrep, next = v1alpha1.ReasonOverdue, duration.HumanDuration(now.Sub(due.Time))+" ago"
		default:
			next = "in " + duration.HumanDuration(due.Sub(now))
		}
		title := inc.Spec.Title
		if inc.Spec.Drill {
			title = "[DRILL] " + title
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inc.Name, inc.Spec.State, dash(inc.Spec.Roles.Commander), dash(inc.Spec.Roles.Communications),
			sitrep, next, duration.HumanDuration(now.Sub(inc.CreationTimestamp.Time)), oneLine(title, 60))
	}
}

func dash(p v1alpha1.Person) string {
	if p == "" {
		return "<none>"
	}
	return string(p)
}
