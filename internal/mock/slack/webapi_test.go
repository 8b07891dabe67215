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

package slack_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"firescope.dev/firescope/internal/mock/slack"
)

func TestTheFakeCreatesChannelsAndInvitesAsSlackDocumentsIt(t *testing.T) {
	w := slack.NewWebAPI("xoxb-test")
	defer w.Close()
	w.AddUser("U0RICARDO", "ricardo@example.com")
	w.AddChannel("inc-taken")
	api := slackgo.New("xoxb-test", slackgo.OptionAPIURL(w.APIURL()))
	create := func(name string) (*slackgo.Channel, error) {
		return api.CreateConversation(slackgo.CreateConversationParams{ChannelName: name})
	}

	ch, err := create("inc-router-latency")
	if err != nil || ch.ID == "" || ch.Name != "inc-router-latency" {
		t.Fatalf("create: %+v, %v", ch, err)
	}
	for name, want := range map[string]string{
		"inc-taken": "name_taken", "Inc Upper": "invalid_name_specials", strings.Repeat("a", 81): "invalid_name_maxlength",
	} {
		if _, err := create(name); err == nil || err.Error() != want {
			t.Errorf("create %q: %v, want %s", name, err, want)
		}
	}
	if _, err := api.InviteUsersToConversation(ch.ID, "U0RICARDO"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ channel, user, want string }{
		{ch.ID, "U0RICARDO", "already_in_channel"}, {ch.ID, "U0NOBODY", "user_not_found"}, {"C0NONE", "U0RICARDO", "channel_not_found"},
	} {
		if _, err := api.InviteUsersToConversation(tc.channel, tc.user); err == nil || err.Error() != tc.want {
			t.Errorf("invite %s to %s: %v, want %s", tc.user, tc.channel, err, tc.want)
		}
	}
	if got := w.Channels(); len(got) != 2 || got[1].Name != "inc-router-latency" || len(got[1].Members) != 1 || got[1].Members[0] != "U0RICARDO" {
		t.Fatalf("channels %+v", got)
	}

	// Slack's rate limit: 429 with Retry-After, which slack-go reports as such.
	w.FailNext(1, http.StatusTooManyRequests, 2*time.Second)
	_, err = create("inc-later")
	var rl *slackgo.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("rate limited: %v", err)
	}
	if inv := w.Invalid(); len(inv) > 0 {
		t.Fatalf("requests Slack would refuse: %q", inv)
	}
}
