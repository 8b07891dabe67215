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
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// FuzzParseBundle feeds arbitrary Secret contents to parseBundle, which reads the Secret the
// manager keeps its webhook certificates in (anyone who may edit that Secret writes it).
// Nothing panics, and a bundle it accepts is one the manager can keep using: each key
// belongs to its certificate, the CA can sign the serving certificates it will issue, the
// caBundle it publishes to the webhook configurations (readable cluster-wide) holds
// certificates and nothing else, and writing the bundle back reads back the same.
func FuzzParseBundle(f *testing.F) {
	now := time.Now()
	ca, caKey, err := newCA(now)
	if err != nil {
		f.Fatal(err)
	}
	cert, key, err := newServing(ca, caKey, []string{"webhook.firescope-system.svc"}, now)
	if err != nil {
		f.Fatal(err)
	}
	good := (&bundle{ca: ca, caKey: caKey, caBundle: pemCert(ca), cert: cert, key: key}).data()
	add := func(mutate func(d map[string][]byte)) {
		d := map[string][]byte{}
		for k, v := range good {
			d[k] = bytes.Clone(v)
		}
		mutate(d)
		f.Add(d[CACertKey], d[caKeyKey], d[CertKey], d[privKeyKey])
	}
	add(func(map[string][]byte) {})
	add(func(d map[string][]byte) { d[CACertKey] = append(d[CACertKey], pemCert(ca)...) })
	add(func(d map[string][]byte) { d[CACertKey] = append(d[CACertKey], "trailing text\n"...) })
	add(func(d map[string][]byte) { d[CACertKey] = append(d[CACertKey], pemKey(caKey)...) })
	add(func(d map[string][]byte) { d[CACertKey], d[caKeyKey] = pemCert(cert), pemKey(key) })
	add(func(d map[string][]byte) { d[caKeyKey], d[privKeyKey] = d[privKeyKey], d[caKeyKey] })
	add(func(d map[string][]byte) { d[CertKey] = d[CertKey][:len(d[CertKey])/2] })
	add(func(d map[string][]byte) {
		d[CACertKey] = bytes.ReplaceAll(d[CACertKey], []byte("CERTIFICATE"), []byte("X509 CRL"))
	})
	add(func(d map[string][]byte) { clear(d) })

	f.Fuzz(func(t *testing.T, caCrt, caKeyPEM, tlsCrt, tlsKey []byte) {
		b, err := parseBundle(map[string][]byte{CACertKey: caCrt, caKeyKey: caKeyPEM, CertKey: tlsCrt, privKeyKey: tlsKey})
		if err != nil {
			return
		}
		if !b.key.PublicKey.Equal(b.cert.PublicKey) || !b.caKey.PublicKey.Equal(b.ca.PublicKey) {
			t.Fatal("accepted a key that does not belong to its certificate")
		}
		if !b.ca.IsCA || !b.ca.BasicConstraintsValid || b.ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Fatal("accepted a CA certificate that cannot sign certificates")
		}
		// Certificates, one after the other, with nothing but white space around them.
		for rest := b.caBundle; ; {
			i := bytes.Index(rest, []byte("-----BEGIN"))
			if i < 0 {
				if len(bytes.TrimSpace(rest)) > 0 {
					t.Fatalf("the caBundle ends with text: %q", rest)
				}
				break
			}
			if len(bytes.TrimSpace(rest[:i])) > 0 {
				t.Fatalf("the caBundle holds text between its certificates: %q", rest[:i])
			}
			var blk *pem.Block
			if blk, rest = pem.Decode(rest[i:]); blk == nil {
				t.Fatalf("the caBundle holds an unreadable block: %q", rest[i:])
			}
			if _, err := x509.ParseCertificate(blk.Bytes); blk.Type != "CERTIFICATE" || err != nil || len(blk.Headers) > 0 {
				t.Fatalf("the caBundle holds a %q block (%v)", blk.Type, err)
			}
		}
		again, err := parseBundle(b.data())
		if err != nil {
			t.Fatalf("the accepted bundle, written back, does not parse: %v", err)
		}
		if !again.ca.Equal(b.ca) || !again.cert.Equal(b.cert) || !again.key.Equal(b.key) || !again.caKey.Equal(b.caKey) || !bytes.Equal(again.caBundle, b.caBundle) {
			t.Fatal("the accepted bundle, written back, reads back different")
		}
	})
}
