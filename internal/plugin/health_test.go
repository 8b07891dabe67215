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

package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"firescope.dev/firescope/api/v1alpha1"
)

func TestStatusShowsEachHealthSignal(t *testing.T) {
	inc := incidentWithSitrep()
	since := metav1.NewTime(now.Add(-4 * time.Minute))
	read := metav1.NewTime(now.Add(-20 * time.Second))
	inc.Status.Health = &v1alpha1.HealthStatus{EvaluatedAt: &read, State: v1alpha1.SignalDown, Signals: []v1alpha1.SignalValue{
		{Name: "availability", Value: "97.5", Unit: "%", State: v1alpha1.SignalDegraded, Reason: v1alpha1.SignalReasonMeasured, Since: &since},
		{Name: "errors", Value: "12", Unit: "%", State: v1alpha1.SignalDown, Reason: v1alpha1.SignalReasonInjected, Since: &since},
		{Name: "logins", State: v1alpha1.SignalUnknown, Reason: "QueryRefused", Message: "Prometheus refused the query (HTTP 400): try it in Prometheus's expression browser"},
	}}
	var b bytes.Buffer
	PrintStatus(&b, inc, nil, nil, now)
	out := b.String()
	for _, want := range []string{
		"Health:     availability  97.5%  Degraded since 12:10 UTC (4m ago)",
		"errors  12%  Down since 12:10 UTC (4m ago) [injected by the drill]",
		"logins  unknown (QueryRefused): Prometheus refused the query (HTTP 400)",
		"read 12:13 UTC (20s ago)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}
	inc.Status.Health = nil
	b.Reset()
	PrintStatus(&b, inc, nil, nil, now)
	if strings.Contains(b.String(), "Health:") {
		t.Errorf("a policy without signals shows a health line:\n%s", b.String())
	}
}
