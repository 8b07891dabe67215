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

package slack

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"firescope.dev/firescope/internal/mock/mockhttp"
)

// webAPIDoc is Slack's published OpenAPI 2.0 document of the Web API
// (slackapi/slack-api-specs, web-api/slack_web_openapi_v2_without_examples.json).
//
//go:embed testdata/slack-web-openapi-v2.json
var webAPIDoc []byte

type param struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

var (
	docOnce sync.Once
	// methods maps a Web API method ("users.info") to its documented parameters.
	methods map[string][]param
	docErr  error
)

func loadDoc() error {
	docOnce.Do(func() {
		var doc struct {
			Paths map[string]map[string]struct {
				Parameters []param `json:"parameters"`
			} `json:"paths"`
		}
		if docErr = json.Unmarshal(webAPIDoc, &doc); docErr != nil {
			return
		}
		methods = map[string][]param{}
		for path, ops := range doc.Paths {
			for _, op := range ops {
				methods[strings.TrimPrefix(path, "/")] = append(methods[strings.TrimPrefix(path, "/")], op.Parameters...)
			}
		}
	})
	return docErr
}

// WebAPI is an in-process fake of the Slack Web API methods the chat gateway calls
// (users.info, views.open, chat.postEphemeral, conversations.create, conversations.invite)
// and of slash commands' response_url, with Slack's documented errors (name_taken,
// user_not_found, already_in_channel, ...; FailNext(n, 429, d) for its rate limit). Every
// request is checked against Slack's OpenAPI document: the method must exist, its required
// parameters be given (in the query, the form, the JSON body or, for the token, the
// Authorization header) and no undocumented parameter be sent; a request that fails the check
// is answered as Slack answers a bad request ({"ok":false,"error":"invalid_arguments"}) and
// recorded in Invalid.
type WebAPI struct {
	*mockhttp.Server
	token string

	mu         sync.Mutex
	emails     map[string]string
	views      []View
	ephemerals []Ephemeral
	responses  []Ephemeral
	channels   []Channel
	invalid    []string
}

// Channel is a public channel, created with conversations.create or AddChannel.
type Channel struct {
	ID, Name string
	// Members are the users invited with conversations.invite, in order.
	Members []string
}

// AddChannel makes a channel of that name exist, as one made by hand would.
func (w *WebAPI) AddChannel(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.channels = append(w.channels, Channel{ID: fmt.Sprintf("C0%06d", len(w.channels)+1), Name: name})
}

// Channels returns the channels, in order of creation.
func (w *WebAPI) Channels() []Channel {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := slices.Clone(w.channels)
	for i := range out {
		out[i].Members = slices.Clone(out[i].Members)
	}
	return out
}

// channelName is what Slack takes as a channel name: at most 80 lowercase letters, digits,
// hyphens and underscores.
var channelName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// View is a modal opened with views.open.
type View struct {
	TriggerID string
	View      map[string]any
}

// Ephemeral is a message shown to one person: by chat.postEphemeral, or through a response_url
// (Channel and User empty).
type Ephemeral struct {
	Channel, User, Text string
	At                  time.Time
}

// NewWebAPI starts a fake Slack Web API that takes the bot token token.
func NewWebAPI(token string) *WebAPI {
	w := &WebAPI{token: token, emails: map[string]string{}}
	w.Server = mockhttp.New(http.HandlerFunc(w.handle), func(status int) (string, string) {
		return "application/json", fmt.Sprintf(`{"ok":false,"error":%q}`, map[int]string{429: "ratelimited"}[status])
	})
	return w
}

// APIURL is the base URL of the Web API methods, as https://slack.com/api/ is.
func (w *WebAPI) APIURL() string { return w.URL + "/api/" }

// ResponseURL is a slash command's response_url on the fake.
func (w *WebAPI) ResponseURL(id string) string { return w.URL + "/commands/T0FIRESCOP/" + id }

// AddUser makes users.info report the email of a user; "" reports a user without one.
func (w *WebAPI) AddUser(id, email string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emails[id] = email
}

// Views returns the modals opened, in order.
func (w *WebAPI) Views() []View {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.views)
}

// Ephemerals returns the chat.postEphemeral messages, in order.
func (w *WebAPI) Ephemerals() []Ephemeral {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ephemerals)
}

// Responses returns the messages posted to response_urls, in order.
func (w *WebAPI) Responses() []Ephemeral {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.responses)
}

// Invalid returns why each request that failed the OpenAPI check failed.
func (w *WebAPI) Invalid() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.invalid)
}

func (w *WebAPI) handle(rw http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/commands/") {
		w.respond(rw, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		mockhttp.WriteText(rw, http.StatusNotFound, "not found")
		return
	}
	args, token, err := w.args(method, r)
	if err != nil {
		w.mu.Lock()
		w.invalid = append(w.invalid, method+": "+err.Error())
		w.mu.Unlock()
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments", "detail": err.Error()})
		return
	}
	switch {
	case token == "":
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
		return
	case token != w.token:
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch method {
	case "users.info":
		email, ok := w.emails[args["user"]]
		if !ok {
			mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "user_not_found"})
			return
		}
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": true, "user": map[string]any{
			"id": args["user"], "team_id": "T0FIRESCOP", "name": strings.Split(email, "@")[0],
			"profile": map[string]any{"email": email}}})
	case "views.open":
		var view map[string]any
		if err := json.Unmarshal([]byte(args["view"]), &view); err != nil || view["type"] != "modal" {
			mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
			return
		}
		if title, _ := view["title"].(map[string]any); title == nil || len(fmt.Sprint(title["text"])) > 24 {
			mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments", "detail": "title: at most 24 characters"})
			return
		}
		w.views = append(w.views, View{TriggerID: args["trigger_id"], View: view})
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": true, "view": map[string]any{"id": fmt.Sprintf("V%06d", len(w.views))}})
	case "chat.postEphemeral":
		if args["text"] == "" && args["blocks"] == "" {
			mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "no_text"})
			return
		}
		w.ephemerals = append(w.ephemerals, Ephemeral{Channel: args["channel"], User: args["user"], Text: args["text"], At: time.Now()})
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": true, "message_ts": fmt.Sprintf("%d.000100", time.Now().Unix())})
	case "conversations.create":
		name := args["name"]
		switch {
		case name == "":
			slackError(rw, "invalid_name_required")
		case len(name) > 80:
			slackError(rw, "invalid_name_maxlength")
		case !channelName.MatchString(name):
			slackError(rw, "invalid_name_specials")
		case slices.ContainsFunc(w.channels, func(c Channel) bool { return c.Name == name }):
			slackError(rw, "name_taken")
		default:
			ch := Channel{ID: fmt.Sprintf("C0%06d", len(w.channels)+1), Name: name}
			w.channels = append(w.channels, ch)
			mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": true, "channel": map[string]any{
				"id": ch.ID, "name": name, "is_channel": true, "is_private": false, "created": time.Now().Unix(), "creator": "U0FIRESCOPE"}})
		}
	case "conversations.invite":
		i := slices.IndexFunc(w.channels, func(c Channel) bool { return c.ID == args["channel"] })
		users := strings.Split(args["users"], ",")
		switch {
		case i < 0:
			slackError(rw, "channel_not_found")
		case args["users"] == "":
			slackError(rw, "no_user")
		case slices.ContainsFunc(users, func(u string) bool { _, ok := w.emails[u]; return !ok }):
			slackError(rw, "user_not_found")
		case slices.ContainsFunc(users, func(u string) bool { return slices.Contains(w.channels[i].Members, u) }):
			slackError(rw, "already_in_channel")
		default:
			w.channels[i].Members = append(w.channels[i].Members, users...)
			mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": true, "channel": map[string]any{"id": w.channels[i].ID, "name": w.channels[i].Name}})
		}
	default:
		mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func slackError(rw http.ResponseWriter, code string) {
	mockhttp.WriteJSON(rw, http.StatusOK, map[string]any{"ok": false, "error": code})
}

// args collects a request's parameters wherever Slack takes them and checks them against the
// method's documented parameters.
func (w *WebAPI) args(method string, r *http.Request) (map[string]string, string, error) {
	if err := loadDoc(); err != nil {
		return nil, "", err
	}
	documented, ok := methods[method]
	if !ok {
		return nil, "", fmt.Errorf("no method %q in Slack's OpenAPI document", method)
	}
	args := map[string]string{}
	for k, v := range r.URL.Query() {
		args[k] = v[0]
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, "", fmt.Errorf("the JSON body does not parse: %w", err)
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				args[k] = s
			} else {
				b, _ := json.Marshal(v)
				args[k] = string(b)
			}
		}
	} else if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", fmt.Errorf("the form does not parse: %w", err)
		}
		for k, v := range form {
			args[k] = v[0]
		}
	}
	token := args["token"]
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	delete(args, "token")
	for k := range args {
		if !slices.ContainsFunc(documented, func(p param) bool { return p.Name == k }) {
			return nil, "", fmt.Errorf("parameter %q is not documented for %s", k, method)
		}
	}
	for _, p := range documented {
		if p.Required && p.Name != "token" && args[p.Name] == "" {
			return nil, "", fmt.Errorf("required parameter %q of %s is missing", p.Name, method)
		}
	}
	return args, token, nil
}

// respond takes a message posted to a response_url, as Slack does: JSON with text.
func (w *WebAPI) respond(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Text         string `json:"text"`
		ResponseType string `json:"response_type"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil || msg.Text == "" {
		mockhttp.WriteText(rw, http.StatusBadRequest, "invalid_payload")
		return
	}
	w.mu.Lock()
	w.responses = append(w.responses, Ephemeral{Text: msg.Text, At: time.Now()})
	w.mu.Unlock()
	mockhttp.WriteText(rw, http.StatusOK, "ok")
}
