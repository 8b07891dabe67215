#!/usr/bin/env bash
# Installs from Debian what the status page's browser test and benchmark drive: chromium
# (headless, for the end-to-end page test) with a font to render text, and wrk and nginx (for
# test/bench/statuspage); postgresql, which the status page's PostgreSQL tests and benchmark
# start in a temporary directory of their own (internal/pgtest); the prometheus package:
# promtool tests the alerting rules in config/prometheus, and Prometheus itself serves the
# health signal tests and benchmark and the gateway's Alertmanager intake test, which also runs a
# real Alertmanager (prometheus-alertmanager); ca-certificates, whose bundle `make images` puts
# in the images; and podman with runc, which test/images runs the images with. Idempotent and
# quiet: it installs only the missing packages.
set -euo pipefail

packages=(chromium fonts-dejavu-core wrk nginx-light postgresql prometheus prometheus-alertmanager ca-certificates podman runc)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
	echo "install-test-deps: ${packages[*]} already installed"
	exit 0
fi

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

# nginx's, postgresql's, prometheus's and alertmanager's packages start system-wide servers after installing; the tests run
# their own or none, so forbid service starts for the duration of the install (the Debian
# way: policy-rc.d exit 101), unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	own_policy=true
fi
log=$(mktemp)
cleanup() {
	rm -f "$log"
	if $own_policy; then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT

echo "install-test-deps: installing ${missing[*]}"
# apt's output is shown only if it fails.
if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-test-deps: apt-get failed" >&2
	exit 1
fi
echo "install-test-deps: installed ${missing[*]}"
