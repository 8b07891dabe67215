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
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Verb is what a chat command asks for.
type Verb string

// The verbs of /incident.
const (
	VerbHelp      Verb = "help"
	VerbDeclare   Verb = "declare"
	VerbIC        Verb = "ic"
	VerbComms     Verb = "comms"
	VerbOps       Verb = "ops"
	VerbConfirm   Verb = "confirm"
	VerbEscalate  Verb = "escalate"
	VerbDowngrade Verb = "downgrade"
	VerbResolve   Verb = "resolve"
	VerbReopen    Verb = "reopen"
	VerbStatus    Verb = "status"
	VerbSitrep    Verb = "sitrep"
	VerbUpdate    Verb = "update"
	VerbPage      Verb = "page"
)

// Command is one parsed /incident command.
type Command struct {
	Verb Verb
	// Incident is the incident named in the command, "" when the channel's linked incident is
	// meant.
	Incident string
	// Title of a declared incident, or the text of `page ic`.
	Title string
	// State of a declared incident: Investigating unless --confirmed or --major.
	State string
	// Drill declares a training incident.
	Drill bool
	// Person is the person a hand-off names: a Slack user ID (from a mention) or, when
	// PersonIsUsername, a Kubernetes username typed as is.
	Person           string
	PersonIsUsername bool
	// Group is the Operations group of `ops`.
	Group string
}

// Usage lists the commands, as /incident help answers.
const Usage = "*/incident* runs an incident from Slack, as you: the API server sees your Kubernetes username.\n" +
	"```" + `
declare TITLE [--confirmed|--major] [--drill]   open an incident; you are its IC; links this channel
page ic [TEXT]                                  open an Investigating incident here if there is none, and page the IC
ic @person [INCIDENT]                           hand off command
comms @person [INCIDENT]                        hand off communications
ops GROUP @person [INCIDENT]                    hand off an Operations group
confirm | escalate | downgrade | resolve | reopen [INCIDENT]
status [INCIDENT]                               where the response stands
sitrep [INCIDENT]                               post a sitrep (a form)
update [INCIDENT]                               tell customers (a form; shows the wording findings first)
` + "```\n" + "In a channel linked to an incident the incident is implied; elsewhere name it."

// maxTextLen bounds the command text; Slack's own limit on a message is far above any command.
const maxTextLen = 4000

var (
	// mention is a user as Slack escapes it in command text: <@U024BE7LH> or <@U024BE7LH|keiko>.
	mention = regexp.MustCompile(`^<@([UW][A-Z0-9]{2,20})(\|[^>]*)?>$`)
	// name is an incident or group name: a Kubernetes object name (DNS label).
	name = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// username is a Kubernetes username typed as is: an email or a plain name.
	username = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,252}$`)
)

// ErrUsage is wrapped by every parse error: the answer then ends with the usage line.
var ErrUsage = errors.New("see /incident help")

func usagef(format string, a ...any) error {
	return fmt.Errorf("%s (%w)", fmt.Sprintf(format, a...), ErrUsage)
}

// Parse reads the text of an /incident command (what follows "/incident").
func Parse(text string) (Command, error) {
	if len(text) > maxTextLen {
		return Command{}, usagef("the command is longer than %d characters", maxTextLen)
	}
	words, err := split(text)
	if err != nil {
		return Command{}, err
	}
	if len(words) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	c := Command{Verb: Verb(strings.ToLower(words[0]))}
	args := words[1:]
	switch c.Verb {
	case VerbHelp:
		return c, nil
	case VerbDeclare:
		return parseDeclare(c, args)
	case VerbPage:
		if len(args) == 0 || strings.ToLower(args[0]) != "ic" {
			return c, usagef("page what? `/incident page ic TEXT` pages the Incident Commander")
		}
		c.Title = strings.Join(args[1:], " ")
		return c, nil
	case VerbIC, VerbComms:
		if len(args) < 1 || len(args) > 2 {
			return c, usagef("`/incident %s @person [INCIDENT]`", c.Verb)
		}
		if err := c.setPerson(args[0]); err != nil {
			return c, err
		}
		return c, c.setIncident(args[1:])
	case VerbOps:
		if len(args) < 2 || len(args) > 3 {
			return c, usagef("`/incident ops GROUP @person [INCIDENT]`")
		}
		if !name.MatchString(args[0]) {
			return c, usagef("%q is not a group name: lower-case letters, digits and dashes", args[0])
		}
		c.Group = args[0]
		if err := c.setPerson(args[1]); err != nil {
			return c, err
		}
		return c, c.setIncident(args[2:])
	case VerbConfirm, VerbEscalate, VerbDowngrade, VerbResolve, VerbReopen, VerbStatus, VerbSitrep, VerbUpdate:
		return c, c.setIncident(args)
	}
	return Command{}, usagef("unknown command %q", words[0])
}

func parseDeclare(c Command, args []string) (Command, error) {
	c.State = "Investigating"
	var title []string
	for _, a := range args {
		switch strings.ToLower(a) {
		case "--confirmed":
			c.State = "Confirmed"
		case "--major":
			c.State = "Major"
		case "--drill":
			c.Drill = true
		default:
			if strings.HasPrefix(a, "--") {
				return c, usagef("unknown option %s: declare takes --confirmed, --major and --drill", a)
			}
			title = append(title, a)
		}
	}
	c.Title = strings.Join(title, " ")
	if c.Title == "" {
		return c, usagef("declare needs a title: `/incident declare EC2 API errors --major`")
	}
	return c, nil
}

func (c *Command) setPerson(word string) error {
	if m := mention.FindStringSubmatch(word); m != nil {
		c.Person = m[1]
		return nil
	}
	if strings.HasPrefix(word, "@") {
		return usagef("%s is not a Slack mention: pick the person from the list Slack offers as you type @, "+
			"or give their Kubernetes username without @", word)
	}
	if !username.MatchString(word) {
		return usagef("%q is neither a Slack mention nor a username", word)
	}
	c.Person, c.PersonIsUsername = word, true
	return nil
}

func (c *Command) setIncident(args []string) error {
	switch len(args) {
	case 0:
		return nil
	case 1:
		if !name.MatchString(args[0]) {
			return usagef("%q is not an incident name", args[0])
		}
		c.Incident = args[0]
		return nil
	}
	return usagef("too many words after %s", c.Verb)
}

// split cuts text into words at white space, keeping "quoted phrases" and 'quoted phrases'
// whole. Slack turns straight quotes into curly ones on some clients: those quote too.
func split(text string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	closing := map[rune]rune{'"': '"', '\'': '\'', '“': '”', '‘': '’'}
	for _, r := range text {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
				continue
			}
			cur.WriteRune(r)
		case closing[r] != 0:
			quote, in = closing[r], true
		case unicode.IsSpace(r):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, usagef("a quote is not closed")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
