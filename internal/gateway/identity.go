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
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Slack is the part of Slack's Web API the gateway calls, with the bot token.
type Slack interface {
	// UserEmail is the email Slack reports for the user (users.info), "" if none.
	UserEmail(ctx context.Context, userID string) (string, error)
	// OpenView opens a modal for the person whose action produced triggerID (views.open).
	OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error
	// PostEphemeral shows text to one person in a channel (chat.postEphemeral).
	PostEphemeral(ctx context.Context, channel, userID, text string) error
	// Respond finishes a slash command through its response_url.
	Respond(ctx context.Context, responseURL, text string) error
	// CreateChannel creates a public channel and returns its ID (conversations.create). A
	// name already in use is ErrNameTaken.
	CreateChannel(ctx context.Context, name string) (string, error)
	// Invite adds people to a channel (conversations.invite).
	Invite(ctx context.Context, channel string, userIDs ...string) error
}

// ErrNameTaken is wrapped when a channel name is already in use.
var ErrNameTaken = errors.New("the channel name is taken")

// WebAPI is Slack through github.com/slack-go/slack.
type WebAPI struct {
	api  *slack.Client
	http *http.Client
}

// NewWebAPI returns Slack's Web API at apiURL (https://slack.com/api/ in production) with the
// bot token. hc must have a timeout.
func NewWebAPI(token, apiURL string, hc *http.Client) *WebAPI {
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	return &WebAPI{api: slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(hc)), http: hc}
}

// UserEmail implements Slack.
func (w *WebAPI) UserEmail(ctx context.Context, userID string) (string, error) {
	var u *slack.User
	err := rateLimited(ctx, func() (err error) {
		u, err = w.api.GetUserInfoContext(ctx, userID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("asking Slack who %s is (users.info): %w", userID, err)
	}
	return u.Profile.Email, nil
}

// OpenView implements Slack.
func (w *WebAPI) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	if _, err := w.api.OpenViewContext(ctx, triggerID, view); err != nil {
		return fmt.Errorf("opening the form (views.open): %w", err)
	}
	return nil
}

// PostEphemeral implements Slack.
func (w *WebAPI) PostEphemeral(ctx context.Context, channel, userID, text string) error {
	if _, err := w.api.PostEphemeralContext(ctx, channel, userID, slack.MsgOptionText(text, false)); err != nil {
		return fmt.Errorf("answering in Slack (chat.postEphemeral): %w", err)
	}
	return nil
}

// Respond implements Slack.
func (w *WebAPI) Respond(ctx context.Context, responseURL, text string) error {
	msg := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral}
	if err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, w.http, msg); err != nil {
		return fmt.Errorf("answering through response_url: %w", err)
	}
	return nil
}

// CreateChannel implements Slack.
func (w *WebAPI) CreateChannel(ctx context.Context, name string) (string, error) {
	var ch *slack.Channel
	err := rateLimited(ctx, func() (err error) {
		ch, err = w.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name})
		return err
	})
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "name_taken" {
		return "", fmt.Errorf("creating #%s (conversations.create): %w", name, ErrNameTaken)
	}
	if err != nil {
		return "", fmt.Errorf("creating #%s (conversations.create): %w", name, err)
	}
	return ch.ID, nil
}

// Invite implements Slack.
func (w *WebAPI) Invite(ctx context.Context, channel string, userIDs ...string) error {
	err := rateLimited(ctx, func() error {
		_, err := w.api.InviteUsersToConversationContext(ctx, channel, userIDs...)
		return err
	})
	if err != nil {
		return fmt.Errorf("inviting %s to the channel (conversations.invite): %w", strings.Join(userIDs, ", "), err)
	}
	return nil
}

// rateLimited calls call again, up to three times, when Slack answers that its rate limit is
// reached, after the Retry-After Slack gives, if ctx leaves time for it.
func rateLimited(ctx context.Context, call func() error) error {
	for attempt := 1; ; attempt++ {
		err := call()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || attempt == 3 {
			return err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < rl.RetryAfter {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(rl.RetryAfter):
		}
	}
}

// IdentitiesConfigMap maps Slack user IDs (keys) to Kubernetes usernames (values), in the
// gateway's namespace.
const IdentitiesConfigMap = "firescope-chat-identities"

// EmailTTL is how long an email Slack reported for a user (users.info) is used before Slack is
// asked again: a changed Slack email takes effect within it. The ConfigMap is read for every
// command, so a mapping added or changed there takes effect at the next one.
const EmailTTL = time.Minute

// maxEmails bounds the emails kept, one per Slack user who typed or was named recently.
const maxEmails = 1024

// Identities tells the Kubernetes username of a Slack user: the ConfigMap's mapping, else the
// email Slack reports.
type Identities struct {
	// Reader reads the ConfigMap with the gateway's own identity.
	Reader    client.Reader
	Namespace string
	Slack     Slack
	// Now tells the time, for EmailTTL; nil is time.Now.
	Now func() time.Time

	mu     sync.Mutex
	emails map[string]email
}

// email is what Slack reported for a user, and until when it is used.
type email struct {
	address string
	expires time.Time
}

// ErrUnknownUser is wrapped when a Slack user has no Kubernetes username.
var ErrUnknownUser = errors.New("no Kubernetes username")

// Username returns the username to act as for the Slack user.
func (i *Identities) Username(ctx context.Context, userID string) (string, error) {
	cm := &corev1.ConfigMap{}
	err := i.Reader.Get(ctx, client.ObjectKey{Namespace: i.Namespace, Name: IdentitiesConfigMap}, cm)
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading ConfigMap %s/%s: %w", i.Namespace, IdentitiesConfigMap, err)
	}
	user := strings.TrimSpace(cm.Data[userID])
	if user == "" {
		if user, err = i.email(ctx, userID); err != nil {
			return "", err
		}
	}
	if user == "" {
		return "", fmt.Errorf("%w for Slack user %s: Slack reports no email for them and ConfigMap %s in namespace %s does not map "+
			"them; a Firescope admin can add the key %s with their Kubernetes username as its value", ErrUnknownUser, userID,
			IdentitiesConfigMap, i.Namespace, userID)
	}
	// Kubernetes' own identities are never acted as, whatever a mapping or a Slack profile says.
	if strings.HasPrefix(user, "system:") {
		return "", fmt.Errorf("%w for Slack user %s: %q is a Kubernetes system identity, which the gateway never acts as", ErrUnknownUser, userID, user)
	}
	return user, nil
}

// email is the email Slack reports for the user, asked at most once per EmailTTL. Only the
// emails Slack reported are kept, keyed by the user they were asked for: a failure, or a user
// with no email, is asked again at the next command.
func (i *Identities) email(ctx context.Context, userID string) (string, error) {
	now := time.Now
	if i.Now != nil {
		now = i.Now
	}
	i.mu.Lock()
	e, found := i.emails[userID]
	i.mu.Unlock()
	if found && now().Before(e.expires) {
		return e.address, nil
	}
	address, err := i.Slack.UserEmail(ctx, userID)
	if err != nil || address == "" {
		return address, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.emails == nil || len(i.emails) >= maxEmails {
		// Full: start again rather than track ages; the next commands ask Slack afresh.
		i.emails = map[string]email{}
	}
	i.emails[userID] = email{address: address, expires: now().Add(EmailTTL)}
	return address, nil
}
