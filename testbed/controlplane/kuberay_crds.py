"""KubeRay's own (v1.6.0) ray.io CRDs without the operator: for a MultiKueue manager, where
RayJobs are only queued and dispatched (Kueue sets `spec.managedBy`) and run on a worker."""

from __future__ import annotations

from pathlib import Path

from . import kuberay
from .plane import Plane

NAME = "kuberay-crds"
BINARIES = kuberay.BINARIES  # the CRDs sit beside the operator's binary in the cache


def crd_files(cp: Plane) -> list[Path]:
    return kuberay.crd_files(cp)


def start(cp: Plane) -> None:
    """Nothing runs: the CRDs were installed with the others."""
