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
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"firescope.dev/firescope/api/v1alpha1"
)

// opsHandoff is one --ops GROUP=PERSON.
type opsHandoff struct{ group, person string }

// parseOps reads --ops values.
func parseOps(values []string) ([]opsHandoff, error) {
	var out []opsHandoff
	for _, v := range values {
		g, p, ok := strings.Cut(v, "=")
		if !ok || g == "" || p == "" {
			return nil, fmt.Errorf("--ops %q: want GROUP=PERSON, such as --ops postgres=noah", v)
		}
		out = append(out, opsHandoff{g, p})
	}
	return out, nil
}

func newHandoffCommand(o *Options) *cobra.Command {
	var (
		w         writeFlags
		ic, comms string
		ops       []string
	)
	cmd := &cobra.Command{
		Use:   "handoff NAME (--ic PERSON | --comms PERSON | --ops GROUP=PERSON)...",
		Short: "Hand a role over: the IC, Communications, or an Operations group's supervisor",
		Long: `Hand a role over. The change is recorded in the incident's timeline and announced
(IC -> greg-burek), with you as the one who made it.

If the incident's roles live in Git, the API server refuses the hand-off with a conflict
that names the GitOps field manager: make the hand-off in Git (one changed line), or take
the role over with --force-conflicts and change Git to match (docs/gitops.md).`,
		Example: `  kubectl incident handoff ec2-api-errors --ic greg-burek
  kubectl incident handoff ec2-api-errors --comms chris-stolt --ops postgres=noah`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			groups, err := parseOps(ops)
			if err != nil {
				return err
			}
			if ic == "" && comms == "" && len(groups) == 0 {
				return fmt.Errorf("say who takes over: --ic PERSON, --comms PERSON or --ops GROUP=PERSON")
			}
			name := args[0]
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			if _, err := s.change(name, &w, func(live *unstructured.Unstructured, _ *v1alpha1.Incident, spec map[string]any) error {
				roles, _ := spec["roles"].(map[string]any)
				if roles == nil {
					roles = map[string]any{}
					spec["roles"] = roles
				}
				if ic != "" {
					s.warnTakeover(&w, live, "spec.roles.commander", "f:spec", "f:roles", "f:commander")
					roles["commander"] = ic
				}
				if comms != "" {
					s.warnTakeover(&w, live, "spec.roles.communications", "f:spec", "f:roles", "f:communications")
					roles["communications"] = comms
				}
				list, _ := roles["operations"].([]any)
				for _, g := range groups {
					key, _ := json.Marshal(map[string]string{"name": g.group})
					s.warnTakeover(&w, live, "the supervisor of Operations group "+g.group, "f:spec", "f:roles", "f:operations", "k:"+string(key), "f:supervisor")
					list = setSupervisor(list, g.group, g.person)
				}
				if len(list) > 0 {
					roles["operations"] = list
				}
				return nil
			}); err != nil {
				return err
			}
			var done []string
			if ic != "" {
				done = append(done, "IC -> "+ic)
			}
			if comms != "" {
				done = append(done, "Comms -> "+comms)
			}
			for _, g := range groups {
				done = append(done, "Ops/"+g.group+" -> "+g.person)
			}
			fmt.Fprintf(s.Out, "incident.firescope.dev/%s handed off: %s%s\n", name, strings.Join(done, ", "), w.suffix())
			return nil
		},
	}
	cmd.Flags().StringVar(&ic, "ic", "", "the new Incident Commander")
	cmd.Flags().StringVar(&comms, "comms", "", "the new Communications lead")
	cmd.Flags().StringArrayVar(&ops, "ops", nil, "GROUP=PERSON: the new supervisor of an Operations group (repeatable)")
	w.add(cmd)
	return cmd
}

// setSupervisor sets the supervisor of group in an apply configuration's operations list,
// adding the group when the plugin does not apply it yet.
func setSupervisor(list []any, group, person string) []any {
	for _, item := range list {
		if m, ok := item.(map[string]any); ok && m["name"] == group {
			m["supervisor"] = person
			return list
		}
	}
	return append(list, map[string]any{"name": group, "supervisor": person})
}
