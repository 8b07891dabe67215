#!/usr/bin/env bash
# Writes the release archives of `kubectl incident` into dist/: a tar.gz per platform of
# plugins/incident.yaml (kubectl-incident and LICENSE), their sha256 sums (checksums.txt), and
# dist/incident.yaml, the krew manifest with the version, the archives' address and their
# sums filled in. `make dist VERSION=v0.1.0 URL=https://.../v0.1.0` runs it. The archives are
# reproducible: the same commit gives the same bytes (no paths or build ID in the binaries,
# the commit's time on every file, no name or time in the gzip header).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:?VERSION is required, e.g. v0.1.0}
url=${URL:?URL is required: where the archives are published}
out=dist
mtime=$(git log -1 --format=%ct)
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)

mkdir -p "$out"
rm -f "$out"/kubectl-incident_*.tar.gz "$out/checksums.txt" "$out/incident.yaml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed_args=(-e "s|\${VERSION}|$version|g" -e "s|\${URL}|$url|g")
for p in "${platforms[@]}"; do
	os=${p%/*} arch=${p#*/}
	dir=$work/${os}_$arch
	mkdir -p "$dir"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags="-s -w -buildid=" -o "$dir/kubectl-incident" ./cmd/kubectl-incident
	cp LICENSE "$dir/LICENSE"
	archive=kubectl-incident_${os}_$arch.tar.gz
	tar -C "$dir" --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner --mode=u+w,go-w -cf - kubectl-incident LICENSE | gzip -n -9 >"$out/$archive"
	sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
	echo "$sum  $archive" >>"$out/checksums.txt"
	sed_args+=(-e "s|\${SHA256_${os}_$arch}|$sum|g")
	awk -v f="$out/$archive" -v s="$sum" -v n="$(stat -c %s "$out/$archive")" 'BEGIN { printf "%-44s %s %5.1f MiB\n", f, s, n / 1048576 }'
done
sed "${sed_args[@]}" plugins/incident.yaml | grep -v '^#' >"$out/incident.yaml"
if grep -n '\${' "$out/incident.yaml"; then
	echo "dist: plugins/incident.yaml has a field hack/dist.sh does not fill" >&2
	exit 1
fi
echo "$out/incident.yaml"
