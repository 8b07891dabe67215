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

// The Atom feed (RFC 4287) has one entry per incident update, newest first, so that a feed
// reader shows each update as it is posted.

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
func (p *Page) renderFeed(incs []*incidentState) []byte {
	type item struct {
		inc *incidentState
		u   *updateRecord
	}
	var items []item
	for _, inc := range incs {
		for _, u := range inc.updates {
			items = append(items, item{inc, u})
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(b.u.CreatedAt.Compare(a.u.CreatedAt), cmp.Compare(b.u.Seq, a.u.Seq))
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
		link := p.incidentURL(it.inc.rec.ID) + "#update-" + it.u.ID
		at := it.u.CreatedAt.UTC().Format(time.RFC3339)
		feed.Entries = append(feed.Entries, atomEntry{
			ID:        link,
			Title:     fmt.Sprintf("%s: %s", it.inc.rec.Name, statusText[it.u.Status]),
			Updated:   at,
			Published: at,
			Link:      atomLink{Href: link, Rel: "alternate", Type: "text/html"},
			Content:   atomText{Type: "text", Body: it.u.Body},
		})
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
