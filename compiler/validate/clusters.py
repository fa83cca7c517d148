"""Worker clusters of a manager (SPEC 2.9, Kueue MultiKueue): well-formed ``spec.clusters``
(E510-E513) in each policy and across the global policies. Pure: loaded policies in.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, Related, error
from .quota import oversized

TYPE_CHECKING = False  # typing is for the type checker: a cold compile never imports it
if TYPE_CHECKING:
    from typing import Any

    LoadedPolicy = Any  # compiler.validate.policy_load imports this module: no import back

CLUSTERS = ("spec", "clusters")
MAX_CLUSTERS = 20  # a MultiKueueConfig lists at most 20 clusters (Kueue v1beta2 CRD)
# an AdmissionCheck names its MultiKueueConfig multikueue-NAME in parameters.name, a DNS-1123
# label of at most 63 characters (Kueue v1beta2 CRD)
MAX_NAME = 63 - len("multikueue-")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS1123_LABEL.match(name))


def check_clusters_of(policy: LoadedPolicy) -> list[Diagnostic]:
    """E510: clusters in a project policy; E512: a name Kubernetes refuses; E513: too many."""
    if not policy.clusters:
        return []
    positions = policy.document.positions
    if policy.project is not None:
        return [
            error(
                "E510",
                "spec.clusters names the manager's worker clusters; only a global policy (no "
                "metadata.project) may set it",
                positions.nearest(CLUSTERS, prefer_key=True),
                "spec.clusters",
            )
        ]
    out = []
    for index, cluster in enumerate(policy.clusters):
        for field, what, longest in (
            ("name", "names the MultiKueueCluster and the queues pinned to it", MAX_NAME),
            ("kubeconfigSecret", "names a Secret", 63),
        ):
            value = getattr(cluster, field)
            if not is_dns_label(value) or len(value) > longest:
                out.append(
                    error(
                        "E512",
                        f"{field} {value!r} {what}: it must be a DNS-1123 label (lower-case "
                        f"letters, digits, '-', at most {longest})",
                        positions.nearest(CLUSTERS + (index, field)),
                        f"spec.clusters[{index}].{field}",
                    )
                )
    for index, cluster in enumerate(policy.clusters):
        for project, share in (cluster.quota or {}).items():
            out += oversized(share, CLUSTERS + (index, "quota", project), positions)
    if len(policy.clusters) > MAX_CLUSTERS:
        out.append(
            error(
                "E513",
                f"{len(policy.clusters)} clusters: a MultiKueueConfig lists at most {MAX_CLUSTERS}",
                positions.nearest(CLUSTERS, prefer_key=True),
                "spec.clusters",
            )
        )
    return out


def worker_clusters(policies: list[LoadedPolicy]) -> list[tuple[LoadedPolicy, int, Any]]:
    """(policy, index, WorkerCluster) of every global policy's spec.clusters, in order."""
    return [
        (policy, index, cluster)
        for policy in policies
        if policy.project is None
        for index, cluster in enumerate(policy.clusters)
    ]


def check_cluster_names(policies: list[LoadedPolicy]) -> list[Diagnostic]:
    """E511: two worker clusters of one name (in one global policy or two)."""
    out = []
    first: dict[str, tuple] = {}
    for policy, index, cluster in worker_clusters(policies):
        earlier = first.setdefault(cluster.name, (policy, index))
        if earlier == (policy, index):
            continue
        earlier_policy, earlier_index = earlier
        out.append(
            error(
                "E511",
                f"two worker clusters are named {cluster.name}; a MultiKueueCluster has one name",
                policy.document.positions.nearest(CLUSTERS + (index, "name")),
                f"spec.clusters[{index}].name",
                [
                    Related(
                        earlier_policy.label,
                        earlier_policy.document.positions.nearest(
                            CLUSTERS + (earlier_index, "name")
                        ),
                    )
                ],
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# a workload pinned to one worker (engineName)


def engine_name(manifest) -> tuple[str | None, tuple]:
    """The worker a workload names, and where: spec.engineName, else the top-level engineName."""
    if manifest.spec.engineName:
        return manifest.spec.engineName, ("spec", "engineName")
    return manifest.engineName, ("engineName",)


def pinned_worker(manifest, policies: list[LoadedPolicy]) -> str | None:
    """The worker cluster the workload is pinned to: its engineName where the policies name
    worker clusters; None otherwise (engineName then selects nothing, W101)."""
    if not worker_clusters(policies):
        return None
    return engine_name(manifest)[0]


def check_engine(resolved, manifest, policies: list[LoadedPolicy]) -> list[Diagnostic]:
    """E324: engineName that names no worker cluster; E325: one whose worker holds no queue of
    the workload (it has none, or the worker's quota leaves its project out)."""
    worker, path = engine_name(manifest)
    clusters = {c.name: c for _, _, c in reversed(worker_clusters(policies))}
    if worker is None or not clusters:
        return []
    where = resolved.location(path)
    shown = ".".join(path)
    if worker not in clusters:
        known = ", ".join(sorted(clusters))
        return [
            error(
                "E324",
                f"engineName {worker!r} is not a worker cluster of the policies (spec.clusters: "
                f"{known}); the workload would be queued where no worker takes it",
                where,
                shown,
            )
        ]
    queue = manifest.spec.queue
    cluster = clusters[worker]
    if queue and (cluster.quota is None or queue in cluster.quota):
        return []
    why = (
        "the workload has no queue (spec.queue), and only a queue dispatches to a worker"
        if not queue
        else f"worker {worker}'s quota gives queue {queue} no share"
    )
    return [error("E325", f"engineName {worker!r} cannot pin this workload: {why}", where, shown)]
