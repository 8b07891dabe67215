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

package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/gateway"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/mock/pagerduty"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	botToken      = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
	channel       = "C0INCIDENT"
)

// chat is a gateway in front of a real API server, acting through the RBAC that
// config/gateway ships, with a fake Slack Web API, Slack's incoming webhook and PagerDuty.
type chat struct {
	t        *testing.T
	e        *testenv.Env
	ns       string
	url      string
	api      *slack.WebAPI
	comms    *slack.Server
	pager    *pagerduty.Server
	server   *gateway.Server
	commands int
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// loadRBAC creates the objects of a config/ YAML file, prefixed as kustomize prefixes them.
func loadRBAC(t *testing.T, e *testenv.Env, path, ns string) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), path))
	must(t, err)
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
		}
		must(t, yaml.Unmarshal([]byte(doc), &obj))
		var o client.Object
		switch obj.Kind {
		case "ClusterRole":
			o = &rbacv1.ClusterRole{}
		case "Role":
			o = &rbacv1.Role{}
		default:
			continue
		}
		must(t, yaml.Unmarshal([]byte(doc), o))
		if !strings.HasPrefix(o.GetName(), "incident-") {
			o.SetName("firescope-" + o.GetName())
		}
		if obj.Kind == "Role" {
			o.SetNamespace(ns)
		}
		if err := e.Client.Create(context.Background(), o); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
}

func bind(t *testing.T, e *testenv.Env, ns, role, kind, user string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: role},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}
	must(t, e.Client.Create(context.Background(), rb))
}

func newChat(t *testing.T) *chat {
	e := testenv.Shared(t)
	ctx := context.Background()
	ns := fmt.Sprintf("chat-%d", time.Now().UnixNano()%1e9)
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	// The gateway's own identity has only the shipped RBAC.
	loadRBAC(t, e, "config/gateway/rbac.yaml", ns)
	loadRBAC(t, e, "config/rbac/incident_editor_role.yaml", ns)
	gw, err := e.AddUser(envtest.User{Name: "gateway-" + ns}, nil)
	must(t, err)
	must(t, e.Client.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "gateway-" + ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "firescope-gateway-impersonator"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "gateway-" + ns}}}))
	bind(t, e, ns, "firescope-gateway-identities", "Role", "gateway-"+ns)
	for _, u := range []string{"ricardo@example.com", "keiko"} {
		bind(t, e, ns, "incident-editor-role", "ClusterRole", u)
	}
	must(t, e.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: gateway.IdentitiesConfigMap, Namespace: ns},
		Data: map[string]string{"U0KEIKO": "keiko", "U0ROOT": "system:admin"}}))

	c := &chat{t: t, e: e, ns: ns, api: slack.NewWebAPI(botToken), comms: slack.New(), pager: pagerduty.New()}
	t.Cleanup(c.api.Close)
	t.Cleanup(c.comms.Close)
	t.Cleanup(c.pager.Close)
	c.api.AddUser("U0RICARDO", "ricardo@example.com")
	c.api.AddUser("U0KEIKO", "keiko@example.com")
	c.api.AddUser("U0MALLORY", "mallory@example.com")
	c.api.AddUser("U0NOEMAIL", "")

	// The team's policy: announcements to Slack, pages to PagerDuty.
	for name, kv := range map[credentials.Provider][2]string{credentials.Slack: {"webhook-url", c.comms.WebhookURL()}, credentials.PagerDuty: {"routing-key", "R0123456789ABCDEF0123456789ABCDE"}} {
		must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: string(name), Namespace: ns,
			Labels: map[string]string{credentials.Label: "true"}, Annotations: credentials.Annotations(name, "127.0.0.1")},
			StringData: map[string]string{kv[0]: kv[1]}}))
	}
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{
			CommsChannel: &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: string(credentials.Slack), Key: "webhook-url"}}},
			Paging: &v1alpha1.Paging{PagerDuty: v1alpha1.PagerDuty{URL: c.pager.URL + "/v2/enqueue",
				RoutingKeySecretRef: v1alpha1.SecretKeyReference{Name: string(credentials.PagerDuty), Key: "routing-key"}}},
		}}))

	c.server = &gateway.Server{
		SigningSecret: signingSecret,
		Slack:         gateway.NewWebAPI(botToken, c.api.APIURL(), &http.Client{Timeout: 5 * time.Second}),
		Kube:          &gateway.Kube{Base: gw.Config(), Namespace: ns},
		Log:           testr.New(t),
		AckWithin:     10 * time.Second,
	}
	own, err := client.New(gw.Config(), client.Options{Scheme: manager.NewScheme()})
	must(t, err)
	c.server.Identities = &gateway.Identities{Reader: own, Namespace: ns, Slack: c.server.Slack}
	srv := httptest.NewServer(c.server.Handler())
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// command sends a slash command as Slack does and returns the HTTP status and the text of the
// answer.
func (c *chat) command(user, text string) (int, string) {
	c.t.Helper()
	c.commands++
	form := url.Values{"command": {"/incident"}, "text": {text}, "user_id": {user}, "channel_id": {channel},
		"team_id": {"T0FIRESCOP"}, "trigger_id": {fmt.Sprintf("1337.%d.trigger", c.commands)},
		"response_url": {c.api.ResponseURL(fmt.Sprint(c.commands))}}
	req, err := gateway.SignedRequest(c.url, "/slack/commands", signingSecret, time.Now(), form)
	must(c.t, err)
	return c.send(req)
}

func (c *chat) send(req *http.Request) (int, string) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	must(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var msg struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(b, &msg) == nil && msg.Text != "" {
		return resp.StatusCode, msg.Text
	}
	return resp.StatusCode, string(b)
}

func (c *chat) incidents() []v1alpha1.Incident {
	list := &v1alpha1.IncidentList{}
	must(c.t, c.e.Client.List(context.Background(), list, client.InNamespace(c.ns)))
	return list.Items
}

func (c *chat) incident(name string) *v1alpha1.Incident {
	inc := &v1alpha1.Incident{}
	must(c.t, c.e.Client.Get(context.Background(), client.ObjectKey{Namespace: c.ns, Name: name}, inc))
	return inc
}

func TestSignedDeclareOpensAnIncidentCommandedByWhoeverTypedIt(t *testing.T) {
	c := newChat(t)
	code, text := c.command("U0RICARDO", `declare EC2 API errors --major`)
	if code != http.StatusOK || !strings.Contains(text, "declared") {
		t.Fatalf("answer %d %q", code, text)
	}
	incs := c.incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	inc := incs[0]
	if inc.Spec.Roles.Commander != "ricardo@example.com" || inc.Spec.State != v1alpha1.StateMajor || inc.Spec.Title != "EC2 API errors" {
		t.Fatalf("incident %s: IC %q, state %s, title %q", inc.Name, inc.Spec.Roles.Commander, inc.Spec.State, inc.Spec.Title)
	}
	if inc.Labels[gateway.ChannelLabel] != channel {
		t.Fatalf("the channel is not linked: labels %v", inc.Labels)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		tl := c.incident(inc.Name).Status.Timeline
		if len(tl) == 0 || tl[0].By != "ricardo@example.com" {
			return fmt.Errorf("timeline %+v", tl)
		}
		return nil
	})
	// In the linked channel the incident is implied.
	code, text = c.command("U0RICARDO", "status")
	if code != http.StatusOK || !strings.Contains(text, inc.Name) || !strings.Contains(text, "ricardo@example.com") {
		t.Fatalf("status: %d %q", code, text)
	}
	if inv := c.api.Invalid(); len(inv) > 0 {
		t.Fatalf("requests Slack would refuse: %q", inv)
	}
}

func TestRequestsSlackDidNotSignChangeNothing(t *testing.T) {
	c := newChat(t)
	form := url.Values{"command": {"/incident"}, "text": {"declare Forged"}, "user_id": {"U0RICARDO"}, "channel_id": {channel}}
	cases := map[string]func() *http.Request{
		"wrong secret": func() *http.Request {
			r, err := gateway.SignedRequest(c.url, "/slack/commands", "not-the-secret", time.Now(), form)
			must(t, err)
			return r
		},
		"six minutes old": func() *http.Request {
			r, err := gateway.SignedRequest(c.url, "/slack/commands", signingSecret, time.Now().Add(-6*time.Minute), form)
			must(t, err)
			return r
		},
		"no signature": func() *http.Request {
			r, err := gateway.SignedRequest(c.url, "/slack/commands", signingSecret, time.Now(), form)
			must(t, err)
			r.Header.Del("X-Slack-Signature")
			return r
		},
		"body changed after signing": func() *http.Request {
			r, err := gateway.SignedRequest(c.url, "/slack/commands", signingSecret, time.Now(), form)
			must(t, err)
			tampered := url.Values{"command": {"/incident"}, "text": {"declare Tampered"}, "user_id": {"U0RICARDO"}, "channel_id": {channel}}.Encode()
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
			return r
		},
		"oversized": func() *http.Request {
			big := url.Values{"command": {"/incident"}, "text": {"declare " + strings.Repeat("x", gateway.MaxBody)}, "user_id": {"U0RICARDO"}, "channel_id": {channel}}
			r, err := gateway.SignedRequest(c.url, "/slack/commands", signingSecret, time.Now(), big)
			must(t, err)
			return r
		},
		"interaction with a wrong secret": func() *http.Request {
			r, err := gateway.SignedRequest(c.url, "/slack/interactions", "not-the-secret", time.Now(), url.Values{"payload": {`{"type":"view_submission"}`}})
			must(t, err)
			return r
		},
	}
	for name, req := range cases {
		if code, text := c.send(req()); code != http.StatusUnauthorized {
			t.Errorf("%s: answered %d %q, want 401", name, code, text)
		}
	}
	if n := len(c.incidents()); n != 0 {
		t.Fatalf("%d incidents after unsigned requests", n)
	}
	if n := len(c.api.Requests()); n != 0 {
		t.Fatalf("the gateway called Slack %d times for unsigned requests", n)
	}
}

func TestUnknownAndUnauthorisedPeopleAreRefusedInTheAPIServersWords(t *testing.T) {
	c := newChat(t)
	_, text := c.command("U0NOEMAIL", "declare Nobody knows me")
	if !strings.Contains(text, "no Kubernetes username") || !strings.Contains(text, gateway.IdentitiesConfigMap) || !strings.Contains(text, "U0NOEMAIL") {
		t.Errorf("unmapped user told %q", text)
	}
	_, text = c.command("U0MALLORY", "declare Not allowed")
	if !strings.Contains(text, `User "mallory@example.com" cannot create resource "incidents"`) {
		t.Errorf("user without RBAC told %q", text)
	}
	_, text = c.command("U0ROOT", "declare As root")
	if !strings.Contains(text, "system identity") {
		t.Errorf("a mapping to system:admin told %q", text)
	}
	if n := len(c.incidents()); n != 0 {
		t.Fatalf("%d incidents after refused commands", n)
	}
}

func TestHandoffTypedInChatIsAnnouncedOnce(t *testing.T) {
	c := newChat(t)
	if _, text := c.command("U0RICARDO", "declare Router latency --confirmed"); !strings.Contains(text, "declared") {
		t.Fatal(text)
	}
	name := c.incidents()[0].Name
	_, text := c.command("U0RICARDO", "ic <@U0KEIKO|keiko>")
	if strings.HasPrefix(text, ":warning:") {
		t.Fatalf("hand-off refused: %q", text)
	}
	if ic := c.incident(name).Spec.Roles.Commander; ic != "keiko" {
		t.Fatalf("IC is %q", ic)
	}
	want := "IC -> keiko"
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := countContaining(c.comms.Texts(), want); n != 1 {
			return fmt.Errorf("%d announcements of %q: %q", n, want, c.comms.Texts())
		}
		return nil
	})
	// Nothing else comes to announce it again.
	time.Sleep(2 * time.Second)
	if n := countContaining(c.comms.Texts(), want); n != 1 {
		t.Fatalf("%d announcements of %q: %q", n, want, c.comms.Texts())
	}
	events := &eventsv1.EventList{}
	must(t, c.e.Client.List(context.Background(), events, client.InNamespace(c.ns)))
	handoffs := 0
	for _, ev := range events.Items {
		if ev.Reason == v1alpha1.EventHandoff && ev.Note == want {
			handoffs++
		}
	}
	if handoffs != 1 {
		t.Fatalf("%d Handoff Events %q", handoffs, want)
	}
}

func countContaining(texts []string, s string) int {
	n := 0
	for _, t := range texts {
		if strings.Contains(t, s) {
			n++
		}
	}
	return n
}

func TestPageICOpensAnIncidentAndPagesOnce(t *testing.T) {
	c := newChat(t)
	_, text := c.command("U0RICARDO", "page ic trouble adding pg dbs impacting deploys")
	if !strings.Contains(text, "An incident was opened on your behalf") {
		t.Fatalf("answer %q", text)
	}
	incs := c.incidents()
	if len(incs) != 1 || incs[0].Spec.State != v1alpha1.StateInvestigating || incs[0].Spec.Title != "trouble adding pg dbs impacting deploys" {
		t.Fatalf("incidents %+v", incs)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := len(c.pager.Events()); n != 1 {
			return fmt.Errorf("%d PagerDuty events", n)
		}
		return nil
	})
	// Paging again in the same channel names the open incident and opens nothing.
	_, text = c.command("U0RICARDO", "page ic still broken")
	if !strings.Contains(text, incs[0].Name) || len(c.incidents()) != 1 {
		t.Fatalf("second page: %q, %d incidents", text, len(c.incidents()))
	}
	time.Sleep(time.Second)
	if n := len(c.pager.Events()); n != 1 {
		t.Fatalf("%d PagerDuty events", n)
	}
}

// submitView posts a view submission of the form opened last, with the given values.
func (c *chat) submitView(user string, values map[string]any) (int, string) {
	c.t.Helper()
	views := c.api.Views()
	if len(views) == 0 {
		c.t.Fatal("no form was opened")
	}
	v := views[len(views)-1].View
	payload, _ := json.Marshal(map[string]any{
		"type": "view_submission", "user": map[string]any{"id": user},
		"view": map[string]any{"callback_id": v["callback_id"], "private_metadata": v["private_metadata"],
			"state": map[string]any{"values": values}},
	})
	req, err := gateway.SignedRequest(c.url, "/slack/interactions", signingSecret, time.Now(), url.Values{"payload": {string(payload)}})
	must(c.t, err)
	return c.send(req)
}

func text(id, v string) map[string]any {
	return map[string]any{id: map[string]any{"type": "plain_text_input", "value": v}}
}

func TestSitrepFormPostsSitrepsThatStayAppendOnly(t *testing.T) {
	c := newChat(t)
	c.command("U0RICARDO", "declare EC2 API errors --major")
	name := c.incidents()[0].Name
	if code, text := c.command("U0RICARDO", "sitrep"); code != http.StatusOK || strings.HasPrefix(text, ":") {
		t.Fatalf("sitrep: %d %q", code, text)
	}
	if cb := c.api.Views()[0].View["callback_id"]; cb != "firescope-sitrep" {
		t.Fatalf("opened %v", cb)
	}
	code, body := c.submitView("U0KEIKO", map[string]any{
		"summary": text("summary", "EC2 API errors in us-east-1"), "impact": text("impact", "Postgres provisioning fails"),
		"actions": text("actions", "Noah is on the AWS ticket"), "workaround": text("workaround", ""),
	})
	if code != http.StatusOK || body != "" {
		t.Fatalf("submission answered %d %q", code, body)
	}
	c.command("U0RICARDO", "sitrep")
	c.submitView("U0RICARDO", map[string]any{"summary": text("summary", "Recovering"), "impact": text("impact", ""),
		"actions": text("actions", ""), "workaround": text("workaround", "")})
	sitreps := c.incident(name).Spec.Sitreps
	if len(sitreps) != 2 || sitreps[0].Summary != "EC2 API errors in us-east-1" || sitreps[0].Author != "keiko" ||
		sitreps[0].Actions != "Noah is on the AWS ticket" || sitreps[1].Summary != "Recovering" || sitreps[1].Author != "ricardo@example.com" {
		t.Fatalf("sitreps %+v", sitreps)
	}
	if eph := c.api.Ephemerals(); len(eph) != 2 || eph[0].User != "U0KEIKO" || eph[0].Channel != channel {
		t.Fatalf("confirmations %+v", eph)
	}
	// A refused submission keeps the form open with the API server's words.
	code, body = c.submitView("U0MALLORY", map[string]any{"summary": text("summary", "Let me in")})
	if code != http.StatusOK || !strings.Contains(body, `"response_action":"errors"`) || !strings.Contains(body, "forbidden") {
		t.Fatalf("refused submission answered %d %q", code, body)
	}
	if n := len(c.incident(name).Spec.Sitreps); n != 2 {
		t.Fatalf("%d sitreps", n)
	}
}

func TestUpdateFormShowsWordingFindingsBeforeAnythingIsPublished(t *testing.T) {
	c := newChat(t)
	c.command("U0RICARDO", "declare EC2 API errors --major")
	c.command("U0RICARDO", "update")
	status := map[string]any{"status": map[string]any{"status": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "identified"}}}}
	values := func(msg string, anyway bool) map[string]any {
		v := map[string]any{"message": text("message", msg), "components": text("components", "")}
		for k, x := range status {
			v[k] = x
		}
		opts := []any{}
		if anyway {
			opts = append(opts, map[string]any{"value": "yes"})
		}
		v["anyway"] = map[string]any{"anyway": map[string]any{"type": "checkboxes", "selected_options": opts}}
		return v
	}
	eta := "Creating databases is failing. We expect a fix by 5pm."
	_, body := c.submitView("U0RICARDO", values(eta, false))
	if !strings.Contains(body, `"response_action":"errors"`) || !strings.Contains(body, "5pm") {
		t.Fatalf("findings not shown: %q", body)
	}
	list := &v1alpha1.StatusUpdateList{}
	must(t, c.e.Client.List(context.Background(), list, client.InNamespace(c.ns)))
	if len(list.Items) != 0 {
		t.Fatalf("%d status updates before the person decided", len(list.Items))
	}
	if _, body = c.submitView("U0RICARDO", values(eta, true)); body != "" {
		t.Fatalf("publishing anyway answered %q", body)
	}
	must(t, c.e.Client.List(context.Background(), list, client.InNamespace(c.ns)))
	if len(list.Items) != 1 || list.Items[0].Spec.Message != eta || list.Items[0].Spec.Status != "identified" {
		t.Fatalf("status updates %+v", list.Items)
	}
	// A message that names one of the components the form marks says what is broken.
	named := values("we are looking into the ledger sync. please retry later.", false)
	named["components"] = text("components", "ledger sync=partial_outage")
	if _, body = c.submitView("U0RICARDO", named); body != "" {
		t.Fatalf("a message naming its component answered %q", body)
	}
}

func TestSlowCommandsAreAcknowledgedThenAnsweredThroughResponseURL(t *testing.T) {
	c := newChat(t)
	c.server.AckWithin = time.Nanosecond
	code, text := c.command("U0RICARDO", "declare Slow API --confirmed")
	if code != http.StatusOK || text != "Working on it…" {
		t.Fatalf("answer %d %q", code, text)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if r := c.api.Responses(); len(r) != 1 || !strings.Contains(r[0].Text, "declared") {
			return fmt.Errorf("responses %+v", r)
		}
		return nil
	})
}

func TestDeclareCreatesADedicatedChannelWhenThePolicyAsks(t *testing.T) {
	c := newChat(t)
	ctx := context.Background()
	p := &v1alpha1.ResponsePolicy{}
	must(t, c.e.Client.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: "default"}, p))
	p.Spec.ChatChannel = &v1alpha1.ChatChannel{Create: true}
	must(t, c.e.Client.Update(ctx, p))
	// Mapped, so that conversations.create is the first call to Slack: it hits Slack's rate
	// limit once, and the name it asks for first is taken.
	cm := &corev1.ConfigMap{}
	must(t, c.e.Client.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: gateway.IdentitiesConfigMap}, cm))
	cm.Data["U0RICARDO"] = "ricardo@example.com"
	must(t, c.e.Client.Update(ctx, cm))
	c.api.AddChannel("inc-router-latency")
	c.api.FailNext(1, http.StatusTooManyRequests, time.Second)

	_, text := c.command("U0RICARDO", "declare Router latency --confirmed")
	chans := c.api.Channels()
	if len(chans) != 2 || chans[1].Name != "inc-router-latency-2" {
		t.Fatalf("channels %+v; answer %q", chans, text)
	}
	var creates []int
	for _, r := range c.api.Requests() {
		if r.Path == "/api/conversations.create" {
			creates = append(creates, r.Status)
		}
	}
	if len(creates) != 3 || creates[0] != http.StatusTooManyRequests {
		t.Fatalf("conversations.create answered %v: want the rate limit, name_taken, then the channel", creates)
	}
	ch := chans[1]
	if len(ch.Members) != 1 || ch.Members[0] != "U0RICARDO" {
		t.Fatalf("members of #%s: %v, want the IC", ch.Name, ch.Members)
	}
	if !strings.Contains(text, "Created <#"+ch.ID+"> and invited you") || !strings.Contains(text, "<#"+ch.ID+"> is linked to it") {
		t.Fatalf("answer %q", text)
	}
	incs := c.incidents()
	if len(incs) != 1 || incs[0].Labels[gateway.ChannelLabel] != ch.ID {
		t.Fatalf("incidents %v: want the one linked to %s", incs, ch.ID)
	}
	// Commands in the new channel act on it.
	form := url.Values{"command": {"/incident"}, "text": {"status"}, "user_id": {"U0RICARDO"}, "channel_id": {ch.ID}, "team_id": {"T0FIRESCOP"}}
	req, err := gateway.SignedRequest(c.url, "/slack/commands", signingSecret, time.Now(), form)
	must(t, err)
	if _, text := c.send(req); !strings.Contains(text, incs[0].Name) {
		t.Fatalf("status in the new channel: %q", text)
	}
	if inv := c.api.Invalid(); len(inv) > 0 {
		t.Fatalf("requests Slack would refuse: %q", inv)
	}
}

// Two people typing in turn share the gateway's connections and its memory of Slack's
// answers, never each other's identity: each is allowed or refused by their own RBAC, and
// the admission webhook records the one who was allowed.
func TestPeopleTypingInTurnEachActAsThemselves(t *testing.T) {
	c := newChat(t)
	if _, text := c.command("U0RICARDO", "declare Checkout errors --confirmed"); !strings.Contains(text, "declared") {
		t.Fatal(text)
	}
	name := c.incidents()[0].Name
	for i, verb := range []string{"escalate", "downgrade", "escalate", "downgrade"} {
		before := c.incident(name).Spec.State
		_, text := c.command("U0MALLORY", verb)
		if !strings.Contains(text, `User "mallory@example.com" cannot`) {
			t.Fatalf("round %d: mallory, who may not touch incidents, was told %q", i, text)
		}
		if state := c.incident(name).Spec.State; state != before {
			t.Fatalf("round %d: mallory's %s moved the incident from %s to %s", i, verb, before, state)
		}
		if _, text = c.command("U0RICARDO", verb); strings.HasPrefix(text, ":warning:") {
			t.Fatalf("round %d: ricardo's %s refused: %q", i, verb, text)
		}
		inc := c.incident(name)
		if inc.Spec.State == before {
			t.Fatalf("round %d: ricardo's %s left the incident %s", i, verb, before)
		}
		// The admission webhook records who the API server saw make the change.
		var by map[string]string
		must(t, json.Unmarshal([]byte(inc.Annotations[v1alpha1.AnnotationChangedBy]), &by))
		if by["state"] != "ricardo@example.com" {
			t.Fatalf("round %d: ricardo's %s recorded as made by %q", i, verb, by["state"])
		}
	}
	asked := map[string]int{}
	for _, r := range c.api.Requests() {
		if r.Path == "/api/users.info" {
			q, err := url.ParseQuery(string(r.Body))
			must(t, err)
			asked[q.Get("user")]++
		}
	}
	if want := map[string]int{"U0RICARDO": 1, "U0MALLORY": 1}; !maps.Equal(asked, want) {
		t.Fatalf("users.info asked %v, want each person once (their email is kept for %s)", asked, gateway.EmailTTL)
	}
}

// A mapping in the ConfigMap takes effect at the next command; an email changed in Slack
// within EmailTTL.
func TestIdentityChangesTakeEffect(t *testing.T) {
	c := newChat(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	ids := c.server.Identities
	ids.Now = func() time.Time { return now }
	username := func() string {
		t.Helper()
		u, err := ids.Username(ctx, "U0RICARDO")
		must(t, err)
		return u
	}
	if u := username(); u != "ricardo@example.com" {
		t.Fatalf("username %q", u)
	}
	c.api.AddUser("U0RICARDO", "ricardo@new.example.com")
	now = now.Add(gateway.EmailTTL - time.Second)
	if u := username(); u != "ricardo@example.com" {
		t.Fatalf("within EmailTTL of Slack's answer: username %q", u)
	}
	now = now.Add(time.Second)
	if u := username(); u != "ricardo@new.example.com" {
		t.Fatalf("EmailTTL after Slack's answer: username %q", u)
	}
	cm := &corev1.ConfigMap{}
	must(t, c.e.Client.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: gateway.IdentitiesConfigMap}, cm))
	cm.Data["U0RICARDO"] = "rico"
	must(t, c.e.Client.Update(ctx, cm))
	if u := username(); u != "rico" {
		t.Fatalf("mapped in the ConfigMap: username %q", u)
	}
}
