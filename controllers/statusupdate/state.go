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

package statusupdate

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/publish/once"
)

// state is the update's publication bookkeeping, as internal/publish/once reads it.
func state(su *v1alpha1.StatusUpdate) once.State {
	st := su.Status
	s := once.State{
		Generation:          su.Generation,
		PublishedGeneration: st.PublishedGeneration,
		SendingGeneration:   st.SendingGeneration,
		RejectedGeneration:  st.RejectedGeneration,
		Attempts:            st.Attempts,
		Retry:               retryValue(su),
		RetryHonoured:       st.RetryHonoured,
	}
	if st.SendingSince != nil {
		s.SendingSince = st.SendingSince.Time
		if s.SendingGeneration == 0 {
			s.SendingGeneration = su.Generation // an intent written before the generation was recorded
		}
	}
	if st.NextAttemptAt != nil {
		s.NextAttemptAt = st.NextAttemptAt.Time
	}
	return s
}

// setState writes s back into the update's status.
func setState(su *v1alpha1.StatusUpdate, s once.State) {
	st := &su.Status
	st.PublishedGeneration, st.SendingGeneration, st.RejectedGeneration = s.PublishedGeneration, s.SendingGeneration, s.RejectedGeneration
	st.Attempts, st.RetryHonoured = s.Attempts, s.RetryHonoured
	st.SendingSince, st.NextAttemptAt = timeOrNil(s.SendingSince), timeOrNil(s.NextAttemptAt)
}

// retryValue is the retry annotation, within the bound of status.retryHonoured.
func retryValue(o metav1.Object) string {
	v := o.GetAnnotations()[once.RetryAnnotation]
	return v[:min(len(v), 253)]
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// sendOrder serialises the work of one Incident's updates across the controller's workers,
// and remembers what the cache may not show yet: the latest update each Incident has sent (an
// update refused earlier and retried must never go out after a later one) and the provider
// incident its updates went to (the next one must not open another).
type sendOrder struct {
	mu     sync.Mutex
	locks  map[types.UID]*sync.Mutex
	latest map[types.UID]*v1alpha1.StatusUpdate
	refs   map[types.UID]string
}

// lock takes the Incident's send lock and returns its release.
func (o *sendOrder) lock(inc types.UID) (unlock func()) {
	o.mu.Lock()
	if o.locks == nil {
		o.locks = map[types.UID]*sync.Mutex{}
	}
	l := o.locks[inc]
	if l == nil {
		l = &sync.Mutex{}
		o.locks[inc] = l
	}
	o.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// after names an update of the Incident created after su that has been sent: cached is what
// the cache says ("" for none), else the latest this process sent.
func (o *sendOrder) after(inc types.UID, su *v1alpha1.StatusUpdate, cached string, before func(a, b *v1alpha1.StatusUpdate) bool) string {
	if cached != "" {
		return cached
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if l := o.latest[inc]; l != nil && l.Name != su.Name && before(su, l) {
		return l.Name
	}
	return ""
}

// sent records that su is being sent.
func (o *sendOrder) sent(inc types.UID, su *v1alpha1.StatusUpdate, before func(a, b *v1alpha1.StatusUpdate) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.latest == nil {
		o.latest = map[types.UID]*v1alpha1.StatusUpdate{}
	}
	if l := o.latest[inc]; l == nil || before(l, su) {
		o.latest[inc] = &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: su.Name, CreationTimestamp: su.CreationTimestamp, Annotations: su.Annotations}}
	}
}

// published records the provider incident an update of the Incident was published to.
func (o *sendOrder) published(inc types.UID, ref string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.refs == nil {
		o.refs = map[types.UID]string{}
	}
	o.refs[inc] = ref
}

// providerRef is the provider incident this process last published an update of the
// Incident to, "" if none.
func (o *sendOrder) providerRef(inc types.UID) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refs[inc]
}
