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

package incident

import (
	"fmt"
	"strings"

	"firescope.dev/firescope/api/v1alpha1"
)

// writeHealth adds the product's health, as the health evaluator last wrote it in
// status.health, to a sitrep announcement: how bad it is, next to what is being done. It
// writes nothing for a policy without health signals.
func writeHealth(b *strings.Builder, inc *v1alpha1.Incident) {
	h := inc.Status.Health
	if h == nil || len(h.Signals) == 0 {
		return
	}
	fmt.Fprintf(b, "\n*Health:* %s", h.Summary)
	if h.EvaluatedAt != nil {
		fmt.Fprintf(b, " (as of %s)", h.EvaluatedAt.UTC().Format("15:04 UTC"))
	}
	b.WriteString("\n")
}
