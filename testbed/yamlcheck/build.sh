#!/usr/bin/env bash
# Build yamlcheck (kubectl's YAML reader, sigs.k8s.io/yaml pinned in go.mod/go.sum) once and print
# the binary's path. Self-contained: needs only `go` and the Go module proxy, like testbed/build.sh.
#
#   bash testbed/yamlcheck/build.sh      # build if missing; prints the binary's path
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MC_TESTBED_CACHE:-$HOME/.cache/manifest-compiler/testbed}"
version="$(sed -n 's/^require sigs.k8s.io\/yaml \(v[0-9.]*\)$/\1/p' "$here/go.mod")"
digest="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)"
out="$CACHE/yamlcheck-$version-$digest"

if [[ -x "$out/yamlcheck" ]]; then
    echo "$out/yamlcheck"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "yamlcheck/build.sh: 'go' not found on PATH" >&2
    exit 2
fi
mkdir -p "$out"
exec 9>"$out/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [[ ! -x "$out/yamlcheck" ]]; then
    (
        cd "$here"
        GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
            go build -trimpath -o "$out/yamlcheck.tmp" .
    ) >&2
    mv -f "$out/yamlcheck.tmp" "$out/yamlcheck"
fi
echo "$out/yamlcheck"
