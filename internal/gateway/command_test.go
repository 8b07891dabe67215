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

package gateway

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseReadsEveryCommand(t *testing.T) {
	cases := map[string]Command{
		"":                                      {Verb: VerbHelp},
		"help":                                  {Verb: VerbHelp},
		"declare EC2 API errors":                {Verb: VerbDeclare, Title: "EC2 API errors", State: "Investigating"},
		`declare "Postgres -n failing" --MAJOR`: {Verb: VerbDeclare, Title: "Postgres -n failing", State: "Major"},
		"declare Router latency --confirmed --drill": {Verb: VerbDeclare, Title: "Router latency", State: "Confirmed", Drill: true},
		"declare “curly quotes” work":                {Verb: VerbDeclare, Title: "curly quotes work", State: "Investigating"},
		"ic <@U024BE7LH|keiko>":                      {Verb: VerbIC, Person: "U024BE7LH"},
		"ic <@U024BE7LH> ec2-api-errors":             {Verb: VerbIC, Person: "U024BE7LH", Incident: "ec2-api-errors"},
		"comms keiko@example.com":                    {Verb: VerbComms, Person: "keiko@example.com", PersonIsUsername: true},
		"ops postgres <@W0NOAH> ec2":                 {Verb: VerbOps, Group: "postgres", Person: "W0NOAH", Incident: "ec2"},
		"Resolve ec2-api-errors":                     {Verb: VerbResolve, Incident: "ec2-api-errors"},
		"status":                                     {Verb: VerbStatus},
		"sitrep ec2":                                 {Verb: VerbSitrep, Incident: "ec2"},
		"page ic trouble adding pg dbs":              {Verb: VerbPage, Title: "trouble adding pg dbs"},
		"page IC":                                    {Verb: VerbPage},
	}
	for text, want := range cases {
		got, err := Parse(text)
		if err != nil {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, want %+v", text, got, want)
		}
	}
}

func TestParseRefusesWhatItCannotActOnWithTheWayForward(t *testing.T) {
	cases := map[string]string{
		"declare":                     "needs a title",
		"declare Outage --ic mallory": "unknown option --ic",
		"ic @keiko":                   "not a Slack mention",
		"ic":                          "/incident ic @person",
		"ic <@U0KEIKO|a> NotAName":    "not an incident name",
		"ops Postgres <@U0KEIKO>":     "not a group name",
		"resolve a b":                 "too many words",
		"page":                        "page ic TEXT",
		`declare "unclosed`:           "not closed",
		"frobnicate":                  `unknown command "frobnicate"`,
		"declare " + strings.Repeat("x", maxTextLen): "longer than",
	}
	for text, want := range cases {
		_, err := Parse(text)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrUsage) {
			t.Errorf("Parse(%.40q) = %v, want an error saying %q", text, err, want)
		}
	}
}

// FuzzParse checks that no text makes the parser panic, and that what it accepts can only
// reach the API server as names and usernames of the allowed shapes, never as a flag.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"declare EC2 API errors --major", "ic <@U024BE7LH|keiko> ec2", "ops pg <@W1> x",
		`declare "a b" 'c d'`, "page ic help", "status -n kube-system", "comms --as=system:admin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			return
		}
		for _, v := range []string{c.Incident, c.Group} {
			if v != "" && !name.MatchString(v) {
				t.Fatalf("accepted name %q", v)
			}
		}
		if c.Person != "" && (strings.HasPrefix(c.Person, "-") || strings.HasPrefix(c.Person, "system:")) {
			t.Fatalf("accepted person %q", c.Person)
		}
	})
}
