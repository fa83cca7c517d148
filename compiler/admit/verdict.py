"""Verdicts: offline (the ClusterQueue empty, from the policies alone) and live (the cluster's
usage and pending Workloads now). Never a guess: outside the model, ``unknown`` with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import quantity
from .assign import FIT, MISMATCH, NEVER, Assignment, Shortfall, assign
from .podsets import PodSet, pod_sets
from .queues import Cluster, ClusterQueue

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"

FITS, BORROWING, NEVER_FITS, NO_FLAVOR = "fits", "fits by borrowing", "never", "no flavor"
AT_ONCE, WAITS, PREEMPTS, UNKNOWN = "admitted at once", "waits", "needs preemption", "unknown"
# what a verdict means for the job, in three outcomes Kueue shows (admitted, or pending for
# quota or for a flavor): what the parity test compares
OUTCOMES = {
    FITS: "admitted",
    BORROWING: "admitted",
    AT_ONCE: "admitted",
    PREEMPTS: "admitted",
    WAITS: "quota",
    NEVER_FITS: "quota",
    NO_FLAVOR: "flavor",
}


@dataclass
class Verdict:
    name: str
    namespace: str
    kind: str
    queue: str | None
    cluster_queue: str | None
    verdict: str
    reason: str
    pod_sets: list[dict] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)  # pending workloads ahead, in Kueue's order
    preempts: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str | None:
        """admitted, quota or flavor, once the job is submitted; None for ``unknown``."""
        if self.verdict in (NEVER_FITS, NO_FLAVOR) and self.behind:
            return "quota"  # a StrictFIFO queue never looks at it while others wait ahead
        return OUTCOMES.get(self.verdict)

    @property
    def admissible(self) -> bool:
        return self.verdict not in (NEVER_FITS, NO_FLAVOR, UNKNOWN)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "kind": self.kind,
            "queue": self.queue,
            "clusterQueue": self.cluster_queue,
            "verdict": self.verdict,
            "reason": self.reason,
            "outcome": self.outcome,
            "podSets": self.pod_sets,
            "behind": self.behind,
            "preempts": self.preempts,
        }


def _pod_priority_class(spec) -> str | None:
    """The first ``priorityClassName`` of a pod template anywhere under a workload's spec."""
    if isinstance(spec, dict):
        name = spec.get("priorityClassName")
        if isinstance(name, str) and name:
            return name
        children = list(spec.values())
    elif isinstance(spec, list):
        children = spec
    else:
        return None
    for child in children:
        found = _pod_priority_class(child)
        if found:
            return found
    return None


def _metadata(obj: dict) -> dict:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


@dataclass
class _Case:
    """One workload read against the cluster's queues."""

    verdict: Verdict
    queue: ClusterQueue | None = None
    sets: list[PodSet] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _case(obj: dict, cluster: Cluster) -> _Case:
    metadata = _metadata(obj)
    namespace = str(metadata.get("namespace") or "default")
    local = (metadata.get("labels") or {}).get(QUEUE_LABEL)
    verdict = Verdict(
        str(metadata.get("name")), namespace, str(obj.get("kind")), local, None, UNKNOWN, ""
    )
    case = _Case(verdict)
    if not local:
        verdict.verdict, verdict.reason = UNKNOWN, "not queued: the object names no Kueue queue"
        return case
    sets, unknown = pod_sets(obj)
    case.sets, case.unknown = sets, list(unknown)
    verdict.pod_sets = [
        {"name": s.name, "count": s.count, "requests": _shown(s.requests)} for s in sets
    ]
    queue_name = cluster.local_queues.get((namespace, local))
    if queue_name is None:
        verdict.verdict = NEVER_FITS
        verdict.reason = f"no LocalQueue {local} in namespace {namespace}: Kueue never admits it"
        return case
    verdict.cluster_queue = queue_name
    queue = cluster.queues.get(queue_name)
    if queue is None:
        verdict.verdict = NEVER_FITS
        verdict.reason = f"LocalQueue {local} points to ClusterQueue {queue_name}, which is absent"
        return case
    case.queue = queue
    case.unknown += list(queue.unknown)
    if queue.cohort in cluster.unknown_cohorts:
        case.unknown.append(cluster.unknown_cohorts[queue.cohort])
    for group in queue.groups:
        for name, _ in group.flavors:
            if name in cluster.flavors:
                case.unknown += list(cluster.flavors[name].unknown)
    if not queue.admits_namespace(namespace):
        verdict.verdict = NEVER_FITS
        verdict.reason = f"ClusterQueue {queue.name} does not admit namespace {namespace}"
    return case


def _shown(amounts: dict[str, int]) -> dict[str, str]:
    return {name: quantity.shown(name, value) for name, value in sorted(amounts.items())}


def _decide(case: _Case, cluster: Cluster) -> Assignment | None:
    """The static part of a verdict (no flavor, never, unknown); the assignment when it may fit."""
    verdict, queue = case.verdict, case.queue
    if queue is None or verdict.verdict == NEVER_FITS:
        return None
    if case.unknown:
        verdict.verdict, verdict.reason = UNKNOWN, "; ".join(dict.fromkeys(case.unknown))
        return None
    assignment = assign(cluster, queue, case.sets)
    for entry in verdict.pod_sets:
        entry["flavors"] = dict(sorted(assignment.flavors.get(entry["name"], {}).items()))
    if assignment.mode == MISMATCH:
        verdict.verdict = NO_FLAVOR
        verdict.reason = "; ".join(dict.fromkeys(assignment.mismatches))
        return None
    if assignment.mode == NEVER:
        verdict.verdict = NEVER_FITS
        verdict.reason = _never(assignment.shortfalls, queue, cluster)
        return None
    return assignment


def _never(shortfalls: list[Shortfall], queue: ClusterQueue, cluster: Cluster) -> str:
    parts = []
    for s in shortfalls:
        if s.asked <= s.potential:
            continue
        quota = queue.quota((s.flavor, s.resource))
        limit = (
            "unlimited" if quota.borrowing is None else quantity.shown(s.resource, quota.borrowing)
        )
        borrowing = f", borrowing {limit} from cohort {queue.cohort}" if queue.cohort else ""
        parts.append(
            f"needs {quantity.shown(s.resource, s.asked)} {s.resource}; {queue.name} can reach "
            f"at most {quantity.shown(s.resource, s.potential)} in flavor {s.flavor} "
            f"(nominal {quantity.shown(s.resource, quota.nominal)}{borrowing})"
        )
    return "; ".join(parts)


def offline_verdict(obj: dict, cluster: Cluster) -> Verdict:
    """Will Kueue ever admit ``obj`` (a compiled JobSet, RayJob or Job) into an empty queue?"""
    case = _case(obj, cluster)
    assignment = _decide(case, cluster)
    verdict = case.verdict
    if assignment is None:
        return verdict
    used = ", ".join(
        f"{quantity.shown(r, v)} {r} in flavor {f}"
        for (f, r), v in sorted(assignment.usage.items())
    )
    if assignment.borrows:
        verdict.verdict = BORROWING
        verdict.reason = f"needs {used}, beyond the nominal quota of {case.queue.name}; the cohort {case.queue.cohort} can lend the rest"  # type: ignore[union-attr]
    else:
        verdict.verdict = FITS
        verdict.reason = f"needs {used}, within the nominal quota of {case.queue.name}"  # type: ignore[union-attr]
    return verdict


# ---------------------------------------------------------------------------------------------
# live


@dataclass(frozen=True)
class Held:
    """An admitted Workload: what it holds, per (flavor, resource)."""

    name: str  # namespace/name
    cluster_queue: str
    priority: int
    admitted_at: str
    usage: dict


@dataclass(frozen=True)
class Waiting:
    """A pending Workload: its ClusterQueue, Kueue's order key and what it asks for."""

    name: str
    cluster_queue: str
    priority: int
    created: str
    requests: dict  # resource -> amount over all its pod sets


def live_verdict(obj: dict, cluster: Cluster, held: list[Held], waiting: list[Waiting]) -> Verdict:
    """Would Kueue admit ``obj`` if it were submitted now? ``cluster.usage`` is what ``held``
    uses; ``waiting`` the pending Workloads, all created before ``obj``."""
    case = _case(obj, cluster)
    verdict, queue = case.verdict, case.queue
    priority_class = (_metadata(obj).get("labels") or {}).get(PRIORITY_LABEL)
    if priority_class and priority_class not in cluster.priorities:
        case.unknown.append(f"no WorkloadPriorityClass {priority_class}")
    pod_priority = _pod_priority_class(obj.get("spec"))
    if pod_priority and not priority_class:
        case.unknown.append(
            f"the priority comes from the pods' PriorityClass {pod_priority}, which is not read"
        )
    limit_range = cluster.limit_ranges.get(verdict.namespace)
    if limit_range:
        case.unknown.append(
            f"LimitRange {limit_range} in namespace {verdict.namespace} gives containers "
            "requests or limits by default, which Kueue counts and this does not model"
        )
    priority = cluster.priorities.get(priority_class or "", 0)
    if queue is not None and not case.unknown:
        ahead = sorted(
            (w for w in waiting if w.cluster_queue == queue.name and w.priority >= priority),
            key=lambda w: (-w.priority, w.created, w.name),
        )
        if queue.strategy == "StrictFIFO":
            verdict.behind = [w.name for w in ahead]
    assignment = _decide(case, cluster)
    if assignment is None and verdict.verdict not in (NEVER_FITS, NO_FLAVOR):
        return verdict
    unsettled = _unsettled(cluster, queue, waiting) if queue is not None else None
    if unsettled:
        verdict.verdict = UNKNOWN
        verdict.reason = f"Kueue has not settled: pending workload {unsettled} fits now"
        return verdict
    if verdict.behind:
        needs: dict[str, int] = {}
        for w in ahead:
            for resource, value in w.requests.items():
                needs[resource] = needs.get(resource, 0) + value
        wanting = ", ".join(f"{quantity.shown(r, v)} {r}" for r, v in sorted(needs.items()))
        if verdict.verdict in (NEVER_FITS, NO_FLAVOR):
            verdict.reason += f" (and it waits behind {len(ahead)} workloads in StrictFIFO order)"
        else:
            verdict.verdict = WAITS
            verdict.reason = (
                f"waits behind {len(ahead)} workload{'s' if len(ahead) != 1 else ''} needing "
                f"{wanting} (StrictFIFO: {', '.join(verdict.behind[:5])}"
                f"{', …' if len(ahead) > 5 else ''})"
            )
        return verdict
    if assignment is None or queue is None:
        return verdict
    if assignment.mode == FIT:
        verdict.verdict = AT_ONCE
        verdict.reason = _now_line(assignment, queue, cluster)
        return verdict
    return _preempt_or_wait(verdict, case, cluster, held, priority, assignment)


def _unsettled(cluster: Cluster, queue: ClusterQueue, waiting: list[Waiting]) -> str | None:
    """A pending Workload of the cohort (or queue) that would fit now: Kueue is about to admit it,
    which changes the answer. Only counted by resource, in any flavor of its queue; in a
    StrictFIFO queue only its head can be admitted."""
    heads: set[str] = set()
    for w in sorted(waiting, key=lambda w: (-w.priority, w.created, w.name)):
        if w.cluster_queue in heads:
            continue
        other = cluster.queues.get(w.cluster_queue)
        if other is not None and other.strategy == "StrictFIFO":
            heads.add(w.cluster_queue)
        if other is None or not (other is queue or (queue.cohort and other.cohort == queue.cohort)):
            continue
        if other.unknown:
            continue
        fits = all(
            any(
                cluster.available(other, (name, resource)) >= value
                for group in other.groups
                if resource in group.covered
                for name, _ in group.flavors
            )
            for resource, value in w.requests.items()
        )
        if fits and w.requests:
            return w.name
    return None


def _now_line(assignment: Assignment, queue: ClusterQueue, cluster: Cluster) -> str:
    parts = []
    for (flavor, resource), value in sorted(assignment.usage.items()):
        free = cluster.available(queue, (flavor, resource))
        parts.append(
            f"{quantity.shown(resource, value)} {resource} of {quantity.shown(resource, free)} free "
            f"in flavor {flavor}"
        )
    tail = f" (borrowing from cohort {queue.cohort})" if assignment.borrows else ""
    return f"needs {', '.join(parts)}{tail}"


def _preempt_or_wait(verdict, case, cluster, held, priority, assignment) -> Verdict:
    queue = case.queue
    shortfall = ", ".join(
        f"{quantity.shown(s.resource, s.asked)} {s.resource} asked, "
        f"{quantity.shown(s.resource, max(0, s.available))} free in flavor {s.flavor}"
        for s in assignment.shortfalls
    )
    needed = {(s.flavor, s.resource) for s in assignment.shortfalls}
    lower = [
        h
        for h in held
        if h.cluster_queue == queue.name
        and queue.within_queue == "LowerPriority"
        and h.priority < priority
        and needed & set(h.usage)
    ]
    reclaimable = [
        h
        for h in held
        if h.cluster_queue != queue.name
        and queue.reclaim == "Any"
        and queue.cohort
        and h.cluster_queue in cluster.queues
        and cluster.queues[h.cluster_queue].cohort == queue.cohort
        and _borrowing(cluster, h.cluster_queue)
    ]
    if reclaimable or (lower and (queue.cohort or _alternatives(queue, assignment))):
        verdict.verdict = UNKNOWN
        verdict.reason = (
            f"{shortfall}; Kueue may preempt "
            f"{', '.join(h.name for h in (reclaimable + lower)[:5])}: preemption across a "
            "cohort, or with other flavors to try, is not modelled"
        )
        return verdict
    targets = _within_queue_targets(cluster, queue, assignment, lower)
    if targets:
        verdict.verdict = PREEMPTS
        verdict.preempts = [h.name for h in targets]
        verdict.reason = (
            f"{shortfall}; Kueue preempts lower-priority {', '.join(verdict.preempts)} "
            f"of ClusterQueue {queue.name}"
        )
        return verdict
    verdict.verdict = WAITS
    verdict.reason = f"waits for quota: {shortfall}; nothing it may preempt"
    return verdict


def _alternatives(queue: ClusterQueue, assignment: Assignment) -> bool:
    """Whether a resource group the workload uses has more than one flavor (Kueue would weigh
    preempting in one against the others)."""
    used = {resource for flavors in assignment.flavors.values() for resource in flavors}
    return any(len(g.flavors) > 1 for g in queue.groups if set(g.covered) & used)


def _fits(cluster: Cluster, queue: ClusterQueue, usage: dict) -> bool:
    return all(value <= cluster.available(queue, fr) for fr, value in usage.items())


def _within_queue_targets(cluster, queue, assignment, candidates: list[Held]) -> list[Held]:
    """Kueue's classical preemption in a ClusterQueue without a cohort: lower priority first,
    then the most recently admitted; removed until the workload fits, then each put back (the
    last removed excepted) that is not needed."""
    ordered = sorted(candidates, key=lambda h: (h.priority, _desc(h.admitted_at), h.name))
    own = cluster.usage.setdefault(queue.name, {})

    def move(h: Held, sign: int) -> None:
        for fr, value in h.usage.items():
            own[fr] = own.get(fr, 0) + sign * value

    targets: list[Held] = []
    try:
        for candidate in ordered:
            move(candidate, -1)
            targets.append(candidate)
            if _fits(cluster, queue, assignment.usage):
                for h in reversed(targets[:-1]):
                    move(h, +1)
                    if _fits(cluster, queue, assignment.usage):
                        targets.remove(h)
                    else:
                        move(h, -1)
                return targets
        return []
    finally:
        for h in targets:  # the cluster's usage as it was
            move(h, +1)


def _borrowing(cluster: Cluster, queue_name: str) -> bool:
    queue = cluster.queues[queue_name]
    return any(
        value > queue.quota(fr).nominal for fr, value in cluster.usage.get(queue_name, {}).items()
    )


def _desc(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)
