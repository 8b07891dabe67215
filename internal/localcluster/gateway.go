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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// LocalSlackUser is the Slack user ID that hack/slack-command speaks as on the local cluster;
// firescope-chat-identities maps it to Options.User.
const LocalSlackUser = "U0LOCAL"

// startGateway runs the chat gateway on GatewayAddr, acting on the default namespace, with a
// signing secret and a bot token of its own in Dir. There is no Slack here: commands come
// from hack/slack-command, which signs them with that secret as Slack would.
func (c *Cluster) startGateway(ctx context.Context) error {
	files := map[string]string{}
	for _, name := range []string{"slack-signing-secret", "slack-bot-token"} {
		path := filepath.Join(c.opts.Dir, name)
		if _, err := os.Stat(path); err != nil {
			b := make([]byte, 16)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(hex.EncodeToString(b)), 0o600); err != nil {
				return err
			}
		}
		files[name] = path
	}
	if c.env != nil {
		if err := c.mapLocalSlackUser(ctx); err != nil {
			return err
		}
		if err := c.alertToken(ctx); err != nil {
			return err
		}
	}
	p, err := startProcess("the chat gateway", filepath.Join(c.opts.Dir, "gateway.log"), c.opts.Gateway, []string{
		"--listen=" + c.opts.GatewayAddr, "--kubeconfig=" + c.Kubeconfig, "--namespace=default",
		"--signing-secret-file=" + files["slack-signing-secret"], "--bot-token-file=" + files["slack-bot-token"],
		// No Slack to ask who people are: the ConfigMap says, and forms cannot open.
		"--slack-api-url=http://127.0.0.1:9/api/",
	}, nil)
	if err != nil {
		return err
	}
	c.gateway = p
	return p.waitReady(ctx, &http.Client{Timeout: 2 * time.Second}, "http://"+c.opts.GatewayAddr+"/readyz")
}

// mapLocalSlackUser maps LocalSlackUser to the local user in firescope-chat-identities, keeping
// any mapping added since, and gives that username the rights the kubeconfig has.
func (c *Cluster) mapLocalSlackUser(ctx context.Context) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "firescope-chat-identities", Namespace: "default"}}
	_, err = controllerutil.CreateOrUpdate(ctx, cl, cm, func() error {
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[LocalSlackUser] = c.opts.User
		return nil
	})
	if err != nil {
		return fmt.Errorf("mapping the local Slack user: %w", err)
	}
	// The kubeconfig's user is in system:masters, a group the gateway cannot impersonate: the
	// username itself is bound to cluster-admin, as a cluster's admins would bind people.
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "firescope-local:you"}}
	_, err = controllerutil.CreateOrUpdate(ctx, cl, crb, func() error {
		crb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}
		crb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: c.opts.User}}
		return nil
	})
	return err
}

// AlertTokenFile is the file in Dir holding the bearer token a local Alertmanager sends to
// the gateway's /alertmanager/default (its credentials_file).
const AlertTokenFile = "alertmanager-token"

// alertToken gives the default namespace the Secret of Alertmanager's bearer token, with the
// token of AlertTokenFile, made on first use.
func (c *Cluster) alertToken(ctx context.Context) error {
	path := filepath.Join(c.opts.Dir, AlertTokenFile)
	if _, err := os.Stat(path); err != nil {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			return err
		}
	}
	token, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "firescope-alertmanager", Namespace: "default"}}
	_, err = controllerutil.CreateOrUpdate(ctx, cl, sec, func() error {
		if sec.Labels == nil {
			sec.Labels = map[string]string{}
		}
		sec.Labels["firescope.dev/credential"] = "true"
		sec.Data = map[string][]byte{"token": token}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing the local Alertmanager token: %w", err)
	}
	return nil
}

func (c *Cluster) client() (client.Client, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{})
}
