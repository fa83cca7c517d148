"""``compile queues`` as a whole: the policies' Kueue objects for one cluster, or for a manager
and its worker clusters (SPEC 2.5, 2.9), with the diagnostics of both."""

from __future__ import annotations

from ..diagnostics import has_errors
from ..validate.clusters import worker_clusters
from ..validate.quota import check_cohorts
from .kueue import load_policies, queue_objects, with_quota
from .multikueue import check_dispatch, manager_objects, unknown_cluster, worker_objects


def compile_queues(policy_documents, cluster: str | None = None) -> tuple[list[dict], list]:
    """(objects, diagnostics) for parsed policy documents; no objects when any is an error.
    With worker clusters (spec.clusters): the manager's objects, or with ``cluster`` that
    worker's (SPEC 2.9)."""

    policies, diagnostics = load_policies(policy_documents)
    if cluster is not None and cluster not in {c.name for _, _, c in worker_clusters(policies)}:
        diagnostics = diagnostics + [unknown_cluster(policies, cluster)]
    if worker_clusters(policies):
        diagnostics = diagnostics + check_dispatch(policies)
    if has_errors(diagnostics):
        return [], diagnostics
    if cluster is not None:
        objects = worker_objects(policies, cluster)
    elif worker_clusters(policies):
        objects = manager_objects(policies)
    else:
        objects = queue_objects(policies)
    return objects, diagnostics + check_cohorts(with_quota(policies))
