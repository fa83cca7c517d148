"""The JobSet controller with its admission webhooks served on 127.0.0.1."""

from __future__ import annotations

import urllib.request

from .common import wait_for
from .pki import LOOPBACK_SANS
from .plane import Plane
from .webhooks import Hook, register

NAME = "jobset"

# as JobSet's release manifests: same names, paths and rules; the pod hooks only
# for pods that JobSet made
_JOBSET_PODS = {
    "matchExpressions": [{"key": "jobset.sigs.k8s.io/jobset-name", "operator": "Exists"}]
}
HOOKS = [
    Hook(
        "mjobset.kb.io",
        "/mutate-jobset-x-k8s-io-v1alpha2-jobset",
        "jobset.x-k8s.io",
        "v1alpha2",
        "jobsets",
        ("CREATE",),
        mutating=True,
    ),
    Hook(
        "mpod.kb.io",
        "/mutate--v1-pod",
        "",
        "v1",
        "pods",
        ("CREATE",),
        mutating=True,
        object_selector=_JOBSET_PODS,
    ),
    Hook(
        "vjobset.kb.io",
        "/validate-jobset-x-k8s-io-v1alpha2-jobset",
        "jobset.x-k8s.io",
        "v1alpha2",
        "jobsets",
        ("CREATE", "UPDATE"),
        mutating=False,
    ),
    Hook(
        "vpod.kb.io",
        "/validate--v1-pod",
        "",
        "v1",
        "pods",
        ("CREATE",),
        mutating=False,
        object_selector=_JOBSET_PODS,
    ),
]


def start(cp: Plane) -> None:
    cp.pki.make_cert("webhook", "/CN=jobset-webhook", server_sans=LOOPBACK_SANS)
    certdir = cp.pki.serving_cert_dir("webhook", cp.path("jobset-certs"))
    port, health = cp.port("webhook"), cp.port("jobset")
    cfg = cp.path("jobset-config.yaml")
    # JobSet's own cert management creates a Secret and patches webhook
    # configurations that point at an in-cluster Service; here it is off and
    # the webhooks reach the controller at 127.0.0.1 through `url`.
    cfg.write_text(
        "apiVersion: config.jobset.x-k8s.io/v1alpha1\n"
        "kind: Configuration\n"
        "leaderElection:\n  leaderElect: false\n"
        "internalCertManagement:\n  enable: false\n"
        f"webhook:\n  port: {port}\n  host: 127.0.0.1\n  certDir: {certdir}\n"
        'metrics:\n  bindAddress: "0"\n'
        f"health:\n  healthProbeBindAddress: 127.0.0.1:{health}\n"
    )
    proc = cp.spawn(
        NAME,
        [
            str(cp.bins["jobset"]),
            "--config",
            str(cfg),
            "--zap-devel=false",
            "--zap-log-level=info",
        ],
        env=cp.child_env(),
    )

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as r:
            return r.status == 200

    wait_for("jobset controller /readyz", ready, 60, alive=proc.check_alive)
    register(cp, "jobset", port, HOOKS)
