#!/usr/bin/env bash
# A new machine, as far as Python goes (issue 19): a fresh clone of the committed HEAD with
# ../shared beside it, a new empty HOME (so no pip, uv, pre-commit or other cache and no user
# configuration), then `make unit` there: the set-up from the lock and the whole core suite.
#   bash tests/fresh-machine.sh        # or: make fresh
# Only the Go side stays warm (module and build caches, the testbed's binaries): a cold Go build of
# the control plane does not fit CI's time beside everything else (the README says what it takes).
# Uncommitted changes are not in the clone: commit first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
shared=$(cd ../shared && pwd -P)
work=$(mktemp -d "${TMPDIR:-/tmp}/mc-fresh-XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# the Go caches as they are now, named explicitly before HOME changes
export GOMODCACHE="$(go env GOMODCACHE)" GOCACHE="$(go env GOCACHE)" GOPATH="$(go env GOPATH)"
export MC_TESTBED_CACHE="$(bash testbed/build.sh --print)"

git clone --quiet --no-hardlinks "$repo" "$work/main"
ln -s "$shared" "$work/shared"
mkdir "$work/home"
unset VIRTUAL_ENV PIP_CACHE_DIR UV_CACHE_DIR XDG_CACHE_HOME XDG_CONFIG_HOME XDG_DATA_HOME
export HOME="$work/home"
echo "== fresh machine: $(git -C "$work/main" rev-parse --short HEAD) in $work, HOME=$HOME"
start=$(date +%s)
make -C "$work/main" install
echo "== fresh machine: make install took $(( $(date +%s) - start )) s"
make -C "$work/main" unit PYTEST_ARGS="${PYTEST_ARGS:-}"
echo "== fresh machine: make install unit took $(( $(date +%s) - start )) s"
