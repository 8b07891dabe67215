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
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/plugin"
)

// action is one command being carried out as user (Slack's slackUser), from channel.
type action struct {
	*Server
	ctx                      context.Context
	user, slackUser, channel string
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
	channel, note := a.channelFor(name)
	if err := a.Kube.Link(a.ctx, a.user, name, channel); err != nil {
		return ok(out + note + "\n:warning: The channel could not be linked to it, so name the incident in commands there: " + err.Error())
	}
	if channel != a.channel {
		return ok(out + note + "\n<#" + channel + "> is linked to it: commands there act on " + name + ".")
	}
	return ok(out + note + "\nThis channel is linked to it: commands here act on " + name + ".")
}

// channelFor is the channel to link a new incident to: a dedicated one when the policy asks,
// created with the incident's roles in it (the IC, who typed the command), else the one the
// command was typed in. note tells what happened, or why no channel was created.
func (a *action) channelFor(incident string) (channel, note string) {
	p, err := a.Kube.Policy(a.ctx, a.user)
	if err != nil {
		return a.channel, "\n:warning: No dedicated channel: the ResponsePolicy could not be read: " + err.Error()
	}
	if p == nil || p.Spec.ChatChannel == nil || !p.Spec.ChatChannel.Create {
		return a.channel, ""
	}
	// Slack's names are at most 80 characters; the prefix and incident name are ASCII.
	base := cmp.Or(p.Spec.ChatChannel.Prefix, v1alpha1.DefaultChatChannelPrefix) + incident
	base = base[:min(len(base), 77)]
	name := base
	for n := 2; ; n++ {
		channel, err = a.Slack.CreateChannel(a.ctx, name)
		if !errors.Is(err, ErrNameTaken) || n > 5 {
			break
		}
		name = fmt.Sprintf("%s-%d", base, n)
	}
	if err != nil {
		return a.channel, "\n:warning: No dedicated channel: " + err.Error()
	}
	if err := a.Slack.Invite(a.ctx, channel, a.slackUser); err != nil {
		return channel, "\nCreated <#" + channel + ">.\n:warning: " + err.Error()
	}
	return channel, "\nCreated <#" + channel + "> and invited you, the IC."
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
