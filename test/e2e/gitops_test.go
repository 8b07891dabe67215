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

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"firescope.dev/firescope/internal/testenv"
)

// The GitOps tests apply the commits under config/samples/gitops/ the way Flux and Argo CD
// do (server-side apply, a field manager of their own, as a service account), interleaved
// with the built kubectl-incident binary run by the responders.

const (
	gitopsNS = "gitops"
	// gitopsSA is who a GitOps tool acts as; the timeline names it for changes made in Git.
	gitopsSA = "system:serviceaccount:flux-system:kustomize-controller"
)

// commandTimeout bounds each kubectl and plugin run.
const commandTimeout = time.Minute

// run runs a binary and returns its stdout and stderr.
func runBinary(stdin, bin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = root
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, strings.NewReader(stdin)
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// gitApply applies the commit's directory as a GitOps tool: server-side, field manager
// "gitops", as its service account. force is what Flux and Argo CD do by default.
func gitApply(commit string, force bool) (string, error) {
	args := []string{"--kubeconfig", cluster.Kubeconfig, "-n", gitopsNS, "apply", "--server-side", "--field-manager=gitops",
		"--as=" + gitopsSA, "--as-group=system:masters", "-f", filepath.Join("config", "samples", "gitops", commit)}
	if force {
		args = append(args, "--force-conflicts")
	}
	out, stderr, err := runBinary("", "kubectl", args...)
	if err != nil {
		return out, fmt.Errorf("kubectl apply of %s: %v: %s", commit, err, stderr)
	}
	return out, nil
}

// plugin runs bin/kubectl-incident as user against the local cluster.
func plugin(t *testing.T, user string, args ...string) (string, string, error) {
	t.Helper()
	bin := filepath.Join(root, "bin", "kubectl-incident")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("bin/kubectl-incident is missing: run `make build`")
	}
	base := []string{"--kubeconfig", cluster.Kubeconfig, "-n", gitopsNS}
	if user != "ricardo" {
		base = append(base, "--as="+user, "--as-group=system:masters")
	}
	return runBinary("", bin, append(base, args...)...)
}

// pluginOK runs the plugin and fails the test if it fails.
func pluginOK(t *testing.T, user string, args ...string) string {
	t.Helper()
	out, stderr, err := plugin(t, user, args...)
	if err != nil {
		t.Fatalf("kubectl incident %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

type gitopsIncident struct {
	Spec struct {
		State   string
		Roles   struct{ Commander string }
		Sitreps []struct{ Summary, Author string }
		Impact  struct{ CustomersAffected int }
		Links   []struct{ Name string }
	}
	Status struct{ Timeline []timelineEntry }
}

func getGitopsIncident(t *testing.T) gitopsIncident {
	t.Helper()
	out := k(t, "get", "incident", "db-failover", "-n", gitopsNS, "-o", "json")
	var inc gitopsIncident
	if err := json.Unmarshal([]byte(out), &inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

// handoffs are the timeline's hand-offs of the IC, as "message by who".
func handoffs(inc gitopsIncident) []string {
	var out []string
	for _, e := range inc.Status.Timeline {
		if e.Type == "Handoff" && strings.HasPrefix(e.Message, "IC -> ") {
			out = append(out, e.Message+" by "+e.By)
		}
	}
	return out
}

// waitForHandoffs waits until the timeline's IC hand-offs are want.
func waitForHandoffs(t *testing.T, want ...string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		if got := handoffs(getGitopsIncident(t)); !slices.Equal(got, want) {
			return fmt.Errorf("IC hand-offs in the timeline %q, want %q", got, want)
		}
		return nil
	})
}

// sitrepsAndState checks what the responders own has survived a Git apply.
func sitrepsAndState(t *testing.T, state string, summaries ...string) {
	t.Helper()
	inc := getGitopsIncident(t)
	var got []string
	for _, s := range inc.Spec.Sitreps {
		got = append(got, s.Summary)
	}
	if inc.Spec.State != state || !slices.Equal(got, summaries) {
		t.Fatalf("state %s and sitreps %q, want %s and %q", inc.Spec.State, got, state, summaries)
	}
}

func TestE2EGitOpsAndThePluginShareAnIncident(t *testing.T) {
	k(t, "create", "namespace", gitopsNS)

	// Commit 1 declares the incident in Git, IC Ricardo.
	if _, err := gitApply("1-declare", false); err != nil {
		t.Fatal(err)
	}
	waitForHandoffs(t, "IC -> ricardo by "+gitopsSA)

	// The responders own the state and the sitreps.
	pluginOK(t, "ricardo", "confirm", "db-failover")
	pluginOK(t, "ricardo", "sitrep", "db-failover", "--summary", "Failover stuck", "--actions", "Noah is promoting the replica")

	// Commit 2 hands command to Greg Burek: one changed line in a pull request.
	if _, err := gitApply("2-handoff", false); err != nil {
		t.Fatal(err)
	}
	waitForHandoffs(t, "IC -> ricardo by "+gitopsSA, "IC -> greg-burek by "+gitopsSA)
	sitrepsAndState(t, "Confirmed", "Failover stuck")

	pluginOK(t, "greg-burek", "escalate", "db-failover")
	pluginOK(t, "greg-burek", "sitrep", "db-failover", "--summary", "Replica promotion failed; restoring from backup")

	// Commit 3 adds to the impact; the state and the sitreps posted meanwhile stay, even when
	// the tool forces its manifest as Flux and Argo CD do.
	for _, force := range []bool{false, true} {
		if _, err := gitApply("3-impact", force); err != nil {
			t.Fatal(err)
		}
		sitrepsAndState(t, "Major", "Failover stuck", "Replica promotion failed; restoring from backup")
	}
	if inc := getGitopsIncident(t); inc.Spec.Impact.CustomersAffected != 120 || len(inc.Spec.Links) != 2 {
		t.Fatalf("commit 3 not applied: %+v", inc.Spec)
	}

	// A hand-off with the plugin while Git holds the IC is a real conflict: refused, in the
	// API server's words, and nothing changes.
	out, stderr, err := plugin(t, "greg-burek", "handoff", "db-failover", "--ic", "noah")
	if err == nil {
		t.Fatalf("a hand-off of a field Git owns succeeded:\n%s", out)
	}
	for _, want := range []string{`conflict with "gitops"`, ".spec.roles.commander", "make the change in Git", "--force-conflicts"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("the refused hand-off does not say %q:\n%s", want, stderr)
		}
	}
	if ic := getGitopsIncident(t).Spec.Roles.Commander; ic != "greg-burek" {
		t.Fatalf("a refused hand-off changed the IC to %s", ic)
	}

	// Forced in an emergency: the plugin takes the field and says from whom.
	_, stderr, err = plugin(t, "greg-burek", "handoff", "db-failover", "--ic", "noah", "--force-conflicts")
	if err != nil || !strings.Contains(stderr, `taking spec.roles.commander over from "gitops"`) {
		t.Fatalf("forced hand-off: %v\n%s", err, stderr)
	}
	waitForHandoffs(t, "IC -> ricardo by "+gitopsSA, "IC -> greg-burek by "+gitopsSA, "IC -> noah by greg-burek")

	// Git still says Greg Burek. Applied without force, the sync fails and says why.
	if _, err := gitApply("3-impact", false); err == nil || !strings.Contains(err.Error(), `conflict with "kubectl-incident"`) ||
		!strings.Contains(err.Error(), ".spec.roles.commander") {
		t.Fatalf("a stale Git apply over the plugin's hand-off: %v", err)
	}
	if ic := getGitopsIncident(t).Spec.Roles.Commander; ic != "noah" {
		t.Fatalf("a refused Git apply changed the IC to %s", ic)
	}

	// A tool that forces sets Git's IC back: not silently, the timeline shows who did it.
	if _, err := gitApply("3-impact", true); err != nil {
		t.Fatal(err)
	}
	waitForHandoffs(t, "IC -> ricardo by "+gitopsSA, "IC -> greg-burek by "+gitopsSA, "IC -> noah by greg-burek", "IC -> greg-burek by "+gitopsSA)

	// Commit 4 makes the hand-off in Git, as the runbook says to.
	if _, err := gitApply("4-handoff", false); err != nil {
		t.Fatal(err)
	}
	waitForHandoffs(t, "IC -> ricardo by "+gitopsSA, "IC -> greg-burek by "+gitopsSA, "IC -> noah by greg-burek",
		"IC -> greg-burek by "+gitopsSA, "IC -> noah by "+gitopsSA)
	sitrepsAndState(t, "Major", "Failover stuck", "Replica promotion failed; restoring from backup")

	// The plugin's timeline says the same.
	tl := pluginOK(t, "noah", "timeline", "db-failover")
	for _, want := range []string{"IC -> noah", "greg-burek", gitopsSA, "Sitrep 2 from greg-burek", "Incident escalated to Major"} {
		if !strings.Contains(tl, want) {
			t.Fatalf("kubectl incident timeline does not show %q:\n%s", want, tl)
		}
	}
	pluginOK(t, "noah", "resolve", "db-failover")
	sitrepsAndState(t, "Resolved", "Failover stuck", "Replica promotion failed; restoring from backup")
}

func TestE2EKubectlFindsThePluginAndItsCompletion(t *testing.T) {
	k(t, "create", "namespace", "plugin")
	// Installed as documented: kubectl-incident and kubectl_complete-incident on the PATH.
	dir := t.TempDir()
	for _, f := range []string{filepath.Join(root, "bin", "kubectl-incident"), filepath.Join(root, "cmd", "kubectl-incident", "kubectl_complete-incident")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v: run `make build`", err)
		}
		if err := os.Symlink(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	path := "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
	run := func(bin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), path)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}
	flags := []string{"--kubeconfig", cluster.Kubeconfig, "-n", "plugin"}
	if out := run("kubectl", append([]string{"incident", "declare", "EC2", "API", "errors"}, flags...)...); out != "incident.firescope.dev/ec2-api-errors declared (Investigating), IC ricardo\n" {
		t.Fatalf("kubectl incident declare printed %q", out)
	}
	// What kubectl runs when a person presses tab after `kubectl incident resolve `.
	out := run(filepath.Join(dir, "kubectl_complete-incident"), append(flags, "resolve", "")...)
	if !strings.Contains(out, "ec2-api-errors\tInvestigating: EC2 API errors") {
		t.Fatalf("completion of incident names:\n%s", out)
	}
}
