#!/usr/bin/env bash
# Builds the pinned kube-apiserver, kube-controller-manager and etcd from the Go module proxy
# into $1 (each once), so that envtest and `make run` need no downloaded release binaries. The
# versions are pinned by the tools modules under hack/tools/.
set -euo pipefail
dest=${1:?usage: build-control-plane.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# kube builds a command of k8s.io/kubernetes with the version stamp a release carries, so
# that clients and the API server's /version see the pinned version.
kube() {
  local cmd=$1 minutes=$2
  [ -x "$dest/$cmd" ] && return
  echo ">> building $cmd (about $minutes minutes on 2 cores, once)"
  local v minor pkg=k8s.io/component-base/version
  v=$(cd "$root/hack/tools/kubernetes" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$v" | cut -d. -f2)
  local ldflags="-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  (cd "$root/hack/tools/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$dest/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
  mv "$dest/$cmd.tmp" "$dest/$cmd"
}

kube kube-apiserver 5
# The namespace lifecycle and garbage collector controllers: without them a deleted
# namespace stays Terminating and owner references do not cascade.
kube kube-controller-manager 4
if [ ! -x "$dest/etcd" ]; then
  echo ">> building etcd (once)"
  (cd "$root/hack/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$dest/etcd.tmp" .)
  mv "$dest/etcd.tmp" "$dest/etcd"
fi
