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

package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/wording"
)

// StatusUpdatePath is where the StatusUpdate webhook is served.
const StatusUpdatePath = "/validate-firescope-dev-v1alpha1-statusupdate"

// StatusUpdateOrderPath is where the StatusUpdate creation stamp is served.
const StatusUpdateOrderPath = "/mutate-firescope-dev-v1alpha1-statusupdate"

// +kubebuilder:webhook:path=/mutate-firescope-dev-v1alpha1-statusupdate,mutating=true,failurePolicy=ignore,sideEffects=None,groups=firescope.dev,resources=statusupdates,verbs=create,versions=v1alpha1,name=statusupdates.firescope.dev,admissionReviewVersions=v1,timeoutSeconds=5

// StatusUpdateOrder stamps each new StatusUpdate with the time it is created, to the
// nanosecond (annotation firescope.dev/created-at), replacing any value given: updates of one
// Incident publish in that order, and creationTimestamp alone has whole seconds, so a burst
// created within one second would publish in name order (x-10 before x-9). Replicas of the
// manager stamp with their own clocks: updates created within the clocks' skew of each other
// by different replicas may be ordered by either.
type StatusUpdateOrder struct {
	// Now tells the time; tests inject a fixed one.
	Now func() time.Time
}

// Handle implements admission.Handler.
func (o *StatusUpdateOrder) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	// Only the annotations are touched: the object as sent is kept as raw JSON.
	var obj map[string]any
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	md, _ := obj["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		obj["metadata"] = md
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		md["annotations"] = ann
	}
	ann[v1alpha1.AnnotationCreatedAt] = now().UTC().Format(time.RFC3339Nano)
	raw, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// +kubebuilder:webhook:path=/validate-firescope-dev-v1alpha1-statusupdate,mutating=false,failurePolicy=ignore,sideEffects=None,groups=firescope.dev,resources=statusupdates,verbs=create;update,versions=v1alpha1,name=statusupdates.firescope.dev,admissionReviewVersions=v1,timeoutSeconds=5

// StatusUpdateWording checks every StatusUpdate's message against the wording guidelines and
// returns what it finds as admission warnings, so `kubectl apply` prints them; when the
// Incident's ResponsePolicy says Enforce, it refuses the update instead.
type StatusUpdateWording struct {
	Decoder admission.Decoder
	// Reader finds the Incident and its ResponsePolicy (the manager's cache).
	Reader client.Reader
}

// Handle implements admission.Handler.
func (w *StatusUpdateWording) Handle(ctx context.Context, req admission.Request) admission.Response {
	su := &v1alpha1.StatusUpdate{}
	if err := w.Decoder.Decode(req, su); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update {
		// Only a changed message is checked again: labels, finalizers and deletion of an
		// existing update must never be blocked by its wording.
		old := &v1alpha1.StatusUpdate{}
		if err := w.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if was := old.Annotations[v1alpha1.AnnotationCreatedAt]; was != "" && su.DeletionTimestamp.IsZero() && su.Annotations[v1alpha1.AnnotationCreatedAt] != was {
			return admission.Denied(fmt.Sprintf("the annotation %s records when the update was created, which orders it among its Incident's updates: it cannot change (it is %s)",
				v1alpha1.AnnotationCreatedAt, was))
		}
		if !su.DeletionTimestamp.IsZero() || old.Spec.Message == su.Spec.Message && old.Spec.Status == su.Spec.Status {
			return admission.Allowed("")
		}
	}
	findings := wording.Check(string(su.Spec.Status), su.Spec.Message, su.Spec.ComponentNames()...)
	if len(findings) == 0 {
		return admission.Allowed("")
	}
	warnings := make([]string, len(findings))
	for i, f := range findings {
		warnings[i] = fmt.Sprintf("status update %s: %s", f.Rule, f.Message)
	}
	enforce, err := w.enforced(ctx, su)
	if err != nil {
		// The guidelines advise; an unreadable policy must not block a customer update.
		return admission.Allowed("").WithWarnings(append(warnings, "could not read the ResponsePolicy: "+err.Error())...)
	}
	if enforce {
		return admission.Denied("the message departs from the wording guidelines, which this team's ResponsePolicy enforces: " +
			strings.Join(warnings, "; "))
	}
	return admission.Allowed("").WithWarnings(warnings...)
}

// enforced reports whether the ResponsePolicy of the update's Incident enforces the guidelines.
func (w *StatusUpdateWording) enforced(ctx context.Context, su *v1alpha1.StatusUpdate) (bool, error) {
	// An update may come before its Incident; the namespace's default policy applies then.
	inc := &v1alpha1.Incident{}
	if err := w.Reader.Get(ctx, client.ObjectKey{Namespace: su.Namespace, Name: su.Spec.IncidentRef.Name}, inc); client.IgnoreNotFound(err) != nil {
		return false, err
	}
	name := inc.PolicyName()
	p := &v1alpha1.ResponsePolicy{}
	if err := w.Reader.Get(ctx, client.ObjectKey{Namespace: su.Namespace, Name: name}, p); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return p.Spec.StatusUpdateWording == v1alpha1.WordingEnforce, nil
}
