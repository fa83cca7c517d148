"""kube-scheduler: binds pods to nodes (kwok only plays pods bound to a node it manages)."""

from __future__ import annotations

import ssl
import urllib.request

from .common import wait_for
from .plane import Plane

NAME = "kube-scheduler"


def start(cp: Plane) -> None:
    kc = str(cp.kubeconfig)
    cp.spawn(
        NAME,
        [
            str(cp.bins[NAME]),
            "--kubeconfig",
            kc,
            "--authentication-kubeconfig",
            kc,
            "--authorization-kubeconfig",
            kc,
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            str(cp.port("scheduler")),
            "--leader-elect=false",
            "--v",
            "1",
        ],
    )


def _readyz(port: int) -> bool:
    # kube-scheduler serves /readyz on its own self-signed cert; /readyz is
    # anonymous-allowed (always-allow paths), so skip verification here only
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=2) as r:
        return r.status == 200


def wait_ready(cp: Plane) -> None:
    wait_for(
        "kube-scheduler /readyz",
        lambda: _readyz(cp.port("scheduler")),
        60,
        interval=0.5,
        alive=cp.check_alive,
    )
