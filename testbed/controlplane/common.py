"""Shared by every component: paths, pinned versions, the binary cache, waiting, ports."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

TESTBED = Path(__file__).resolve().parent.parent  # testbed/
REPO = TESTBED.parent
VERSIONS_FILE = TESTBED / "versions.env"

SERVICE_CIDR = "10.0.0.0/24"  # ClusterIPs are allocated from here; nothing routes them
POD_CIDR = "127.64.0.0/16"  # kwok gives pods IPs from here (loopback: never a target)


class ControlPlaneError(RuntimeError):
    pass


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def cache_dir() -> Path:
    env = os.environ.get("MC_TESTBED_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "manifest-compiler" / "testbed"


#: what every control plane runs; the optional components (kuberay, kueue) add their own
CORE_BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "jobset",
    "kwok",
)


def binary_paths(cache: Path | None = None) -> dict[str, Path]:
    """Where build.sh puts each binary: <cache>/<component>-<version>/<component>."""
    cache = cache or cache_dir()
    v = read_versions()
    k8s = v["KUBERNETES_VERSION"]
    comps = {
        "etcd": v["ETCD_VERSION"],
        "kube-apiserver": k8s,
        "kube-controller-manager": k8s,
        "kube-scheduler": k8s,
        "kubectl": k8s,
        "jobset": v["JOBSET_VERSION"],
        "kwok": v["KWOK_VERSION"],
        "kuberay-operator": v["KUBERAY_VERSION"],
        "kueue": v["KUEUE_VERSION"],
    }
    return {c: cache / f"{c}-{ver}" / c for c, ver in comps.items()}


def missing_binaries(cache: Path | None = None, names: Iterable[str] | None = None) -> list[str]:
    """The binaries among `names` (default: all that build.sh builds) not yet built."""
    paths = binary_paths(cache)
    wanted = paths if names is None else names
    return [c for c in wanted if not os.access(paths[c], os.X_OK)]


def build(log: Callable[[str], None] | None = None, names: Iterable[str] | None = None) -> None:
    """Run testbed/build.sh, which builds whatever is missing, when one of the
    binaries `names` (default: all) is missing; otherwise do nothing."""
    missing = missing_binaries(names=names)
    if not missing:
        return
    if shutil.which("go") is None:
        raise ControlPlaneError("testbed binaries are missing and 'go' is not on PATH")
    (log or log_line)(
        f"building testbed binaries (missing: {', '.join(missing)}); "
        "a first build takes ~17 min on 2 cores"
    )
    subprocess.run(["bash", str(TESTBED / "build.sh")], check=True)


def default_crd_dir() -> Path:
    env = os.environ.get("MC_TESTBED_CRDS")
    if env:
        return Path(env)
    # the shared material sits beside the repository (…/main and …/shared)
    return REPO.parent / "shared" / "crds"


_HANDED_OUT: set[int] = set()
#: listening ports come from below the kernel's ephemeral range (32768-60999 by default): a port
#: picked from that range can be taken by any outgoing connection's local end before the
#: component that was given it binds it ("address already in use" at start-up)
LISTEN_PORTS = range(20000, 32768)


def free_port() -> int:
    """A free 127.0.0.1 port outside the ephemeral range, never one this process handed out
    before: several control planes in one process pick their ports before their processes bind
    them."""
    import random

    while True:
        port = random.choice(LISTEN_PORTS)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def log_line(msg: str) -> None:
    print(f"[testbed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.2,
    alive: Callable[[], None] | None = None,
) -> None:
    """Poll `check` until it returns True (exceptions count as False); `alive`
    raises when a process it watches died, which ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
