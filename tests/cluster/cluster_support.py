"""What the cluster tests share: running `compile` against a control plane, reading objects back,
and waiting for a condition."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPILE = [sys.executable, "-m", "compiler"]


def env_for(plane) -> dict:
    """This environment, pointed at ``plane``, as user ada, never at an in-cluster API server."""
    env = dict(os.environ, KUBECONFIG=str(plane.kubeconfig), PYTHONPATH=str(REPO), USER="ada")
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return env


def compile_(plane, *args, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    """`compile ARGS` against ``plane``, its output captured."""
    return subprocess.run(
        [*COMPILE, *args],
        cwd=cwd,
        env=env_for(plane),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def get(plane, kind, name, namespace) -> dict:
    return plane.kubectl_json("get", kind, name, "-n", namespace)


def poll(what, check, timeout=90.0, interval=0.3, on_timeout=None):
    """``check()``'s first truthy value; the test fails after ``timeout`` seconds without one,
    with ``on_timeout()``'s text (what the cluster holds) if given."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            pytest.fail(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)
