"""A job a MultiKueue manager dispatched to a worker cluster (SPEC 2.9): which worker runs it,
and a client for that worker.

Kueue's webhook sets ``spec.managedBy: kueue.x-k8s.io/multikueue`` on a job queued in a
ClusterQueue with a MultiKueue AdmissionCheck; once a worker admits the copy, the manager's
Workload says which in ``status.clusterName``. The copy on the worker has the job's kind,
namespace and name; its pods are there, not on the manager.

Credentials for the worker, in this order: the context of the user's kubeconfig named like the
worker; else the kubeconfig Kueue itself uses, read from the manager: the MultiKueueCluster's
``spec.clusterSource.kubeConfig`` Secret (key ``kubeconfig``) in Kueue's namespace, when the
user may read it. Otherwise :class:`WorkerUnreachable` says what to add, in one line (exit 3).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass

from .client import ApiError, ClusterUnavailable, Kube
from .jobs import Found, JobNotFound, KueueView, find_job
from .kinds import Resource

MULTIKUEUE = "kueue.x-k8s.io/multikueue"
KUEUE_NAMESPACE = "kueue-system"
MULTIKUEUE_CLUSTER = Resource(
    "MultiKueueCluster", "kueue.x-k8s.io", "v1beta2", "multikueueclusters", namespaced=False
)
SECRET = Resource("Secret", "", "v1", "secrets")
KUBECONFIG_KEY = "kubeconfig"


class CopyGone(JobNotFound):
    """The worker no longer has the job's copy: once the manager's copy has finished,
    MultiKueue deletes the worker's copy and its pods (Kueue's RemoveRemoteObjects); the
    manager's copy then carries the final status, synced back from the worker."""

    def __init__(self, worker: str, found: Found):
        super().__init__(
            f"{found.resource.kind} {found.name} ran on worker cluster {worker}, which removed "
            "its copy once it finished: its pods are gone, and their logs with them"
        )
        self.worker = worker


class WorkerUnreachable(ClusterUnavailable):
    """The job runs on a worker this machine has no credentials for."""

    @property
    def line(self) -> str:
        return str(self)


def dispatched(found: Found) -> bool:
    """Whether MultiKueue runs the job elsewhere (Kueue's webhook set its managedBy)."""
    return ((found.obj.get("spec") or {}).get("managedBy")) == MULTIKUEUE


def worker_name(kube: Kube, found: Found, kueue: KueueView | None = None) -> str | None:
    """The worker cluster running the job: its manager Workload's ``status.clusterName``."""
    if not dispatched(found):
        return None
    workload = (kueue or KueueView(kube)).workload_of(found.obj)
    name = ((workload or {}).get("status") or {}).get("clusterName")
    return str(name) if name else None


@dataclass(frozen=True)
class OnWorker:
    """The job's copy on the worker that runs it, and a client for that worker."""

    name: str
    kube: Kube
    found: Found


def connect_worker(manager: Kube, name: str) -> Kube:
    from .client import connect
    from .kubeconfig import context_names

    if name in context_names():
        return connect(name, manager.namespace, manager.timeout)
    return _from_secret(manager, name)


def _from_secret(manager: Kube, name: str) -> Kube:
    from .client import Kube as Client
    from .kubeconfig import target_from_text
    from .transport import Transport

    advice = f"add a context named {name} to your kubeconfig"
    try:
        cluster = manager.get(MULTIKUEUE_CLUSTER.path("", name))
        source = ((cluster.get("spec") or {}).get("clusterSource") or {}).get("kubeConfig") or {}
        if source.get("locationType", "Secret") != "Secret" or not source.get("location"):
            raise WorkerUnreachable(
                f"the job runs on worker cluster {name}, whose kubeconfig is not in a Secret: "
                f"{advice}"
            )
        secret_name = str(source["location"])
        secret = manager.get(SECRET.path(KUEUE_NAMESPACE, secret_name))
    except ApiError as exc:
        why = "not allowed" if exc.status in (401, 403) else exc.reason or f"HTTP {exc.status}"
        raise WorkerUnreachable(
            f"the job runs on worker cluster {name}: no context {name} in your kubeconfig, and "
            f"reading its kubeconfig Secret on the manager failed ({why}): {advice}"
        ) from None
    encoded = (secret.get("data") or {}).get(KUBECONFIG_KEY)
    try:
        text = base64.b64decode(str(encoded or ""), validate=True).decode()
    except (binascii.Error, ValueError):
        text = ""
    where = f"Secret {KUEUE_NAMESPACE}/{secret_name}"
    if not text:
        raise WorkerUnreachable(
            f"the job runs on worker cluster {name}: {where} holds no key {KUBECONFIG_KEY}: "
            f"{advice}"
        )
    target = target_from_text(text, where, manager.namespace)
    return Client(Transport(target), manager.namespace, target.server, where, manager.timeout)


def on_worker(manager: Kube, found: Found, name: str) -> OnWorker:
    """The job's copy on worker ``name`` (:class:`CopyGone` once the worker removed it)."""
    kube = connect_worker(manager, name)
    try:
        copy = find_job(kube, f"{found.resource.kind}/{found.name}", found.namespace)
    except JobNotFound:
        raise CopyGone(name, found) from None
    return OnWorker(name, kube, copy)


def locate(manager: Kube, found: Found) -> OnWorker | None:
    """Where the job runs when a MultiKueue manager dispatched it; None when it runs here or
    no worker has taken it yet."""
    name = worker_name(manager, found)
    return on_worker(manager, found, name) if name else None


def wait_for_worker(
    manager: Kube,
    found: Found,
    is_done: Callable[[], bool] = lambda: False,
    poll: float = 2.0,
) -> OnWorker | None:
    """:func:`locate`, waiting until a worker has taken the job (None if ``is_done`` says to
    stop first, or the job runs here)."""
    if not dispatched(found):
        return None
    kueue = KueueView(manager)
    while True:
        name = worker_name(manager, found, kueue)
        if name:
            return on_worker(manager, found, name)
        if is_done():
            return None
        time.sleep(poll)
