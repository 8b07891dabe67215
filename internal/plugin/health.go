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
	"time"

	"firescope.dev/firescope/api/v1alpha1"
)

// printHealth writes one line per health signal of the incident's policy: its value and state
// and since when, or why it is unknown. It writes nothing when the policy has no signals.
func printHealth(w io.Writer, inc *v1alpha1.Incident, now time.Time) {
	h := inc.Status.Health
	if h == nil {
		return
	}
	label := "Health:"
	for _, s := range h.Signals {
		line := fmt.Sprintf("%s  unknown (%s): %s", s.Name, s.Reason, oneLine(s.Message, 100))
		if s.Value != "" {
			line = fmt.Sprintf("%s  %s%s  %s", s.Name, s.Value, s.Unit, s.State)
			if s.Since != nil {
				line += " since " + when(s.Since.Time, now)
			}
			if s.Reason == v1alpha1.SignalReasonInjected {
				line += " [injected by the drill]"
			}
		}
		fmt.Fprintf(w, "%s\t%s\n", label, line)
		label = ""
	}
	if h.EvaluatedAt != nil && len(h.Signals) > 0 {
		fmt.Fprintf(w, "\tread %s\n", when(h.EvaluatedAt.Time, now))
	}
}
