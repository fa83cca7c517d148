"""kube-controller-manager with every default controller (job, garbage collector,
namespace, serviceaccount, node lifecycle, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import wait_for

if TYPE_CHECKING:
    from .cluster import ControlPlane

NAME = "kube-controller-manager"


def start(cp: ControlPlane) -> None:
    pki, kc = cp.pki, str(cp.kubeconfig)
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
            str(cp.port("kcm")),
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            "--service-account-private-key-file",
            str(pki.path("sa.key")),
            "--root-ca-file",
            str(pki.path("ca.crt")),
            "--cluster-signing-cert-file",
            str(pki.path("ca.crt")),
            "--cluster-signing-key-file",
            str(pki.path("ca.key")),
            # every default controller (job, garbage collector, namespace,
            # serviceaccount, node lifecycle: it lifts the not-ready taint that
            # admission puts on new Nodes, ...). kwok renews the node leases; the
            # long grace period keeps nodes Ready across API server restarts.
            "--controllers",
            "*",
            "--node-monitor-grace-period",
            "5m",
            "--concurrent-job-syncs",
            "10",
            "--v",
            "1",
        ],
    )


def wait_ready(cp: ControlPlane) -> None:
    # the ServiceAccount admission plugin rejects pods until the
    # serviceaccount controller made `default` (proves the KCM works too)
    wait_for(
        "default ServiceAccount",
        lambda: (
            cp.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode
            == 0
        ),
        60,
        interval=0.5,
        alive=cp.check_alive,
    )
