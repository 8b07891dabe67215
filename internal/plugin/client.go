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

package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"firescope.dev/firescope/api/v1alpha1"
)

// Dry-run modes, as kubectl names them.
const (
	dryRunNone   = "none"
	dryRunServer = "server"
	dryRunClient = "client"
)

// writeFlags are the flags of every command that writes.
type writeFlags struct {
	dryRun string
	force  bool
}

func (w *writeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&w.dryRun, "dry-run", dryRunNone, `"server" sends the change for validation and admission without storing it; "client" prints what would be sent`)
	cmd.Flags().BoolVar(&w.force, "force-conflicts", false, "take over fields that another field manager (such as a GitOps tool) owns; see docs/gitops.md")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{dryRunNone, dryRunServer, dryRunClient}, cobra.ShellCompDirectiveNoFileComp))
}

func (w *writeFlags) validate() error {
	switch w.dryRun {
	case dryRunNone, dryRunServer, dryRunClient:
		return nil
	}
	return fmt.Errorf(`--dry-run must be "none", "server" or "client", not %q`, w.dryRun)
}

// suffix is what a write's confirmation ends with in a dry run.
func (w *writeFlags) suffix() string {
	switch w.dryRun {
	case dryRunServer:
		return " (server dry run)"
	case dryRunClient:
		return " (dry run)"
	}
	return ""
}

func (w *writeFlags) patchOptions() metav1.PatchOptions {
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &w.force}
	if w.dryRun == dryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return opts
}

// session is one command's connection to the cluster.
type session struct {
	*Options
	ctx    context.Context
	client dynamic.Interface
	ns     string
}

func (o *Options) session(ctx context.Context) (*session, error) {
	dc, err := o.dynamicClient()
	if err != nil {
		return nil, err
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, err
	}
	return &session{Options: o, ctx: ctx, client: dc, ns: ns}, nil
}

func (s *session) incidents() dynamic.ResourceInterface {
	return s.client.Resource(incidentsGVR).Namespace(s.ns)
}

// get reads an incident, as it is stored and typed.
func (s *session) get(name string) (*unstructured.Unstructured, *v1alpha1.Incident, error) {
	u, err := s.incidents().Get(s.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	inc, err := toIncident(u)
	return u, inc, err
}

func toIncident(u *unstructured.Unstructured) (*v1alpha1.Incident, error) {
	inc := &v1alpha1.Incident{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, inc); err != nil {
		return nil, fmt.Errorf("reading incident %s: %w", u.GetName(), err)
	}
	return inc, nil
}

// applyBody is the apply configuration of an Incident with the given spec. A resourceVersion
// makes the apply fail with a conflict if the incident changed since it was read.
func applyBody(ns, name, resourceVersion string, spec map[string]any) map[string]any {
	meta := map[string]any{"name": name, "namespace": ns}
	if resourceVersion != "" {
		meta["resourceVersion"] = resourceVersion
	}
	return map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "Incident",
		"metadata":   meta,
		"spec":       spec,
	}
}

// printBody prints what --dry-run=client would send, and returns it as an Incident.
func (s *session) printBody(body map[string]any) (*v1alpha1.Incident, error) {
	out, err := yaml.Marshal(body)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.Out, "%s", out)
	inc := &v1alpha1.Incident{}
	err = runtime.DefaultUnstructuredConverter.FromUnstructured(body, inc)
	return inc, err
}

// create creates an incident from body under the plugin's field manager. Unlike an apply, it
// fails when the name is taken, even by a declaration made a moment earlier, so declaring
// never changes an existing incident. The fields are owned through an update; later commands
// take them over as the plugin's own (see change).
func (s *session) create(body map[string]any, w *writeFlags) (*v1alpha1.Incident, error) {
	if w.dryRun == dryRunClient {
		return s.printBody(body)
	}
	opts := metav1.CreateOptions{FieldManager: FieldManager}
	if w.dryRun == dryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	u, err := s.incidents().Create(s.ctx, &unstructured.Unstructured{Object: body}, opts)
	s.printWarnings()
	if err != nil {
		return nil, err
	}
	return toIncident(u)
}

// apply sends body as a server-side apply, or prints it for --dry-run=client.
func (s *session) apply(name string, body map[string]any, w *writeFlags) (*v1alpha1.Incident, error) {
	if w.dryRun == dryRunClient {
		return s.printBody(body)
	}
	data, err := yaml.Marshal(body)
	if err != nil {
		return nil, err
	}
	u, err := s.incidents().Patch(s.ctx, name, types.ApplyYAMLPatchType, data, w.patchOptions())
	s.printWarnings()
	if err != nil {
		return nil, explain(err)
	}
	return toIncident(u)
}

// change applies a change to an existing incident: mutate gets the incident as read and the
// spec fields the plugin already owns, and edits the latter into the apply configuration. It
// is retried from a fresh read when the incident changed in between (the controller writes
// status often), never when another field manager owns a field.
func (s *session) change(name string, w *writeFlags, mutate func(live *unstructured.Unstructured, inc *v1alpha1.Incident, spec map[string]any) error) (*v1alpha1.Incident, error) {
	var result *v1alpha1.Incident
	err := retry.OnError(staleReadBackoff, isStaleRead, func() error {
		u, inc, err := s.get(name)
		if err != nil {
			return err
		}
		spec := ownedSpec(u, FieldManager)
		if err := mutate(u, inc, spec); err != nil {
			return err
		}
		body := applyBody(s.ns, name, u.GetResourceVersion(), spec)
		result, err = s.apply(name, body, w)
		if managers, ok := byHand(u, err); ok && !w.force {
			// A person's earlier kubectl apply, edit or patch claims nothing: take the field
			// over, as kubectl itself would, and say so (the plugin's own declaration needs no
			// note).
			for _, m := range managers {
				fmt.Fprintf(s.ErrOut, "Note: taking over fields last set by %q (kubectl by hand, not a GitOps tool)\n", m)
			}
			forced := *w
			forced.force = true
			result, err = s.apply(name, body, &forced)
		}
		return err
	})
	return result, err
}

// handManagers are the field managers of kubectl's imperative commands (client-side apply,
// edit, patch, create, replace). GitOps tools apply under names of their own.
var handManagers = []string{"kubectl-client-side-apply", "kubectl-edit", "kubectl-patch", "kubectl-create", "kubectl-replace", "kubectl"}

// byHand reports whether err is an apply conflict only with fields a person last set with
// kubectl's imperative commands (an Update, not an Apply, by one of handManagers), and names
// those managers.
func byHand(live *unstructured.Unstructured, err error) ([]string, bool) {
	conflicts := fieldConflicts(err)
	if len(conflicts) == 0 {
		return nil, false
	}
	var managers []string
	for _, c := range conflicts {
		m, _, found := strings.Cut(strings.TrimPrefix(c.Message, `conflict with "`), `"`)
		if found && m == FieldManager {
			continue // the plugin's own declaration (a create, so an update): its fields are ours
		}
		if !found || !slices.Contains(handManagers, m) {
			return nil, false
		}
		for _, e := range live.GetManagedFields() {
			if e.Manager == m && e.Operation != metav1.ManagedFieldsOperationUpdate {
				return nil, false
			}
		}
		if !slices.Contains(managers, m) {
			managers = append(managers, m)
		}
	}
	return managers, true
}

// staleReadBackoff retries a write made from an outdated read for up to about ten seconds:
// several people posting sitreps at once, and the controller's status writes, all move the
// resourceVersion on.
var staleReadBackoff = wait.Backoff{Steps: 10, Duration: 20 * time.Millisecond, Factor: 1.6, Jitter: 0.5}

// isStaleRead reports whether err is the API server refusing a write made from an outdated
// read, rather than a conflict over who owns a field.
func isStaleRead(err error) bool {
	return apierrors.IsConflict(err) && len(fieldConflicts(err)) == 0
}

// fieldConflicts returns the conflicts of a server-side apply: field path to manager.
func fieldConflicts(err error) []metav1.StatusCause {
	var out []metav1.StatusCause
	var s apierrors.APIStatus
	if errors.As(err, &s) && s.Status().Details != nil {
		for _, c := range s.Status().Details.Causes {
			if c.Type == metav1.CauseTypeFieldManagerConflict {
				out = append(out, c)
			}
		}
	}
	return out
}

// explain keeps the API server's error as it is worded and adds what to do about a field
// conflict.
func explain(err error) error {
	conflicts := fieldConflicts(err)
	if len(conflicts) == 0 {
		return err
	}
	var fields []string
	for _, c := range conflicts {
		fields = append(fields, fmt.Sprintf("%s (%s)", c.Field, strings.TrimPrefix(c.Message, "conflict with ")))
	}
	slices.Sort(fields)
	return hinted{err, "hint: another field manager owns " + strings.Join(fields, ", ") + ".\n" +
		"  If Git owns it, make the change in Git (docs/gitops.md). To take the field over now, run the\n" +
		"  command again with --force-conflicts; a GitOps tool that forces will set it back at its next\n" +
		"  sync unless Git changes too."}
}

// warnTakeover says, before a forced write, which fields it takes from which managers.
func (s *session) warnTakeover(w *writeFlags, live *unstructured.Unstructured, field string, path ...string) {
	if !w.force {
		return
	}
	for _, m := range owners(live, FieldManager, path...) {
		fmt.Fprintf(s.ErrOut, "Warning: taking %s over from %q; if %q applies from Git, change it there too, "+
			"or its next forced sync sets it back\n", field, m, m)
	}
}

// warningCollector keeps the API server's warnings until the command prints them.
type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.msgs, message) {
		w.msgs = append(w.msgs, message)
	}
}

func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

func (s *session) printWarnings() {
	for _, m := range s.warnings.take() {
		fmt.Fprintln(s.ErrOut, "Warning:", m)
	}
}
