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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/plugin"
)

// ChannelLabel links an Incident to the Slack channel it is run from (the channel's ID).
const ChannelLabel = "firescope.dev/slack-channel"

var (
	incidentsGVR = schema.GroupVersionResource{Group: "firescope.dev", Version: "v1alpha1", Resource: "incidents"}
	policiesGVR  = schema.GroupVersionResource{Group: "firescope.dev", Version: "v1alpha1", Resource: "responsepolicies"}
)

// Kube acts on the API server as the person who typed a command, through impersonation: RBAC,
// the CEL rules and the admission webhook see that person, exactly as with kubectl.
//
// Every command goes through one connection pool, authenticated as the gateway and made once:
// a command only wraps it in a round-tripper that names its typist (Impersonate-User), made for
// that command and dropped with it, so no request can carry another person's name.
type Kube struct {
	// Base is the gateway's own client configuration; it needs the right to impersonate users.
	Base *rest.Config
	// Namespace holds the incidents the gateway runs.
	Namespace string

	once      sync.Once
	transport http.RoundTripper
	err       error
}

// as returns the client configuration and HTTP client of a command typed by user.
func (k *Kube) as(user string) (*rest.Config, *http.Client, error) {
	// client-go keeps a cached transport only while some client holds it: holding one here
	// keeps every command on the same connections, whatever else the process holds.
	k.once.Do(func() {
		c := rest.CopyConfig(k.Base)
		c.UserAgent = "firescope-gateway"
		k.transport, k.err = rest.TransportFor(c)
	})
	if k.err != nil {
		return nil, nil, k.err
	}
	timeout := k.Base.Timeout
	if timeout == 0 {
		timeout = callTimeout
	}
	hc := &http.Client{Transport: transport.NewImpersonatingRoundTripper(transport.ImpersonationConfig{UserName: user}, k.transport), Timeout: timeout}
	// The client sends the calls; the configuration names the typist too, so that a client
	// made from it alone would still act as them.
	c := rest.CopyConfig(k.Base)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	return c, hc, nil
}

// callTimeout bounds each call to the API server when Base sets no timeout.
const callTimeout = 30 * time.Second

// Run runs a `kubectl incident` command as user and returns what it printed. A failure is an
// error in the API server's own words.
func (k *Kube) Run(ctx context.Context, user string, args ...string) (string, error) {
	cfg, hc, err := k.as(user)
	if err != nil {
		return "", err
	}
	var out, errOut bytes.Buffer
	o := plugin.NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	o.Flags = genericclioptions.NewConfigFlags(false)
	o.Flags.Namespace = &k.Namespace
	o.Config, o.HTTPClient = cfg, hc
	if plugin.ExecuteContext(ctx, o, args) != 0 {
		return out.String(), fmt.Errorf("%s", strings.TrimSpace(strings.TrimPrefix(errOut.String(), "error: ")))
	}
	return strings.TrimSpace(out.String() + errOut.String()), nil
}

func (k *Kube) incidents(user string) (dynamic.ResourceInterface, error) {
	cfg, hc, err := k.as(user)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return dc.Resource(incidentsGVR).Namespace(k.Namespace), nil
}

// Linked names the incident the channel is linked to: its open one, else the latest. "" if none.
func (k *Kube) Linked(ctx context.Context, user, channel string) (string, error) {
	res, err := k.incidents(user)
	if err != nil {
		return "", err
	}
	list, err := res.List(ctx, metav1.ListOptions{LabelSelector: ChannelLabel + "=" + channel})
	if err != nil {
		return "", err
	}
	var incs []v1alpha1.Incident
	for _, u := range list.Items {
		inc := v1alpha1.Incident{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &inc); err == nil {
			incs = append(incs, inc)
		}
	}
	if len(incs) == 0 {
		return "", nil
	}
	var open []string
	for _, inc := range incs {
		if inc.Spec.State != v1alpha1.StateResolved {
			open = append(open, inc.Name)
		}
	}
	switch len(open) {
	case 1:
		return open[0], nil
	case 0:
		latest := slices.MaxFunc(incs, func(a, b v1alpha1.Incident) int {
			return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
		})
		return latest.Name, nil
	}
	slices.Sort(open)
	return "", fmt.Errorf("this channel is linked to %d open incidents (%s): name the one you mean", len(open), strings.Join(open, ", "))
}

// Policy returns the default ResponsePolicy of the incidents' namespace, read as user; nil
// when there is none.
func (k *Kube) Policy(ctx context.Context, user string) (*v1alpha1.ResponsePolicy, error) {
	cfg, hc, err := k.as(user)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	u, err := dc.Resource(policiesGVR).Namespace(k.Namespace).Get(ctx, v1alpha1.DefaultPolicyName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p := &v1alpha1.ResponsePolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Link labels the incident with the channel it is run from.
func (k *Kube) Link(ctx context.Context, user, incident, channel string) error {
	res, err := k.incidents(user)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{ChannelLabel: channel}}})
	_, err = res.Patch(ctx, incident, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "firescope-gateway"})
	return err
}
