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

// Command slack-command sends a slash command to the chat gateway exactly as Slack would: a
// signed form post. It is for trying the gateway on `make run`'s cluster, which has no Slack:
//
//	hack/slack-command.sh /incident declare EC2 API errors --major
//
// A mention such as @ricardo becomes the Slack mention <@U0RICARDO|ricardo>, and the local
// ConfigMap firescope-chat-identities is given U0RICARDO: ricardo, as a Firescope admin would
// map a Slack user whose email is not their Kubernetes username.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"firescope.dev/firescope/internal/gateway"
	"firescope.dev/firescope/internal/localcluster"
)

var (
	mention = regexp.MustCompile(`(^|\s)@([a-z0-9][a-z0-9._-]*)`)
	nonID   = regexp.MustCompile(`[^a-z0-9]`)
)

func main() {
	dir := flag.String("dir", ".firescope", "The directory of `make run`'s cluster.")
	addr := flag.String("gateway", "http://127.0.0.1:8081", "The gateway.")
	user := flag.String("user", localcluster.LocalSlackUser, "The Slack user ID to send as.")
	channel := flag.String("channel", "C0LOCAL", "The Slack channel ID to send from.")
	flag.Parse()
	if err := run(*dir, *addr, *user, *channel, strings.Join(flag.Args(), " ")); err != nil {
		fmt.Fprintln(os.Stderr, "slack-command:", err)
		os.Exit(1)
	}
}

func run(dir, addr, user, channel, line string) error {
	command, text, _ := strings.Cut(strings.TrimSpace(line), " ")
	if command != "/incident" {
		return fmt.Errorf("usage: slack-command.sh /incident TEXT")
	}
	ids := map[string]string{}
	text = mention.ReplaceAllStringFunc(text, func(m string) string {
		sub := mention.FindStringSubmatch(m)
		id := "U0" + strings.ToUpper(nonID.ReplaceAllString(sub[2], ""))
		id = id[:min(len(id), 21)]
		ids[id] = sub[2]
		return fmt.Sprintf("%s<@%s|%s>", sub[1], id, sub[2])
	})
	if len(ids) > 0 {
		if err := mapUsers(filepath.Join(dir, "kubeconfig"), ids); err != nil {
			return err
		}
	}
	secret, err := os.ReadFile(filepath.Join(dir, "slack-signing-secret"))
	if err != nil {
		return fmt.Errorf("%w: is `make run` running?", err)
	}
	form := url.Values{"command": {command}, "text": {text}, "user_id": {user}, "channel_id": {channel},
		"team_id": {"T0LOCAL"}, "trigger_id": {fmt.Sprintf("%d.local", time.Now().UnixNano())}}
	req, err := gateway.SignedRequest(addr, "/slack/commands", strings.TrimSpace(string(secret)), time.Now(), form)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var msg struct{ Text string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &msg) != nil {
		return fmt.Errorf("the gateway answered %s: %s", resp.Status, b)
	}
	fmt.Println(msg.Text)
	return nil
}

func mapUsers(kubeconfig string, ids map[string]string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"data": ids})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cs.CoreV1().ConfigMaps("default").Patch(ctx, gateway.IdentitiesConfigMap, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "slack-command"})
	return err
}
