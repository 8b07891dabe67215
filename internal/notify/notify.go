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

// Package notify posts announcements to an incident's dedicated comms channel: a Slack
// incoming webhook, a Microsoft Teams Workflows webhook (an Adaptive Card), a Mattermost
// incoming webhook, or a generic webhook signed with HMAC-SHA256.
package notify

import (
	"context"
	"time"
)

// Announcement is one fact told to the comms channel.
type Announcement struct {
	// ID is unique per fact; receivers can dedupe on it (the generic webhook sends it as the
	// X-Firescope-Delivery header and in the body).
	ID string `json:"id"`
	// Namespace and Incident name the Incident.
	Namespace string `json:"namespace"`
	Incident  string `json:"incident"`
	// Kind is the fact: "StateChanged", "Handoff", "SitrepPosted", "SitrepOverdue", ...
	Kind string `json:"kind"`
	// Text is the full text as it should appear in the channel, already formatted by the
	// caller, e.g. "@all: IC -> ricardo"; the caller adds "[DRILL] " for drills.
	Text string `json:"text"`
	// Drill is true for a training incident.
	Drill bool `json:"drill"`
	// At is when the fact happened.
	At time.Time `json:"at"`
}

// Channel is a comms channel. Announce makes one attempt; its error is classified with
// delivery.Classify (delivery.Assess tells whether to try again) and holds no secret.
type Channel interface {
	Announce(ctx context.Context, a Announcement) error
}
