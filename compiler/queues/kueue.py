"""ResourceFlavors, WorkloadPriorityClasses, ClusterQueues and LocalQueues (kueue.x-k8s.io/v1beta2).

- A ``default`` ResourceFlavor (no node labels) holds CPU and memory, and the GPUs of a quota
  given as one number; each GPU product of a per-product quota gets its own flavor, whose node
  label (``spec.cluster.gpuProductLabel`` of a global policy, else ``nvidia.com/gpu.product``)
  is the selector Kueue adds to the pods it admits on it.
- Each TPU type of a ``quota.tpus`` gets a flavor labelled ``cloud.google.com/gke-tpu-accelerator``
  (GKE's TPU node label) and the ClusterQueue a resource group covering ``google.com/tpu``.
- The cluster's topology (``spec.cluster.topology`` of a global policy, SPEC 2.7) becomes the
  Kueue ``Topology`` ``default`` and the flavor ``default-topology`` (``topologyName: default``),
  which takes the place of ``default`` in the queue of every project Kueue can place (one flavor
  per pod: no per-product GPUs, no TPUs); the other projects keep ``default``.
- One ClusterQueue per project with a quota, open to the project's namespace only; one LocalQueue
  named after the project in that namespace, and the Namespace itself (first, so that
  ``kubectl apply -f -`` of the output works on a cluster that does not have it yet). Preemption: a project reclaims what it lent to its
  cohort from any borrower, and within its own queue a higher priority job may preempt a lower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..emit import quantity
from ..validate.placement import topology_levels
from ..validate.quota import (
    DEFAULT_FLAVOR,
    DEFAULT_GPU_PRODUCT_LABEL,
    TOPOLOGY_FLAVOR,
    TOPOLOGY_NAME,
    TPU,
    TPU_TYPE_LABEL,
    flavor_name,
    gpu_lenders,
    gpu_products,
    placeable,
)

KUEUE_API = "kueue.x-k8s.io/v1beta2"
GPU = "nvidia.com/gpu"
MANAGED_BY = {"app.kubernetes.io/managed-by": "manifest-compiler"}
PROJECT_LABEL = "manifest-compiler/project"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
# A topology flavor must have a node label (the ResourceFlavor CRD's rule), and Kueue adds it to
# the pods' nodeSelector: the one the kubelet puts on every Linux node selects them all.
EVERY_NODE = {"kubernetes.io/os": "linux"}


def gpu_product_label(policies) -> str:
    """The node label naming a GPU product (SPEC 2.6), from the first global policy stating it."""
    for policy in policies:
        label = _dig(policy.document.data, "spec", "cluster", "gpuProductLabel")
        if policy.project is None and isinstance(label, str) and label:
            return label
    return DEFAULT_GPU_PRODUCT_LABEL


def _dig(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


@dataclass(frozen=True)
class Held:
    """One ClusterQueue to emit: its name, the project whose namespace it serves, its quota, the
    AdmissionCheck it needs (MultiKueue on a manager) and the LocalQueues that feed it."""

    name: str
    project: str
    quota: Any
    admission_check: str | None = None
    local_queues: tuple[str, ...] = ()


def with_quota(policies) -> list:
    """The policies holding a quota, one per project (the first), ordered by project."""
    first: dict = {}
    for policy in policies:
        if policy.quota is not None and policy.project:
            first.setdefault(policy.project, policy)
    return [first[project] for project in sorted(first)]


def placed_projects(policies, levels) -> set:
    """The projects whose queue has the cluster's topology (SPEC 2.7): every project with a
    quota Kueue can place in one domain, when the policies state a topology (``levels``)."""
    if not levels:
        return set()
    return {q.project for q in with_quota(policies) if placeable(q.quota)}


def held_by_projects(policies) -> list[Held]:
    """A ClusterQueue per project with a quota, fed by the LocalQueue named after the project."""
    return [Held(p.project, p.project, p.quota, None, (p.project,)) for p in with_quota(policies)]


def queue_objects(policies, held: list[Held] | None = None, extra: list[dict] | None = None):
    """Namespaces, the Topology, flavors, priority classes, ``extra`` (MultiKueue objects), then
    the ClusterQueues and LocalQueues of ``held`` (default: one per project with a quota)."""
    held = held_by_projects(policies) if held is None else held
    label = gpu_product_label(policies)
    quotas = [h.quota for h in held]
    products = sorted({p for q in quotas for p in gpu_products(q.gpus) or {}})
    projects = sorted({h.project for h in held})
    levels = topology_levels(policies)[0]
    placed = placed_projects(policies, levels)
    objects = [_namespace(project) for project in projects]
    objects += [_topology(levels)] if levels else []
    objects += [_flavor(DEFAULT_FLAVOR, {})] if any(h.project not in placed for h in held) else []
    objects += (
        [_flavor(TOPOLOGY_FLAVOR, EVERY_NODE, TOPOLOGY_NAME)]
        if any(h.project in placed for h in held)
        else []
    )
    objects += [_flavor(flavor_name(p), {label: p}) for p in products]
    tpu_types = sorted({t for q in quotas for t in q.tpus or {}})
    objects += [_flavor(flavor_name(t), {TPU_TYPE_LABEL: t}) for t in tpu_types]
    objects += _priority_classes(policies)
    objects += extra or []
    objects += [_cluster_queue(h, held, h.project in placed) for h in held]
    objects += [_local_queue(h, name) for h in held for name in h.local_queues]
    return objects


def _metadata(name: str, project: str | None = None, namespace: str | None = None) -> dict:
    metadata: dict = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    labels = dict(MANAGED_BY)
    if project:
        labels[PROJECT_LABEL] = project
    metadata["labels"] = labels
    return metadata


def _flavor(name: str, node_labels: dict, topology: str | None = None) -> dict:
    spec: dict = {"nodeLabels": node_labels} if node_labels else {}
    if topology:
        spec["topologyName"] = topology
    return {
        "apiVersion": KUEUE_API,
        "kind": "ResourceFlavor",
        "metadata": _metadata(name),
        "spec": spec,
    }


def _topology(levels) -> dict:
    """The Kueue Topology: its levels' node labels, widest first (the policy's order)."""
    return {
        "apiVersion": KUEUE_API,
        "kind": "Topology",
        "metadata": _metadata(TOPOLOGY_NAME),
        "spec": {"levels": [{"nodeLabel": level.nodeLabel} for level in levels]},
    }


def _priority_classes(policies) -> list[dict]:
    values: dict = {}
    for policy in policies:
        for name, value in (policy.priorities or {}).items():
            values.setdefault(name, (value, policy.name))
    return [
        {
            "apiVersion": KUEUE_API,
            "kind": "WorkloadPriorityClass",
            "metadata": _metadata(name),
            "value": value,
            "description": f"from policy {source}",
        }
        for name, (value, source) in sorted(values.items())
    ]


def _resource(name: str, nominal: str, borrowing: str | None) -> dict:
    out = {"name": name, "nominalQuota": nominal}
    if borrowing is not None:
        out["borrowingLimit"] = borrowing
    return out


def _gpus(count) -> str:
    return quantity.cpu(count)  # whole numbers as "8"; a fraction as Kubernetes writes it


def _resource_groups(quota, lenders, placed: bool = False) -> list[dict]:
    """``lenders``: where the cohort can lend GPUs (quota.gpu_lenders); a GPU borrowing limit
    nobody can lend under is left out (W122 says so)."""
    limit = quota.borrowingLimit
    cohort = bool(quota.cohort)

    def borrowed(name, as_quantity):
        value = getattr(limit, name, None) if limit is not None and cohort else None
        return as_quantity(value) if value is not None else None

    cpu_memory = [
        _resource("cpu", quantity.cpu(quota.cpus), borrowed("cpus", quantity.cpu)),
        _resource("memory", quantity.memory(quota.memoryGB), borrowed("memoryGB", quantity.memory)),
    ]
    products = gpu_products(quota.gpus)
    tpus = _tpu_group(quota)
    default = TOPOLOGY_FLAVOR if placed else DEFAULT_FLAVOR
    if products is None:
        gpus = _resource(GPU, _gpus(quota.gpus or 0), borrowed("gpus", _gpus) if lenders else None)
        return [
            {
                "coveredResources": ["cpu", "memory", GPU],
                "flavors": [{"name": default, "resources": cpu_memory + [gpus]}],
            }
        ] + tpus
    borrowed_gpus = gpu_products(limit.gpus) if limit is not None and cohort else None
    flavors = []
    for product in sorted(products):
        bound = (borrowed_gpus or {}).get(product) if product in lenders else None
        flavors.append(
            {
                "name": flavor_name(product),
                "resources": [
                    _resource(
                        GPU, _gpus(products[product]), None if bound is None else _gpus(bound)
                    )
                ],
            }
        )
    return [
        {
            "coveredResources": ["cpu", "memory"],
            "flavors": [{"name": DEFAULT_FLAVOR, "resources": cpu_memory}],
        },
        {"coveredResources": [GPU], "flavors": flavors},
    ] + tpus


def _tpu_group(quota) -> list[dict]:
    """A resource group covering google.com/tpu: a flavor per TPU type of ``quota.tpus``
    (its node label the type, as GKE labels TPU nodes), none without TPU quota."""
    if not quota.tpus:
        return []
    flavors = [
        {"name": flavor_name(tpu_type), "resources": [_resource(TPU, _gpus(chips), None)]}
        for tpu_type, chips in sorted(quota.tpus.items())
    ]
    return [{"coveredResources": [TPU], "flavors": flavors}]


def _cluster_queue(held: Held, everything: list[Held], placed: bool = False) -> dict:
    quota = held.quota
    spec: dict = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: held.project}}}
    if quota.cohort:
        spec["cohortName"] = quota.cohort
    spec["queueingStrategy"] = quota.queueing or "StrictFIFO"
    spec["preemption"] = {
        "reclaimWithinCohort": "Any",
        "borrowWithinCohort": {"policy": "Never"},
        "withinClusterQueue": "LowerPriority",
    }
    spec["resourceGroups"] = _resource_groups(quota, gpu_lenders(held, everything), placed)
    if held.admission_check:
        spec["admissionChecksStrategy"] = {"admissionChecks": [{"name": held.admission_check}]}
    return {
        "apiVersion": KUEUE_API,
        "kind": "ClusterQueue",
        "metadata": _metadata(held.name, held.project),
        "spec": spec,
    }


def _namespace(project: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _metadata(project, project),
    }


def _local_queue(held: Held, name: str) -> dict:
    return {
        "apiVersion": KUEUE_API,
        "kind": "LocalQueue",
        "metadata": _metadata(name, held.project, held.project),
        "spec": {"clusterQueue": held.name},
    }


# ---------------------------------------------------------------------------------------------
# what a reviewer reads: one line per quantity


def quota_summary(policies) -> dict:
    """{project: {"gpus": "16", "gpus NVIDIA-H100": "8", "cpus": "256", ...}} as people read it."""
    out: dict = {}
    for policy in with_quota(policies):
        quota = policy.quota
        values: dict = {"cpus": _plain(quota.cpus), "memoryGB": _plain(quota.memoryGB)}
        products = gpu_products(quota.gpus)
        if products is None:
            values["gpus"] = _plain(quota.gpus or 0)
        else:
            for product, count in sorted(products.items()):
                values[f"gpus {product}"] = _plain(count)
        for tpu_type, chips in sorted((quota.tpus or {}).items()):
            values[f"tpus {tpu_type}"] = _plain(chips)
        values["cohort"] = quota.cohort or "none"
        limit = quota.borrowingLimit
        for name in ("cpus", "memoryGB"):
            value = getattr(limit, name, None) if limit is not None else None
            if value is not None:
                values[f"borrowingLimit {name}"] = _plain(value)
        borrowed = limit.gpus if limit is not None else None
        if isinstance(borrowed, dict):
            for product, count in sorted(borrowed.items()):
                values[f"borrowingLimit gpus {product}"] = _plain(count)
        elif borrowed is not None:
            values["borrowingLimit gpus"] = _plain(borrowed)
        values["queueing"] = quota.queueing or "StrictFIFO"
        values.update(_worker_shares(policy, policies))
        out[policy.project] = values
    return out


def _worker_shares(policy, policies) -> dict:
    """What each worker cluster holds of the project (SPEC 2.9): ``on worker-a gpus: 8``; a
    worker without a per-cluster quota holds the whole quota."""
    from ..validate.clusters import worker_clusters

    out: dict = {}
    for _, _, cluster in worker_clusters(policies):
        where = f"on {cluster.name}"
        share = None if cluster.quota is None else cluster.quota.get(policy.project)
        if cluster.quota is None:
            out[where] = "whole quota"
        elif share is None:
            out[where] = "none"
        else:
            out[f"{where} cpus"] = _plain(share.cpus)
            out[f"{where} memoryGB"] = _plain(share.memoryGB)
            products = gpu_products(share.gpus)
            for product, count in sorted((products or {"": share.gpus or 0}).items()):
                out[f"{where} gpus {product}".rstrip()] = _plain(count)
            for tpu_type, chips in sorted((share.tpus or {}).items()):
                out[f"{where} tpus {tpu_type}"] = _plain(chips)
    return out


def _plain(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# ---------------------------------------------------------------------------------------------
# from policy documents


def load_policies(policy_documents) -> tuple[list, list]:
    """(loaded policies, diagnostics) of the Policy documents among ``policy_documents``."""
    from ..catalog import check_policy_documents
    from ..pipeline import POLICY_KIND, kind_of
    from ..validate.policy import loaded_policy

    documents = [d for d in policy_documents if d.data is not None and kind_of(d) == POLICY_KIND]
    diagnostics = check_policy_documents(documents)
    return [p for p in (loaded_policy(d) for d in documents) if p is not None], diagnostics


def summary_of(policy_documents) -> dict:
    """``quota_summary`` of parsed policy documents (broken policies count as absent)."""
    return quota_summary(load_policies(policy_documents)[0])
