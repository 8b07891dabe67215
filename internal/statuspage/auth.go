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

package statuspage

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"firescope.dev/firescope/internal/statuspage/api"
)

// Each namespace that publishes to the page has a token of its own, which writes only the
// incidents that namespace created: one team cannot rewrite another team's public
// incidents. The admin token, if any, writes everything, components included.

// Tokens are the write API's bearer tokens. None is ever logged.
type Tokens struct {
	// Admin writes everything: the components, and every incident. "" for none.
	Admin string
	// Namespaces maps a Kubernetes namespace to its token.
	Namespaces map[string]string
}

// scope is who a request writes as: a namespace, or the admin.
type scope struct {
	namespace string
	admin     bool
}

var adminScope = scope{admin: true}

func (sc scope) String() string {
	if sc.admin {
		return "admin"
	}
	return "namespace " + sc.namespace
}

// mayWrite refuses an incident that the scope does not own: one another namespace created,
// or the admin (or a server from before namespace tokens).
func (sc scope) mayWrite(inc *incidentState) *apiError {
	if sc.admin || sc.namespace != "" && inc.rec.Owner == sc.namespace {
		return nil
	}
	return &apiError{status: http.StatusForbidden, code: api.CodeForbidden,
		message: fmt.Sprintf("incident %q belongs to another namespace: the token of namespace %q writes and reads only the incidents it created", inc.rec.ID, sc.namespace)}
}

// credential is one token, as its hash, and what it may do.
type credential struct {
	hash  [sha256.Size]byte
	scope scope
}

type authenticator []credential

func newAuthenticator(t Tokens) authenticator {
	var a authenticator
	if t.Admin != "" {
		a = append(a, credential{sha256.Sum256([]byte(t.Admin)), adminScope})
	}
	for ns, token := range t.Namespaces {
		a = append(a, credential{sha256.Sum256([]byte(token)), scope{namespace: ns}})
	}
	return a
}

// identify returns the scope of the request's bearer token. It compares hashes, so that the
// time taken says nothing about the token's length or content, and compares with every
// credential, so that it says nothing about which one matched either.
func (a authenticator) identify(r *http.Request) (scope, bool) {
	schemeName, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(schemeName, "Bearer") {
		return scope{}, false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var found scope
	match := 0
	for _, c := range a {
		if subtle.ConstantTimeCompare(got[:], c.hash[:]) == 1 {
			found, match = c.scope, 1
		}
	}
	return found, match == 1
}

// namespaceName is a Kubernetes namespace name (an RFC 1123 label).
var namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// readTokensDir reads one token per namespace from dir: a file named after the namespace,
// holding its token, as a Secret mounted as a volume lays them out (its ..data link and
// timestamped directory are skipped).
func readTokensDir(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--tokens-dir: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !namespaceName.MatchString(name) {
			return nil, fmt.Errorf("--tokens-dir: %q is not a namespace name: name each file after the namespace whose token it holds", name)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("--tokens-dir: %w", err)
		}
		token := strings.TrimSpace(string(b))
		if err := checkToken(token); err != nil {
			return nil, fmt.Errorf("--tokens-dir: the token of namespace %q: %w", name, err)
		}
		out[name] = token
	}
	return out, nil
}

func checkToken(token string) error {
	if len(token) < minTokenLength {
		return fmt.Errorf("the write token is %d characters long; use at least %d (e.g. openssl rand -hex 32)", len(token), minTokenLength)
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return errors.New("the write token must not contain white space")
	}
	return nil
}

// checkDistinct refuses two scopes with one token: a request could not tell which it is.
func (t Tokens) checkDistinct() error {
	owner := map[string]string{}
	if t.Admin != "" {
		owner[t.Admin] = "the admin token"
	}
	namespaces := make([]string, 0, len(t.Namespaces))
	for ns := range t.Namespaces {
		namespaces = append(namespaces, ns)
	}
	slices.Sort(namespaces)
	for _, ns := range namespaces {
		if other, ok := owner[t.Namespaces[ns]]; ok {
			return fmt.Errorf("namespace %q has the same token as %s: give each its own", ns, other)
		}
		owner[t.Namespaces[ns]] = fmt.Sprintf("namespace %q", ns)
	}
	return nil
}
