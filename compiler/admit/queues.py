"""ClusterQueues, ResourceFlavors and LocalQueues as Kueue's cache holds them, and what a
ClusterQueue can hold of each (flavor, resource) — pkg/cache/scheduler/resource_node.go, v0.19.2:
a member of a cohort keeps ``nominal - lendingLimit`` to itself and lends the rest; it may take
from the cohort what the cohort holds unused, at most ``borrowingLimit`` beyond its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import quantity

FlavorResource = tuple[str, str]  # (flavor, resource)
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
MODELLED_PREEMPTION = {
    "withinClusterQueue": ("Never", "LowerPriority"),
    "reclaimWithinCohort": ("Never", "Any"),
}


@dataclass(frozen=True)
class Quota:
    nominal: int
    borrowing: int | None = None
    lending: int | None = None


@dataclass(frozen=True)
class Group:
    covered: tuple[str, ...]
    flavors: tuple[tuple[str, dict[str, Quota]], ...]  # in the ClusterQueue's order


@dataclass(frozen=True)
class ClusterQueue:
    name: str
    cohort: str | None
    strategy: str
    groups: tuple[Group, ...]
    namespaces: tuple[str, ...] | None  # None: any namespace; () a selector this does not read
    within_queue: str = "Never"
    reclaim: str = "Never"
    unknown: tuple[str, ...] = ()

    def quota(self, fr: FlavorResource) -> Quota:
        for group in self.groups:
            for flavor, quotas in group.flavors:
                if flavor == fr[0] and fr[1] in quotas:
                    return quotas[fr[1]]
        return Quota(0)

    def group_of(self, resource: str) -> Group | None:
        return next((g for g in self.groups if resource in g.covered), None)

    def admits_namespace(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces


@dataclass(frozen=True)
class Flavor:
    name: str
    labels: dict
    taints: tuple = ()
    unknown: tuple[str, ...] = ()


def _dig(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _amount(resource: str, value) -> int | None:
    return None if value is None else quantity.amount(resource, value)


def cluster_queue(obj: dict) -> ClusterQueue:
    spec = obj.get("spec") or {}
    unknown = []
    for key, why in (
        ("fairSharing", "fair sharing"),
        ("admissionChecks", "admission checks"),
        ("admissionChecksStrategy", "admission checks"),
        ("admissionScope", "admission fair sharing"),
    ):
        if spec.get(key):
            unknown.append(f"{why} ({key}) is not modelled")
    if spec.get("stopPolicy") not in (None, "None"):
        unknown.append(f"the ClusterQueue is stopped (stopPolicy {spec['stopPolicy']})")
    fungibility = spec.get("flavorFungibility") or {}
    if fungibility.get("whenCanBorrow", "MayStopSearch") not in ("MayStopSearch", "Borrow") or (
        fungibility.get("whenCanPreempt", "TryNextFlavor") != "TryNextFlavor"
    ):
        unknown.append("a flavorFungibility other than Kueue's default is not modelled")
    preemption = spec.get("preemption") or {}
    for key, modelled in MODELLED_PREEMPTION.items():
        if preemption.get(key, "Never") not in modelled:
            unknown.append(f"preemption {key}: {preemption[key]} is not modelled")
    if _dig(preemption, "borrowWithinCohort", "policy") not in (None, "Never"):
        unknown.append("preemption borrowWithinCohort is not modelled")
    groups = []
    for group in spec.get("resourceGroups") or []:
        flavors = []
        for flavor in group.get("flavors") or []:
            quotas = {}
            for res in flavor.get("resources") or []:
                name = str(res.get("name"))
                quotas[name] = Quota(
                    _amount(name, res.get("nominalQuota")) or 0,
                    _amount(name, res.get("borrowingLimit")),
                    _amount(name, res.get("lendingLimit")),
                )
            flavors.append((str(flavor.get("name")), quotas))
        groups.append(Group(tuple(group.get("coveredResources") or ()), tuple(flavors)))
    return ClusterQueue(
        name=str(_dig(obj, "metadata", "name")),
        cohort=spec.get("cohortName") or spec.get("cohort") or None,
        strategy=spec.get("queueingStrategy") or "BestEffortFIFO",
        groups=tuple(groups),
        namespaces=_namespaces(spec.get("namespaceSelector"), unknown),
        within_queue=preemption.get("withinClusterQueue", "Never"),
        reclaim=preemption.get("reclaimWithinCohort", "Never"),
        unknown=tuple(unknown),
    )


def _namespaces(selector, unknown: list) -> tuple[str, ...] | None:
    if selector == {}:
        return None
    labels = (selector or {}).get("matchLabels") or {}
    if set(labels) == {NAMESPACE_LABEL} and set(selector) == {"matchLabels"}:
        return (labels[NAMESPACE_LABEL],)
    unknown.append("a namespaceSelector other than one namespace's name is not modelled")
    return None


def flavor(obj: dict) -> Flavor:
    spec = obj.get("spec") or {}
    unknown = ("topology-aware scheduling is not modelled",) if spec.get("topologyName") else ()
    return Flavor(
        str(_dig(obj, "metadata", "name")),
        dict(spec.get("nodeLabels") or {}),
        tuple(spec.get("nodeTaints") or ()),
        unknown,
    )


@dataclass
class Cluster:
    """Kueue's objects and, live, what admitted Workloads use of each ClusterQueue."""

    queues: dict[str, ClusterQueue]
    flavors: dict[str, Flavor]
    local_queues: dict[tuple[str, str], str]  # (namespace, LocalQueue) -> ClusterQueue
    priorities: dict[str, int] = field(default_factory=dict)
    usage: dict[str, dict[FlavorResource, int]] = field(default_factory=dict)
    unknown_cohorts: dict[str, str] = field(default_factory=dict)  # cohort -> why
    limit_ranges: dict[str, str] = field(default_factory=dict)  # namespace -> a LimitRange's name

    def members(self, cohort: str) -> list[ClusterQueue]:
        return [q for q in self.queues.values() if q.cohort == cohort]

    def used(self, queue: str, fr: FlavorResource) -> int:
        return self.usage.get(queue, {}).get(fr, 0)

    def _kept(self, queue: ClusterQueue, fr: FlavorResource) -> int:
        """What a member keeps to itself: nominal minus its lending limit (none without one)."""
        quota = queue.quota(fr)
        return max(0, quota.nominal - quota.lending) if quota.lending is not None else 0

    def _cohort_quota(self, cohort: str, fr: FlavorResource) -> int:
        return sum(q.quota(fr).nominal - self._kept(q, fr) for q in self.members(cohort))

    def _cohort_used(self, cohort: str, fr: FlavorResource) -> int:
        return sum(max(0, self.used(q.name, fr) - self._kept(q, fr)) for q in self.members(cohort))

    def available(self, queue: ClusterQueue, fr: FlavorResource) -> int:
        """What ``queue`` can take of ``fr`` now (resource_node.go ``available``)."""
        quota, used = queue.quota(fr), self.used(queue.name, fr)
        if not queue.cohort:
            return quota.nominal - used
        kept = self._kept(queue, fr)
        parent = self._cohort_quota(queue.cohort, fr) - self._cohort_used(queue.cohort, fr)
        if quota.borrowing is not None:
            in_parent = quota.nominal - kept - max(0, used - kept)
            parent = min(in_parent + quota.borrowing, parent)
        return max(0, kept - used) + parent

    def potential(self, queue: ClusterQueue, fr: FlavorResource) -> int:
        """The most ``queue`` could ever hold of ``fr`` (resource_node.go ``potentialAvailable``)."""
        quota = queue.quota(fr)
        if not queue.cohort:
            return quota.nominal
        most = self._kept(queue, fr) + self._cohort_quota(queue.cohort, fr)
        if quota.borrowing is not None:
            most = min(quota.nominal + quota.borrowing, most)
        return most


def cluster_of(objects: list[dict]) -> Cluster:
    """The Kueue objects among ``objects`` (``compile queues`` output, or read from a cluster)."""
    queues, flavors, local, priorities = {}, {}, {}, {}
    unknown_cohorts: dict[str, str] = {}
    limit_ranges: dict[str, str] = {}
    for obj in objects:
        kind, name = obj.get("kind"), str(_dig(obj, "metadata", "name"))
        if kind == "ClusterQueue":
            queues[name] = cluster_queue(obj)
        elif kind == "ResourceFlavor":
            flavors[name] = flavor(obj)
        elif kind == "LocalQueue":
            namespace = str(_dig(obj, "metadata", "namespace") or "default")
            local[(namespace, name)] = str(_dig(obj, "spec", "clusterQueue"))
        elif kind == "WorkloadPriorityClass" and isinstance(obj.get("value"), int):
            priorities[name] = obj["value"]
        elif kind == "LimitRange" and _sets_container_defaults(obj):
            namespace = str(_dig(obj, "metadata", "namespace") or "default")
            limit_ranges[namespace] = min(name, limit_ranges.get(namespace, name))
        elif kind == "Cohort":
            spec = obj.get("spec") or {}
            if spec.get("resourceGroups") or spec.get("parentName") or spec.get("fairSharing"):
                unknown_cohorts[name] = (
                    f"cohort {name} has quota, a parent or fair sharing of its own "
                    "(hierarchical cohorts are not modelled)"
                )
    return Cluster(queues, flavors, local, priorities, {}, unknown_cohorts, limit_ranges)


def _sets_container_defaults(limit_range: dict) -> bool:
    """Whether a LimitRange gives containers requests or limits they do not set themselves."""
    limits = _dig(limit_range, "spec", "limits")
    return isinstance(limits, list) and any(
        isinstance(item, dict)
        and item.get("type", "Container") in ("Container", "Pod")
        and (item.get("default") or item.get("defaultRequest"))
        for item in limits
    )
