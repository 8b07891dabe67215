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
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"

	"firescope.dev/firescope/api/v1alpha1"
)

var drillsGVR = schema.GroupVersionResource{Group: "firescope.dev", Version: "v1alpha1", Resource: "drills"}

func newDrillCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Start a Drill now, or see how its runs were graded",
	}
	cmd.AddCommand(newDrillStartCommand(o), newDrillReportCommand(o))
	return cmd
}

func newDrillStartCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "start NAME",
		Short:   "Start a run of the Drill now, whatever its schedule",
		Long:    "Asks for a one-off run by setting the firescope.dev/start-drill annotation to the current time.\nA run already under way refuses it: runs never overlap.",
		Example: "  kubectl incident drill start ec2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			token := o.Now().UTC().Format(time.RFC3339Nano)
			body := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationStartDrill, token)
			_, err = s.client.Resource(drillsGVR).Namespace(s.ns).Patch(ctx, args[0], types.MergePatchType, body, metav1.PatchOptions{FieldManager: FieldManager})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("drill %q not found in namespace %q: list them with `kubectl get drills`", args[0], s.ns)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Drill %s: start requested (%s). Follow it with `kubectl incident drill report %s`.\n", args[0], token, args[0])
			return nil
		},
	}
}

func newDrillReportCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "report NAME",
		Short:   "Show the Drill's run under way and its graded runs, each criterion with its evidence",
		Example: "  kubectl incident drill report ec2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			u, err := s.client.Resource(drillsGVR).Namespace(s.ns).Get(ctx, args[0], metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("drill %q not found in namespace %q: list them with `kubectl get drills`", args[0], s.ns)
			}
			if err != nil {
				return err
			}
			d := &v1alpha1.Drill{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
				return fmt.Errorf("reading drill %s: %w", args[0], err)
			}
			writeDrillReport(s.Out, d, o.Now())
			return nil
		},
	}
}

// writeDrillReport prints what a team needs after a drill: the latest run's grade with the
// evidence of each criterion, its injects, and the earlier grades.
func writeDrillReport(out io.Writer, d *v1alpha1.Drill, now time.Time) {
	st := d.Status
	fmt.Fprintf(out, "Drill %s/%s", d.Namespace, d.Name)
	switch {
	case d.Spec.Schedule == "":
		fmt.Fprint(out, ", on request only")
	case d.Spec.Suspend:
		fmt.Fprintf(out, ", schedule %q (suspended)", d.Spec.Schedule)
	case st.NextRunAt != nil:
		fmt.Fprintf(out, ", schedule %q, next run %s (in %s)", d.Spec.Schedule, st.NextRunAt.UTC().Format("2006-01-02 15:04:05 UTC"), duration.HumanDuration(st.NextRunAt.Sub(now)))
	default:
		fmt.Fprintf(out, ", schedule %q", d.Spec.Schedule)
	}
	fmt.Fprintf(out, "; IC %s, time limit %s\n", d.Spec.Commander, d.Spec.TimeLimit.Duration)
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.ConditionDrillReady && c.Status != metav1.ConditionTrue {
			fmt.Fprintf(out, "NOT READY (%s): %s\n", c.Reason, c.Message)
		}
	}
	if a := st.Active; a != nil {
		fmt.Fprintf(out, "\nUnder way: %s, started %s ago, ends in %s; %d injects played\n", a.Incident,
			duration.HumanDuration(now.Sub(a.StartedAt.Time)), duration.HumanDuration(a.EndsAt.Sub(now)), len(a.Injects))
		writeInjects(out, a.StartedAt.Time, a.Injects)
	}
	if len(st.Runs) == 0 {
		fmt.Fprintln(out, "\nNo graded run yet.")
		return
	}
	last := st.Runs[len(st.Runs)-1]
	fmt.Fprintf(out, "\nLatest run: %s, %s, ended %s after %s: grade %s\n", last.Incident, last.StartedAt.UTC().Format("2006-01-02 15:04 UTC"),
		last.EndReason, last.EndedAt.Sub(last.StartedAt.Time).Truncate(time.Second), last.Grade)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	var practise []string
	for _, c := range last.Criteria {
		mark := map[v1alpha1.CriterionResult]string{v1alpha1.CriterionPass: "PASS", v1alpha1.CriterionFail: "FAIL", v1alpha1.CriterionNotApplicable: "n/a"}[c.Result]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.Name, c.Evidence)
		if c.Result == v1alpha1.CriterionFail {
			practise = append(practise, c.Name)
		}
	}
	_ = tw.Flush()
	if len(practise) > 0 {
		fmt.Fprintf(out, "To practise next: %s\n", strings.Join(practise, ", "))
	}
	writeInjects(out, last.StartedAt.Time, last.Injects)
	if len(st.Runs) > 1 {
		fmt.Fprintln(out, "\nEarlier runs:")
		for i := len(st.Runs) - 2; i >= 0; i-- {
			r := st.Runs[i]
			fmt.Fprintf(out, "  %s  %s  %s  %s\n", r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), r.Grade, r.EndReason, r.Incident)
		}
	}
}

func writeInjects(out io.Writer, start time.Time, injects []v1alpha1.PlayedInject) {
	if len(injects) == 0 {
		return
	}
	fmt.Fprintln(out, "Injects:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, p := range injects {
		late := ""
		if d := p.PlayedAt.Sub(p.PlannedAt.Time); d >= time.Second {
			late = fmt.Sprintf(" (played %s late)", d.Truncate(time.Second))
		}
		fmt.Fprintf(tw, "  +%s\t%s\t%s%s\n", p.PlannedAt.Sub(start), p.Type, p.Message, late)
	}
	_ = tw.Flush()
}
