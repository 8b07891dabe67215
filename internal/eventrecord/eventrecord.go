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

// Package eventrecord writes events.k8s.io Events whose names derive from the fact they
// report. Writing the same fact again finds the Event already there, so a retry, a restart
// or a second replica never reports a fact twice. (client-go's recorder merges Events that
// differ only in their note into one series, which would lose "IC -> ricardo" when
// "IC -> greg" follows within minutes; Firescope needs one Event per fact.)
package eventrecord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Recorder writes Events with the client.
type Recorder struct {
	Client client.Client
	// Controller is the reporting controller, such as "firescope.dev/manager".
	Controller string
	// Instance is the reporting instance; the host name when empty.
	Instance string
}

// Fact is one thing to report.
type Fact struct {
	// Key identifies the fact; the same key is reported once.
	Key string
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type string
	// Reason is the Event reason, such as "Handoff".
	Reason string
	// Note is the message, such as "IC -> ricardo".
	Note string
}

// Record reports the fact about obj. Reporting a fact whose Event already exists succeeds.
func (r *Recorder) Record(ctx context.Context, obj client.Object, f Fact) error {
	gvk, err := apiutil.GVKForObject(obj, r.Client.Scheme())
	if err != nil {
		return err
	}
	instance := r.Instance
	if instance == "" {
		instance, _ = os.Hostname()
	}
	sum := sha256.Sum256([]byte(string(obj.GetUID()) + "\x00" + f.Key))
	name := obj.GetName()
	if len(name) > 200 {
		// A DNS subdomain may not end in "-" or ".", and the suffix follows a ".".
		name = strings.TrimRight(name[:200], "-.")
	}
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name + "." + hex.EncodeToString(sum[:8]),
			Namespace: obj.GetNamespace(),
		},
		EventTime:           metav1.NewMicroTime(time.Now()),
		ReportingController: r.Controller,
		ReportingInstance:   truncate(instance, 128),
		Action:              f.Reason,
		Reason:              f.Reason,
		Type:                f.Type,
		Note:                truncate(f.Note, 1024),
		Regarding: corev1.ObjectReference{
			APIVersion:      gvk.GroupVersion().String(),
			Kind:            gvk.Kind,
			Namespace:       obj.GetNamespace(),
			Name:            obj.GetName(),
			UID:             obj.GetUID(),
			ResourceVersion: obj.GetResourceVersion(),
		},
	}
	if err := r.Client.Create(ctx, ev); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
