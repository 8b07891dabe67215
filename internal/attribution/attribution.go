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

// Package attribution makes the admission webhook's record of who changed an Incident
// impossible to forge. The webhook fails open, so while it is down anyone allowed to edit an
// Incident could write the changed-by annotation themselves and have the timeline credit a
// change to somebody else. So the webhook signs what it records: an HMAC over the annotation,
// the Incident it is about (namespace, name, uid) and the generation it describes, with a key
// no user holds. The controller believes only an annotation whose signature matches the
// Incident as it is; anything else is attribution nobody can vouch for, and is shown as
// unknown.
//
// Why not managedFields: their manager names are chosen by the client (kubectl
// --field-manager=anything), so they say which tool wrote a field, not who. Why not CEL: a
// CRD rule cannot see the requesting user.
//
// The key is derived from the private key of the webhook's serving certificate, which every
// replica of an installation shares (one Secret, mounted or self-managed) and which users
// cannot read. A certificate renewal changes it: a change signed just before and recorded just
// after shows as unknown, never as somebody else's.
package attribution

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"firescope.dev/firescope/api/v1alpha1"
)

// Keys returns the signing key; an error means none is available, and nothing is trusted.
type Keys func() ([]byte, error)

// FromFile derives the signing key from the file at path (the webhook's serving key), read on
// every call so that a renewed certificate is picked up.
func FromFile(path string) Keys {
	return func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the attribution key: %w", err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("the attribution key file %s is empty", path)
		}
		m := hmac.New(sha256.New, b)
		m.Write([]byte("firescope.dev/changed-by v1"))
		return m.Sum(nil), nil
	}
}

// createWindow is how close to the Incident's creation a signature made on create must be: at
// create the uid does not exist yet, so the time keeps an old declaration's signature from
// vouching for a new incident of the same name.
const createWindow = time.Minute

// Sign returns the signature annotation for inc's changed-by annotation, at generation, made
// at now. uid is "" on create, when the API server has not assigned one yet.
func Sign(key []byte, inc *v1alpha1.Incident, uid string, generation int64, now time.Time) string {
	t := now.Unix()
	return fmt.Sprintf("v1.%d.%d.%s", generation, t, mac(key, inc, uid, generation, t))
}

// Verified returns the changed-by annotation of inc as a map from tracked field to user, when
// its signature matches inc as stored, and nil otherwise (no key, no signature, a signature for
// another incident or another generation, an annotation edited by hand).
func Verified(keys Keys, inc *v1alpha1.Incident) map[string]string {
	sig := inc.Annotations[v1alpha1.AnnotationChangedBySignature]
	raw := inc.Annotations[v1alpha1.AnnotationChangedBy]
	if keys == nil || sig == "" || raw == "" {
		return nil
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return nil
	}
	gen, err1 := strconv.ParseInt(parts[1], 10, 64)
	t, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || gen != inc.Generation {
		return nil
	}
	key, err := keys()
	if err != nil {
		return nil
	}
	got := []byte(parts[3])
	ok := hmac.Equal(got, []byte(mac(key, inc, string(inc.UID), gen, t)))
	if !ok && gen == 1 {
		// Signed on create, before the uid existed: only near the creation time.
		signed := time.Unix(t, 0)
		created := inc.CreationTimestamp.Time
		near := !created.IsZero() && signed.Sub(created).Abs() <= createWindow
		ok = near && hmac.Equal(got, []byte(mac(key, inc, "", gen, t)))
	}
	if !ok {
		return nil
	}
	by, err := Parse(raw)
	if err != nil {
		return nil
	}
	return by
}

func mac(key []byte, inc *v1alpha1.Incident, uid string, generation int64, t int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%s\n%s\n%d\n%d\n", inc.Namespace, inc.Name, uid, generation, t)
	m.Write([]byte(inc.Annotations[v1alpha1.AnnotationChangedBy]))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Parse reads a changed-by annotation.
func Parse(raw string) (map[string]string, error) {
	by := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &by); err != nil {
		return nil, err
	}
	return by, nil
}

// SitrepKey is the changed-by key of the user who posted sitrep n (1-based).
func SitrepKey(n int) string { return fmt.Sprintf("sitrep/%d", n) }
