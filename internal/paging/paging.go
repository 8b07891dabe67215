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

// Package paging pages the people on call: PagerDuty Events API v2.
package paging

import (
	"context"
	"time"
)

// Page is one alert for the people on call.
type Page struct {
	// DedupKey identifies the alert: triggering the same key again updates the open alert
	// instead of opening a second one, and Resolve closes it.
	DedupKey string
	// Summary is the alert's title (PagerDuty keeps 1024 characters; longer ones are cut).
	Summary string
	// Source is where the problem is; "firescope" if empty.
	Source string
	// Severity is critical, error, warning or info; "error" if empty.
	Severity string
	// Timestamp is when the problem was detected; omitted if zero.
	Timestamp time.Time
	// Links are shown on the alert.
	Links []Link
	// Details are shown on the alert as custom details.
	Details map[string]string
}

// Link is a link shown on an alert.
type Link struct {
	Href, Text string
}

// Severities of a Page.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Pager opens and closes alerts. Each call makes one attempt; errors are classified with
// delivery.Classify (delivery.Assess tells whether to try again) and hold no secret.
type Pager interface {
	Trigger(ctx context.Context, p Page) error
	Resolve(ctx context.Context, dedupKey string) error
}
