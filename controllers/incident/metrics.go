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

package incident

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// statusPatches counts the status writes of the incident controller. Together with
// controller_runtime_reconcile_total{controller="incident"} it shows writes per reconcile.
var statusPatches = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "firescope_incident_status_patches_total",
	Help: "Status patches written by the incident controller.",
})

func init() {
	metrics.Registry.MustRegister(statusPatches)
}
