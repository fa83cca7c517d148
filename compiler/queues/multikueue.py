"""A manager and its worker clusters (SPEC 2.9, Kueue MultiKueue): the objects of each.

On the manager:

- a ``MultiKueueCluster`` per worker, reaching it through the kubeconfig in the Secret
  ``kubeconfigSecret`` (key ``kubeconfig``) of Kueue's namespace;
- a ``MultiKueueConfig`` and an ``AdmissionCheck`` (controller ``kueue.x-k8s.io/multikueue``)
  named ``multikueue`` listing every worker, and one of each named ``multikueue-WORKER`` listing
  that worker only;
- per project with a quota, its ClusterQueue (the project's whole quota, checked by
  ``multikueue``) and LocalQueue, as on one cluster; and per worker holding the project a pinned
  ClusterQueue and LocalQueue ``PROJECT-WORKER`` checked by ``multikueue-WORKER``, whose quota is
  the worker's share. A workload with ``engineName: WORKER`` is queued there, so that it runs on
  that worker only.

On a worker (``--cluster NAME``): the namespaces, flavors, priority classes, a ClusterQueue per
project holding the worker's share (the project's cohort, borrowing and queueing as on the
manager) and the LocalQueues the manager's copies arrive with: ``PROJECT`` and ``PROJECT-NAME``.
MultiKueue creates the job on the worker with the manager's labels, queue name included.

A pinned ClusterQueue is in no cohort: it holds the worker's share, which the worker's own
ClusterQueue bounds whichever queue a job came by.
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, Location, Related, error
from ..emit.workload import pinned_queue
from ..validate.clusters import CLUSTERS, worker_clusters
from ..validate.quota import QUOTA, gpu_products
from .kueue import KUEUE_API, Held, _metadata, queue_objects, with_quota

MULTIKUEUE_CONTROLLER = "kueue.x-k8s.io/multikueue"
ALL_WORKERS = "multikueue"


def clusters_of(policies) -> list:
    """The worker clusters the global policies name, in order (the first of a duplicate name)."""
    seen: dict = {}
    for _, _, cluster in worker_clusters(policies):
        seen.setdefault(cluster.name, cluster)
    return list(seen.values())


def worker_check(worker: str) -> str:
    return f"{ALL_WORKERS}-{worker}"


def share_of(cluster, policy):
    """What ``cluster`` holds of ``policy``'s project, as a Quota record; None: nothing (the
    worker's quota names other projects only). Without a per-cluster quota, the whole quota."""
    if cluster.quota is None:
        return policy.quota
    share = cluster.quota.get(policy.project)
    if share is None:
        return None
    return policy.quota.model_copy(
        update={
            "cpus": share.cpus,
            "memoryGB": share.memoryGB,
            "gpus": share.gpus,
            "tpus": share.tpus,
        }
    )


def holders(policy, clusters) -> list:
    """The workers holding ``policy``'s project."""
    return [c for c in clusters if share_of(c, policy) is not None]


# ---------------------------------------------------------------------------------------------
# objects


def manager_objects(policies) -> list[dict]:
    clusters = clusters_of(policies)
    quotas = with_quota(policies)
    held = [Held(p.project, p.project, p.quota, ALL_WORKERS, (p.project,)) for p in quotas]
    for policy in quotas:
        for cluster in holders(policy, clusters):
            name = pinned_queue(policy.project, cluster.name)
            alone = share_of(cluster, policy).model_copy(
                update={"cohort": None, "borrowingLimit": None}
            )
            held.append(Held(name, policy.project, alone, worker_check(cluster.name), (name,)))
    extra = [_multikueue_cluster(c) for c in clusters]
    extra += [_config(ALL_WORKERS, [c.name for c in clusters])]
    extra += [_config(worker_check(c.name), [c.name]) for c in clusters]
    extra += [_admission_check(ALL_WORKERS)]
    extra += [_admission_check(worker_check(c.name)) for c in clusters]
    return queue_objects(policies, held, extra)


def worker_objects(policies, worker: str) -> list[dict]:
    cluster = next(c for c in clusters_of(policies) if c.name == worker)
    held = []
    for policy in with_quota(policies):
        share = share_of(cluster, policy)
        if share is not None:
            queues = (policy.project, pinned_queue(policy.project, worker))
            held.append(Held(policy.project, policy.project, share, None, queues))
    return queue_objects(policies, held)


def _multikueue_cluster(cluster) -> dict:
    return {
        "apiVersion": KUEUE_API,
        "kind": "MultiKueueCluster",
        "metadata": _metadata(cluster.name),
        "spec": {
            "clusterSource": {
                "kubeConfig": {"locationType": "Secret", "location": cluster.kubeconfigSecret}
            }
        },
    }


def _config(name: str, workers: list[str]) -> dict:
    return {
        "apiVersion": KUEUE_API,
        "kind": "MultiKueueConfig",
        "metadata": _metadata(name),
        "spec": {"clusters": workers},
    }


def _admission_check(name: str) -> dict:
    return {
        "apiVersion": KUEUE_API,
        "kind": "AdmissionCheck",
        "metadata": _metadata(name),
        "spec": {
            "controllerName": MULTIKUEUE_CONTROLLER,
            "parameters": {
                "apiGroup": KUEUE_API.split("/")[0],
                "kind": "MultiKueueConfig",
                "name": name,
            },
        },
    }


# ---------------------------------------------------------------------------------------------
# what the manager dispatches that the workers cannot hold


def check_dispatch(policies) -> list[Diagnostic]:
    """E514-E518 (compile queues, with spec.clusters)."""
    clusters = worker_clusters(policies)
    if not clusters:
        return []
    quotas = with_quota(policies)
    projects = {p.project: p for p in quotas}
    out: list[Diagnostic] = []
    for policy, index, cluster in clusters:
        out += _share_problems(policy, index, cluster, projects)
    out += _pinned_name_problems(clusters, projects)
    for project_policy in quotas:
        out += _missing_problems(project_policy, clusters)
        out += _total_problems(project_policy, clusters)
    return out


def _at(policy, *path) -> Location:
    return policy.document.positions.nearest(CLUSTERS + path, prefer_key=True)


def _quota_at(policy) -> Related:
    return Related(policy.label, policy.document.positions.nearest(QUOTA, prefer_key=True))


def _missing_problems(project_policy, clusters) -> list[Diagnostic]:
    """E514: a worker with a per-cluster quota that leaves out a project the manager sends it."""
    project = project_policy.project
    return [
        error(
            "E514",
            f"worker {cluster.name} holds no namespace or queue of project {project}, yet the "
            f"manager dispatches every project's workloads to every worker: give {project} a "
            f"share here (cpus: 0 and memoryGB: 0 keep its workloads off this worker)",
            _at(policy, index, "quota"),
            f"spec.clusters[{index}].quota",
            [_quota_at(project_policy)],
        )
        for policy, index, cluster in clusters
        if cluster.quota is not None and project not in cluster.quota
    ]


def _amounts(quota) -> dict[str, float]:
    """Resource -> amount, as people name them: cpus, memoryGB, gpus [PRODUCT], tpus TYPE."""
    out = {"cpus": quota.cpus, "memoryGB": quota.memoryGB}
    products = gpu_products(quota.gpus)
    if products is None:
        out["gpus"] = quota.gpus or 0
    else:
        out.update({f"gpus {product}": count for product, count in products.items()})
    out.update({f"tpus {kind}": chips for kind, chips in (quota.tpus or {}).items()})
    return out


def _total_problems(project_policy, clusters) -> list[Diagnostic]:
    """E515: the manager admits more of a project than its workers hold together."""
    wanted = _amounts(project_policy.quota)
    held = dict.fromkeys(wanted, 0.0)
    for _, _, cluster in clusters:
        share = share_of(cluster, project_policy)
        if share is not None and _same_gpu_shape(share.gpus, project_policy.quota.gpus):
            for name, amount in _amounts(share).items():
                if name in held:
                    held[name] += amount
    short = [name for name in wanted if wanted[name] > held[name] + 1e-9]
    if not short:
        return []
    numbers = ", ".join(f"{name} {_num(wanted[name])} > {_num(held[name])}" for name in short)
    return [
        error(
            "E515",
            f"project {project_policy.project}'s quota on the manager is more than its workers "
            f"hold together ({numbers}): the manager would admit workloads no worker has room for",
            project_policy.document.positions.nearest(QUOTA, prefer_key=True),
            "spec.quota",
        )
    ]


def _same_gpu_shape(share_gpus, quota_gpus) -> bool:
    return (gpu_products(share_gpus) is None) == (gpu_products(quota_gpus) is None) or (
        share_gpus is None
    )


def _share_problems(policy, index, cluster, projects) -> list[Diagnostic]:
    """E516: a share of a project without a quota; E517: GPUs not given as the quota gives them."""
    out = []
    for project, share in (cluster.quota or {}).items():
        where = _at(policy, index, "quota", project)
        if project not in projects:
            known = ", ".join(sorted(projects)) or "none"
            out.append(
                error(
                    "E516",
                    f"worker {cluster.name} gives a share to project {project!r}, which has no "
                    f"quota (spec.quota) on the manager (projects with a quota: {known})",
                    where,
                    f"spec.clusters[{index}].quota.{project}",
                )
            )
        elif not _same_gpu_shape(share.gpus, projects[project].quota.gpus):
            out.append(
                error(
                    "E517",
                    f"worker {cluster.name}'s share of project {project} gives GPUs "
                    f"{'per product' if gpu_products(share.gpus) is not None else 'as one number'}"
                    f", its spec.quota.gpus the other way: give both the same way",
                    where,
                    f"spec.clusters[{index}].quota.{project}.gpus",
                    [_quota_at(projects[project])],
                )
            )
    return out


def _pinned_name_problems(clusters, projects) -> list[Diagnostic]:
    """E518: PROJECT-WORKER is the pinned LocalQueue's name and a label value (63 at most), and
    must be no project's queue and no other pinned queue."""
    out = []
    taken: dict[str, str] = {project: f"project {project}'s queue" for project in projects}
    for policy, index, cluster in clusters:
        for project, project_policy in sorted(projects.items()):
            if share_of(cluster, project_policy) is None:
                continue
            name = pinned_queue(project, cluster.name)
            why = "is longer than 63 characters" if len(name) > 63 else None
            why = why or (f"is {taken[name]}" if name in taken else None)
            taken.setdefault(name, f"the queue pinning project {project} to {cluster.name}")
            if why:
                out.append(
                    error(
                        "E518",
                        f"the queue pinning project {project} to worker {cluster.name}, {name}, "
                        f"{why}: choose a shorter or another worker name",
                        _at(policy, index, "name"),
                        f"spec.clusters[{index}].name",
                    )
                )
    return out


def unknown_cluster(policies, name: str) -> Diagnostic:
    """E519: ``--cluster NAME`` that no global policy's spec.clusters names."""
    clusters = worker_clusters(policies)
    known = ", ".join(c.name for _, _, c in clusters)
    if clusters:
        policy = clusters[0][0]
        return error(
            "E519",
            f"--cluster {name}: no worker cluster of that name (spec.clusters names: {known})",
            policy.document.positions.nearest(CLUSTERS, prefer_key=True),
            "spec.clusters",
        )
    return error(
        "E519",
        f"--cluster {name}: no policy names worker clusters (spec.clusters of a global policy)",
        Location("<--cluster>", 1, 1),
    )


def _num(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
