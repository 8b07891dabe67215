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

// Package webhookcert gives the admission webhook a certificate on a cluster without
// cert-manager. The manager keeps a CA and a serving certificate in one Secret, writes the
// serving pair to the webhook server's certificate directory, and keeps the caBundle of the
// Firescope webhook configurations equal to the CA. Every replica runs it: the Secret is the
// one source of truth, written with optimistic concurrency, so replicas always agree.
//
// It reads and writes only the objects it is given by name: the Secret and the webhook
// configurations. It never lists or watches, so RBAC can limit it with resourceNames.
package webhookcert

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Keys of the Secret.
const (
	CACertKey  = "ca.crt"
	caKeyKey   = "ca.key"
	CertKey    = "tls.crt"
	privKeyKey = "tls.key"
)

const (
	caValidity      = 10 * 365 * 24 * time.Hour
	servingValidity = 365 * 24 * time.Hour
	// callTimeout bounds every API call, so that a stuck API server cannot stall a check.
	callTimeout = 10 * time.Second
)

// Options names what the certificate manager looks after.
type Options struct {
	// SecretName is the Secret that holds the CA and the serving certificate, in Namespace.
	// Empty means the certificate files are provided by someone else (cert-manager, by hand).
	SecretName string
	// Namespace of the Secret and of the webhook Service.
	Namespace string
	// ServiceName is the webhook Service; the serving certificate is for
	// <ServiceName>.<Namespace>.svc and <ServiceName>.<Namespace>.svc.cluster.local.
	ServiceName string
	// CertDir receives tls.crt and tls.key for the webhook server.
	CertDir string
	// MutatingConfigurations and ValidatingConfigurations are the webhook configurations
	// whose caBundle is kept equal to the CA.
	MutatingConfigurations, ValidatingConfigurations []string
	// Interval between checks: renewal, files, caBundle. Defaults to a minute.
	Interval time.Duration
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// BindFlags registers the options as command line flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.SecretName, "webhook-cert-secret", "", "Self-manage the webhook certificate: keep a CA and serving certificate in this Secret, "+
		"write them to --webhook-cert-path and keep the webhook configurations' caBundle current. Empty when cert-manager or a person provides the files.")
	fs.StringVar(&o.Namespace, "webhook-cert-namespace", "", "Namespace of --webhook-cert-secret and --webhook-service.")
	fs.StringVar(&o.ServiceName, "webhook-service", "", "Name of the webhook Service, for the serving certificate's DNS names.")
	fs.Func("mutating-webhook-configuration", "MutatingWebhookConfiguration whose caBundle to keep current (repeatable).", func(s string) error {
		o.MutatingConfigurations = append(o.MutatingConfigurations, s)
		return nil
	})
	fs.Func("validating-webhook-configuration", "ValidatingWebhookConfiguration whose caBundle to keep current (repeatable).", func(s string) error {
		o.ValidatingConfigurations = append(o.ValidatingConfigurations, s)
		return nil
	})
	fs.DurationVar(&o.Interval, "webhook-cert-check-interval", time.Minute, "How often to check the webhook certificate and the caBundle.")
}

// Enabled says whether the manager should look after the certificate itself.
func (o Options) Enabled() bool { return o.SecretName != "" }

// Validate reports missing options.
func (o Options) Validate() error {
	var missing []string
	for _, f := range []struct{ flag, value string }{
		{"webhook-cert-namespace", o.Namespace}, {"webhook-service", o.ServiceName}, {"webhook-cert-path", o.CertDir},
	} {
		if f.value == "" {
			missing = append(missing, "--"+f.flag)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--webhook-cert-secret needs %s", strings.Join(missing, ", "))
	}
	return nil
}

// DNSNames are the names the serving certificate is for.
func (o Options) DNSNames() []string {
	svc := o.ServiceName + "." + o.Namespace + ".svc"
	return []string{svc, svc + ".cluster.local"}
}

// Manager keeps the certificate. It is a controller-runtime Runnable that runs on every
// replica, leader or not, since every replica serves the webhook.
type Manager struct {
	// Client reads and writes directly, uncached: a cache would list and watch.
	Client client.Client
	Options
}

// NeedLeaderElection is false: every replica needs its certificate files.
func (m *Manager) NeedLeaderElection() bool { return false }

// Start checks at once, then at every interval until ctx ends. A failed check is logged and
// retried sooner; the files already written keep serving meanwhile.
func (m *Manager) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhookcert")
	interval := m.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = interval
		if err := m.Ensure(ctx); err != nil {
			log.Error(err, "Checking the webhook certificate")
			wait = min(interval, 5*time.Second)
		}
	}
}

// Ensure makes the Secret hold a CA and a serving certificate that is valid for a while yet,
// writes the serving pair to CertDir, and sets the CA as caBundle on every named webhook
// configuration. It is idempotent and safe to run from several replicas at once.
func (m *Manager) Ensure(ctx context.Context) error {
	b, err := m.writeCertificate(ctx)
	if err != nil {
		return err
	}
	return m.patchCABundles(ctx, b.caBundle)
}

// WriteCertificate is the part of Ensure that the webhook server needs before it starts:
// the Secret and the files. The caBundle follows from Start.
func (m *Manager) WriteCertificate(ctx context.Context) error {
	_, err := m.writeCertificate(ctx)
	return err
}

func (m *Manager) writeCertificate(ctx context.Context) (*bundle, error) {
	b, err := m.ensureSecret(ctx)
	if err != nil {
		return nil, err
	}
	return b, m.writeFiles(b)
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// ensureSecret returns the Secret's certificates, creating or renewing them when needed. A
// write that loses a race (AlreadyExists, Conflict) re-reads: the winner's certificates are
// then the ones every replica uses.
func (m *Manager) ensureSecret(ctx context.Context) (*bundle, error) {
	key := client.ObjectKey{Namespace: m.Namespace, Name: m.SecretName}
	for range 5 {
		sec := &corev1.Secret{}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := m.Client.Get(cctx, key, sec)
		cancel()
		notFound := apierrors.IsNotFound(err)
		if err != nil && !notFound {
			return nil, fmt.Errorf("reading Secret %s: %w", key, err)
		}
		old, _ := parseBundle(sec.Data)
		b, changed, err := m.renew(old)
		if err != nil {
			return nil, err
		}
		if !changed {
			return b, nil
		}
		sec.Namespace, sec.Name = m.Namespace, m.SecretName
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		for k, v := range b.data() {
			sec.Data[k] = v
		}
		cctx, cancel = context.WithTimeout(ctx, callTimeout)
		if notFound {
			err = m.Client.Create(cctx, sec)
		} else {
			// The resourceVersion from the Get makes this conditional.
			err = m.Client.Update(cctx, sec)
		}
		cancel()
		switch {
		case err == nil:
			logf.FromContext(ctx).WithName("webhookcert").Info("Wrote the webhook certificate", "secret", key.String(), "notAfter", b.cert.NotAfter)
			return b, nil
		case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
			continue
		default:
			return nil, fmt.Errorf("writing Secret %s: %w", key, err)
		}
	}
	return nil, fmt.Errorf("Secret %s kept changing under us", key)
}

// renew returns old if it is still good, or new certificates: a new serving certificate from
// the same CA when only it is due, a new CA as well when the CA is due or unusable. A renewed
// CA keeps the previous one in the bundle while it is valid, so that a replica still serving
// the previous certificate stays trusted until it has read the new files.
func (m *Manager) renew(old *bundle) (*bundle, bool, error) {
	now := m.now()
	caOK := old != nil && !due(old.ca, now)
	if caOK && !due(old.cert, now) && old.servesFor(m.DNSNames(), now) {
		return old, false, nil
	}
	b := &bundle{}
	var err error
	if caOK {
		b.ca, b.caKey, b.caBundle = old.ca, old.caKey, old.caBundle
	} else {
		if b.ca, b.caKey, err = newCA(now); err != nil {
			return nil, false, err
		}
		b.caBundle = pemCert(b.ca)
		if old != nil && old.ca != nil && now.Before(old.ca.NotAfter) {
			b.caBundle = append(b.caBundle, pemCert(old.ca)...)
		}
	}
	if b.cert, b.key, err = newServing(b.ca, b.caKey, m.DNSNames(), now); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// due says a certificate should be replaced: two thirds of its life have passed.
func due(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return now.After(c.NotBefore.Add(life * 2 / 3))
}

// writeFiles writes tls.crt and tls.key when they differ from what is there, each by an atomic
// rename, so the webhook server's certificate watcher never reads half a file.
func (m *Manager) writeFiles(b *bundle) error {
	if err := os.MkdirAll(m.CertDir, 0o700); err != nil {
		return err
	}
	d := b.data()
	// The key first: a watcher that reloads between the two renames then fails to pair the old
	// certificate with the new key and keeps serving the previous pair until the next poll.
	for _, name := range []string{privKeyKey, CertKey} {
		path := filepath.Join(m.CertDir, name)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, d[name]) {
			continue
		}
		tmp, err := os.CreateTemp(m.CertDir, "."+name+"-")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(d[name])
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}

// patchCABundles sets caBundle on every webhook of the named configurations. A configuration
// that does not exist yet (the install applies it after the Deployment) is reported, and the
// next check tries again.
func (m *Manager) patchCABundles(ctx context.Context, caBundle []byte) error {
	var errs []error
	for _, name := range m.MutatingConfigurations {
		errs = append(errs, m.patchOne(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{}, name, caBundle))
	}
	for _, name := range m.ValidatingConfigurations {
		errs = append(errs, m.patchOne(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{}, name, caBundle))
	}
	return errors.Join(errs...)
}

func (m *Manager) patchOne(ctx context.Context, obj client.Object, name string, caBundle []byte) error {
	for range 5 {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := m.Client.Get(cctx, client.ObjectKey{Name: name}, obj)
		cancel()
		if err != nil {
			return fmt.Errorf("reading %T %s: %w", obj, name, err)
		}
		changed := false
		set := func(cc *admissionregistrationv1.WebhookClientConfig) {
			if !bytes.Equal(cc.CABundle, caBundle) {
				cc.CABundle, changed = caBundle, true
			}
		}
		switch o := obj.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			for i := range o.Webhooks {
				set(&o.Webhooks[i].ClientConfig)
			}
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			for i := range o.Webhooks {
				set(&o.Webhooks[i].ClientConfig)
			}
		}
		if !changed {
			return nil
		}
		cctx, cancel = context.WithTimeout(ctx, callTimeout)
		err = m.Client.Update(cctx, obj)
		cancel()
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("setting the caBundle of %s: %w", name, err)
		}
		logf.FromContext(ctx).WithName("webhookcert").Info("Set the caBundle", "configuration", name)
		return nil
	}
	return fmt.Errorf("%s kept changing under us", name)
}

// bundle is the Secret's content, parsed.
type bundle struct {
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	caBundle []byte // PEM: the CA first, then a previous CA still valid
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
}

func (b *bundle) data() map[string][]byte {
	return map[string][]byte{
		CACertKey:  b.caBundle,
		caKeyKey:   pemKey(b.caKey),
		CertKey:    append(pemCert(b.cert), pemCert(b.ca)...),
		privKeyKey: pemKey(b.key),
	}
}

// servesFor says whether the serving certificate is for exactly these names and chains to
// the CA.
func (b *bundle) servesFor(names []string, now time.Time) bool {
	if !slices.Equal(b.cert.DNSNames, names) {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(b.ca)
	_, err := b.cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: names[0], CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err == nil
}

// parseBundle reads the Secret's data; anything missing or malformed is an error, and the
// caller then issues new certificates.
func parseBundle(data map[string][]byte) (*bundle, error) {
	b := &bundle{caBundle: data[CACertKey]}
	var err error
	if b.ca, err = parseCert(data[CACertKey]); err != nil {
		return nil, err
	}
	if err := checkCABundle(b.ca, b.caBundle); err != nil {
		return nil, err
	}
	if b.caKey, err = parseKey(data[caKeyKey], b.ca); err != nil {
		return nil, err
	}
	if b.cert, err = parseCert(data[CertKey]); err != nil {
		return nil, err
	}
	if b.key, err = parseKey(data[privKeyKey], b.cert); err != nil {
		return nil, err
	}
	return b, nil
}

// parseCert returns the first certificate of a PEM bundle.
func parseCert(p []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(p)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// checkCABundle refuses a CA that may not sign certificates (the manager signs the next
// serving certificate with it), and a bundle that holds anything but certificates: it is
// published as is to the webhook configurations, which everyone may read.
func checkCABundle(ca *x509.Certificate, p []byte) error {
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("the CA certificate may not sign certificates")
	}
	for rest := bytes.TrimSpace(p); len(rest) > 0; rest = bytes.TrimSpace(rest) {
		var blk *pem.Block
		if bytes.HasPrefix(rest, []byte("-----BEGIN CERTIFICATE-----")) {
			blk, rest = pem.Decode(rest)
		}
		if blk == nil || blk.Type != "CERTIFICATE" || len(blk.Headers) > 0 {
			return errors.New("the CA bundle holds something other than certificates")
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("the CA bundle: %w", err)
		}
	}
	return nil
}

// parseKey returns the EC private key of a PEM block, if it belongs to cert.
func parseKey(p []byte, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(p)
	if blk == nil {
		return nil, errors.New("no key")
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if !k.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the key does not belong to the certificate")
	}
	return k, nil
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "firescope-webhook-ca"},
		NotBefore:             now.Add(-time.Hour), // tolerates clock skew between nodes
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, nil, nil)
}

func newServing(ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		DNSNames:    names,
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(servingValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return sign(tmpl, ca, caKey)
}

// sign makes a key and a certificate from tmpl, signed by parent (self-signed when nil).
func sign(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		// Only fails for curves x509 does not know; P-256 is always known.
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
