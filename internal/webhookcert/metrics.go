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

	"github.com/prometheus/client_golang/prometheus"
)

var expiryDesc = prometheus.NewDesc("firescope_webhook_certificate_expiry_timestamp_seconds",
	"When the certificate the admission webhook serves expires, in seconds since the epoch.", nil, nil)

// ExpiryCollector reports when the serving certificate in Dir (tls.crt) expires. It reads
// the file at scrape time, so it tells what the webhook server serves whoever wrote the
// file: this package or cert-manager. It reports nothing while the file is missing or
// unreadable; the replica is then not ready, which the readiness probe shows.
type ExpiryCollector struct {
	Dir string
}

// Describe implements prometheus.Collector.
func (c ExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

// Collect implements prometheus.Collector.
func (c ExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	p, err := os.ReadFile(filepath.Join(c.Dir, CertKey))
	if err != nil {
		return
	}
	cert, err := parseCert(p)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()))
}
