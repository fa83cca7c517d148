"""CustomResourceDefinitions: created in one go and waited for until Established."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

from .common import ControlPlaneError, wait_for
from .plane import Plane


def install(cp: Plane) -> None:
    """Every *.yaml of the CRD directory (../shared/crds, or MC_TESTBED_CRDS), and
    those of the optional components that run (`cp.crd_files()`)."""
    files = cp.crd_files()
    if not files:
        raise ControlPlaneError(f"no CRD YAML files in {cp.crd_dir}")
    install_files(cp, files, "crds-create")


def install_files(cp: Plane, files: Iterable[Path], timing: str) -> set[str]:
    """Create the CRDs in `files` (a fresh cluster: plain create, since server-side
    apply of these MBs of schemas spends seconds on managed fields); wait until all
    are Established. Returns their names."""
    args = ["create", "--field-manager=testbed"]
    for f in files:
        args += ["-f", str(f)]
    t0 = time.monotonic()
    out = cp.kubectl(*args, "-o", "name", timeout=120).stdout.split()
    cp.timings[timing] = time.monotonic() - t0
    names = {line.split("/", 1)[1] for line in out if "/" in line}
    wait_established(cp, names)
    return names


def wait_established(cp: Plane, names: set[str], timeout: float = 90) -> None:
    def established() -> bool:
        code, body = cp.api_get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 30)
        if code != 200:
            return False
        ok = {
            c["metadata"]["name"]
            for c in json.loads(body)["items"]
            if any(
                cond.get("type") == "Established" and cond.get("status") == "True"
                for cond in (c.get("status") or {}).get("conditions") or []
            )
        }
        return names <= ok

    wait_for(f"{len(names)} CRDs Established", established, timeout, interval=0.5)
