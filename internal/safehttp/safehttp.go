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

// Package safehttp keeps Firescope's outbound calls away from internal addresses. Whoever may
// edit a StatusPage or a ResponsePolicy chooses a URL, and the manager runs inside a network
// that can reach the cluster's API, its metadata service and its neighbours; so the shared HTTP
// client refuses private, loopback and link-local destinations unless the operator allows them,
// checking the address actually dialled (after DNS resolution, so that a name that resolves
// differently the second time cannot slip through). It speaks plain http only to allowed
// destinations, and it hands no error body from a host other than a known vendor's to its
// callers, so that no answer of an arbitrary server can be read back through a condition or an
// Event.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The hosts of the vendors Firescope knows. Their error answers are parsed into conditions;
// every other host's are dropped.
const (
	StatuspageHost = "api.statuspage.io"
	SlackHost      = "hooks.slack.com"
	PagerDutyHost  = "events.pagerduty.com"
)

// TeamsWorkflowHosts are the host patterns of Microsoft Teams Workflows webhook URLs: the
// trigger of a Power Automate flow, served by Azure Logic Apps (prod-NN.<region>.logic.azure.com)
// or by a Power Platform environment (<environment>.NN.environment.api.powerplatform.com).
// "*." matches one or more labels.
var TeamsWorkflowHosts = []string{"*.logic.azure.com", "*.environment.api.powerplatform.com"}

// IsVendorHost reports whether host (a host name without port) is a known vendor's.
func IsVendorHost(host string) bool {
	switch h := normalHost(host); h {
	case StatuspageHost, SlackHost, PagerDutyHost:
		return true
	default:
		return slices.ContainsFunc(TeamsWorkflowHosts, func(p string) bool { return MatchHost(p, h) })
	}
}

// MatchHost reports whether host (lower case, without port) is pattern: the same name, or,
// for a pattern "*.example.com", a name under example.com.
func MatchHost(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok && strings.HasPrefix(suffix, ".") {
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return pattern == host
}

// ParseWebhookURL parses a webhook URL that is itself the credential, as Slack's, Teams' and
// Mattermost's are: as ParseEndpoint, except that it may have a query (a Teams Workflows URL
// carries its signature there). Errors never quote raw.
func ParseWebhookURL(raw string) (*url.URL, error) {
	u, err := ParseEndpoint(raw)
	if err == nil || !strings.Contains(raw, "?") {
		return u, err
	}
	noQuery, _, _ := strings.Cut(raw, "?")
	if _, err := ParseEndpoint(noQuery); err != nil {
		return nil, err
	}
	if strings.Contains(raw, "#") {
		return nil, errors.New("the URL must not have a fragment (a '#')")
	}
	if u, err = url.Parse(raw); err != nil {
		return nil, errors.New("the URL does not parse")
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return nil, errors.New("the URL's query does not parse")
	}
	return u, nil
}

// ParseEndpoint parses a configured endpoint: an absolute http or https URL with a host and
// without user information, query or fragment. Paths appended to it stay paths (a trailing
// "?" would turn them into a query), and no credential hides in it. Errors never quote raw,
// which may itself be a credential (a Slack webhook URL).
func ParseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("the URL does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("the URL must be an absolute http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("the URL has no host")
	case u.User != nil:
		return nil, errors.New("the URL must not carry a user or password")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("the URL must not have a query (a '?')")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("the URL must not have a fragment (a '#')")
	}
	return u, nil
}

// RefusedError is a request the client would not make: to a private, loopback or link-local
// address the operator did not allow, or in plain http to a destination not allowed to use it.
// It is permanent: the same request is refused next time, until a person changes the URL or
// the manager's --allow-private-destinations.
type RefusedError struct {
	// Host is the destination as the URL names it.
	Host string
	// Addr is the address it resolved to, when the refusal is about the address.
	Addr netip.Addr
	// Reason says why, for people.
	Reason string
}

func (e *RefusedError) Error() string {
	dest := e.Host
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		dest += " (" + e.Addr.String() + ")"
	}
	return fmt.Sprintf("refused to call %s: %s", dest, e.Reason)
}

// Allowlist is the operator's list of internal destinations Firescope may call: networks
// (CIDR, or a single address) and host names, which may then resolve to any address. Its
// zero value allows none. It is a flag.Value of comma-separated entries.
type Allowlist struct {
	nets  []netip.Prefix
	hosts []string
}

// ParseAllowlist parses comma-separated entries: "10.0.0.0/8", "127.0.0.1", "::1",
// "statuspage.firescope-statuspage.svc".
func ParseAllowlist(s string) (*Allowlist, error) {
	a := &Allowlist{}
	return a, a.Set(s)
}

// Loopback allows this machine's loopback addresses: for a manager whose status page and test
// servers run beside it (make run, tests).
func Loopback() *Allowlist {
	return &Allowlist{nets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

// Set adds comma-separated entries (flag.Value).
func (a *Allowlist) Set(s string) error {
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		switch {
		case entry == "":
		case strings.Contains(entry, "/"):
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR network", entry)
			}
			a.nets = append(a.nets, p.Masked())
		default:
			if ip, err := netip.ParseAddr(entry); err == nil {
				ip = ip.Unmap()
				a.nets = append(a.nets, netip.PrefixFrom(ip, ip.BitLen()))
				continue
			}
			if strings.ContainsAny(entry, ":[]@ ") {
				return fmt.Errorf("%q is neither an address, a CIDR network nor a host name (no port)", entry)
			}
			a.hosts = append(a.hosts, normalHost(entry))
		}
	}
	return nil
}

// String lists the entries (flag.Value).
func (a *Allowlist) String() string {
	if a == nil {
		return ""
	}
	var out []string
	for _, p := range a.nets {
		out = append(out, p.String())
	}
	return strings.Join(append(out, a.hosts...), ",")
}

// allowsHost reports whether host is a listed name or a listed address.
func (a *Allowlist) allowsHost(host string) bool {
	if a == nil {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return a.allowsAddr(ip)
	}
	return slices.Contains(a.hosts, normalHost(host))
}

func (a *Allowlist) allowsAddr(ip netip.Addr) bool {
	if a == nil {
		return false
	}
	ip = ip.Unmap()
	return slices.ContainsFunc(a.nets, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// Guard returns a copy of c whose requests the allowlist guards. c's transport must be an
// *http.Transport or nil (a clone of http.DefaultTransport). The address every connection
// goes to is checked as it is dialled, after the name was resolved, so a name that resolves
// to a public address when looked up and to an internal one when dialled is still refused.
// Host names on the list are dialled with c's own dialer, whatever they resolve to. A proxy
// from the environment is dialled, and so checked, like any destination; the proxy then
// resolves the names it is asked for, so limit its own egress.
func (a *Allowlist) Guard(c *http.Client) *http.Client {
	out := *c
	var t *http.Transport
	switch base := c.Transport.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		t = base.Clone()
	default:
		panic(fmt.Sprintf("safehttp: cannot guard a %T", c.Transport))
	}
	trusted := t.DialContext
	if trusted == nil {
		trusted = (&net.Dialer{Timeout: dialTimeout}).DialContext
	}
	checked := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, ControlContext: a.control}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if a.allowsHost(host) {
			return trusted(ctx, network, addr)
		}
		return checked.DialContext(context.WithValue(ctx, hostKey{}, host), network, addr)
	}
	out.Transport = &guarded{allow: a, next: t}
	return &out
}

// dialTimeout bounds connecting; the client's own timeout bounds the whole request.
const dialTimeout = 5 * time.Second

type hostKey struct{}

// control runs after resolution and before connecting, with the address about to be dialled.
func (a *Allowlist) control(ctx context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Host: address, Reason: "not an IP address and port"}
	}
	if ip := ap.Addr(); !public(ip) && !a.allowsAddr(ip) {
		host, _ := ctx.Value(hostKey{}).(string)
		if host == "" {
			host = ip.Unmap().String()
		}
		return &RefusedError{Host: host, Addr: ip.Unmap(), Reason: kind(ip) + " address; " + allowHint}
	}
	return nil
}

const allowHint = "the manager calls such addresses only when its --allow-private-destinations flag lists them"

// guarded checks each request before it is sent and strips error bodies of non-vendor hosts.
type guarded struct {
	allow *Allowlist
	next  http.RoundTripper
}

func (g *guarded) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if req.URL.Scheme != "https" && !g.allow.allowsHost(host) {
		closeBody(req)
		return nil, &RefusedError{Host: host, Reason: "plain http is allowed only to destinations the manager's --allow-private-destinations flag lists; use https"}
	}
	if ip, err := netip.ParseAddr(host); err == nil && !public(ip) && !g.allow.allowsAddr(ip) {
		// Checked here as well as at dial time, for requests that go through a proxy.
		closeBody(req)
		return nil, &RefusedError{Host: host, Addr: ip.Unmap(), Reason: kind(ip) + " address; " + allowHint}
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || IsVendorHost(host) {
		return resp, err
	}
	// An error answer of a host that is not a known vendor's: keep its status and headers
	// (Retry-After), drop what it said.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body, resp.ContentLength = http.NoBody, 0
	resp.Header.Del("Content-Type")
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// notPublic are the ranges netip's predicates leave out that are not reachable on the public
// internet either, or that map onto IPv4 addresses.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, used by some cluster networks
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4 embeds an IPv4 address
}

// public reports whether ip is a globally reachable unicast address.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	return !slices.ContainsFunc(notPublic, func(p netip.Prefix) bool { return p.Contains(ip) })
}

func kind(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "a link-local"
	case ip.IsPrivate():
		return "a private"
	case ip.IsUnspecified():
		return "an unspecified"
	}
	return "a non-public"
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }
