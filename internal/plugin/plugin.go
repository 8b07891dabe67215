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

// Package plugin is `kubectl incident`: declare an incident, change its state, hand off
// roles, post sitreps and status updates, and read where the response stands, from the
// terminal. Every write is a server-side apply by the field manager "kubectl-incident" that
// never forces unless asked, so a field that Git owns is never overwritten silently.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// FieldManager is the server-side apply field manager of every write the plugin makes.
const FieldManager = "kubectl-incident"

// defaultTimeout bounds each command's calls to the API server when --request-timeout is not
// set: an incident tool must fail fast and say so when the cluster is unreachable.
const defaultTimeout = 30 * time.Second

var (
	incidentsGVR     = schema.GroupVersionResource{Group: "firescope.dev", Version: "v1alpha1", Resource: "incidents"}
	statusUpdatesGVR = schema.GroupVersionResource{Group: "firescope.dev", Version: "v1alpha1", Resource: "statusupdates"}
	postmortemsGVR   = schema.GroupVersionResource{Group: "firescope.dev", Version: "v1alpha1", Resource: "postmortems"}
)

// Options is what every command shares: the kubeconfig flags, the streams and the clock.
type Options struct {
	Flags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	// Now tells the time; tests inject a fixed one.
	Now func() time.Time
	// Getenv reads the environment (the editor); tests inject their own.
	Getenv func(string) string
	// IsTerminal reports whether the input is a person at a terminal, who is asked before a
	// status update is published.
	IsTerminal func(io.Reader) bool
	// Config, when set, is the client configuration to use instead of the kubeconfig flags'
	// (the chat gateway's, impersonating the person who typed the command).
	Config *rest.Config
	// HTTPClient, when set with Config, sends the calls instead of a client made from Config:
	// the chat gateway's one connection pool, with the typist named on each request.
	HTTPClient *http.Client

	warnings *warningCollector
}

// NewOptions returns options reading the process's streams and environment.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		Flags:      genericclioptions.NewConfigFlags(true),
		IOStreams:  streams,
		Now:        time.Now,
		Getenv:     os.Getenv,
		IsTerminal: isTerminal,
		warnings:   &warningCollector{},
	}
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewCommand returns the `kubectl incident` command tree.
func NewCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-incident",
		Short: "Run an incident from the terminal: declare, hand off, sitrep, update customers",
		Long: `kubectl incident runs Firescope incidents from the terminal.

Writes are server-side applies by the field manager "kubectl-incident". They never take a
field over from another manager (such as a GitOps tool) unless --force-conflicts is given;
see docs/gitops.md for who owns which field.`,
		Annotations: map[string]string{
			// Help and completion scripts then say "kubectl incident", as people type it.
			cobra.CommandDisplayNameAnnotation: "kubectl incident",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	o.Flags.AddFlags(root.PersistentFlags())
	root.SetIn(o.In)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	root.AddGroup(
		&cobra.Group{ID: "write", Title: "Running an incident:"},
		&cobra.Group{ID: "read", Title: "Seeing where it stands:"},
	)
	for _, c := range []*cobra.Command{
		newDeclareCommand(o), newStateCommand(o, confirm), newStateCommand(o, escalate),
		newStateCommand(o, downgrade), newStateCommand(o, resolve), newReopenCommand(o),
		newHandoffCommand(o), newSitrepCommand(o), newUpdateCommand(o), newDrillCommand(o),
	} {
		c.GroupID = "write"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newStatusCommand(o), newTimelineCommand(o), newListCommand(o)} {
		c.GroupID = "read"
		root.AddCommand(c)
	}
	return root
}

// Execute runs the command line args and returns the process's exit code.
func Execute(o *Options, args []string) int {
	return ExecuteContext(context.Background(), o, args)
}

// ExecuteContext is Execute with calls bounded by ctx as well as by the command's timeout.
func ExecuteContext(ctx context.Context, o *Options, args []string) int {
	cmd := NewCommand(o)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(o.ErrOut, "error:", err)
		var h hinted
		if errors.As(err, &h) {
			fmt.Fprintln(o.ErrOut, h.hint)
		}
		return 1
	}
	return 0
}

// hinted is an API server error, kept in its own words, with what to do about it.
type hinted struct {
	error
	hint string
}

func (h hinted) Unwrap() error { return h.error }

// namespace is the namespace of the kubeconfig context, or of -n.
func (o *Options) namespace() (string, error) {
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// restConfig is the kubeconfig's client configuration, with the warnings the API server sends
// collected (rather than logged) so that commands print them where they belong.
func (o *Options) restConfig() (*rest.Config, error) {
	cfg := o.Config
	if cfg == nil {
		var err error
		if cfg, err = o.Flags.ToRESTConfig(); err != nil {
			return nil, err
		}
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	cfg.UserAgent = "kubectl-incident"
	cfg.WarningHandlerWithContext = o.warnings
	return cfg, nil
}

func (o *Options) dynamicClient() (dynamic.Interface, error) {
	cfg, err := o.restConfig()
	if err != nil {
		return nil, err
	}
	if o.HTTPClient != nil {
		return dynamic.NewForConfigAndClient(cfg, o.HTTPClient)
	}
	return dynamic.NewForConfig(cfg)
}

// context bounds a command's calls to the API server.
func (o *Options) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	timeout := defaultTimeout
	if d, err := time.ParseDuration(strings.TrimSpace(*o.Flags.Timeout)); err == nil && d > 0 {
		timeout = d
	}
	// A command makes a few calls and may retry on conflicts: give it several timeouts' worth.
	return context.WithTimeout(parent, 3*timeout)
}
