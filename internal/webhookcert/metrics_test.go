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
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestTheExpiryGaugeTellsWhenTheServedCertificateExpires(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(ExpiryCollector{Dir: dir})
	gather := func() []float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var vals []float64
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				vals = append(vals, m.GetGauge().GetValue())
			}
		}
		return vals
	}
	if v := gather(); len(v) != 0 {
		t.Fatalf("without a certificate file the gauge reports %v", v)
	}

	now := time.Now()
	ca, caKey, err := newCA(now)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := newServing(ca, caKey, []string{"firescope-webhook-service.firescope-system.svc"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertKey), pemCert(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if v := gather(); len(v) != 1 || v[0] != float64(cert.NotAfter.Unix()) {
		t.Fatalf("the gauge reports %v, want the certificate's notAfter %d", v, cert.NotAfter.Unix())
	}

	if err := os.WriteFile(filepath.Join(dir, CertKey), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v := gather(); len(v) != 0 {
		t.Fatalf("for an unreadable certificate the gauge reports %v", v)
	}
}
