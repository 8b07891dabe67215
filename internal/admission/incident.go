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

// Package admission holds Firescope's admission webhooks. They run with failurePolicy Ignore:
// an operator outage must never block declaring an incident, and the CEL rules in the CRDs
// keep every object valid whether or not the webhook answers.
package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/attribution"
)

// IncidentPath is where the Incident webhook is served.
const IncidentPath = "/mutate-firescope-dev-v1alpha1-incident"

// +kubebuilder:webhook:path=/mutate-firescope-dev-v1alpha1-incident,mutating=true,failurePolicy=ignore,sideEffects=None,groups=firescope.dev,resources=incidents,verbs=create;update,versions=v1alpha1,name=incidents.firescope.dev,admissionReviewVersions=v1,timeoutSeconds=5

// IncidentDefaulter makes the first responder the Incident Commander, fills in who posted a
// sitrep and when, and records who changed each tracked field, signed so that a record
// written while it was down cannot pass for its own.
type IncidentDefaulter struct {
	Decoder admission.Decoder
	// Now tells the time; tests inject a fixed one.
	Now func() time.Time
	// Keys gives the key that signs the changed-by record; without one the record is left
	// unsigned, and the controller attributes nothing.
	Keys attribution.Keys
}

// Handle implements admission.Handler.
func (d *IncidentDefaulter) Handle(_ context.Context, req admission.Request) admission.Response {
	inc := &v1alpha1.Incident{}
	if err := d.Decoder.Decode(req, inc); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var old *v1alpha1.Incident
	if req.Operation == admissionv1.Update {
		old = &v1alpha1.Incident{}
		if err := d.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	user := req.UserInfo.Username
	now := d.now()
	if err := Default(inc, old, user, now); err != nil {
		return admission.Denied(err.Error())
	}
	d.sign(inc, old, now)
	raw, err := json.Marshal(inc)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// sign replaces any signature the request carries with the webhook's own, for the generation
// the API server will give the object: 1 on create, one more than before when the spec
// changes (the CRD's rule), else the same.
func (d *IncidentDefaulter) sign(inc, old *v1alpha1.Incident, now time.Time) {
	delete(inc.Annotations, v1alpha1.AnnotationChangedBySignature)
	if d.Keys == nil {
		return
	}
	key, err := d.Keys()
	if err != nil {
		return
	}
	gen, uid := int64(1), ""
	if old != nil {
		gen, uid = old.Generation, string(old.UID)
		if !equality.Semantic.DeepEqual(inc.Spec, old.Spec) {
			gen++
		}
	}
	inc.Annotations[v1alpha1.AnnotationChangedBySignature] = attribution.Sign(key, inc, uid, gen, now)
}

func (d *IncidentDefaulter) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// IsServiceAccount reports whether a username is a Kubernetes service account's.
func IsServiceAccount(user string) bool {
	return strings.HasPrefix(user, "system:serviceaccount:")
}

// maxClockSkew is how far in the future a sitrep's at may be and still be taken as now: the
// clocks of a laptop and of the API server rarely agree to the second.
const maxClockSkew = time.Minute

// Default applies the Incident admission rules to inc, which user is creating (old is nil) or
// updating from old, at time now. It returns an error, worded for the person applying the
// manifest, when the request must be refused.
func Default(inc, old *v1alpha1.Incident, user string, now time.Time) error {
	if old == nil && inc.Spec.Roles.Commander == "" {
		if IsServiceAccount(user) {
			return fmt.Errorf("incident %q has no Incident Commander: %s is a service account and cannot "+
				"be the first responder; set spec.roles.commander to the person in command", inc.Name, user)
		}
		inc.Spec.Roles.Commander = v1alpha1.Person(user)
	}
	var oldSitreps int
	if old != nil {
		oldSitreps = len(old.Spec.Sitreps)
		keepSitrepDefaults(inc.Spec.Sitreps, old.Spec.Sitreps)
	}
	for i := oldSitreps; i < len(inc.Spec.Sitreps); i++ {
		s := &inc.Spec.Sitreps[i]
		if s.At != nil && s.At.After(now.Add(maxClockSkew)) {
			return fmt.Errorf("sitrep %d: at %s is in the future: a sitrep is posted now; leave at out and it is set to the time it is posted",
				i+1, s.At.UTC().Format(time.RFC3339))
		}
		if s.At == nil || s.At.After(now) {
			t := metav1.NewTime(now.Truncate(time.Second))
			s.At = &t
		}
		if s.Author == "" && user != "" {
			s.Author = v1alpha1.Person(user)
		}
	}
	recordChangedBy(inc, old, user)
	return nil
}

// recordPosters records who posted each new sitrep, next to the author it claims.
func recordPosters(by map[string]string, from, to int, user string) {
	for n := from + 1; n <= to; n++ {
		by[attribution.SitrepKey(n)] = user
	}
}

// keepSitrepDefaults gives the earlier sitreps of an update back the time and author that
// were filled in when they were posted, if the request leaves them out. Re-applying the
// manifest a sitrep was first posted from then changes nothing, instead of being refused as
// an edit of an append-only sitrep.
func keepSitrepDefaults(sitreps, old []v1alpha1.Sitrep) {
	for i := range min(len(sitreps), len(old)) {
		if sitreps[i].At == nil {
			sitreps[i].At = old[i].At
		}
		if sitreps[i].Author == "" {
			sitreps[i].Author = old[i].Author
		}
	}
}

// recordChangedBy updates the changed-by annotation for every tracked field that differs
// from old. It starts from old's annotation, not from the request's, so a hand-edited or
// omitted annotation (a GitOps apply does not carry it) never rewrites history.
func recordChangedBy(inc, old *v1alpha1.Incident, user string) {
	by := map[string]string{}
	var prev fields
	oldSitreps := 0
	if old != nil {
		if raw := old.Annotations[v1alpha1.AnnotationChangedBy]; raw != "" {
			_ = json.Unmarshal([]byte(raw), &by)
		}
		prev = trackedFields(old)
		oldSitreps = len(old.Spec.Sitreps)
	}
	recordPosters(by, oldSitreps, len(inc.Spec.Sitreps), user)
	cur := trackedFields(inc)
	for k, v := range cur {
		if p, ok := prev[k]; old == nil || !ok || p != v {
			by[k] = user
		}
	}
	// A group that stood down in this request was stood down by this user.
	for k := range prev {
		if _, ok := cur[k]; !ok {
			by[k] = user
		}
	}
	// Keep who stood a group down until the controller has recorded it; then it is noise.
	recorded := map[string]bool{}
	if old != nil && old.Status.Recorded != nil {
		for _, g := range old.Status.Recorded.Roles.Operations {
			recorded["ops/"+g.Name] = true
		}
	}
	for k := range by {
		_, inCur := cur[k]
		_, inPrev := prev[k]
		if strings.HasPrefix(k, "ops/") && !inCur && !inPrev && !recorded[k] {
			delete(by, k)
		}
	}
	raw, _ := json.Marshal(by)
	if inc.Annotations == nil {
		inc.Annotations = map[string]string{}
	}
	inc.Annotations[v1alpha1.AnnotationChangedBy] = string(raw)
}

type fields map[string]string

// trackedFields lists the values whose changes the timeline attributes to a person.
func trackedFields(inc *v1alpha1.Incident) fields {
	f := fields{
		"state":          string(inc.Spec.State),
		"commander":      string(inc.Spec.Roles.Commander),
		"communications": string(inc.Spec.Roles.Communications),
		"sitreps":        fmt.Sprint(len(inc.Spec.Sitreps)),
	}
	for _, g := range inc.Spec.Roles.Operations {
		f["ops/"+g.Name] = string(g.Supervisor)
	}
	return f
}
