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
	"cmp"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// The Atom feed (RFC 4287) has one entry per incident update and one per published
// post-mortem, newest first, so that a feed reader shows each update as it is posted and a
// post-mortem when it is published (and again, under the same id, when it is revised).

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomPerson  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID        string   `xml:"id"`
	Title     string   `xml:"title"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published"`
	Link      atomLink `xml:"link"`
	Content   atomText `xml:"content"`
}

// renderFeed returns the Atom document.
func (p *Page) renderFeed(incs []*publicIncident) []byte {
	type item struct {
		at    time.Time
		seq   uint64
		entry func() atomEntry
	}
	var items []item
	for _, inc := range incs {
		// The latest feedLength entries of the page are among each incident's latest.
		for _, u := range inc.latestUpdates(feedLength) {
			items = append(items, item{u.CreatedAt, u.Seq, func() atomEntry {
				link := p.incidentURL(inc.rec.ID) + "#update-" + u.ID
				at := u.CreatedAt.UTC().Format(time.RFC3339)
				return atomEntry{ID: link, Title: fmt.Sprintf("%s: %s", inc.rec.Name, statusText[u.Status]), Updated: at, Published: at,
					Link: atomLink{Href: link, Rel: "alternate", Type: "text/html"}, Content: atomText{Type: "text", Body: u.Body}}
			}})
		}
		if pm := inc.postmortem; pm != nil && pm.published() {
			items = append(items, item{pm.RevisedAt, 0, func() atomEntry {
				link := p.incidentURL(inc.rec.ID) + "#postmortem"
				return atomEntry{ID: link, Title: inc.rec.Name + ": Post-mortem", Updated: pm.RevisedAt.UTC().Format(time.RFC3339),
					Published: pm.PublishedAt.UTC().Format(time.RFC3339), Link: atomLink{Href: link, Rel: "alternate", Type: "text/html"},
					Content: atomText{Type: "text", Body: pm.PublishedBody}}
			}})
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.seq, a.seq))
	})
	items = items[:min(len(items), feedLength)]

	feed := atomFeed{
		ID:      p.info.URL + "/",
		Title:   p.info.Name + ": incident updates",
		Updated: p.updatedAt.UTC().Format(time.RFC3339),
		Links: []atomLink{
			{Href: p.info.URL + "/history.atom", Rel: "self", Type: "application/atom+xml"},
			{Href: p.info.URL + "/", Rel: "alternate", Type: "text/html"},
		},
		Author: atomPerson{Name: p.info.Name},
	}
	if p.updatedAt.IsZero() {
		feed.Updated = time.Unix(0, 0).UTC().Format(time.RFC3339)
	}
	for _, it := range items {
		feed.Entries = append(feed.Entries, it.entry())
	}
	body, err := xml.Marshal(feed)
	if err != nil {
		panic(fmt.Sprintf("render feed: %v", err))
	}
	return append([]byte(xml.Header), body...)
}

func (p *Page) feedResource(body []byte) *resource {
	return newResource(body, http.StatusOK, "application/atom+xml; charset=utf-8", p.info.CacheMaxAge,
		map[string]string{"Access-Control-Allow-Origin": "*"})
}
