#!/usr/bin/env bash
# Build the test control plane's binaries from their published Go modules.
#
#   bash testbed/build.sh            # build whatever is missing
#   bash testbed/build.sh --print    # print the cache dir and exit
#
# Versions are pinned in testbed/versions.env. Each binary lands in
#   ${MC_TESTBED_CACHE:-$HOME/.cache/manifest-compiler/testbed}/<component>-<version>/<component>
# and is built only when missing, so a second run does nothing.
# Build times are appended to <cache>/build.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

CACHE="${MC_TESTBED_CACHE:-$HOME/.cache/manifest-compiler/testbed}"
if [[ "${1:-}" == "--print" ]]; then
    echo "$CACHE"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' not found on PATH (need go >= 1.26)" >&2
    exit 2
fi

mkdir -p "$CACHE/src"
LOG="$CACHE/build.log"

# one build at a time per cache (e.g. two test sessions starting together)
if command -v flock >/dev/null 2>&1 && [[ -z "${MC_TESTBED_BUILD_LOCKED:-}" ]]; then
    export MC_TESTBED_BUILD_LOCKED=1
    exec flock "$CACHE/.build.lock" bash "${BASH_SOURCE[0]}" "$@"
fi

# Fit the 2-core machine: at most two compile jobs, one binary at a time.
# Never download another Go toolchain; use the installed one.
export GOTOOLCHAIN=local
export GOFLAGS="-p=2 -buildvcs=false -mod=mod"
export CGO_ENABLED=0
BUILD_FLAGS=(-trimpath)

log() { echo "[testbed/build $(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# need COMPONENT VERSION -> 0 if the binary must be built
need() {
    [[ ! -x "$CACHE/$1-$2/$1" ]]
}

# build_in MODDIR COMPONENT VERSION PACKAGE LDFLAGS
build_in() {
    local moddir="$1" comp="$2" ver="$3" pkg="$4" ldflags="$5"
    local out="$CACHE/$comp-$ver"
    mkdir -p "$out"
    log "building $comp $ver ($pkg)"
    local t0 t1
    t0=$(date +%s)
    (cd "$moddir" && go build "${BUILD_FLAGS[@]}" -ldflags="$ldflags" -o "$out/$comp.tmp" "$pkg")
    mv -f "$out/$comp.tmp" "$out/$comp"
    t1=$(date +%s)
    log "built $comp $ver in $((t1 - t0))s -> $out/$comp ($(du -h "$out/$comp" | cut -f1))"
}

# ---------------------------------------------------------------- etcd
# etcd's server module carries `replace` directives, so `go install pkg@v`
# refuses it; a tiny wrapper module that requires it builds its main package.
build_etcd() {
    need etcd "$ETCD_VERSION" || return 0
    local src="$CACHE/src/etcd-$ETCD_VERSION"
    mkdir -p "$src"
    if [[ ! -f "$src/go.sum" ]]; then
        cat >"$src/go.mod" <<EOF
module manifest-compiler.local/testbed/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
        (cd "$src" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
    fi
    build_in "$src" etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "-s -w"
}

# ---------------------------------------------------------- kubernetes
# k8s.io/kubernetes requires its staging modules (k8s.io/api, client-go, ...)
# at v0.0.0 and replaces them with ./staging/... paths, which a dependency's
# replace cannot use. The wrapper module re-pins every one of them to the
# published v0.X.Y that matches v1.X.Y.
k8s_src() {
    local src="$CACHE/src/kubernetes-$KUBERNETES_VERSION"
    if [[ -f "$src/.ready" ]]; then
        echo "$src"
        return 0
    fi
    mkdir -p "$src"
    local staging_ver="v0.${KUBERNETES_VERSION#v1.}"
    local kmod
    kmod="$(cd "$src" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
        sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -f "$kmod" ]] || { log "cannot download k8s.io/kubernetes@$KUBERNETES_VERSION"; return 1; }
    {
        echo "module manifest-compiler.local/testbed/kubernetes"
        echo
        grep -E '^go [0-9]' "$kmod"
        grep -E '^godebug ' "$kmod" || true
        echo
        echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
        echo
        echo "replace ("
        # every `k8s.io/X => ./staging/src/k8s.io/X` line of kubernetes' go.mod
        sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*$#\1#p' "$kmod" |
            while read -r m; do echo "	$m => $m $staging_ver"; done
        echo ")"
    } >"$src/go.mod"
    log "wrapper module $src/go.mod pins $(grep -c ' => ' "$src/go.mod") staging modules to $staging_ver"
    (cd "$src" && go get \
        "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
        "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" \
        "k8s.io/kubernetes/cmd/kube-scheduler@$KUBERNETES_VERSION" \
        "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION") >&2
    touch "$src/.ready"
    echo "$src"
}

build_kubernetes() {
    local comps=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
    local missing=()
    for c in "${comps[@]}"; do
        if need "$c" "$KUBERNETES_VERSION"; then missing+=("$c"); fi
    done
    ((${#missing[@]})) || return 0
    local src
    src="$(k8s_src)"
    local v="$KUBERNETES_VERSION" minor="${KUBERNETES_VERSION#v1.}"
    minor="${minor%%.*}"
    local vflags=""
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        vflags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    for c in "${missing[@]}"; do
        build_in "$src" "$c" "$v" "k8s.io/kubernetes/cmd/$c" "-s -w$vflags"
    done
}

# --------------------------------------------------------------- jobset
# sigs.k8s.io/jobset's manager is the module's root main.go; its go.mod has no
# replace directives, so a plain wrapper works.
build_jobset() {
    need jobset "$JOBSET_VERSION" || return 0
    local src="$CACHE/src/jobset-$JOBSET_VERSION"
    mkdir -p "$src"
    if [[ ! -f "$src/go.sum" ]]; then
        cat >"$src/go.mod" <<EOF
module manifest-compiler.local/testbed/jobset

go 1.26.0

require sigs.k8s.io/jobset $JOBSET_VERSION
EOF
        (cd "$src" && go get "sigs.k8s.io/jobset@$JOBSET_VERSION")
    fi
    build_in "$src" jobset "$JOBSET_VERSION" sigs.k8s.io/jobset "-s -w"
}

# ----------------------------------------------------------------- kwok
build_kwok() {
    need kwok "$KWOK_VERSION" || return 0
    local src="$CACHE/src/kwok-$KWOK_VERSION"
    mkdir -p "$src"
    if [[ ! -f "$src/go.sum" ]]; then
        cat >"$src/go.mod" <<EOF
module manifest-compiler.local/testbed/kwok

go 1.26.0

require sigs.k8s.io/kwok $KWOK_VERSION
EOF
        (cd "$src" && go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
    fi
    build_in "$src" kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok "-s -w"
}

# ------------------------------------------------------------- kuberay
# github.com/ray-project/kuberay/ray-operator: main.go at the module root, no
# replace directives. The module proxy serves v1.6.0's zip (v1.7.0's: 403), so
# the testbed runs v1.6.0 with the CRDs of its own module, copied beside the
# binary (tests run without network; the module cache may be gone).
build_kuberay() {
    local ver="$KUBERAY_VERSION" src="$CACHE/src/kuberay-operator-$KUBERAY_VERSION"
    local out="$CACHE/kuberay-operator-$KUBERAY_VERSION"
    if [[ ! -f "$src/go.sum" ]]; then
        mkdir -p "$src"
        cat >"$src/go.mod" <<EOF2
module manifest-compiler.local/testbed/kuberay

go 1.26.0

require github.com/ray-project/kuberay/ray-operator $ver
EOF2
        (cd "$src" && go get "github.com/ray-project/kuberay/ray-operator@$ver")
    fi
    if need kuberay-operator "$ver"; then
        build_in "$src" kuberay-operator "$ver" github.com/ray-project/kuberay/ray-operator "-s -w"
    fi
    # RayCronJob's CRD only matters behind a feature gate that stays off
    copy_module_files "$src" github.com/ray-project/kuberay/ray-operator "$out/crds" \
        config/crd/bases/ray.io_rayclusters.yaml \
        config/crd/bases/ray.io_rayjobs.yaml \
        config/crd/bases/ray.io_rayservices.yaml
}

# ---------------------------------------------------------------- kueue
# sigs.k8s.io/kueue/cmd/kueue; its go.mod has no replace directives. All 11 CRDs
# and the webhook configurations (service refs, rewritten to 127.0.0.1 URLs at
# start-up) are copied beside the binary.
build_kueue() {
    local ver="$KUEUE_VERSION" src="$CACHE/src/kueue-$KUEUE_VERSION" out="$CACHE/kueue-$KUEUE_VERSION"
    if [[ ! -f "$src/go.sum" ]]; then
        mkdir -p "$src"
        cat >"$src/go.mod" <<EOF2
module manifest-compiler.local/testbed/kueue

go 1.26.0

require sigs.k8s.io/kueue $ver
EOF2
        (cd "$src" && go get "sigs.k8s.io/kueue/cmd/kueue@$ver")
    fi
    if need kueue "$ver"; then
        build_in "$src" kueue "$ver" sigs.k8s.io/kueue/cmd/kueue \
            "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=$ver"
    fi
    local files=() f
    for f in admissionchecks clusterqueues cohorts localqueues multikueueclusters \
        multikueueconfigs provisioningrequestconfigs resourceflavors topologies \
        workloadpriorityclasses workloads; do
        files+=("config/components/crd/bases/kueue.x-k8s.io_$f.yaml")
    done
    copy_module_files "$src" sigs.k8s.io/kueue "$out/crds" "${files[@]}"
    copy_module_files "$src" sigs.k8s.io/kueue "$out" config/components/webhook/manifests.yaml
}

# copy_module_files MODDIR MODULE DEST FILE... -> DEST/<basename>, when missing
copy_module_files() {
    local moddir="$1" module="$2" dest="$3"
    shift 3
    local f missing=0
    for f in "$@"; do [[ -f "$dest/$(basename "$f")" ]] || missing=1; done
    ((missing)) || return 0
    local dir
    dir="$(cd "$moddir" && go list -m -f '{{.Dir}}' "$module")"
    [[ -d "$dir" ]] || { log "cannot find the source of $module"; return 1; }
    mkdir -p "$dest"
    for f in "$@"; do
        install -m 0644 "$dir/$f" "$dest/$(basename "$f")"
    done
    log "copied ${#} file(s) of $module to $dest"
}

t_all=$(date +%s)
build_etcd
build_kwok
build_jobset
build_kubernetes
build_kuberay
build_kueue
log "all binaries present in $CACHE (this run: $(($(date +%s) - t_all))s)"
