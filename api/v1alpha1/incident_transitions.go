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

package v1alpha1

import "slices"

// Transitions is the table of valid state changes. The key "" stands for creation. The API
// server enforces the same table through the CEL rules on spec.state; a test keeps the two
// in step.
var Transitions = map[IncidentState][]IncidentState{
	"":                 {StateInvestigating, StateConfirmed, StateMajor},
	StateInvestigating: {StateConfirmed, StateMajor, StateResolved},
	StateConfirmed:     {StateMajor, StateResolved},
	StateMajor:         {StateConfirmed, StateResolved},
	StateResolved:      {StateInvestigating, StateConfirmed, StateMajor},
}

// States lists every state, in order of severity, then Resolved.
var States = []IncidentState{StateInvestigating, StateConfirmed, StateMajor, StateResolved}

// CanTransition reports whether an incident in state from may move to state to. Staying in
// the same state is always allowed.
func CanTransition(from, to IncidentState) bool {
	return from == to && from != "" || slices.Contains(Transitions[from], to)
}

// PolicyName is the ResponsePolicy that applies to the Incident: its policyRef, or "default".
func (i *Incident) PolicyName() string {
	if i.Spec.PolicyRef != nil {
		return i.Spec.PolicyRef.Name
	}
	return DefaultPolicyName
}

// IsOpen reports whether the state is one of an ongoing incident.
func (s IncidentState) IsOpen() bool { return s != StateResolved }
