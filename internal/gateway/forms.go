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
	"encoding/json"
	"errors"
	"strings"

	"github.com/slack-go/slack"

	"firescope.dev/firescope/internal/wording"
)

// Form callback IDs, block IDs and action IDs. A block's ID is also the action's.
const (
	sitrepForm = "firescope-sitrep"
	updateForm = "firescope-update"

	fieldSummary    = "summary"
	fieldImpact     = "impact"
	fieldActions    = "actions"
	fieldWorkaround = "workaround"
	fieldStatus     = "status"
	fieldMessage    = "message"
	fieldComponents = "components"
	fieldAnyway     = "anyway"
)

// formContext travels in a form's private_metadata.
type formContext struct {
	Incident string `json:"incident"`
	Channel  string `json:"channel"`
}

// openForm opens the sitrep or status-update form for the channel's (or the named) incident.
func (s *Server) openForm(ctx context.Context, sc slack.SlashCommand, c Command) answer {
	if !channelID.MatchString(sc.ChannelID) {
		return refused(errors.New("Slack sent no channel for the command"))
	}
	user, err := s.Identities.Username(ctx, sc.UserID)
	if err != nil {
		return refused(err)
	}
	a := &action{Server: s, ctx: ctx, user: user, channel: sc.ChannelID}
	name, ans, found := a.incident(c.Incident)
	if !found {
		return ans
	}
	meta, _ := json.Marshal(formContext{Incident: name, Channel: sc.ChannelID})
	view := sitrepView(name)
	if c.Verb == VerbUpdate {
		view = updateView(name)
	}
	view.PrivateMetadata = string(meta)
	if err := s.Slack.OpenView(ctx, sc.TriggerID, view); err != nil {
		return failed(err)
	}
	return ok("")
}

func input(id, label, hint string, multiline, optional bool) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(nil, id)
	el.Multiline = multiline
	b := slack.NewInputBlock(id, slack.NewTextBlockObject(slack.PlainTextType, label, false, false), nil, el)
	b.Optional = optional
	if hint != "" {
		b.Hint = slack.NewTextBlockObject(slack.PlainTextType, hint, false, false)
	}
	return b
}

func modal(callback, title, submit string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: callback,
		Title:      slack.NewTextBlockObject(slack.PlainTextType, title, false, false),
		Submit:     slack.NewTextBlockObject(slack.PlainTextType, submit, false, false),
		Close:      slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false),
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}

func sitrepView(incident string) slack.ModalViewRequest {
	return modal(sitrepForm, "Sitrep", "Post",
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "Sitrep for *"+incident+"*: it goes to the whole company. Sitreps are append-only.", false, false)),
		input(fieldSummary, "What is broken", "", true, false),
		input(fieldImpact, "How widespread", "Customers, apps, regions affected", true, true),
		input(fieldActions, "What is being done, and by whom", "", true, true),
		input(fieldWorkaround, "What customers can do meanwhile", "", true, true),
	)
}

func updateView(incident string) slack.ModalViewRequest {
	var opts []*slack.OptionBlockObject
	for _, st := range []string{"investigating", "identified", "monitoring", "resolved"} {
		opts = append(opts, slack.NewOptionBlockObject(st, slack.NewTextBlockObject(slack.PlainTextType, st, false, false), nil))
	}
	status := slack.NewInputBlock(fieldStatus, slack.NewTextBlockObject(slack.PlainTextType, "Status", false, false), nil,
		slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, fieldStatus, opts...))
	anyway := slack.NewInputBlock(fieldAnyway, slack.NewTextBlockObject(slack.PlainTextType, "Wording", false, false), nil,
		slack.NewCheckboxGroupsBlockElement(fieldAnyway, slack.NewOptionBlockObject("yes",
			slack.NewTextBlockObject(slack.PlainTextType, "Publish even if the wording check has findings", false, false), nil)))
	anyway.Optional = true
	return modal(updateForm, "Tell customers", "Publish",
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "Status update for *"+incident+"*: customers read it on the status page.", false, false)),
		status,
		input(fieldMessage, "Message", "What is broken, what is being done, what customers can do. No ETA, no presumed cause, no blame.", true, false),
		input(fieldComponents, "Components", "One per line: NAME=STATUS, such as PX dynos=partial_outage", true, true),
		anyway,
	)
}

// submission is the answer to a view submission: nil closes the form; errors keep it open with
// what the person typed, and say what to change.
type submission struct {
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
}

func keepOpen(field, msg string) *submission {
	if len(msg) > 2000 {
		msg = msg[:1997] + "..."
	}
	return &submission{ResponseAction: "errors", Errors: map[string]string{field: msg}}
}

// submit posts what a form says, as the person who submitted it.
func (s *Server) submit(ctx context.Context, cb slack.InteractionCallback) (*submission, string) {
	var fc formContext
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &fc); err != nil || !name.MatchString(fc.Incident) || !channelID.MatchString(fc.Channel) {
		return keepOpen(firstField(cb.View.CallbackID), "This form was not opened by /incident: open it again"), "refused"
	}
	user, err := s.Identities.Username(ctx, cb.User.ID)
	if err != nil {
		return keepOpen(firstField(cb.View.CallbackID), err.Error()), "refused"
	}
	v := func(id string) string { return strings.TrimSpace(cb.View.State.Values[id][id].Value) }
	var args []string
	var field string
	switch cb.View.CallbackID {
	case sitrepForm:
		field = fieldSummary
		args = []string{"sitrep", "--summary=" + v(fieldSummary)}
		for _, f := range []string{fieldImpact, fieldActions, fieldWorkaround} {
			if x := v(f); x != "" {
				args = append(args, "--"+f+"="+x)
			}
		}
	case updateForm:
		field = fieldMessage
		status := cb.View.State.Values[fieldStatus][fieldStatus].SelectedOption.Value
		msg := v(fieldMessage)
		anyway := len(cb.View.State.Values[fieldAnyway][fieldAnyway].SelectedOptions) > 0
		args = []string{"update", "--status=" + status, "--message=" + msg, "--yes"}
		var components []string
		for _, line := range strings.Split(v(fieldComponents), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				args = append(args, "--component="+line)
				name, _, _ := strings.Cut(line, "=")
				components = append(components, strings.TrimSpace(name))
			}
		}
		if findings := wording.Check(status, msg, components...); len(findings) > 0 && !anyway {
			var parts []string
			for _, f := range findings {
				parts = append(parts, f.Message)
			}
			return keepOpen(fieldMessage, strings.Join(parts, "; ")+` (tick "Publish even if…" to publish as is)`), "refused"
		}
	default:
		return nil, "ok"
	}
	out, err := s.Kube.Run(ctx, user, append(args, "--", fc.Incident)...)
	if err != nil {
		return keepOpen(field, err.Error()), "refused"
	}
	if err := s.Slack.PostEphemeral(ctx, fc.Channel, cb.User.ID, out); err != nil {
		s.Log.Error(err, "could not confirm a form's submission", "user", cb.User.ID)
	}
	return nil, "ok"
}

func firstField(callback string) string {
	if callback == updateForm {
		return fieldMessage
	}
	return fieldSummary
}
