"""Plane: what a component module uses of the control plane. cluster.py's ControlPlane has all
of it (mypy checks that where it hands itself to a component), so the components import this
module and never cluster.py, which imports every one of them."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from .pki import PKI
from .process import Proc


class Plane(Protocol):
    bins: dict[str, Path]  # binary name -> its path in the cache
    pki: PKI
    crd_dir: Path
    node_count: int
    node_capacity: dict[str, str]
    procs: dict[str, Proc]  # process name -> the running process
    timings: dict[str, float]  # phase -> seconds it took

    @property
    def component_config(self) -> Mapping[str, Mapping]:  # component -> settings for its config
        ...

    @property
    def etcd_url(self) -> str: ...

    @property
    def etcd_prefix(self) -> str: ...

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def server(self) -> str: ...

    @property
    def hosts_file(self) -> Path: ...

    @property
    def resolv_conf(self) -> Path: ...

    def path(self, name: str) -> Path: ...

    def port(self, name: str) -> int: ...

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc: ...

    def child_env(self, **extra: str) -> dict[str, str]: ...

    def check_alive(self) -> None: ...

    def crd_files(self) -> list[Path]: ...

    def node_manifests(self) -> list[dict]: ...

    def api_get(self, path: str, timeout: float = 5) -> tuple[int, bytes]: ...

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess: ...

    def kubectl_json(self, *args: str, **kw) -> dict: ...
