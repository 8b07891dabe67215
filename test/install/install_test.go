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

// Package install checks the kustomize installation in config/ against a real API server: it
// builds the manifests with `kubectl kustomize` (never a committed copy), has the API server
// validate every object with a server-side dry run, and runs the manager binary with nothing
// but the RBAC the installation grants.
package install

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/localcluster"
	"firescope.dev/firescope/internal/manager"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/testenv"
)

var (
	root = testenv.RepoRoot()
	// kubeconfig reaches the test's API server as a cluster admin.
	kubeconfig string
	env        *envtest.Environment
	cl         client.Client
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
		return 1
	}
	// A bare API server: the installation brings its own CRDs.
	env = &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	dir, err := os.MkdirTemp("", "firescope-install-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var kc []byte
		if kc, err = admin.KubeConfig(); err == nil {
			kubeconfig = filepath.Join(dir, "kubeconfig")
			err = os.WriteFile(kubeconfig, kc, 0o600)
		}
	}
	if err == nil {
		cl, err = client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// kustomize builds a kustomization of this repository.
func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	return run1(t, "", "kubectl", "kustomize", filepath.Join(root, dir))
}

// kubectl runs kubectl against the test's API server with stdin.
func kubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	return string(run1(t, string(stdin), "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...))
}

func run1(t *testing.T, stdin string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// objects splits a manifest into its objects.
func objects(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if err.Error() == "EOF" {
				return objs
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

func yamlOf(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		j, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteString("\n")
	}
	return b.Bytes()
}

// dryRun has the API server validate every object, as `kubectl apply --server-side` would
// apply it, and returns how many it accepted. A server-side dry run cannot make a namespace
// exist for the objects in it, so the manifest's Namespaces are created for real first;
// everything else, the Namespaces included, is only validated.
func dryRun(t *testing.T, objs []*unstructured.Unstructured) int {
	t.Helper()
	var namespaces []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			namespaces = append(namespaces, o)
		}
	}
	if len(namespaces) > 0 {
		kubectl(t, yamlOf(t, namespaces), "apply", "--server-side", "-f", "-")
	}
	out := kubectl(t, yamlOf(t, objs), "apply", "--server-side", "--dry-run=server", "--field-manager=firescope-install-test", "-f", "-")
	n := strings.Count(out, "(server dry run)")
	if n != len(objs) {
		t.Fatalf("the API server accepted %d of %d objects:\n%s", n, len(objs), out)
	}
	return n
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the manifest", kind, name)
	return nil
}

func TestTheDefaultInstallPassesServerSideValidation(t *testing.T) {
	objs := objects(t, kustomize(t, "config/default"))
	// The CRDs in the install are validated like everything else; the install holds no
	// custom resources, so none waits for its CRD to be established.
	n := dryRun(t, objs)
	t.Logf("config/default: the API server validated all %d objects", n)

	dep := find(t, objs, "Deployment", "firescope-controller-manager")
	// Numbers decode as float64 or int64 depending on the decoder; compare their text.
	if r, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas"); fmt.Sprint(r) != "2" {
		t.Fatalf("replicas %v, want 2", r)
	}
	find(t, objs, "PodDisruptionBudget", "firescope-controller-manager")
	find(t, objs, "Secret", "firescope-webhook-certs")
	find(t, objs, "Service", "firescope-controller-manager-metrics-service")
	svc := find(t, objs, "Service", "firescope-webhook-service")
	if svc.GetNamespace() != "firescope-system" {
		t.Fatalf("webhook Service in %q", svc.GetNamespace())
	}
}

func TestTheInstalledRolesReadSecretsOnlyByName(t *testing.T) {
	objs := objects(t, kustomize(t, "config/default"))
	for _, o := range objs {
		if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			rule := r.(map[string]any)
			res, _, _ := unstructured.NestedStringSlice(rule, "resources")
			verbs, _, _ := unstructured.NestedStringSlice(rule, "verbs")
			groups, _, _ := unstructured.NestedStringSlice(rule, "apiGroups")
			if !contains(groups, "") || !(contains(res, "secrets") || contains(res, "*")) {
				continue
			}
			for _, v := range verbs {
				if v != "get" && v != "update" {
					t.Errorf("%s %s lets the manager %s Secrets", o.GetKind(), o.GetName(), v)
				}
				if v == "update" {
					if names, _, _ := unstructured.NestedStringSlice(rule, "resourceNames"); len(names) == 0 {
						t.Errorf("%s %s lets the manager update any Secret", o.GetKind(), o.GetName())
					}
				}
			}
		}
	}
}

// Credentials are read only in the namespaces that grant it: nothing in the install binds the
// credential reader, and the manager's own role has no rule for Secrets.
func TestCredentialsAreReadOnlyWhereANamespaceGrantsIt(t *testing.T) {
	objs := objects(t, kustomize(t, "config/default"))
	find(t, objs, "ClusterRole", "firescope-credential-reader")
	role := find(t, objs, "ClusterRole", "firescope-manager-role")
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	for _, r := range rules {
		if res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources"); contains(res, "secrets") || contains(res, "*") {
			t.Errorf("the manager's ClusterRole grants %v everywhere", res)
		}
	}
	for _, o := range objs {
		if ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name"); ref == "firescope-credential-reader" {
			t.Errorf("%s %s binds the credential reader in the default install", o.GetKind(), o.GetName())
		}
	}

	// The optional component binds it cluster-wide, to the installed service account; the API
	// server validates the result.
	dir, err := os.MkdirTemp(filepath.Join(root, "config"), "overlay-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	overlay := "resources: [../default]\ncomponents: [../credentials-all-namespaces]\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	all := objects(t, run1(t, "", "kubectl", "kustomize", dir))
	b := find(t, all, "ClusterRoleBinding", "firescope-credential-reader")
	subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
	sa := find(t, all, "ServiceAccount", "firescope-controller-manager")
	if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != sa.GetName() || subjects[0].(map[string]any)["namespace"] != sa.GetNamespace() {
		t.Errorf("the binding's subjects %v are not the installed service account %s/%s", subjects, sa.GetNamespace(), sa.GetName())
	}
	t.Logf("config/default with credentials-all-namespaces: the API server validated %d objects", dryRun(t, all))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// The cert-manager kinds cannot be validated here: their CRDs belong to cert-manager, which
// this API server does not have. Every other object is validated, and the references between
// the Certificate and the rest are checked here instead.
func TestTheCertManagerInstallPassesServerSideValidation(t *testing.T) {
	objs := objects(t, kustomize(t, "config/certmanager"))
	var core []*unstructured.Unstructured
	var cert, ca, caIssuer *unstructured.Unstructured
	for _, o := range objs {
		switch {
		case o.GetKind() == "Certificate" && o.GetName() == "firescope-serving-cert":
			cert = o
		case o.GetKind() == "Certificate":
			ca = o
		case o.GetKind() == "Issuer" && o.GetName() == "firescope-ca-issuer":
			caIssuer = o
		case strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/"):
		default:
			core = append(core, o)
		}
		if o.GetName() == "firescope-webhook-certs" || o.GetName() == "firescope-webhook-cert-role" {
			t.Fatalf("%s %s is still there with cert-manager", o.GetKind(), o.GetName())
		}
	}
	n := dryRun(t, core)
	t.Logf("config/certmanager: the API server validated %d objects; %d cert-manager objects checked by reference", n, len(objs)-n)

	if cert == nil || ca == nil || caIssuer == nil {
		t.Fatalf("serving Certificate %v, CA Certificate %v, CA Issuer %v", cert != nil, ca != nil, caIssuer != nil)
	}
	// The serving certificate is signed by a CA of its own, so that renewing it leaves the
	// injected caBundle alone.
	if isCA, _, _ := unstructured.NestedBool(ca.Object, "spec", "isCA"); !isCA {
		t.Fatalf("Certificate %s is not a CA", ca.GetName())
	}
	caSecret, _, _ := unstructured.NestedString(ca.Object, "spec", "secretName")
	if s, _, _ := unstructured.NestedString(caIssuer.Object, "spec", "ca", "secretName"); s != caSecret {
		t.Fatalf("the CA issuer signs with %q, the CA is in %q", s, caSecret)
	}
	if issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name"); issuer != caIssuer.GetName() {
		t.Fatalf("the serving certificate is issued by %q, want the CA issuer %s", issuer, caIssuer.GetName())
	}
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	dep := find(t, objs, "Deployment", "firescope-controller-manager")
	vols, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	mounted := false
	for _, v := range vols {
		if s, _, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); s == secretName {
			mounted = true
		}
	}
	if !mounted {
		t.Fatalf("the Deployment does not mount the Certificate's Secret %s: %v", secretName, vols)
	}
	dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	svc := find(t, objs, "Service", "firescope-webhook-service")
	if want := svc.GetName() + "." + svc.GetNamespace() + ".svc"; len(dns) == 0 || dns[0] != want {
		t.Fatalf("the Certificate is for %v, want %s", dns, want)
	}
	want := cert.GetNamespace() + "/" + cert.GetName()
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetAnnotations()["cert-manager.io/inject-ca-from"] != want {
				t.Fatalf("%s %s injects the CA from %q, want %q", kind, o.GetName(), o.GetAnnotations()["cert-manager.io/inject-ca-from"], want)
			}
		}
	}
	args, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if strings.Contains(fmt.Sprint(args), "--webhook-cert-secret") {
		t.Fatal("with cert-manager the manager must not manage the certificate too")
	}
}

func TestTheStatusPageInstallPassesServerSideValidation(t *testing.T) {
	for _, dir := range []string{"config/statuspage", "config/statuspage-postgres"} {
		n := dryRun(t, objects(t, kustomize(t, dir)))
		t.Logf("%s: the API server validated all %d objects", dir, n)
	}
}

// The optional components, in an overlay the way docs/install.md shows. The ServiceMonitor's
// and PrometheusRule's CRDs belong to the Prometheus Operator, so they are checked by
// reference, not by the server.
func TestTheOptionalComponentsPassServerSideValidation(t *testing.T) {
	dir := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	config, err := filepath.Rel(dir, filepath.Join(root, "config"))
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("resources: [%[1]s/default]\ncomponents: [%[1]s/prometheus, %[1]s/network-policy, %[1]s/in-cluster-statuspage]\n", config)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := objects(t, run1(t, "", "kubectl", "kustomize", dir))
	var checked []*unstructured.Unstructured
	var monitor *unstructured.Unstructured
	policies := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceMonitor":
			monitor = o
		case "NetworkPolicy":
			policies++
			checked = append(checked, o)
		case "Namespace":
			checked = append(checked, o)
		}
	}
	if policies != 2 || monitor == nil {
		t.Fatalf("%d NetworkPolicies and ServiceMonitor %v", policies, monitor)
	}
	// in-cluster-statuspage lets the manager reach the status page of config/statuspage.
	deploy := find(t, objs, "Deployment", "firescope-controller-manager")
	checked = append(checked, deploy)
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	var args []string
	if len(containers) > 0 {
		args, _, _ = unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	}
	if !contains(args, "--allow-private-destinations=firescope-statuspage.firescope-statuspage.svc,firescope-statuspage.firescope-statuspage.svc.cluster.local") {
		t.Errorf("in-cluster-statuspage: the manager's args are %q", args)
	}
	dryRun(t, checked)
	svc := find(t, objs, "Service", "firescope-controller-manager-metrics-service")
	sel, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.GetLabels()[k] != v {
			t.Fatalf("the ServiceMonitor selects %v, which the metrics Service (%v) does not match", sel, svc.GetLabels())
		}
	}
	if monitor.GetNamespace() != svc.GetNamespace() {
		t.Fatalf("the ServiceMonitor is in %s, the Service in %s", monitor.GetNamespace(), svc.GetNamespace())
	}
	if rule := find(t, objs, "PrometheusRule", "firescope-alerts"); rule.GetNamespace() != svc.GetNamespace() {
		t.Fatalf("the PrometheusRule is in %s, the manager in %s", rule.GetNamespace(), svc.GetNamespace())
	}
}

// TestTheManagerRunsWithOnlyTheInstalledRBAC installs config/default for real (there is no
// kubelet, so the Deployment's pods never start), then runs the manager binary on this
// machine as the installation's service account, through impersonation, with the
// Deployment's flags. It must fill the certificate Secret, set the caBundles, take the lead
// and reconcile an Incident: every permission it needs is in the installation.
func TestTheManagerRunsWithOnlyTheInstalledRBAC(t *testing.T) {
	bin := filepath.Join(root, "bin", "manager")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("bin/manager is missing: run `make build` (make test does)")
	}
	ctx := context.Background()
	manifest := kustomize(t, "config/default")
	kubectl(t, manifest, "apply", "--server-side", "--field-manager=firescope-install-test", "-f", "-")

	// The service account, through impersonation.
	const ns, sa = "firescope-system", "firescope-controller-manager"
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range kc.AuthInfos {
		u.Impersonate = "system:serviceaccount:" + ns + ":" + sa
		u.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	}
	saKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, saKubeconfig); err != nil {
		t.Fatal(err)
	}

	// The same names as the Deployment's, or this test would prove nothing about it.
	dep := find(t, objects(t, manifest), "Deployment", "firescope-controller-manager")
	envs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	for _, want := range []string{"firescope-webhook-certs", "firescope-webhook-service", "firescope-mutating-webhook-configuration", "firescope-validating-webhook-configuration"} {
		if !strings.Contains(fmt.Sprint(envs), want) {
			t.Fatalf("the Deployment does not name %s", want)
		}
	}
	m := startManager(t, bin, saKubeconfig)
	running, logPath := m.running, m.log

	testenv.Eventually(t, time.Minute, func() error {
		running()
		sec := &corev1.Secret{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "firescope-webhook-certs"}, sec); err != nil {
			return err
		}
		if len(sec.Data["ca.crt"]) == 0 {
			return fmt.Errorf("the certificate Secret is still empty")
		}
		// Every webhook of the installed configurations gets the CA, however many there are.
		configs := []string{"get", "mutatingwebhookconfiguration,validatingwebhookconfiguration", "-o"}
		hooks := strings.Fields(kubectl(t, nil, append(configs, "jsonpath={.items[*].webhooks[*].name}")...))
		bundles := strings.Fields(kubectl(t, nil, append(configs, "jsonpath={.items[*].webhooks[*].clientConfig.caBundle}")...))
		if len(hooks) < 2 || len(bundles) != len(hooks) {
			return fmt.Errorf("caBundles set: %d of %d", len(bundles), len(hooks))
		}
		lease := &coordinationv1.Lease{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "firescope-manager.firescope.dev"}, lease); err != nil {
			return err
		}
		return nil
	})

	// A reconcile: the timeline records the IC. The webhook cannot be reached here (no
	// Service routing), and fails open, so the IC is given.
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rbac-check"}}); err != nil {
		t.Fatal(err)
	}
	// The team grants the credential reader in its namespace, as docs/install.md says, and
	// its policy announces to Slack with a credential from there.
	sl := slack.New()
	defer sl.Close()
	kubectl(t, nil, "create", "rolebinding", "firescope-credentials", "-n", "rbac-check",
		"--clusterrole=firescope-credential-reader", "--serviceaccount="+ns+":"+sa)
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "slack", Namespace: "rbac-check", Labels: map[string]string{"firescope.dev/credential": "true"},
			Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1")},
			StringData: map[string]string{"url": sl.WebhookURL()}},
		&v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "rbac-check"},
			Spec: v1alpha1.ResponsePolicySpec{CommsChannel: &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{
				WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "slack", Key: "url"}}}}},
	} {
		if err := cl.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	inc := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "api-errors", Namespace: "rbac-check"},
		Spec: v1alpha1.IncidentSpec{Title: "API errors", State: v1alpha1.StateConfirmed, Roles: v1alpha1.Roles{Commander: "ricardo"}}}
	if err := cl.Create(ctx, inc); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		running()
		if err := cl.Get(ctx, client.ObjectKeyFromObject(inc), inc); err != nil {
			return err
		}
		if len(inc.Status.Timeline) == 0 {
			return fmt.Errorf("no timeline yet")
		}
		return nil
	})
	testenv.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(strings.Join(sl.Texts(), "\n"), "@all: IC -> ricardo") {
			return fmt.Errorf("Slack got %q", sl.Texts())
		}
		return nil
	})
	if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte("forbidden")) {
		t.Fatalf("the manager was refused something:\n%s", b)
	}
	checkMetrics(t, m.metrics)

	// A replica that cannot write its certificate at start (the Secret was deleted, and it may
	// not create one) runs without webhooks and is not ready; once the install is re-applied
	// it serves them and turns ready, without a restart.
	if err := cl.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "firescope-webhook-certs"}}); err != nil {
		t.Fatal(err)
	}
	second := startManager(t, bin, saKubeconfig)
	testenv.Eventually(t, 30*time.Second, func() error {
		second.running()
		if b, _ := os.ReadFile(second.log); !bytes.Contains(b, []byte("Cannot write the webhook certificate yet")) {
			return fmt.Errorf("no word of the missing certificate yet")
		}
		return nil
	})
	if err := second.ready(); err == nil {
		t.Fatal("a replica without its webhook certificate says it is ready")
	}
	kubectl(t, manifest, "apply", "--server-side", "--field-manager=firescope-install-test", "-f", "-")
	testenv.Eventually(t, time.Minute, func() error {
		second.running()
		return second.ready()
	})
}

// replica is a manager binary run as the installation's service account.
type replica struct {
	probe, metrics, log string
	running             func()
}

// startManager runs the manager binary with the Deployment's flags, as the service account
// of kubeconfig, and stops it when the test ends (showing its log if the test failed).
func startManager(t *testing.T, bin, kubeconfig string) replica {
	t.Helper()
	const ns = "firescope-system"
	r := replica{probe: freeAddr(t), metrics: freeAddr(t), log: filepath.Join(t.TempDir(), "manager.log")}
	args := []string{
		"--leader-elect", "--leader-election-namespace=" + ns,
		// Metrics in plain HTTP on loopback, for checkMetrics to scrape without a token.
		"--health-probe-bind-address=" + r.probe, "--metrics-bind-address=" + r.metrics, "--metrics-secure=false",
		"--webhook-port=" + freePort(t), "--webhook-cert-path=" + t.TempDir(),
		"--webhook-cert-secret=firescope-webhook-certs", "--webhook-cert-namespace=" + ns,
		"--webhook-service=firescope-webhook-service",
		"--mutating-webhook-configuration=firescope-mutating-webhook-configuration",
		"--validating-webhook-configuration=firescope-validating-webhook-configuration",
		// The Slack stand-in listens on this machine.
		"--allow-private-destinations=127.0.0.1",
	}
	logFile, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	r.running = func() {
		select {
		case <-exited:
			t.Fatalf("the manager exited (%v)", exitErr)
		default:
		}
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(r.log)
			t.Logf("manager log (%s):\n%s", r.probe, b)
		}
	})
	return r
}

// ready asks the replica's readiness probe.
func (r replica) ready() error {
	return localcluster.Probe(context.Background(), "http://"+r.probe+"/readyz")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func freePort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}
