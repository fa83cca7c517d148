"""Start the node agent beside a running control plane (tests and the CLI).

agent = AgentProcess(cp, venv=Path(".venv-frameworks"), image_root=Path("tests/data/frameworks"))
agent.start()      # the Node is Ready when this returns (about 1 s)
...
agent.stop()       # kills every pod process, deletes the Node
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testbed.agent.node import AGENT_LABEL

REPO = Path(__file__).resolve().parents[2]

#: what a pod spec needs to land on an agent node (its taint keeps every other pod away)
NODE_SELECTOR = {AGENT_LABEL: "true"}
TOLERATION = {"key": AGENT_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class AgentProcess:
    def __init__(
        self,
        cp: Any,
        *,
        node_name: str = "agent-0",
        venv: Path | None = None,
        image_root: Path | None = None,
        max_pod_seconds: float = 600.0,
        workdir: Path | None = None,
        pod_range: str | None = None,
    ):
        self.cp = cp
        self.node_name = node_name
        self.venv = venv
        self.image_root = image_root
        self.max_pod_seconds = max_pod_seconds
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mca-"))  # short: see node.py
        self.pod_range = pod_range
        self.popen: subprocess.Popen | None = None
        self.seconds = 0.0

    @property
    def log_path(self) -> Path:
        return self.workdir / "agent.log"

    def start(self, timeout: float = 60) -> AgentProcess:
        t0 = time.monotonic()
        cert_name = f"{self.node_name}-serving"
        self.cp.pki.make_cert(cert_name, "/CN=testbed-agent", server_sans=["IP:127.0.0.1"])
        argv = [
            sys.executable,
            "-m",
            "testbed.agent",
            "--kubeconfig",
            str(self.cp.kubeconfig),
            "--node-name",
            self.node_name,
            "--workdir",
            str(self.workdir),
            "--serving-cert",
            str(self.cp.pki.path(f"{cert_name}.crt")),
            "--serving-key",
            str(self.cp.pki.path(f"{cert_name}.key")),
            "--max-pod-seconds",
            str(self.max_pod_seconds),
        ]
        if self.venv is not None:
            argv += ["--venv", str(self.venv)]
        if self.image_root is not None:
            argv += ["--image-root", str(self.image_root)]
        if self.pod_range is not None:
            argv += ["--pod-range", self.pod_range]
        hosts = self.hosts_file()
        if hosts is not None:
            argv += ["--hosts-file", str(hosts)]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        (self.workdir / "ready").unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.popen.poll() is not None:
                raise RuntimeError(f"agent exited ({self.popen.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"agent node not Ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.2)
        self.seconds = time.monotonic() - t0
        return self

    def hosts_file(self) -> Path | None:
        """Where the names go: the control plane's hosts file (its controllers, e.g. KubeRay's
        operator, resolve through it), else the isolated run's /etc/hosts."""
        own = getattr(self.cp, "hosts_file", None)
        if own is not None and Path(own).exists():
            return Path(own)
        env = os.environ.get("MC_TESTBED_HOSTS_FILE")
        return Path(env) if env else None

    def _ready(self) -> bool:
        if not (self.workdir / "ready").exists():
            return False
        node = self.cp.kubectl("get", "node", self.node_name, "-o", "json", check=False)
        if node.returncode != 0:
            return False
        data = json.loads(node.stdout)
        ready = any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in data.get("status", {}).get("conditions", [])
        )
        # the not-ready taint that admission puts on new Nodes, lifted by the node controller
        taints = [t["key"] for t in data["spec"].get("taints", [])]
        return ready and "node.kubernetes.io/not-ready" not in taints

    def tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self, timeout: float = 30) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        self.popen = None
