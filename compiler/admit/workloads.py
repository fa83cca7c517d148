"""The cluster's Workloads as the live verdict reads them (pure): what admitted ones hold
(status.admission), what pending ones ask for, in Kueue's queue order."""

from __future__ import annotations

from . import quantity
from .podsets import pod_requests
from .queues import Cluster
from .verdict import Held, Waiting


def _conditions(workload: dict) -> dict:
    status = workload.get("status") or {}
    return {c.get("type"): c.get("status") for c in status.get("conditions") or []}


def _name(workload: dict) -> str:
    metadata = workload.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


def _priority(workload: dict) -> int:
    value = (workload.get("spec") or {}).get("priority")
    return value if isinstance(value, int) else 0


def read_workloads(workloads, cluster: Cluster) -> tuple[list[Held], list[Waiting]]:
    """(admitted, pending) Workloads; fills ``cluster.usage`` with what the admitted hold."""
    held, waiting = [], []
    for workload in workloads:
        conditions = _conditions(workload)
        if conditions.get("Finished") == "True":
            continue
        admission = (workload.get("status") or {}).get("admission") or {}
        if conditions.get("QuotaReserved") == "True" and admission:
            held.append(_held(workload, admission, cluster))
        elif (workload.get("spec") or {}).get("active", True) is not False:
            pending = _waiting(workload, cluster)
            if pending is not None:
                waiting.append(pending)
    return held, waiting


def _held(workload: dict, admission: dict, cluster: Cluster) -> Held:
    queue = str(admission.get("clusterQueue"))
    usage: dict = {}
    for assignment in admission.get("podSetAssignments") or []:
        flavors = assignment.get("flavors") or {}
        for resource, value in (assignment.get("resourceUsage") or {}).items():
            amount = quantity.amount(resource, value) or 0
            fr = (str(flavors.get(resource)), resource)
            usage[fr] = usage.get(fr, 0) + amount
    into = cluster.usage.setdefault(queue, {})
    for fr, amount in usage.items():
        into[fr] = into.get(fr, 0) + amount
    conditions = (workload.get("status") or {}).get("conditions") or []
    since = next(
        (c.get("lastTransitionTime") for c in conditions if c.get("type") == "QuotaReserved"), ""
    )
    return Held(_name(workload), queue, _priority(workload), str(since or ""), usage)


def _waiting(workload: dict, cluster: Cluster) -> Waiting | None:
    metadata = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    queue = cluster.local_queues.get((str(metadata.get("namespace")), str(spec.get("queueName"))))
    if queue is None:
        return None
    requests: dict[str, int] = {}
    for pod_set in spec.get("podSets") or []:
        count = pod_set.get("count") if isinstance(pod_set.get("count"), int) else 1
        per_pod = pod_requests((pod_set.get("template") or {}).get("spec") or {})
        for resource, value in per_pod.items():
            requests[resource] = requests.get(resource, 0) + count * value
    evicted = next(
        (
            c.get("lastTransitionTime")
            for c in (workload.get("status") or {}).get("conditions") or []
            if c.get("type") == "Evicted" and c.get("status") == "True"
        ),
        None,
    )
    created = str(evicted or metadata.get("creationTimestamp") or "")
    return Waiting(_name(workload), queue, _priority(workload), created, requests)
