"""The KubeRay operator (ray-operator), out of cluster, every listener on 127.0.0.1.

Runs v1.6.0 (the Go module proxy refuses v1.7.0's source) with the CRDs of its own module,
which replace ../shared/crds' v1.7.0 ray.io CRDs in a control plane that runs it. It reaches
a Ray head at `http://<cluster>-head-svc.<ns>.svc.cluster.local:8265` (the API server's
service proxy cannot reach the loopback pod IPs), so it runs in a mount namespace whose
/etc/hosts is the testbed's hosts file (`cp.hosts_file`) and whose resolv.conf points at
127.0.0.1, where nothing answers: names not in the file fail at once, locally.

Its validating webhook (RayCluster only in v1.6.0) stays off: the operator has no setting
for the webhook server's host, so ENABLE_WEBHOOKS=true would listen on every interface.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from .common import wait_for
from .plane import Plane
from .process import in_private_mounts

NAME = "kuberay-operator"
BINARIES = (NAME,)


def crd_files(cp: Plane) -> list[Path]:
    return sorted((cp.bins[NAME].parent / "crds").glob("*.yaml"))


def start(cp: Plane) -> None:
    health = cp.port("kuberay-health")
    argv = [
        str(cp.bins[NAME]),
        "--kubeconfig",
        str(cp.kubeconfig),
        f"--metrics-addr=127.0.0.1:{cp.port('kuberay-metrics')}",
        f"--health-probe-bind-address=127.0.0.1:{health}",
        "--enable-leader-election=false",
        "--log-stdout-encoder=console",
    ]
    binds = [(cp.hosts_file, "/etc/hosts"), (cp.resolv_conf, "/etc/resolv.conf")]
    proc = cp.spawn(NAME, in_private_mounts(argv, binds), env=cp.child_env())

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as r:
            return r.status == 200

    wait_for("kuberay-operator /readyz", ready, 60, alive=proc.check_alive)
