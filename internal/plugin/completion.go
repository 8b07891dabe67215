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
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

// completionTimeout keeps a shell's tab from hanging on an unreachable cluster.
const completionTimeout = 5 * time.Second

// completeIncidents completes the NAME argument with the incidents of the namespace, open
// ones described by their state and title.
func completeIncidents(o *Options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		s, err := o.session(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		list, err := s.incidents().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, u := range list.Items {
			inc, err := toIncident(&u)
			if err != nil {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(inc.Name, fmt.Sprintf("%s: %s", inc.Spec.State, inc.Spec.Title)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeStates(states ...v1alpha1.IncidentState) cobra.CompletionFunc {
	var out []cobra.Completion
	for _, s := range states {
		out = append(out, string(s))
	}
	return cobra.FixedCompletions(out, cobra.ShellCompDirectiveNoFileComp)
}
