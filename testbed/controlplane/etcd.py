"""etcd: the API server's store, on 127.0.0.1, data in the work dir, no fsync."""

from __future__ import annotations

import json
import urllib.request

from .common import wait_for
from .plane import Plane


def start(cp: Plane) -> None:
    cport, pport = cp.port("etcd-client"), cp.port("etcd-peer")
    proc = cp.spawn(
        "etcd",
        [
            str(cp.bins["etcd"]),
            "--name",
            "testbed",
            "--data-dir",
            str(cp.path("etcd")),
            "--listen-client-urls",
            f"http://127.0.0.1:{cport}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{cport}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{pport}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{pport}",
            "--initial-cluster",
            f"testbed=http://127.0.0.1:{pport}",
            "--initial-cluster-state",
            "new",
            "--unsafe-no-fsync",
            "--quota-backend-bytes",
            str(2 * 1024**3),
            "--log-level",
            "warn",
        ],
    )

    def healthy() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{cport}/health", timeout=2) as r:
            return json.loads(r.read()).get("health") == "true"

    wait_for("etcd /health", healthy, 30, alive=proc.check_alive)
