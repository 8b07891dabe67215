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

package manager_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/safehttp"
	"firescope.dev/firescope/internal/testenv"
)

// A StatusPage whose url points at an internal address (here this machine's loopback, with a
// Secret that lets its key go there) is not called by a manager that does not allow internal
// destinations: the update is refused with a condition that names the flag, and the server
// receives nothing.
func TestIntegrationTheManagerCallsNoInternalAddressItWasNotAllowed(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
	}
	e, err := testenv.Start(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	stop, err := e.StartManager(manager.Options{AllowPrivateDestinations: &safehttp.Allowlist{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	internal := statuspage.New()
	t.Cleanup(internal.Close)
	ctx, ns := context.Background(), "internal-page"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "key", Namespace: ns, Labels: map[string]string{credentials.Label: "true"},
			Annotations: credentials.Annotations(credentials.Statuspage, "127.0.0.1")}, StringData: map[string]string{"key": statuspage.APIKey}},
		&v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns}, Spec: v1alpha1.StatusPageSpec{
			Provider: v1alpha1.ProviderStatuspage, URL: internal.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "key", Key: "key"}}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: v1alpha1.ResponsePolicySpec{StatusPageRef: &v1alpha1.LocalReference{Name: "public"}}},
		&v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "api-errors", Namespace: ns},
			Spec: v1alpha1.IncidentSpec{Title: "API errors", State: v1alpha1.StateMajor, Roles: v1alpha1.Roles{Commander: "ricardo"}}},
		&v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: ns}, Spec: v1alpha1.StatusUpdateSpec{
			IncidentRef: v1alpha1.LocalReference{Name: "api-errors"}, Status: "investigating",
			Message: "Some API requests fail; we are investigating."}},
	} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	var c *metav1.Condition
	testenv.Eventually(t, 30*time.Second, func() error {
		su := &v1alpha1.StatusUpdate{}
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, su); err != nil {
			return err
		}
		if c = meta.FindStatusCondition(su.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonRejected {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	if want := "refused to call 127.0.0.1"; !strings.Contains(c.Message, want) || !strings.Contains(c.Message, "--allow-private-destinations") {
		t.Errorf("condition says %q, want %q and the flag", c.Message, want)
	}
	if n := len(internal.Requests()); n != 0 {
		t.Fatalf("the internal server received %d requests, want none", n)
	}
}
