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

package webhookcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/testenv"
)

// env is a bare API server: the certificate manager needs none of Firescope's CRDs.
var env struct {
	*envtest.Environment
	Config *rest.Config
	Client client.Client
}

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
		os.Exit(1)
	}
	env.Environment = &envtest.Environment{}
	var err error
	if env.Config, err = env.Start(); err == nil {
		env.Client, err = client.New(env.Config, client.Options{Scheme: manager.NewScheme()})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// setup makes a namespace and the two webhook configurations for one test, and returns
// options that name them.
func setup(t *testing.T, name string) Options {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	svc := &admissionregistrationv1.ServiceReference{Namespace: name, Name: "webhook-service", Path: ptr.To("/x")}
	rules := []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"firescope.dev"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"incidents"}}}}
	ignore, none := admissionregistrationv1.Ignore, admissionregistrationv1.SideEffectClassNone
	mut := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name + "-mutating"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "incidents.firescope.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: svc},
			Rules: rules, FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			// No object matches: these configurations only carry a caBundle in these tests.
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}}}}}
	val := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name + "-validating"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "statusupdates.firescope.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: svc},
			Rules: rules, FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}}}}}
	for _, o := range []client.Object{ns, mut, val} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return Options{SecretName: "webhook-certs", Namespace: name, ServiceName: "webhook-service", CertDir: t.TempDir(),
		MutatingConfigurations: []string{mut.Name}, ValidatingConfigurations: []string{val.Name}}
}

func secret(t *testing.T, o Options) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: o.Namespace, Name: o.SecretName}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// caBundles returns the caBundle of every webhook of the configurations o names.
func caBundles(t *testing.T, o Options) [][]byte {
	t.Helper()
	ctx := context.Background()
	var out [][]byte
	for _, n := range o.MutatingConfigurations {
		c := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: n}, c); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Webhooks {
			out = append(out, w.ClientConfig.CABundle)
		}
	}
	for _, n := range o.ValidatingConfigurations {
		c := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: n}, c); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Webhooks {
			out = append(out, w.ClientConfig.CABundle)
		}
	}
	return out
}

// serving loads the pair in dir the way the webhook server does and verifies it against
// caBundle for the Service's name, at time now.
func serving(t *testing.T, dir string, caBundle []byte, o Options, now time.Time) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatalf("the webhook server cannot load the files: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		t.Fatal("the caBundle holds no certificate")
	}
	for _, name := range o.DNSNames() {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: now}); err != nil {
			t.Fatalf("the API server would not trust the certificate for %s: %v", name, err)
		}
	}
	return leaf
}

func ensure(t *testing.T, o Options, cl client.Client) {
	t.Helper()
	if err := (&Manager{Client: cl, Options: o}).Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTwoReplicasStartingTogetherAgreeOnOneCertificateThatTheCABundleTrusts(t *testing.T) {
	o := setup(t, "two-replicas")
	dirs := []string{t.TempDir(), t.TempDir()}
	var wg sync.WaitGroup
	errs := make([]error, len(dirs))
	for i, dir := range dirs {
		wg.Go(func() {
			r := o
			r.CertDir = dir
			errs[i] = (&Manager{Client: env.Client, Options: r}).Ensure(context.Background())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sec := secret(t, o)
	for _, b := range caBundles(t, o) {
		if !bytes.Equal(b, sec.Data[CACertKey]) {
			t.Fatalf("caBundle differs from the Secret's CA")
		}
	}
	a := serving(t, dirs[0], sec.Data[CACertKey], o, time.Now())
	b := serving(t, dirs[1], sec.Data[CACertKey], o, time.Now())
	if !a.Equal(b) {
		t.Fatalf("the replicas serve different certificates: %s and %s", a.SerialNumber, b.SerialNumber)
	}
	if sec.Labels["firescope.dev/credential"] != "" {
		t.Fatal("the certificate Secret must not be offered to the controllers as a credential")
	}
}

func TestARestartReusesTheStoredCertificate(t *testing.T) {
	o := setup(t, "restart")
	ensure(t, o, env.Client)
	before := secret(t, o)
	crt, _ := os.ReadFile(filepath.Join(o.CertDir, "tls.crt"))
	o.CertDir = t.TempDir() // a new pod: empty directory
	ensure(t, o, env.Client)
	after := secret(t, o)
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatal("a restart rewrote a certificate that was still good")
	}
	crt2, _ := os.ReadFile(filepath.Join(o.CertDir, "tls.crt"))
	if !bytes.Equal(crt, crt2) {
		t.Fatal("the new pod serves another certificate than the stored one")
	}
}

func TestRenewsTheServingCertificateAfterTwoThirdsOfItsLifeAndKeepsTheCA(t *testing.T) {
	o := setup(t, "renew-serving")
	ensure(t, o, env.Client)
	first := secret(t, o)
	old := serving(t, o.CertDir, first.Data[CACertKey], o, time.Now())

	later := time.Now().Add(250 * 24 * time.Hour)
	o.Now = func() time.Time { return later }
	ensure(t, o, env.Client)
	renewed := secret(t, o)
	if !bytes.Equal(renewed.Data[CACertKey], first.Data[CACertKey]) {
		t.Fatal("renewing the serving certificate changed the CA")
	}
	cur := serving(t, o.CertDir, renewed.Data[CACertKey], o, later)
	if cur.Equal(old) || !cur.NotAfter.After(later.Add(300*24*time.Hour)) {
		t.Fatalf("not renewed: serial %s, not after %s", cur.SerialNumber, cur.NotAfter)
	}
	for _, b := range caBundles(t, o) {
		if !bytes.Equal(b, first.Data[CACertKey]) {
			t.Fatal("the caBundle changed although the CA did not")
		}
	}
}

func TestRenewsTheCANearItsEndAndStillTrustsThePreviousOne(t *testing.T) {
	o := setup(t, "renew-ca")
	ensure(t, o, env.Client)
	first := secret(t, o)
	oldLeaf := serving(t, o.CertDir, first.Data[CACertKey], o, time.Now())

	later := time.Now().Add(7 * 365 * 24 * time.Hour)
	o.Now = func() time.Time { return later }
	ensure(t, o, env.Client)
	renewed := secret(t, o)
	if bytes.Equal(renewed.Data[CACertKey], first.Data[CACertKey]) {
		t.Fatal("the CA was not renewed")
	}
	bundle := caBundles(t, o)[0]
	serving(t, o.CertDir, bundle, o, later)
	// A replica that has not yet reloaded still serves the previous certificate.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	if _, err := oldLeaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: o.DNSNames()[0], CurrentTime: time.Now()}); err != nil {
		t.Fatalf("the caBundle no longer trusts the previous certificate: %v", err)
	}
}

func TestRestoresACABundleThatAReappliedConfigurationLost(t *testing.T) {
	o := setup(t, "reapplied")
	ensure(t, o, env.Client)
	ctx := context.Background()
	c := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: o.MutatingConfigurations[0]}, c); err != nil {
		t.Fatal(err)
	}
	c.Webhooks[0].ClientConfig.CABundle = nil
	if err := env.Client.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	ensure(t, o, env.Client)
	want := secret(t, o).Data[CACertKey]
	for _, b := range caBundles(t, o) {
		if !bytes.Equal(b, want) {
			t.Fatal("the caBundle was not restored")
		}
	}
}

func TestReplacesAnUnusableSecretAndKeepsItsOtherKeys(t *testing.T) {
	o := setup(t, "unusable")
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: o.SecretName, Namespace: o.Namespace},
		Data: map[string][]byte{CACertKey: []byte("not a certificate"), "note": []byte("kept")}}); err != nil {
		t.Fatal(err)
	}
	ensure(t, o, env.Client)
	sec := secret(t, o)
	serving(t, o.CertDir, sec.Data[CACertKey], o, time.Now())
	if string(sec.Data["note"]) != "kept" {
		t.Fatal("other keys of the Secret were dropped")
	}
}

// TestTheShippedRBACByNameIsEnough runs the certificate manager as a service account that
// has exactly the rules of config/rbac/webhook_cert_role.yaml, with the names filled in as
// config/default does, and with the empty Secret the install ships.
func TestTheShippedRBACByNameIsEnough(t *testing.T) {
	o := setup(t, "rbac")
	ctx := context.Background()
	role, clusterRole := shippedRoles(t)
	role.Namespace = o.Namespace
	role.Rules[0].ResourceNames = []string{o.SecretName}
	clusterRole.Name = o.Namespace + "-webhook-configuration-role"
	clusterRole.Rules[0].ResourceNames = append(o.MutatingConfigurations, o.ValidatingConfigurations...)
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "controller-manager", Namespace: o.Namespace}}
	for _, obj := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: o.SecretName, Namespace: o.Namespace}},
		role, clusterRole,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "webhook-cert", Namespace: o.Namespace}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: clusterRole.Name}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole.Name}},
	} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + o.Namespace + ":controller-manager",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + o.Namespace, "system:authenticated"}}
	sa, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	// RBAC is evaluated per request, but the cache of the authorizer may lag a new binding.
	testenv.Eventually(t, 10*time.Second, func() error {
		return (&Manager{Client: sa, Options: o}).Ensure(ctx)
	})
	serving(t, o.CertDir, secret(t, o).Data[CACertKey], o, time.Now())
	// And nothing more: no listing Secrets, no reading another one.
	if err := sa.List(ctx, &corev1.SecretList{}, client.InNamespace(o.Namespace)); !apierrors.IsForbidden(err) {
		t.Fatalf("listing Secrets: %v, want Forbidden", err)
	}
	if err := sa.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: "other"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Fatalf("reading another Secret: %v, want Forbidden", err)
	}
}

// shippedRoles reads the Role and ClusterRole of config/rbac/webhook_cert_role.yaml.
func shippedRoles(t *testing.T) (*rbacv1.Role, *rbacv1.ClusterRole) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "webhook_cert_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("webhook_cert_role.yaml has %d documents, want a Role and a ClusterRole", len(docs))
	}
	role, clusterRole := &rbacv1.Role{}, &rbacv1.ClusterRole{}
	for i, into := range []any{role, clusterRole} {
		if err := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(docs[i]), 4096).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
	if role.Kind != "Role" || clusterRole.Kind != "ClusterRole" || len(role.Rules) != 1 || len(clusterRole.Rules) != 1 {
		t.Fatalf("unexpected shape of webhook_cert_role.yaml: %+v %+v", role, clusterRole)
	}
	return role, clusterRole
}

func TestDeferredServesOnceTheCertificateCanBeWritten(t *testing.T) {
	o := setup(t, "deferred")
	// The Secret's namespace does not exist yet: the certificate cannot be written.
	o.Namespace = "deferred-later"
	var served atomic.Int32
	d := &Deferred{Certs: &Manager{Client: env.Client, Options: o}, Initial: 100 * time.Millisecond,
		Serve:   func() error { served.Add(1); return nil },
		Started: func(*http.Request) error { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Start(ctx) }()
	time.Sleep(500 * time.Millisecond)
	if err := d.Ready(nil); err == nil || served.Load() != 0 {
		t.Fatalf("ready (%v) or served (%d) without a certificate", err, served.Load())
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting after the namespace appeared")
	}
	if err := d.Ready(nil); err != nil || served.Load() != 1 {
		t.Fatalf("ready %v, served %d times", err, served.Load())
	}
	if _, err := os.Stat(filepath.Join(o.CertDir, "tls.crt")); err != nil {
		t.Fatalf("served before the files were written: %v", err)
	}
}
