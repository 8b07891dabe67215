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
	"context"
	"errors"
	"fmt"
	"time"

	"firescope.dev/firescope/internal/plugin"
)

// action is one command being carried out as user, from channel.
type action struct {
	*Server
	ctx           context.Context
	user, channel string
}

func (a *action) do(c Command) answer {
	switch c.Verb {
	case VerbDeclare:
		return a.declare(c.Title, c.State, c.Drill)
	case VerbPage:
		return a.page(c.Title)
	case VerbIC, VerbComms, VerbOps:
		return a.handoff(c)
	case VerbConfirm, VerbEscalate, VerbDowngrade, VerbResolve, VerbReopen:
		name, ans, found := a.incident(c.Incident)
		if !found {
			return ans
		}
		return a.kubectl(string(c.Verb), name)
	case VerbStatus:
		name, ans, found := a.incident(c.Incident)
		if !found {
			return ans
		}
		out, err := a.Kube.Run(a.ctx, a.user, "status", name)
		if err != nil {
			return refused(err)
		}
		return ok("```\n" + out + "\n```")
	case VerbSitrep, VerbUpdate:
		return refused(errors.New("Slack sent no trigger for the form: type the command again"))
	}
	return ok(Usage)
}

// kubectl runs a `kubectl incident` command and answers with what it printed.
func (a *action) kubectl(args ...string) answer {
	out, err := a.Kube.Run(a.ctx, a.user, args...)
	if err != nil {
		return refused(err)
	}
	return ok(out)
}

// incident is the named incident, or the one the channel is linked to. found is false when
// there is none, and ans then says so.
func (a *action) incident(named string) (name string, ans answer, found bool) {
	if named != "" {
		return named, answer{}, true
	}
	name, err := a.Kube.Linked(a.ctx, a.user, a.channel)
	if err != nil {
		return "", refused(err), false
	}
	if name == "" {
		return "", refused(errors.New("this channel is not linked to an incident: name the incident " +
			"(`/incident status ec2-api-errors`), or declare one here")), false
	}
	return name, answer{}, true
}

func (a *action) declare(title, state string, drill bool) answer {
	name := plugin.NameFromTitle(title, time.Now())
	args := []string{"declare", "--state=" + state, "--name=" + name}
	if drill {
		args = append(args, "--drill")
	}
	out, err := a.Kube.Run(a.ctx, a.user, append(args, "--", title)...)
	if err != nil {
		return refused(err)
	}
	if err := a.Kube.Link(a.ctx, a.user, name, a.channel); err != nil {
		return ok(out + "\n:warning: This channel could not be linked to it, so name the incident in commands here: " + err.Error())
	}
	return ok(out + "\nThis channel is linked to it: commands here act on " + name + ".")
}

// page is the talk's `page ic`: the channel's open incident, or a new Investigating one, whose
// ResponsePolicy pages the IC as for any declared incident.
func (a *action) page(text string) answer {
	name, err := a.Kube.Linked(a.ctx, a.user, a.channel)
	if err != nil {
		return refused(err)
	}
	if name != "" {
		out, err := a.Kube.Run(a.ctx, a.user, "status", name)
		if err == nil {
			return ok("This channel's incident is " + name + "; its IC was paged when it was declared, as its ResponsePolicy says.\n```\n" + out + "\n```")
		}
	}
	if text == "" {
		text = "Paged from Slack"
	}
	ans := a.declare(text, "Investigating", false)
	if ans.outcome != "ok" {
		return ans
	}
	return ok("An incident was opened on your behalf; its ResponsePolicy pages the IC.\n" + ans.text)
}

func (a *action) handoff(c Command) answer {
	name, ans, found := a.incident(c.Incident)
	if !found {
		return ans
	}
	person := c.Person
	if !c.PersonIsUsername {
		u, err := a.Identities.Username(a.ctx, c.Person)
		if err != nil {
			return refused(fmt.Errorf("cannot hand off to <@%s>: %w", c.Person, err))
		}
		person = u
	}
	flag := map[Verb]string{VerbIC: "--ic=" + person, VerbComms: "--comms=" + person, VerbOps: "--ops=" + c.Group + "=" + person}[c.Verb]
	return a.kubectl("handoff", flag, "--", name)
}
