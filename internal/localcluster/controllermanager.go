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

package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The local kube-controller-manager runs only the controllers that make the API behave as a
// cluster's does for Firescope's objects: deleting a namespace deletes what is in it, and
// deleting an owner deletes its dependents. Everything else (nodes, pods, service account
// tokens) has nothing to act on here.
var kcmControllers = []string{"namespace-controller", "garbage-collector-controller"}

// kcmUser is the identity the bootstrap RBAC policy already gives the shared informers and
// events of kube-controller-manager; kcmRoles add what the two controllers do, as their own
// service accounts would have in a cluster (the local one issues no service account tokens).
const kcmUser = "system:kube-controller-manager"

var kcmRoles = []string{"system:controller:namespace-controller", "system:controller:generic-garbage-collector"}

// startControllerManager runs kube-controller-manager against the local API server and waits
// until it serves its health check.
func (c *Cluster) startControllerManager(ctx context.Context) error {
	dir := filepath.Join(c.opts.Dir, "kube-controller-manager")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kubeconfig, err := c.controllerManagerIdentity(ctx, dir)
	if err != nil {
		return err
	}
	// A serving certificate of our own, so that the health check can be verified.
	cert, key, err := certutil.GenerateSelfSignedCertKey("localhost", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cert)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}

	addr, err := FreeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr)
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=" + strings.Join(kcmControllers, ","),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + port,
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
	}
	p, err := startProcess("kube-controller-manager", filepath.Join(c.opts.Dir, "kube-controller-manager.log"),
		filepath.Join(c.opts.Assets, "kube-controller-manager"), args, nil)
	if err != nil {
		return err
	}
	c.kcm = p
	return p.waitReady(ctx, hc, "https://"+addr+"/healthz")
}

// controllerManagerIdentity writes a kubeconfig for kcmUser into dir and binds kcmRoles to it.
func (c *Cluster) controllerManagerIdentity(ctx context.Context, dir string) (string, error) {
	user, err := c.env.AddUser(envtest.User{Name: kcmUser}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return "", err
	}
	cs, err := kubernetes.NewForConfig(c.env.Config)
	if err != nil {
		return "", err
	}
	for _, role := range kcmRoles {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "firescope-local:" + strings.TrimPrefix(role, "system:controller:")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: kcmUser}},
		}
		// The binding is the same on every start; one kept in etcd from the last is fine.
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("binding %s to %s: %w", role, kcmUser, err)
		}
	}
	return path, nil
}

// ControllerManagerExited is closed if the local kube-controller-manager stops; it is nil
// on an existing cluster.
func (c *Cluster) ControllerManagerExited() <-chan struct{} {
	if c.kcm == nil {
		return nil
	}
	return c.kcm.exited
}
