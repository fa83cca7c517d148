"""Quotas (SPEC 2.5): well-formed quota and priorities in policies (E501-E507), and workloads that
their queue can never admit (W120, W121). Pure: loaded policies and typed workloads in.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, Related, error, warning
from ..resolve.tree import format_path

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

    # a LoadedPolicy (compiler.validate.policy_load, which imports this module: no import back)
    LoadedPolicy = Any

QUOTA = ("spec", "quota")
PRIORITIES = ("spec", "priorities")
DEFAULT_FLAVOR = "default"
TOPOLOGY_NAME = "default"  # the Kueue Topology compile queues makes of spec.cluster.topology
TOPOLOGY_FLAVOR = "default-topology"  # the default flavor of a project its topology applies to
DEFAULT_GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU = "nvidia.com/gpu"
TPU = "google.com/tpu"
TPU_TYPE_LABEL = "cloud.google.com/gke-tpu-accelerator"  # GKE's node label naming the TPU type

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


def flavor_name(product: str) -> str:
    """The ResourceFlavor of a GPU product: ``NVIDIA-H100-80GB-HBM3`` -> ``nvidia-h100-80gb-hbm3``.

    A product that does not read as a name as it is gets a digest of itself appended, so two
    products never share a flavor."""
    plain = product.lower()
    if (
        _DNS1123_LABEL.match(plain)
        and len(plain) <= 63
        and plain not in (DEFAULT_FLAVOR, TOPOLOGY_FLAVOR)
    ):
        return plain
    from ..digests import sha256

    digest = sha256(product.encode()).hexdigest()[:8]
    stem = _NOT_NAME.sub("-", plain)[:50].strip("-") or "gpu"
    return f"{stem}-{digest}"


def placeable(quota) -> bool:
    """Whether Kueue can place the pods of a project with this quota in one topology domain:
    its ClusterQueue gives every pod one flavor (cpu, memory and GPUs as one number, no TPUs).
    Kueue puts a pod set on exactly one topology flavor (scheduler/flavorassigner
    tas_flavorassigner.go onlyTASFlavor), and a pod of a queue with per-product GPU or TPU
    flavors takes two."""
    return gpu_products(quota.gpus) is None and not quota.tpus


def gpu_products(amount) -> dict[str, float] | None:
    """Per-product GPUs, or None when the quota is one number for every product."""
    return dict(amount) if isinstance(amount, dict) else None


def gpu_total(amount) -> float:
    if amount is None:
        return 0
    return sum(amount.values()) if isinstance(amount, dict) else amount


# ---------------------------------------------------------------------------------------------
# one policy


def check_quota(policy: LoadedPolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    quota = policy.quota
    positions = policy.document.positions
    if quota is not None:
        if policy.project is None:
            out.append(
                error(
                    "E501",
                    "a quota belongs to one project: this policy has no metadata.project",
                    positions.nearest(QUOTA, prefer_key=True),
                    "spec.quota",
                )
            )
        elif not _DNS1123_LABEL.match(policy.project) or len(policy.project) > 63:
            out.append(
                error(
                    "E504",
                    f"project {policy.project!r} names the ClusterQueue, LocalQueue and namespace: "
                    "it must be a DNS-1123 label (lower-case letters, digits, '-', at most 63)",
                    positions.nearest(("metadata", "project")),
                    "metadata.project",
                )
            )
        if quota.cohort is not None and not _is_subdomain(quota.cohort):
            out.append(
                error(
                    "E508",
                    f"cohort {quota.cohort!r} names a Kueue cohort: it must be a lower-case DNS "
                    "name (letters, digits, '-', '.')",
                    positions.nearest(QUOTA + ("cohort",)),
                    "spec.quota.cohort",
                )
            )
        out += _borrowing_problems(policy)
        out += _product_problems(policy)
        out += _size_problems(policy)
    for name in policy.priorities or {}:
        if not _is_subdomain(name):
            out.append(
                error(
                    "E505",
                    f"priority {name!r} names a WorkloadPriorityClass: it must be a lower-case "
                    "DNS name (letters, digits, '-', '.')",
                    positions.nearest(PRIORITIES + (name,), prefer_key=True),
                    f"spec.priorities.{name}",
                )
            )
    return out


def _is_subdomain(name: str) -> bool:
    return len(name) <= 253 and all(_DNS1123_LABEL.match(part) for part in name.split("."))


def _borrowing_problems(policy: LoadedPolicy) -> list[Diagnostic]:
    quota = policy.quota
    limit = quota.borrowingLimit
    if limit is None:
        return []
    where = policy.document.positions.nearest(QUOTA + ("borrowingLimit",), prefer_key=True)
    if not quota.cohort:
        return [
            error(
                "E502",
                "borrowingLimit needs a cohort to borrow from; add spec.quota.cohort",
                where,
                "spec.quota.borrowingLimit",
            )
        ]
    products = gpu_products(quota.gpus)
    borrowed = gpu_products(limit.gpus)
    path = "spec.quota.borrowingLimit.gpus"
    at = policy.document.positions.nearest(QUOTA + ("borrowingLimit", "gpus"), prefer_key=True)
    if limit.gpus is not None and (products is None) != (borrowed is None):
        shape = "per GPU product" if products is not None else "one number"
        return [
            error(
                "E503",
                f"spec.quota.gpus is {shape}; borrowingLimit.gpus must be given the same way",
                at,
                path,
            )
        ]
    unknown = sorted(set(borrowed or {}) - set(products or {}))
    if unknown:
        return [
            error(
                "E503",
                f"borrowingLimit.gpus names {', '.join(unknown)}, which spec.quota.gpus does not "
                f"list (known: {', '.join(sorted(products or {})) or 'none'})",
                at,
                path,
            )
        ]
    return []


def _product_problems(policy: LoadedPolicy) -> list[Diagnostic]:
    out = []
    for product, amount in (gpu_products(policy.quota.gpus) or {}).items():
        if amount < 0:
            out.append(
                error(
                    "E104",
                    f"{amount!r}: GPUs of product {product} must be 0 or more",
                    policy.document.positions.nearest(QUOTA + ("gpus", product)),
                    f"spec.quota.gpus.{product}",
                )
            )
    return out


# what one Kubernetes quantity can hold: a signed 64-bit count of its smallest unit
_QUANTITY_MAX = (1 << 63) - 1
_UNITS = {"cpus": 1000, "memoryGB": 1 << 30}  # millicores, bytes


def _size_problems(policy: LoadedPolicy) -> list[Diagnostic]:
    """Amounts no Kubernetes quantity holds (``memoryGB: 1e308``) are E509, not a traceback."""
    return oversized(policy.quota, QUOTA, policy.document.positions)


def oversized(quota, at: tuple, positions) -> list[Diagnostic]:
    """E509 for each amount of ``quota`` (a Quota, or a worker's share of one, at ``at`` in
    the document) that no Kubernetes quantity holds."""
    amounts = [(("cpus",), quota.cpus), (("memoryGB",), quota.memoryGB)]
    amounts += _per_key(("gpus",), quota.gpus) + _per_key(("tpus",), quota.tpus)
    limit = getattr(quota, "borrowingLimit", None)
    if limit is not None:
        for name in ("cpus", "memoryGB", "gpus"):
            amounts += _per_key(("borrowingLimit", name), getattr(limit, name))
    out = []
    for path, amount in amounts:
        unit = _UNITS.get(path[-1]) or _UNITS.get(path[0]) or 1
        if amount is not None and not (amount * unit <= _QUANTITY_MAX):  # inf and nan too
            shown = format_path(at + path)
            out.append(
                error(
                    "E509",
                    f"{amount!r} is more than a Kubernetes quantity holds "
                    f"({_QUANTITY_MAX // unit} at most)",
                    positions.nearest(at + path),
                    shown,
                )
            )
    return out


def _per_key(path: tuple, amount) -> list[tuple[tuple, Any]]:
    if isinstance(amount, dict):
        return [(path + (key,), value) for key, value in amount.items()]
    return [(path, amount)]


# ---------------------------------------------------------------------------------------------
# every policy together


def check_quotas(policies: list[LoadedPolicy]) -> list[Diagnostic]:
    """One quota per project (E506); one value per priority name (E507)."""
    out: list[Diagnostic] = []
    first_quota: dict[str, Any] = {}
    for policy in policies:
        if policy.quota is None or policy.project is None:
            continue
        earlier: Any = first_quota.setdefault(policy.project, policy)
        if earlier is not policy:
            out.append(
                error(
                    "E506",
                    f"policies {earlier.name} and {policy.name} both give project "
                    f"{policy.project} a quota; one ClusterQueue holds one quota",
                    policy.document.positions.nearest(QUOTA, prefer_key=True),
                    "spec.quota",
                    [
                        Related(
                            earlier.label,
                            earlier.document.positions.nearest(QUOTA, prefer_key=True),
                        )
                    ],
                )
            )
    first_value: dict = {}
    for policy in policies:
        for name, value in (policy.priorities or {}).items():
            earlier, earlier_value = first_value.setdefault(name, (policy, value))
            if earlier_value != value:
                out.append(
                    error(
                        "E507",
                        f"priority {name!r} is {earlier_value} in policy {earlier.name} and "
                        f"{value} here; a WorkloadPriorityClass has one value",
                        policy.document.positions.nearest(PRIORITIES + (name,)),
                        f"spec.priorities.{name}",
                        [
                            Related(
                                earlier.label,
                                earlier.document.positions.nearest(PRIORITIES + (name,)),
                            )
                        ],
                    )
                )
    return out


def quota_of(policies: list[LoadedPolicy], project: str | None) -> LoadedPolicy | None:
    """The policy that holds ``project``'s quota (the first, when E506 reports several)."""
    if not project:
        return None
    return next((p for p in policies if p.project == project and p.quota is not None), None)


# ---------------------------------------------------------------------------------------------
# workloads their queue can never admit


def cohort_peers(policy: LoadedPolicy, policies: list[LoadedPolicy]) -> list[LoadedPolicy]:
    """The other projects' quota policies of ``policy``'s cohort (none without a cohort)."""
    quota = policy.quota
    return [
        p
        for p in policies
        if quota.cohort
        and p.quota is not None
        and p is not policy
        and p.quota.cohort == quota.cohort
        and p.project != policy.project
    ]


def gpu_lenders(policy: LoadedPolicy, policies: list[LoadedPolicy]):
    """Where ``policy``'s project can borrow GPUs from its cohort. Kueue lends per flavor: GPUs
    given as one number sit in the default flavor, per-product GPUs in each product's flavor.
    For a numeric quota: whether a peer holds GPUs in the default flavor; for a per-product
    quota: the products some peer holds."""
    peers = cohort_peers(policy, policies)
    if gpu_products(policy.quota.gpus) is None:
        return any(gpu_products(p.quota.gpus) is None and (p.quota.gpus or 0) > 0 for p in peers)
    return {
        product
        for p in peers
        for product, amount in (gpu_products(p.quota.gpus) or {}).items()
        if amount > 0
    }


def check_cohorts(policies: list[LoadedPolicy]) -> list[Diagnostic]:
    """W122 (compile queues): a cohort member whose GPUs no other member can lend or borrow,
    because their quotas sit in other flavors (one number: the default flavor; per product: a
    flavor per product). Its GPU borrowing limit can never apply, and is not emitted."""
    out: list[Diagnostic] = []
    for policy in policies:
        quota = policy.quota
        if quota is None or not policy.project or not quota.cohort or not gpu_total(quota.gpus):
            continue
        others = [p for p in cohort_peers(policy, policies) if gpu_total(p.quota.gpus)]
        if not others:
            continue
        lenders = gpu_lenders(policy, policies)
        numeric = gpu_products(quota.gpus) is None
        if (numeric and lenders) or (not numeric and set(gpu_products(quota.gpus) or {}) & lenders):
            continue
        shape = "one number (flavor default)" if numeric else "per GPU product"
        peers = ", ".join(
            f"{p.project} ({'one number' if gpu_products(p.quota.gpus) is None else 'per product'})"
            for p in sorted(others, key=lambda p: p.project)
        )
        limit = quota.borrowingLimit
        dropped = (
            "; its borrowingLimit.gpus can never apply and is left out"
            if limit is not None and limit.gpus is not None
            else ""
        )
        out.append(
            warning(
                "W122",
                f"project {policy.project} gives its GPUs {shape}, and no other member of "
                f"cohort {quota.cohort} holds GPUs in the same flavors ({peers}): Kueue lends "
                f"per flavor, so the cohort lends it no GPUs and borrows none of its GPUs"
                f"{dropped}. Give the cohort's GPU quotas one shape",
                policy.document.positions.nearest(QUOTA + ("gpus",), prefer_key=True),
                "spec.quota.gpus",
            )
        )
    return out


def capacity(policy: LoadedPolicy, policies: list[LoadedPolicy]) -> dict:
    """The most the project's ClusterQueue can ever hold: its quota plus what it may borrow.

    {"cpus": n, "memoryGB": n, "gpus": n or {product: n}, "tpus": {type: n}}; without a borrowing limit a project
    of a cohort may borrow everything the cohort's other quotas hold."""
    quota = policy.quota
    peers = cohort_peers(policy, policies)
    limit = quota.borrowingLimit
    out: dict = {"tpus": {}}
    for tpu_type, own in (quota.tpus or {}).items():  # no TPU borrowing limit: all peers lend
        out["tpus"][tpu_type] = own + sum((p.quota.tpus or {}).get(tpu_type, 0) for p in peers)
    for name in ("cpus", "memoryGB"):
        own = getattr(quota, name)
        bound = getattr(limit, name) if limit is not None else None
        lent = sum(getattr(p.quota, name) for p in peers)
        out[name] = own + (min(bound, lent) if bound is not None else lent)
    products = gpu_products(quota.gpus)
    if products is None:
        bound = limit.gpus if limit is not None else None
        # borrowing is per flavor: only peers whose GPUs are in the default flavor lend them here
        lent = sum(p.quota.gpus or 0 for p in peers if gpu_products(p.quota.gpus) is None)
        own = quota.gpus or 0
        out["gpus"] = own + (min(bound, lent) if bound is not None else lent)
        return out
    borrowed = gpu_products(limit.gpus) if limit is not None else None
    out["gpus"] = {}
    for product, own in products.items():
        lent = sum((gpu_products(p.quota.gpus) or {}).get(product, 0) for p in peers)
        bound = borrowed.get(product) if borrowed is not None and product in borrowed else None
        out["gpus"][product] = own + (min(bound, lent) if bound is not None else lent)
    return out


def check_admission(
    totals: dict, products_used: set, queue: str | None, project: str | None, policies, where
) -> list[Diagnostic]:
    """W120 when the workload asks more than its queue can ever hold; W121 for a GPU product
    the quota has no flavor for. ``totals`` as from ``workload_totals``; ``products_used`` the
    GPU products the workload's GPU pods select (None for a pod without a product)."""
    policy = quota_of(policies, project)
    if policy is None or queue != project:
        return []
    most = capacity(policy, policies)
    related = [Related(policy.label, policy.document.positions.nearest(QUOTA, prefer_key=True))]
    out = []
    for name, unit in (("cpus", "CPUs"), ("memoryGB", "GB of memory")):
        if totals[name] > most[name]:
            out.append(_never(f"{_num(totals[name])} {unit}", most[name], policy, where, related))
    gpus = totals["gpus"]
    if gpus and isinstance(most["gpus"], dict):
        named = {p for p in products_used if p is not None}
        missing = sorted(named - set(most["gpus"]))
        if missing:
            out.append(
                warning(
                    "W121",
                    f"the workload asks for GPU product {', '.join(missing)}, which the quota of "
                    f"project {project} does not list ({', '.join(sorted(most['gpus']))}): "
                    "Kueue finds no flavor for it and never admits it",
                    where,
                    "spec.types",
                    related,
                )
            )
            return out
        one = len(named) == 1 and None not in products_used
        room = most["gpus"][next(iter(named))] if one else sum(most["gpus"].values())
        if gpus > room:
            out.append(_never(f"{_num(gpus)} GPUs", room, policy, where, related))
    elif gpus and gpus > most["gpus"]:
        out.append(_never(f"{_num(gpus)} GPUs", most["gpus"], policy, where, related))
    return out


def check_covered(
    requested: dict[str, set], tpu_chips: dict, queue: str | None, policies, where
) -> list[Diagnostic]:
    """E322: a resource the workload's pods request that its queue's ClusterQueue does not
    cover (Kueue's flavor assigner: "resource ... unavailable in ClusterQueue"), or a TPU type
    its TPU quota has no flavor for; W120 for more TPU chips of a type than the quota holds.
    ``requested``: resource name -> the pods' group labels asking for it; ``tpu_chips``: TPU
    type -> chips over the whole workload. Under StrictFIFO such a workload waits for ever at
    the head of the team's queue, blocking every job behind it."""
    policy = quota_of(policies, queue)
    if policy is None:
        return []
    quota = policy.quota
    related = [Related(policy.label, policy.document.positions.nearest(QUOTA, prefer_key=True))]
    covered = {"cpu", "memory", GPU} | ({TPU} if quota.tpus else set())
    out = []
    for resource in sorted(set(requested) - covered):
        fix = (
            "give the project TPU quota (spec.quota.tpus: {TYPE: chips})"
            if resource == TPU
            else "the ClusterQueue covers cpu, memory, nvidia.com/gpu"
            + (" and google.com/tpu" if quota.tpus else "")
        )
        out.append(
            error(
                "E322",
                f"the pods of {', '.join(sorted(requested[resource]))} request {resource}, which "
                f"queue {queue} does not cover ({fix}): Kueue never admits the workload, and "
                "under StrictFIFO it blocks every later job of the queue",
                where,
                "spec.types",
                related,
            )
        )
    if TPU not in covered:
        return out
    for tpu_type, chips in sorted(tpu_chips.items()):
        if tpu_type not in quota.tpus:
            out.append(
                error(
                    "E322",
                    f"the workload asks for TPU type {tpu_type}, which the TPU quota of queue "
                    f"{queue} does not list ({', '.join(sorted(quota.tpus))}): Kueue finds no "
                    "flavor for it and never admits it",
                    where,
                    "spec.types",
                    related,
                )
            )
        elif chips > capacity(policy, policies)["tpus"][tpu_type]:
            room = capacity(policy, policies)["tpus"][tpu_type]
            out.append(_never(f"{chips} TPU chips of {tpu_type}", room, policy, where, related))
    return out


def _never(asked: str, room, policy: LoadedPolicy, where, related) -> Diagnostic:
    cohort = policy.quota.cohort
    held = f"{_num(room)}, borrowing from cohort {cohort} included" if cohort else _num(room)
    return warning(
        "W120",
        f"the workload asks for {asked} at once, more than queue {policy.project} can ever hold "
        f"({held}): Kueue will never admit it",
        where,
        "spec.types",
        related,
    )


def _num(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def products_used(types) -> set:
    """The GPU products the workload's GPU pods select (None: a GPU pod that names none)."""
    if isinstance(types, dict):
        groups = [job_type.resources for job_type in types.values()]
    else:
        groups = [types.Head.resources] + [group.resources for group in types.Workers]
        if getattr(types, "Job", None) is not None:
            groups.append(types.Job.resources)
    used = set()
    for resources in groups:
        gpu = resources.accelerators.gpu if resources.accelerators else None
        if gpu is not None and gpu.count:
            used.add(gpu.product or None)
    return used


def check_known(
    queue: str | None, priority: str | None, policies, queue_where, priority_where
) -> list[Diagnostic]:
    """E320, E321: where the policies declare quotas or priorities (the Kueue objects of
    ``compile queues``), a queue or priority class no policy defines. Kueue finds no LocalQueue
    or no WorkloadPriorityClass of that name, and the job stays suspended for ever."""
    queues = sorted({p.project for p in policies if p.quota is not None and p.project})
    priorities = sorted({name for p in policies for name in p.priorities or {}})
    out = []
    if queue and queues and queue not in queues:
        out.append(
            error(
                "E320",
                f"queue {queue!r} is not one the policies define (the LocalQueue of each project "
                f"with a quota: {', '.join(queues)}): Kueue never admits the job, which stays "
                "suspended",
                queue_where,
                "spec.queue",
            )
        )
    if priority and (queues or priorities) and priority not in priorities:
        known = f"({', '.join(priorities)})" if priorities else "(they declare none)"
        out.append(
            error(
                "E321",
                f"priority {priority!r} is not one the policies declare {known}: Kueue finds no "
                "WorkloadPriorityClass of that name and never queues the job",
                priority_where,
                "spec.priority",
            )
        )
    return out


def check_namespace(queue: str | None, project: str | None, namespace, policies, where):
    """W123: the project's LocalQueue lives in the project's namespace; a workload sent to
    another namespace (--namespace) looks for it there and is never admitted."""
    policy = quota_of(policies, project)
    if policy is None or queue != project or not namespace or namespace == project:
        return []
    return [
        warning(
            "W123",
            f"the workload goes to namespace {namespace}, but the LocalQueue {queue} of project "
            f"{project} is in namespace {project}: Kueue finds no queue {queue} in {namespace}",
            where,
            "spec.queue",
            [Related(policy.label, policy.document.positions.nearest(QUOTA, prefer_key=True))],
        )
    ]
