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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"firescope.dev/firescope/api/v1alpha1"
)

// sitrepFields is a sitrep as typed on the command line or in the editor.
type sitrepFields struct {
	Summary    string          `json:"summary"`
	Impact     string          `json:"impact"`
	Actions    string          `json:"actions"`
	Workaround string          `json:"workaround"`
	Links      []v1alpha1.Link `json:"links"`
}

func (f sitrepFields) empty() bool {
	return f.Summary == "" && f.Impact == "" && f.Actions == "" && f.Workaround == "" && len(f.Links) == 0
}

// object is the sitrep's apply configuration. The admission webhook fills in when it was
// posted and by whom, from the request, so neither is sent.
func (f sitrepFields) object() map[string]any {
	m := map[string]any{"summary": f.Summary}
	for k, v := range map[string]string{"impact": f.Impact, "actions": f.Actions, "workaround": f.Workaround} {
		if v != "" {
			m[k] = v
		}
	}
	if len(f.Links) > 0 {
		links := make([]any, len(f.Links))
		for i, l := range f.Links {
			links[i] = map[string]any{"name": l.Name, "url": l.URL}
		}
		m["links"] = links
	}
	return m
}

// ParseLinks reads --link values: NAME=URL.
func ParseLinks(values []string) ([]v1alpha1.Link, error) {
	var out []v1alpha1.Link
	for _, v := range values {
		n, u, ok := strings.Cut(v, "=")
		if !ok || n == "" || u == "" {
			return nil, fmt.Errorf("--link %q: want NAME=URL, such as --link dashboard=https://grafana.example.com/d/api", v)
		}
		out = append(out, v1alpha1.Link{Name: n, URL: u})
	}
	return out, nil
}

// SitrepTemplate is the text the editor opens with: the fields to fill in, and the previous
// sitrep, commented out, to start from.
func SitrepTemplate(inc *v1alpha1.Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sitrep %d for %s, %q (%s, IC %s).\n", len(inc.Spec.Sitreps)+1, inc.Name, inc.Spec.Title, inc.Spec.State, orNobody(inc.Spec.Roles.Commander))
	b.WriteString(`# Lines starting with '#' are ignored; an empty file, or this one unchanged, posts nothing.
# summary is required. Keep each text indented under its "|".
summary: |
  
# How widespread: who and what is affected.
impact: |
  
# What is being done, and by whom.
actions: |
  
# What customers can do meanwhile.
workaround: |
  
links:
# - name: dashboard
#   url: https://grafana.example.com/d/api
`)
	if n := len(inc.Spec.Sitreps); n > 0 {
		prev := inc.Spec.Sitreps[n-1]
		at := ""
		if prev.At != nil {
			at = " at " + prev.At.UTC().Format("15:04 MST")
		}
		fmt.Fprintf(&b, "#\n# Sitrep %d, posted%s by %s:\n", n, at, orNobody(prev.Author))
		for _, f := range []struct{ name, text string }{{"summary", prev.Summary}, {"impact", prev.Impact}, {"actions", prev.Actions}, {"workaround", prev.Workaround}} {
			if f.text == "" {
				continue
			}
			fmt.Fprintf(&b, "#   %s:\n", f.name)
			for _, l := range strings.Split(strings.TrimSpace(f.text), "\n") {
				fmt.Fprintf(&b, "#     %s\n", l)
			}
		}
	}
	return b.String()
}

// errNothingPosted is an editor session that ended with nothing to post.
var errNothingPosted = errors.New("nothing to post")

// ParseSitrep reads the edited template. Lines that start with '#' are comments; what is
// left must be the template's YAML.
func ParseSitrep(text string) (sitrepFields, error) {
	var kept []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "#") {
			kept = append(kept, l)
		}
	}
	var f sitrepFields
	body := strings.Join(kept, "\n")
	if strings.TrimSpace(body) == "" {
		return f, errNothingPosted
	}
	if err := yaml.UnmarshalStrict([]byte(body), &f); err != nil {
		return f, fmt.Errorf("reading the sitrep: %w", err)
	}
	f.Summary, f.Impact = strings.TrimSpace(f.Summary), strings.TrimSpace(f.Impact)
	f.Actions, f.Workaround = strings.TrimSpace(f.Actions), strings.TrimSpace(f.Workaround)
	if f.empty() {
		return f, errNothingPosted
	}
	if f.Summary == "" {
		return f, errors.New("a sitrep needs a summary: what is broken")
	}
	return f, nil
}

func newSitrepCommand(o *Options) *cobra.Command {
	var (
		w     writeFlags
		f     sitrepFields
		links []string
	)
	cmd := &cobra.Command{
		Use:   "sitrep NAME",
		Short: "Post a sitrep: what is broken, how widespread, what is being done",
		Long: `Post a situation report. With --summary (and the other fields) it posts at once; with
none of them it opens $KUBE_EDITOR, or $EDITOR, on a template, as kubectl edit does. The
time and the author (you) are filled in by the admission webhook.

Sitreps are append-only: post a new one to correct an earlier one.`,
		Example: `  kubectl incident sitrep ec2-api-errors \
    --summary "AWS EC2 API errors; Postgres provisioning and PX dyno scaling fail" \
    --impact "Every customer provisioning single-tenant Postgres or scaling PX dynos" \
    --actions "Noah and Greg watch the Postgres queue; Craig from AWS is in chat" \
    --workaround "Use a non-PX dyno type" --link aws-ticket=https://aws.amazon.com/support/case?caseId=1
  kubectl incident sitrep ec2-api-errors          # opens your editor`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			l, err := ParseLinks(links)
			if err != nil {
				return err
			}
			f.Links = l
			name := args[0]
			if f.empty() {
				edited, err := o.editSitrep(cmd, name)
				if errors.Is(err, errNothingPosted) {
					fmt.Fprintln(o.ErrOut, "Edit cancelled: no sitrep posted.")
					return nil
				}
				if err != nil {
					return err
				}
				f = edited
			} else if f.Summary == "" {
				return errors.New("--summary is required: what is broken")
			}
			ctx, cancel := o.context(cmd)
			defer cancel()
			s, err := o.session(ctx)
			if err != nil {
				return err
			}
			inc, err := s.change(name, &w, func(live *unstructured.Unstructured, _ *v1alpha1.Incident, spec map[string]any) error {
				// The whole list, as stored: it is atomic, and earlier sitreps must be sent
				// back unchanged or the API server refuses the write as an edit.
				stored, _, err := unstructured.NestedSlice(live.Object, "spec", "sitreps")
				if err != nil {
					return err
				}
				s.warnTakeover(&w, live, "spec.sitreps", "f:spec", "f:sitreps")
				spec["sitreps"] = append(stored, f.object())
				return nil
			})
			if err != nil {
				return err
			}
			n := len(inc.Spec.Sitreps)
			by := ""
			if n > 0 && inc.Spec.Sitreps[n-1].Author != "" {
				by = " by " + string(inc.Spec.Sitreps[n-1].Author)
			}
			fmt.Fprintf(s.Out, "incident.firescope.dev/%s sitrep %d posted%s%s\n", name, n, by, w.suffix())
			return nil
		},
	}
	cmd.Flags().StringVar(&f.Summary, "summary", "", "what is broken (required)")
	cmd.Flags().StringVar(&f.Impact, "impact", "", "how widespread the problem is")
	cmd.Flags().StringVar(&f.Actions, "actions", "", "what is being done, and by whom")
	cmd.Flags().StringVar(&f.Workaround, "workaround", "", "what customers can do meanwhile")
	cmd.Flags().StringArrayVar(&links, "link", nil, "NAME=URL: a graph, ticket or chat thread (repeatable, at most 5)")
	w.add(cmd)
	return cmd
}

// editSitrep opens the editor on the sitrep template and returns what was written. The
// editor is not bounded in time (a person is writing); the read before it is.
func (o *Options) editSitrep(cmd *cobra.Command, name string) (sitrepFields, error) {
	ctx, cancel := o.context(cmd)
	s, err := o.session(ctx)
	if err != nil {
		cancel()
		return sitrepFields{}, err
	}
	_, inc, err := s.get(name)
	cancel()
	if err != nil {
		return sitrepFields{}, err
	}
	file, err := os.CreateTemp("", "kubectl-incident-sitrep-"+name+"-*.yaml")
	if err != nil {
		return sitrepFields{}, err
	}
	path := file.Name()
	_, err = file.WriteString(SitrepTemplate(inc))
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sitrepFields{}, err
	}
	if err := o.runEditor(path); err != nil {
		return sitrepFields{}, fmt.Errorf("%w (the sitrep is kept in %s)", err, path)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return sitrepFields{}, err
	}
	f, err := ParseSitrep(string(text))
	switch {
	case errors.Is(err, errNothingPosted):
		_ = os.Remove(path)
	case err != nil:
		// Keep what the person wrote: a sitrep is not retyped under pressure.
		return f, fmt.Errorf("%w; nothing posted, your text is kept in %s", err, path)
	default:
		_ = os.Remove(path)
	}
	return f, err
}

// runEditor runs $KUBE_EDITOR or $EDITOR (through the shell, so "code --wait" works), or vi.
func (o *Options) runEditor(path string) error {
	editor := o.Getenv("KUBE_EDITOR")
	if editor == "" {
		editor = o.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	cmd := exec.Command("sh", "-c", editor+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.In, o.Out, o.ErrOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the editor %q failed: %w", editor, err)
	}
	return nil
}
