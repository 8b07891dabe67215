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

package statuspage

import (
	"time"

	"firescope.dev/firescope/internal/statuspage/api"
)

// The public JSON under /api/v2 follows the Atlassian Statuspage public format field for
// field, so that widgets, monitors and chat integrations written for it work unchanged.
// Fields that Firescope has no use for carry the values a plain Statuspage page shows.

// stamp is a time as Statuspage writes it: UTC with exactly three decimals, for parsers that
// expect that shape.
type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(`"2006-01-02T15:04:05.000Z07:00"`)), nil
}

func (t *stamp) UnmarshalJSON(b []byte) error { return (*time.Time)(t).UnmarshalJSON(b) }

func stampPtr(t *time.Time) *stamp {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}

type v2Page struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt stamp  `json:"updated_at"`
}

type v2Status struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type v2Component struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Status             string  `json:"status"`
	CreatedAt          stamp   `json:"created_at"`
	UpdatedAt          stamp   `json:"updated_at"`
	Position           int     `json:"position"`
	Description        *string `json:"description"`
	Showcase           bool    `json:"showcase"`
	StartDate          *string `json:"start_date"`
	GroupID            *string `json:"group_id"`
	PageID             string  `json:"page_id"`
	Group              bool    `json:"group"`
	OnlyShowIfDegraded bool    `json:"only_show_if_degraded"`
	// Components are a group's components' ids; only groups have the key, as in Statuspage.
	Components []string `json:"components,omitempty"`
}

type v2AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type v2IncidentUpdate struct {
	ID                   string                `json:"id"`
	Status               string                `json:"status"`
	Body                 string                `json:"body"`
	IncidentID           string                `json:"incident_id"`
	CreatedAt            stamp                 `json:"created_at"`
	UpdatedAt            stamp                 `json:"updated_at"`
	DisplayAt            stamp                 `json:"display_at"`
	AffectedComponents   []v2AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                  `json:"deliver_notifications"`
	CustomTweet          *string               `json:"custom_tweet"`
	TweetID              *string               `json:"tweet_id"`
}

type v2Incident struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Status          string             `json:"status"`
	CreatedAt       stamp              `json:"created_at"`
	UpdatedAt       stamp              `json:"updated_at"`
	MonitoringAt    *stamp             `json:"monitoring_at"`
	ResolvedAt      *stamp             `json:"resolved_at"`
	Impact          string             `json:"impact"`
	Shortlink       string             `json:"shortlink"`
	StartedAt       stamp              `json:"started_at"`
	PageID          string             `json:"page_id"`
	IncidentUpdates []v2IncidentUpdate `json:"incident_updates"`
	Components      []v2Component      `json:"components"`
}

type v2StatusDoc struct {
	Page   v2Page   `json:"page"`
	Status v2Status `json:"status"`
}

type v2SummaryDoc struct {
	Page                  v2Page          `json:"page"`
	Components            []v2Component   `json:"components"`
	Incidents             []v2Incident    `json:"incidents"`
	ScheduledMaintenances []v2Maintenance `json:"scheduled_maintenances"`
	Status                v2Status        `json:"status"`
}

type v2ComponentsDoc struct {
	Page       v2Page        `json:"page"`
	Components []v2Component `json:"components"`
}

type v2IncidentsDoc struct {
	Page      v2Page       `json:"page"`
	Incidents []v2Incident `json:"incidents"`
}

// overall is the page's rolled-up status.
type overall struct {
	// Indicator is Statuspage's status.indicator: none, minor, major or critical.
	Indicator string
	// Description is the sentence shown in the banner.
	Description string
}

var indicatorRank = map[string]int{"none": 0, "minor": 1, "major": 2, "critical": 3}

// componentIndicator is the indicator a component's status alone implies.
var componentIndicator = map[string]string{
	string(api.Operational):         "none",
	string(api.UnderMaintenance):    "none",
	string(api.DegradedPerformance): "minor",
	string(api.PartialOutage):       "major",
	string(api.MajorOutage):         "critical",
}

// rollUp computes the page status as Statuspage does: the worst of the components' statuses
// and of the unresolved incidents' impacts. Maintenance is not an outage, so it keeps the
// indicator at none and only changes the words.
func rollUp(comps []*componentRecord, open []*publicIncident) overall {
	indicator, maintenance := "none", false
	worse := func(i string) {
		if indicatorRank[i] > indicatorRank[indicator] {
			indicator = i
		}
	}
	for _, c := range comps {
		worse(componentIndicator[c.Status])
		maintenance = maintenance || c.Status == string(api.UnderMaintenance)
	}
	for _, inc := range open {
		worse(inc.rec.Impact)
	}
	switch indicator {
	case "minor":
		return overall{indicator, "Minor Service Outage"}
	case "major":
		return overall{indicator, "Partial System Outage"}
	case "critical":
		return overall{indicator, "Major System Outage"}
	}
	if maintenance {
		return overall{indicator, "Service Under Maintenance"}
	}
	return overall{indicator, "All Systems Operational"}
}
