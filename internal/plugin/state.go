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
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"firescope.dev/firescope/api/v1alpha1"
)

func newDeclareCommand(o *Options) *cobra.Command {
	var (
		w               writeFlags
		state, ic, name string
		drill           bool
	)
	cmd := &cobra.Command{
		Use:   "declare TITLE",
		Short: "Declare an incident; you are its Incident Commander unless --ic names another",
		Long: `Declare an incident. The title may be quoted or not. The name is derived from the title
("EC2 API errors" is ec2-api-errors) unless --name gives one.

Without --ic the admission webhook makes you, the person declaring, the Incident Commander.`,
		Example: `  kubectl incident declare EC2 API errors
  kubectl incident declare "Postgres provisioning failing" --state Major --ic ricardo
  kubectl incident declare "Failover drill" --drill --name drill-0412`,
		Args: cobra.MinimumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			st, err := ParseState(state)
			if err != nil {
				return err
			}
			title := strings.Join(args, " ")
			if name == "" {
				name = NameFromTitle(title, o.Now())
			}
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			spec := map[string]any{"title": title, "state": string(st)}
			if ic != "" {
				spec["roles"] = map[string]any{"commander": ic}
			}
			if drill {
				spec["drill"] = true
			}
			// Declaring is creating: an incident of the same name is never changed.
			inc, err := s.create(applyBody(s.ns, name, "", spec), &w)
			if apierrors.IsAlreadyExists(err) {
				if _, existing, gerr := s.get(name); gerr == nil {
					return fmt.Errorf("incident %q already exists in namespace %q (%s, IC %s: %q): see `kubectl incident status %s`, or declare with --name",
						name, s.ns, existing.Spec.State, orNobody(existing.Spec.Roles.Commander), existing.Spec.Title, name)
				}
			}
			if err != nil {
				return err
			}
			what := ""
			if inc.Spec.Drill {
				what = " [DRILL]"
			}
			if w.dryRun == dryRunClient {
				fmt.Fprintf(s.Out, "incident.firescope.dev/%s declared%s%s\n", name, what, w.suffix())
				return nil
			}
			fmt.Fprintf(s.Out, "incident.firescope.dev/%s declared%s (%s), IC %s%s\n", name, what, inc.Spec.State, orNobody(inc.Spec.Roles.Commander), w.suffix())
			if inc.Spec.Roles.Commander == "" {
				fmt.Fprintf(s.ErrOut, "Warning: the incident has no Incident Commander (the admission webhook did not name you): "+
					"take command with `kubectl incident handoff %s --ic YOU`\n", name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&state, "state", string(v1alpha1.StateInvestigating), "Investigating, Confirmed or Major")
	cmd.Flags().StringVar(&ic, "ic", "", "the Incident Commander (default: you)")
	cmd.Flags().BoolVar(&drill, "drill", false, "a training incident: nothing reaches customers or pagers")
	cmd.Flags().StringVar(&name, "name", "", "the incident's name (default: derived from the title)")
	_ = cmd.RegisterFlagCompletionFunc("state", completeStates(v1alpha1.StateInvestigating, v1alpha1.StateConfirmed, v1alpha1.StateMajor))
	w.add(cmd)
	return cmd
}

func orNobody(p v1alpha1.Person) string {
	if p == "" {
		return "(nobody)"
	}
	return string(p)
}

// stateVerb is one of the commands that move an incident to a fixed state.
type stateVerb struct {
	use, short, example string
	target              v1alpha1.IncidentState
	// done is what the confirmation says: "escalated to Major".
	done string
	// from, when set, is the only state the command applies to.
	from v1alpha1.IncidentState
	// otherwise, when set, points at the command perhaps meant instead; %s is the incident.
	otherwise string
}

var (
	confirm = stateVerb{use: "confirm", short: "Confirm an Investigating incident: customers are affected",
		example: "  kubectl incident confirm ec2-api-errors", target: v1alpha1.StateConfirmed, done: "confirmed", from: v1alpha1.StateInvestigating,
		otherwise: "; to lower a Major incident to Confirmed, `kubectl incident downgrade %s`"}
	escalate = stateVerb{use: "escalate", short: "Escalate an incident to Major",
		example: "  kubectl incident escalate ec2-api-errors", target: v1alpha1.StateMajor, done: "escalated to Major"}
	downgrade = stateVerb{use: "downgrade", short: "Downgrade a Major incident to Confirmed",
		example: "  kubectl incident downgrade ec2-api-errors", target: v1alpha1.StateConfirmed, done: "downgraded to Confirmed", from: v1alpha1.StateMajor}
	resolve = stateVerb{use: "resolve", short: "Resolve an incident: everything is normal again",
		example: "  kubectl incident resolve ec2-api-errors", target: v1alpha1.StateResolved, done: "resolved"}
)

func article(s v1alpha1.IncidentState) string {
	if strings.ContainsRune("AEIOU", rune(s[0])) {
		return "an"
	}
	return "a"
}

func newStateCommand(o *Options, v stateVerb) *cobra.Command {
	var w writeFlags
	cmd := &cobra.Command{
		Use:               v.use + " NAME",
		Short:             v.short,
		Example:           v.example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.setState(cmd, args[0], &w, v.target, v.done, func(current v1alpha1.IncidentState) error {
				switch {
				case current == v1alpha1.StateResolved && v.target != v1alpha1.StateResolved:
					return fmt.Errorf("incident %q is Resolved: reopen it with `kubectl incident reopen %s --state %s`", args[0], args[0], v.target)
				case v.from != "" && current != v.from:
					hint := ""
					if v.otherwise != "" {
						hint = fmt.Sprintf(v.otherwise, args[0])
					}
					return fmt.Errorf("incident %q is %s: only %s %s incident can be %s%s", args[0], current, article(v.from), v.from, v.done, hint)
				}
				return nil
			})
		},
	}
	w.add(cmd)
	return cmd
}

func newReopenCommand(o *Options) *cobra.Command {
	var (
		w     writeFlags
		state string
	)
	cmd := &cobra.Command{
		Use:   "reopen NAME",
		Short: "Reopen a Resolved incident",
		Example: `  kubectl incident reopen ec2-api-errors
  kubectl incident reopen ec2-api-errors --state Major`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := ParseState(state)
			if err != nil {
				return err
			}
			return o.setState(cmd, args[0], &w, st, "reopened ("+string(st)+")", func(current v1alpha1.IncidentState) error {
				if current != v1alpha1.StateResolved {
					return fmt.Errorf("incident %q is %s, not Resolved: there is nothing to reopen", args[0], current)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", string(v1alpha1.StateInvestigating), "the state to reopen in: Investigating, Confirmed or Major")
	_ = cmd.RegisterFlagCompletionFunc("state", completeStates(v1alpha1.StateInvestigating, v1alpha1.StateConfirmed, v1alpha1.StateMajor))
	w.add(cmd)
	return cmd
}

// setState applies spec.state = target. check refuses a command that would do something
// other than what its name says (downgrading an Investigating incident would escalate it);
// whether the transition itself is valid is the API server's to say.
func (o *Options) setState(cmd *cobra.Command, name string, w *writeFlags, target v1alpha1.IncidentState, done string, check func(v1alpha1.IncidentState) error) error {
	if err := w.validate(); err != nil {
		return err
	}
	ctx, cancel := o.context(cmd)
	defer cancel()
	s, err := o.session(ctx)
	if err != nil {
		return err
	}
	unchanged := false
	_, err = s.change(name, w, func(live *unstructured.Unstructured, inc *v1alpha1.Incident, spec map[string]any) error {
		if inc.Spec.State == target {
			unchanged = true
			return errUnchanged
		}
		if err := check(inc.Spec.State); err != nil {
			return err
		}
		s.warnTakeover(w, live, "spec.state", "f:spec", "f:state")
		spec["state"] = string(target)
		return nil
	})
	if unchanged {
		fmt.Fprintf(s.Out, "incident.firescope.dev/%s is already %s\n", name, target)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "incident.firescope.dev/%s %s%s\n", name, done, w.suffix())
	return nil
}

// errUnchanged stops a change that has nothing to do.
var errUnchanged = fmt.Errorf("unchanged")
