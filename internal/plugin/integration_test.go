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

package plugin_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/plugin"
	"firescope.dev/firescope/internal/testenv"
)

// The integration tests run the commands in-process against one control plane with the
// webhooks installed and the manager running, started on first use so that the unit tests
// of this package need neither.
func TestMain(m *testing.M) { testenv.Main(m) }

// kubeconfig writes a kubeconfig file that authenticates as user (in system:masters, so that
// RBAC is not in the way), so that the admission webhook sees that user.
func kubeconfig(t *testing.T, env *testenv.Env, user string) string {
	t.Helper()
	u, err := env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := os.WriteFile(p, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cli runs `kubectl incident` in-process, as one user, in one namespace.
type cli struct {
	t                    *testing.T
	env                  *testenv.Env
	user, ns, kubeconfig string
	// stdin and terminal are what the command reads, and whether a person is typing it.
	stdin    string
	terminal bool
	environ  map[string]string
}

type result struct {
	out, err string
	code     int
}

func (c cli) run(args ...string) result {
	c.t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(c.stdin)
	o := plugin.NewOptions(streams)
	o.IsTerminal = func(io.Reader) bool { return c.terminal }
	o.Getenv = func(k string) string { return c.environ[k] }
	code := plugin.Execute(o, append([]string{"--kubeconfig", c.kubeconfig, "-n", c.ns}, args...))
	return result{out.String(), errOut.String(), code}
}

// ok runs a command that must succeed.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("kubectl incident %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// fails runs a command that must fail, saying want.
func (c cli) fails(want string, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code == 0 || !strings.Contains(r.err, want) {
		c.t.Fatalf("kubectl incident %s: exit %d, want a failure saying %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.out, r.err)
	}
	return r
}

// setup starts (or reuses) the control plane and makes a namespace for one test.
func setup(t *testing.T, user string) (cli, *testenv.Env) {
	env := testenv.Shared(t)
	ns := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(ns) > 50 {
		ns = ns[:50]
	}
	ns = strings.TrimRight(ns, "-")
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return cli{t: t, env: env, user: user, ns: ns, kubeconfig: kubeconfig(t, env, user)}, env
}

func get(t *testing.T, env *testenv.Env, ns, name string) *v1alpha1.Incident {
	t.Helper()
	inc := &v1alpha1.Incident{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

// hasTimeline waits until the incident's timeline has an entry of type with message, by.
func hasTimeline(t *testing.T, env *testenv.Env, ns, name string, typ v1alpha1.TimelineEntryType, message, by string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		inc := get(t, env, ns, name)
		for _, e := range inc.Status.Timeline {
			if e.Type == typ && e.Message == message && e.By == by {
				return nil
			}
		}
		return fmt.Errorf("no %s %q by %q in %+v", typ, message, by, inc.Status.Timeline)
	})
}

func TestDeclareMakesTheDeclarerICAndNamesTheIncidentAfterItsTitle(t *testing.T) {
	c, env := setup(t, "ricardo")
	out := c.ok("declare", "EC2", "API", "errors")
	if want := "incident.firescope.dev/ec2-api-errors declared (Investigating), IC ricardo\n"; out != want {
		t.Fatalf("declare printed %q, want %q", out, want)
	}
	inc := get(t, env, c.ns, "ec2-api-errors")
	if inc.Spec.Title != "EC2 API errors" || inc.Spec.Roles.Commander != "ricardo" || inc.Spec.State != v1alpha1.StateInvestigating {
		t.Fatalf("declared %+v", inc.Spec)
	}
	hasTimeline(t, env, c.ns, "ec2-api-errors", v1alpha1.TimelineHandoff, "IC -> ricardo", "ricardo")

	// Declaring is creating: the same title again must not touch the first incident.
	c.fails(`incident "ec2-api-errors" already exists`, "declare", "EC2 API errors", "--state", "Major")
	if got := get(t, env, c.ns, "ec2-api-errors").Spec.State; got != v1alpha1.StateInvestigating {
		t.Fatalf("a second declaration changed the state to %s", got)
	}

	out = c.ok("declare", "Failover drill", "--drill", "--ic", "keiko", "--state", "major", "--name", "drill-1")
	if !strings.Contains(out, "drill-1 declared [DRILL] (Major), IC keiko") {
		t.Fatalf("declare --drill printed %q", out)
	}
	if d := get(t, env, c.ns, "drill-1"); !d.Spec.Drill || d.Spec.Roles.Commander != "keiko" {
		t.Fatalf("drill declared as %+v", d.Spec)
	}
}

func TestConcurrentDeclarationsOfOneNameDeclareOnce(t *testing.T) {
	c, env := setup(t, "ricardo")
	for round := range 5 {
		name := fmt.Sprintf("db-down-%d", round)
		results := make(chan result, 2)
		for _, ic := range []string{"ricardo", "greg"} {
			go func() { results <- c.run("declare", "DB down", "--name", name, "--ic", ic) }()
		}
		var declared []string
		for range 2 {
			if r := <-results; r.code == 0 {
				declared = append(declared, r.out)
			} else if !strings.Contains(r.err, "already exists") {
				t.Fatalf("round %d: exit %d: %s", round, r.code, r.err)
			}
		}
		if len(declared) != 1 {
			t.Fatalf("round %d: %d declarations succeeded: %q", round, len(declared), declared)
		}
		ic := get(t, env, c.ns, name).Spec.Roles.Commander
		if !strings.Contains(declared[0], "IC "+string(ic)) {
			t.Fatalf("round %d: told %q, but the IC is %s", round, declared[0], ic)
		}
	}
}

func TestDeclareStartingResolvedIsRefusedInTheAPIServersWords(t *testing.T) {
	c, _ := setup(t, "ricardo")
	c.fails("a new incident cannot start Resolved", "declare", "Already fine", "--state", "Resolved")
}

func TestStateCommandsMoveAlongTheTableAndKeepWhatEarlierCommandsSet(t *testing.T) {
	c, env := setup(t, "ricardo")
	c.ok("declare", "Postgres provisioning", "--name", "pg", "--ic", "noah")
	hasTimeline(t, env, c.ns, "pg", v1alpha1.TimelineDeclared, "Incident declared (Investigating)", "ricardo")
	// Where a step names a timeline entry, the test waits for the controller to record it:
	// a reopen is recorded only once the resolution before it was.
	steps := []struct {
		args     []string
		out      string
		want     v1alpha1.IncidentState
		recorded v1alpha1.TimelineEntryType
		message  string
	}{
		{args: []string{"confirm", "pg"}, out: "incident.firescope.dev/pg confirmed\n", want: v1alpha1.StateConfirmed},
		{args: []string{"escalate", "pg"}, out: "incident.firescope.dev/pg escalated to Major\n", want: v1alpha1.StateMajor},
		{args: []string{"escalate", "pg"}, out: "incident.firescope.dev/pg is already Major\n", want: v1alpha1.StateMajor},
		{args: []string{"confirm", "pg"}, out: "incident.firescope.dev/pg is already Major\n", want: v1alpha1.StateMajor},
		{args: []string{"downgrade", "pg"}, out: "incident.firescope.dev/pg downgraded to Confirmed\n", want: v1alpha1.StateConfirmed},
		{args: []string{"resolve", "pg"}, out: "incident.firescope.dev/pg resolved\n", want: v1alpha1.StateResolved,
			recorded: v1alpha1.TimelineStateChanged, message: "Incident Resolved"},
		{args: []string{"reopen", "pg", "--state", "Major"}, out: "incident.firescope.dev/pg reopened (Major)\n", want: v1alpha1.StateMajor,
			recorded: v1alpha1.TimelineReopened, message: "Incident reopened"},
	}
	for _, s := range steps {
		if s.args[0] == "confirm" && s.want == v1alpha1.StateMajor {
			// A stale terminal's confirm of a Major incident would downgrade it: refused.
			c.fails(`incident "pg" is Major: only an Investigating incident can be confirmed; to lower a Major incident to Confirmed, `+"`kubectl incident downgrade pg`", s.args...)
			continue
		}
		if out := c.ok(s.args...); out != s.out {
			t.Fatalf("%v printed %q, want %q", s.args, out, s.out)
		}
		inc := get(t, env, c.ns, "pg")
		// Each apply carries what the plugin applied before: the title and the IC stay.
		if inc.Spec.State != s.want || inc.Spec.Title != "Postgres provisioning" || inc.Spec.Roles.Commander != "noah" {
			t.Fatalf("after %v: %+v", s.args, inc.Spec)
		}
		if s.recorded != "" {
			hasTimeline(t, env, c.ns, "pg", s.recorded, s.message, "ricardo")
		}
	}
	c.ok("downgrade", "pg", "--dry-run", "server")
	if got := get(t, env, c.ns, "pg").Spec.State; got != v1alpha1.StateMajor {
		t.Fatalf("a server dry run changed the state to %s", got)
	}
	c.ok("downgrade", "pg")
	if out := c.ok("downgrade", "pg"); out != "incident.firescope.dev/pg is already Confirmed\n" {
		t.Fatalf("a second downgrade printed %q", out)
	}
	// Downgrading an Investigating incident would escalate it: refused before any write.
	c.ok("declare", "Something odd", "--name", "odd")
	c.fails(`incident "odd" is Investigating: only a Major incident can be downgraded`, "downgrade", "odd")
	c.fails("is Confirmed, not Resolved", "reopen", "pg")
	c.ok("resolve", "pg")
	c.fails("reopen it with `kubectl incident reopen pg --state Major`", "escalate", "pg")
	// Resolved, it has a post-mortem, which status shows with who should own it.
	testenv.Eventually(t, 15*time.Second, func() error {
		if st := c.ok("status", "pg"); !strings.Contains(st, "pg: Draft, owner nobody yet (noah proposed), due ") {
			return fmt.Errorf("status:\n%s", st)
		}
		return nil
	})
}

func TestDryRunsChangeNothing(t *testing.T) {
	c, env := setup(t, "ricardo")
	c.ok("declare", "Queue backlog", "--name", "queue")
	if out := c.ok("escalate", "queue", "--dry-run=server"); out != "incident.firescope.dev/queue escalated to Major (server dry run)\n" {
		t.Fatalf("server dry run printed %q", out)
	}
	out := c.ok("handoff", "queue", "--ic", "greg", "--dry-run=client")
	for _, want := range []string{"kind: Incident", "commander: greg", "title: Queue backlog", "state: Investigating", "resourceVersion:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("client dry run does not show %q:\n%s", want, out)
		}
	}
	c.ok("sitrep", "queue", "--summary", "backlog", "--dry-run=server")
	c.ok("declare", "Never declared", "--dry-run=server")
	c.ok("update", "queue", "--status", "investigating", "--message", "Some jobs are delayed.", "--dry-run=server")
	inc := get(t, env, c.ns, "queue")
	if inc.Spec.State != v1alpha1.StateInvestigating || inc.Spec.Roles.Commander != "ricardo" || len(inc.Spec.Sitreps) != 0 {
		t.Fatalf("a dry run changed the incident: %+v", inc.Spec)
	}
	var incs v1alpha1.IncidentList
	var sus v1alpha1.StatusUpdateList
	if err := env.Client.List(context.Background(), &incs, client.InNamespace(c.ns)); err != nil || len(incs.Items) != 1 {
		t.Fatalf("incidents after a dry-run declare: %d %v", len(incs.Items), err)
	}
	if err := env.Client.List(context.Background(), &sus, client.InNamespace(c.ns)); err != nil || len(sus.Items) != 0 {
		t.Fatalf("status updates after a dry run: %d %v", len(sus.Items), err)
	}
}

// applyAs applies an Incident manifest with server-side apply, as a GitOps tool does.
func applyAs(t *testing.T, env *testenv.Env, manager, ns, name, manifest string, force bool) error {
	t.Helper()
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gvr := v1alpha1.GroupVersion.WithResource("incidents")
	_, err = dc.Resource(gvr).Namespace(ns).Patch(ctx, name, types.ApplyYAMLPatchType, []byte(manifest), metav1.PatchOptions{FieldManager: manager, Force: &force})
	return err
}

func TestHandoffOfAFieldAnotherManagerOwnsFailsUntilForced(t *testing.T) {
	c, env := setup(t, "greg")
	err := applyAs(t, env, "gitops", c.ns, "db", `
apiVersion: firescope.dev/v1alpha1
kind: Incident
metadata: {name: db}
spec:
  title: Database failover stuck
  roles: {commander: ricardo, communications: keiko}
`, false)
	if err != nil {
		t.Fatal(err)
	}
	r := c.fails(`conflict with "gitops"`, "handoff", "db", "--ic", "greg")
	for _, want := range []string{".spec.roles.commander", "hint: another field manager owns .spec.roles.commander", "--force-conflicts"} {
		if !strings.Contains(r.err, want) {
			t.Fatalf("the conflict does not say %q:\n%s", want, r.err)
		}
	}
	if ic := get(t, env, c.ns, "db").Spec.Roles.Commander; ic != "ricardo" {
		t.Fatalf("a refused hand-off changed the IC to %s", ic)
	}
	// A field nobody else owns is handed off at once, next to the one Git owns.
	c.ok("handoff", "db", "--ops", "postgres=noah")

	r = c.run("handoff", "db", "--ic", "greg", "--force-conflicts")
	if r.code != 0 || !strings.Contains(r.err, `Warning: taking spec.roles.commander over from "gitops"`) {
		t.Fatalf("forced hand-off: exit %d\n%s%s", r.code, r.out, r.err)
	}
	inc := get(t, env, c.ns, "db")
	if inc.Spec.Roles.Commander != "greg" || inc.Spec.Roles.Communications != "keiko" || len(inc.Spec.Roles.Operations) != 1 || inc.Spec.Roles.Operations[0].Supervisor != "noah" {
		t.Fatalf("roles after the forced hand-off: %+v", inc.Spec.Roles)
	}
	hasTimeline(t, env, c.ns, "db", v1alpha1.TimelineHandoff, "IC -> greg", "greg")
	hasTimeline(t, env, c.ns, "db", v1alpha1.TimelineHandoff, "Ops/postgres -> noah", "greg")
}

func TestFieldsSetByHandWithKubectlAreTakenOverWithANote(t *testing.T) {
	c, env := setup(t, "greg")
	// As `kubectl apply -f` (client-side) writes it: an Update by kubectl-client-side-apply.
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: c.ns},
		Spec: v1alpha1.IncidentSpec{Title: "Database failover stuck", State: v1alpha1.StateInvestigating, Roles: v1alpha1.Roles{Commander: "ricardo"}}}
	if err := env.Client.Create(context.Background(), inc, client.FieldOwner("kubectl-client-side-apply")); err != nil {
		t.Fatal(err)
	}
	r := c.run("confirm", "db")
	if r.code != 0 || !strings.Contains(r.err, `Note: taking over fields last set by "kubectl-client-side-apply"`) {
		t.Fatalf("confirm: exit %d\n%s%s", r.code, r.out, r.err)
	}
	c.ok("handoff", "db", "--ic", "greg")
	if got := get(t, env, c.ns, "db"); got.Spec.State != v1alpha1.StateConfirmed || got.Spec.Roles.Commander != "greg" {
		t.Fatalf("after the plugin: %s, IC %s", got.Spec.State, got.Spec.Roles.Commander)
	}
	// Another tool's Update is not a person's kubectl: it still conflicts.
	inc = &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: c.ns},
		Spec: v1alpha1.IncidentSpec{Title: "API latency", State: v1alpha1.StateInvestigating, Roles: v1alpha1.Roles{Commander: "ricardo"}}}
	if err := env.Client.Create(context.Background(), inc, client.FieldOwner("argocd-controller")); err != nil {
		t.Fatal(err)
	}
	c.fails(`conflict with "argocd-controller"`, "handoff", "api", "--ic", "greg")
}

func TestConcurrentSitrepsAreAllKept(t *testing.T) {
	c, env := setup(t, "ricardo")
	c.ok("declare", "API latency", "--name", "latency")
	const n = 6
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			results[i] = c.run("sitrep", "latency", "--summary", fmt.Sprintf("update %d", i), "--actions", "watching")
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("sitrep %d: exit %d: %s", i, r.code, r.err)
		}
	}
	inc := get(t, env, c.ns, "latency")
	var got []string
	for _, s := range inc.Spec.Sitreps {
		if s.Author != "ricardo" || s.At == nil {
			t.Fatalf("sitrep without author or time: %+v", s)
		}
		got = append(got, s.Summary)
	}
	slices.Sort(got)
	if want := []string{"update 0", "update 1", "update 2", "update 3", "update 4", "update 5"}; !slices.Equal(got, want) {
		t.Fatalf("sitreps %q, want %q", got, want)
	}
	hasTimeline(t, env, c.ns, "latency", v1alpha1.TimelineSitrep, "Sitrep 6 from ricardo: "+inc.Spec.Sitreps[5].Summary, "ricardo")
}

func TestSitrepLinkIsCheckedByTheAPIServer(t *testing.T) {
	c, _ := setup(t, "ricardo")
	c.ok("declare", "Bad link", "--name", "link")
	c.fails("url must be an absolute http or https URL", "sitrep", "link", "--summary", "s", "--link", "graph=ftp://example.com/x")
}

func TestSitrepInTheEditor(t *testing.T) {
	c, env := setup(t, "ricardo")
	c.ok("declare", "Edited", "--name", "edited")
	dir := t.TempDir()
	// An editor that fills in the summary, as a person would.
	fill := filepath.Join(dir, "fill")
	script := "#!/bin/sh\nsed -i 's/^summary: |$/summary: Dyno scaling fails in EU./' \"$1\"\n"
	if err := os.WriteFile(fill, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.environ = map[string]string{"EDITOR": fill}
	if out := c.ok("sitrep", "edited"); out != "incident.firescope.dev/edited sitrep 1 posted by ricardo\n" {
		t.Fatalf("sitrep printed %q", out)
	}
	// KUBE_EDITOR comes first; closing the template unchanged posts nothing.
	c.environ = map[string]string{"KUBE_EDITOR": "true", "EDITOR": fill}
	r := c.run("sitrep", "edited")
	if r.code != 0 || !strings.Contains(r.err, "Edit cancelled: no sitrep posted.") {
		t.Fatalf("unchanged template: exit %d %s", r.code, r.err)
	}
	inc := get(t, env, c.ns, "edited")
	if len(inc.Spec.Sitreps) != 1 || inc.Spec.Sitreps[0].Summary != "Dyno scaling fails in EU." {
		t.Fatalf("sitreps %+v", inc.Spec.Sitreps)
	}
}

func TestUpdateShowsWordingWarningsBeforeItPublishes(t *testing.T) {
	c, env := setup(t, "keiko")
	c.ok("declare", "EC2 API errors")
	eta := "Postgres provisioning is failing. We expect a fix by 5pm."
	list := func() []string {
		var sus v1alpha1.StatusUpdateList
		if err := env.Client.List(context.Background(), &sus, client.InNamespace(c.ns)); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range sus.Items {
			names = append(names, s.Name+": "+s.Spec.Message)
		}
		slices.Sort(names)
		return names
	}

	// At a terminal, the person sees the warning and says no: nothing is created.
	c.terminal, c.stdin = true, "n\n"
	r := c.run("update", "ec2-api-errors", "--status", "identified", "--message", eta)
	if r.code != 0 || !strings.Contains(r.err, "Warning: status update explicit-eta:") || !strings.Contains(r.err, "Not published.") {
		t.Fatalf("declined update: exit %d\n%s", r.code, r.err)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("a declined update was created: %q", got)
	}

	// Says yes: created once, its warning printed once.
	c.stdin = "y\n"
	r = c.run("update", "ec2-api-errors", "--status", "identified", "--message", eta, "--component", "Postgres provisioning=partial_outage")
	if r.code != 0 || strings.Count(r.err, "explicit-eta") != 1 || !strings.Contains(r.out, "statusupdate.firescope.dev/ec2-api-errors-1 created") {
		t.Fatalf("accepted update: exit %d\n%s%s", r.code, r.out, r.err)
	}

	// Without a terminal (a script), it publishes after printing the warnings.
	c.terminal, c.stdin = false, ""
	good := "Creating new Postgres databases is failing for some customers. We have identified the cause and are rolling out a fix. " +
		"Existing databases are not affected; if you need a new database now, create it in the EU region. Next update in 30 minutes."
	r = c.run("update", "ec2-api-errors", "--status", "identified", "--message", good)
	if r.code != 0 || strings.Contains(r.err, "Warning") {
		t.Fatalf("well-worded update: exit %d\n%s", r.code, r.err)
	}
	if got, want := list(), []string{"ec2-api-errors-1: " + eta, "ec2-api-errors-2: " + good}; !slices.Equal(got, want) {
		t.Fatalf("status updates %q, want %q", got, want)
	}
	su := &v1alpha1.StatusUpdate{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: c.ns, Name: "ec2-api-errors-1"}, su); err != nil {
		t.Fatal(err)
	}
	if len(su.Spec.Components) != 1 || su.Spec.Components[0] != (v1alpha1.UpdateComponent{Name: "Postgres provisioning", Status: "partial_outage"}) {
		t.Fatalf("components %+v", su.Spec.Components)
	}
	c.fails(`incidents.firescope.dev "nope" not found`, "update", "nope", "--status", "identified", "--message", good)
}

func TestReadCommandsShowTheResponse(t *testing.T) {
	c, env := setup(t, "ricardo")
	c.ok("declare", "AWS EC2 API problems", "--state", "Major", "--name", "ec2")
	c.ok("handoff", "ec2", "--comms", "keiko", "--ops", "postgres=noah")
	c.ok("sitrep", "ec2", "--summary", "EC2 API errors", "--impact", "Postgres provisioning", "--actions", "Noah watches the queue",
		"--link", "aws-ticket=https://aws.amazon.com/support/case?caseId=1")
	hasTimeline(t, env, c.ns, "ec2", v1alpha1.TimelineSitrep, "Sitrep 1 from ricardo: EC2 API errors", "ricardo")

	tl := c.ok("timeline", "ec2")
	for _, want := range []string{"TIME", "Declared", "Handoff", "IC -> ricardo", "Comms -> keiko", "Ops/postgres -> noah", "Sitrep 1 from ricardo"} {
		if !strings.Contains(tl, want) {
			t.Fatalf("timeline does not show %q:\n%s", want, tl)
		}
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		st := c.ok("status", "ec2")
		for _, want := range []string{"ec2: AWS EC2 API problems", "Major, since", "keiko", "postgres: noah", "1 posted", "by ricardo; next due",
			"Postgres provisioning (sitrep 1)", "CustomersInformed (Pending)", "no status update yet"} {
			if !strings.Contains(st, want) {
				return fmt.Errorf("status does not show %q:\n%s", want, st)
			}
		}
		if strings.Contains(st, "ImpactKnown") {
			return fmt.Errorf("status says the impact is unknown though sitrep 1 describes it:\n%s", st)
		}
		return nil
	})
	ls := c.ok("list")
	if !strings.Contains(ls, "NEXT SITREP") || !strings.Contains(ls, "ec2") || strings.Contains(ls, "NAMESPACE") {
		t.Fatalf("list:\n%s", ls)
	}
	if all := c.ok("list", "-A"); !strings.Contains(all, c.ns) {
		t.Fatalf("list -A does not show the namespace:\n%s", all)
	}
	// Dynamic completion of incident names, as the shell asks for it.
	comp := c.ok("__complete", "escalate", "")
	if !strings.Contains(comp, "ec2\tMajor: AWS EC2 API problems") {
		t.Fatalf("completion:\n%s", comp)
	}
}
