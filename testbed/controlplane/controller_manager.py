"""kube-controller-manager with every default controller (job, garbage collector,
namespace, serviceaccount, node lifecycle, ...)."""

from __future__ import annotations

import uuid

from .common import ControlPlaneError, wait_for
from .plane import Plane

NAME = "kube-controller-manager"


def start(cp: Plane) -> None:
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


def wait_ready(cp: Plane) -> None:
    # the ServiceAccount admission plugin rejects pods until the
    # serviceaccount controller made `default` (proves the KCM works too)
    wait_default_service_account(cp, "default", 60)


def wait_default_service_account(cp: Plane, namespace: str, timeout: float) -> None:
    """Wait until the serviceaccount controller made `default` in `namespace`. After an
    API server restart client-go's informers back off (up to 30 s, jittered) before they
    list again, so a namespace made then can wait a while; a timeout shows the KCM's log."""
    try:
        wait_for(
            f"the default ServiceAccount in {namespace}",
            lambda: (
                cp.kubectl(
                    "get", "serviceaccount", "default", "-n", namespace, check=False
                ).returncode
                == 0
            ),
            timeout,
            interval=0.5,
            alive=cp.check_alive,
        )
    except ControlPlaneError as exc:
        raise ControlPlaneError(f"{exc}; {NAME} log:\n{cp.procs[NAME].tail()}") from None


def wait_reconnected(cp: Plane, timeout: float = 180) -> None:
    """After an API server restart: wait until the controllers watch again, shown by
    the serviceaccount controller serving a namespace made now."""
    probe = f"reconnect-{uuid.uuid4().hex[:8]}"
    cp.kubectl("create", "namespace", probe)
    wait_default_service_account(cp, probe, timeout)
    cp.kubectl("delete", "namespace", probe, "--wait=false", check=False)
