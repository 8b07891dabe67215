#!/usr/bin/env bash
# Builds the pinned kube-apiserver and etcd from the Go module proxy into $1 (once), so that
# envtest and `make run` need no downloaded release binaries. The versions are pinned by the
# tools modules under hack/tools/.
set -euo pipefail
dest=${1:?usage: build-control-plane.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ ! -x "$dest/kube-apiserver" ]; then
  echo ">> building kube-apiserver (about 5 minutes on 2 cores, once)"
  v=$(cd "$root/hack/tools/kube-apiserver" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$v" | cut -d. -f2)
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  (cd "$root/hack/tools/kube-apiserver" && go build -trimpath -ldflags "$ldflags" -o "$dest/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$dest/kube-apiserver.tmp" "$dest/kube-apiserver"
fi
if [ ! -x "$dest/etcd" ]; then
  echo ">> building etcd (once)"
  (cd "$root/hack/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$dest/etcd.tmp" .)
  mv "$dest/etcd.tmp" "$dest/etcd"
fi
