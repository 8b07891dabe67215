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
	"bufio"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"firescope.dev/firescope/api/v1alpha1"
)

var (
	updateStatuses    = []string{"investigating", "identified", "monitoring", "resolved"}
	componentStatuses = []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
)

// ParseComponents reads --component values: NAME=STATUS.
func ParseComponents(values []string) ([]any, error) {
	var out []any
	for _, v := range values {
		// Component names may hold "=" less often than spaces: split at the last one.
		i := strings.LastIndex(v, "=")
		if i <= 0 || i == len(v)-1 {
			return nil, fmt.Errorf("--component %q: want NAME=STATUS, such as --component \"PX dynos=partial_outage\"", v)
		}
		out = append(out, map[string]any{"name": v[:i], "status": v[i+1:]})
	}
	return out, nil
}

func newUpdateCommand(o *Options) *cobra.Command {
	var (
		w               writeFlags
		status, message string
		components      []string
		yes             bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME --status STATUS --message TEXT",
		Short: "Tell customers: create a StatusUpdate for the status page",
		Long: `Create a StatusUpdate: one customer-facing update of the incident, published to the
status page of its ResponsePolicy.

It first sends the update as a server-side dry run, so that the admission webhook's
wording warnings (no ETA, no presumed root cause, no blame) are shown before anything is
published, then asks for confirmation when run at a terminal; --yes does not ask. Without
a terminal (a script, a pipe) it publishes after printing the warnings.`,
		Example: `  kubectl incident update ec2-api-errors --status identified \
    --message "Creating Postgres databases is failing. We are restoring provisioning. Running apps are not affected." \
    --component "Postgres provisioning=partial_outage"`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			if status == "" || message == "" {
				return fmt.Errorf("--status and --message are required")
			}
			comps, err := ParseComponents(components)
			if err != nil {
				return err
			}
			name := args[0]
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			_, inc, err := s.get(name)
			if err != nil {
				return err
			}
			updates := s.client.Resource(statusUpdatesGVR).Namespace(s.ns)
			list, err := updates.List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			spec := map[string]any{"incidentRef": map[string]any{"name": name}, "status": status, "message": message}
			if len(comps) > 0 {
				spec["components"] = comps
			}
			su := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": v1alpha1.GroupVersion.String(),
				"kind":       "StatusUpdate",
				"metadata":   map[string]any{"name": nextUpdateName(name, list.Items), "namespace": s.ns},
				"spec":       spec,
			}}
			if w.dryRun == dryRunClient {
				out, err := yaml.Marshal(su.Object)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s", out)
				return nil
			}
			// An update is a new fact: it is created, never applied, so that two people
			// posting at the same moment never overwrite each other's message.
			create := func(ctx context.Context, dryRun bool) (*unstructured.Unstructured, error) {
				opts := metav1.CreateOptions{FieldManager: FieldManager}
				if dryRun {
					opts.DryRun = []string{metav1.DryRunAll}
				}
				for range 5 {
					created, err := updates.Create(ctx, su, opts)
					if !apierrors.IsAlreadyExists(err) {
						return created, err
					}
					su.SetName(bumpName(su.GetName()))
				}
				return nil, fmt.Errorf("could not find a free name for the status update after %s", su.GetName())
			}
			if _, err := create(ctx, true); err != nil {
				s.printWarnings()
				return err
			}
			warnings := s.warnings.take()
			for _, m := range warnings {
				fmt.Fprintln(s.ErrOut, "Warning:", m)
			}
			if w.dryRun == dryRunServer {
				fmt.Fprintf(s.Out, "statusupdate.firescope.dev/%s created%s\n", su.GetName(), w.suffix())
				return nil
			}
			if !yes && o.IsTerminal(o.In) {
				ok, err := o.ask(fmt.Sprintf("Publish to customers (%s): %q? [y/N] ", status, message))
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(s.ErrOut, "Not published.")
					return nil
				}
			}
			// The person may have read the warnings for a while: the API calls get a fresh
			// deadline, the time spent answering does not count against it.
			ctx, cancel = o.context(cmd)
			defer cancel()
			created, err := create(ctx, false)
			for _, m := range s.warnings.take() {
				if !slices.Contains(warnings, m) {
					fmt.Fprintln(s.ErrOut, "Warning:", m)
				}
			}
			if err != nil {
				return err
			}
			where := "published to customers once the status page takes it"
			if inc.Spec.Drill {
				where = "a drill: published only to a status page that allows drills"
			}
			fmt.Fprintf(s.Out, "statusupdate.firescope.dev/%s created (%s)\n", created.GetName(), where)
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "investigating, identified, monitoring or resolved")
	cmd.Flags().StringVar(&message, "message", "", "what customers read: what is broken, what is being done, what they can do")
	cmd.Flags().StringArrayVar(&components, "component", nil, "NAME=STATUS of an affected component (repeatable)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "publish without asking")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(updateStatuses, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("component", func(_ *cobra.Command, _ []string, typed string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if i := strings.LastIndex(typed, "="); i >= 0 {
			var out []cobra.Completion
			for _, st := range componentStatuses {
				out = append(out, typed[:i+1]+st)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	})
	// Updates are created, never applied: there is no field to take over.
	w.add(cmd)
	_ = cmd.Flags().MarkHidden("force-conflicts")
	return cmd
}

var numbered = regexp.MustCompile(`-(\d+)$`)

// nextUpdateName is the incident's name with the next number after those of its updates:
// ec2-api-errors-1, ec2-api-errors-2, ...
func nextUpdateName(incident string, existing []unstructured.Unstructured) string {
	n := 0
	for _, u := range existing {
		rest, ok := strings.CutPrefix(u.GetName(), incident+"-")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(rest); err == nil && i > n {
			n = i
		}
	}
	return fmt.Sprintf("%s-%d", incident, n+1)
}

func bumpName(name string) string {
	m := numbered.FindStringSubmatch(name)
	if m == nil {
		return name + "-2"
	}
	i, _ := strconv.Atoi(m[1])
	return strings.TrimSuffix(name, m[0]) + "-" + strconv.Itoa(i+1)
}

// ask asks a yes/no question on the terminal.
func (o *Options) ask(question string) (bool, error) {
	fmt.Fprint(o.ErrOut, question)
	line, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
