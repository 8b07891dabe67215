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
	"time"

	"firescope.dev/firescope/api/v1alpha1"
)

// maxNameLength keeps derived names short enough to read in `kubectl get` and to type.
const maxNameLength = 40

// NameFromTitle derives a DNS-safe incident name from its title: "EC2 API errors" becomes
// "ec2-api-errors". A title with no letters or digits it can use (all punctuation, or a
// script other than Latin) gets a name from the time instead: "incident-20261125-1214".
func NameFromTitle(title string, now time.Time) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		case r == '\'' || r == '\u2019':
			// "Can't scale" reads better as "cant-scale" than "can-t-scale".
		default:
			dash = true
		}
	}
	name := b.String()
	if len(name) > maxNameLength {
		name = name[:maxNameLength]
		// Cut at a word boundary when there is one in the second half.
		if i := strings.LastIndexByte(name, '-'); i > maxNameLength/2 {
			name = name[:i]
		}
		name = strings.TrimRight(name, "-")
	}
	if name == "" {
		return "incident-" + now.UTC().Format("20060102-1504")
	}
	return name
}

// ParseState reads a state as people type it: "major", "Major", "MAJOR".
func ParseState(s string) (v1alpha1.IncidentState, error) {
	for _, st := range v1alpha1.States {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", fmt.Errorf("%q is not a state: use Investigating, Confirmed, Major or Resolved", s)
}
