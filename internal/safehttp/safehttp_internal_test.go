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

package safehttp

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestPublicAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "104.16.0.1": true,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "127.0.0.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "0.1.2.3": false,
		"::1": false, "::": false, "fe80::1": false, "fc00::1": false, "fd12::1": false,
		"::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true, "64:ff9b::a00:1": false,
		"2002:a00:1::": false, "224.0.0.1": false, "255.255.255.255": false,
	} {
		if got := public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("public(%s) = %v, want %v", addr, got, want)
		}
	}
}

type answer struct{ status int }

func (a answer) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"message": "Invalid routing key"}`))}, nil
}

func TestVendorErrorAnswersAreKept(t *testing.T) {
	g := &guarded{next: answer{http.StatusBadRequest}}
	for host, kept := range map[string]bool{PagerDutyHost: true, "EVENTS.PAGERDUTY.COM.": true, "events.pagerduty.com.evil.test": false, "status.example.com": false} {
		req, _ := http.NewRequest(http.MethodPost, "https://"+host+"/v2/enqueue", nil)
		resp, err := g.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if got := len(b) > 0; got != kept {
			t.Errorf("%s: body kept = %v, want %v", host, got, kept)
		}
	}
}
