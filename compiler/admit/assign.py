"""Kueue's flavor assigner (pkg/scheduler/flavorassigner, v0.19.2, default flavorFungibility:
whenCanBorrow MayStopSearch, whenCanPreempt TryNextFlavor), per pod set and resource group: a
flavor whose node labels the pods' selector and required affinity do not contradict and whose
taints they tolerate; the first where the request fits (borrowing or not) wins; else the first
where it could fit once quota frees up; else none."""

from __future__ import annotations

from dataclasses import dataclass, field

from .podsets import PodSet
from .queues import Cluster, ClusterQueue, Flavor

FIT, WAIT, NEVER, MISMATCH = "fit", "wait", "never", "mismatch"
_WORST = {FIT: 0, WAIT: 1, NEVER: 2, MISMATCH: 3}


@dataclass(frozen=True)
class Shortfall:
    """Why a flavor does not take a resource now: asked vs what the queue can take."""

    flavor: str
    resource: str
    asked: int
    available: int
    potential: int


@dataclass
class Assignment:
    flavors: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # pod set -> resource -> flavor
    usage: dict[tuple[str, str], int] = field(default_factory=dict)  # (flavor, resource) -> amount
    mode: str = FIT
    borrows: bool = False
    shortfalls: list[Shortfall] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def _tolerates(tolerations, taint: dict) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration.get("key") == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (
            taint.get("value") or ""
        ):
            return True
    return False


def _expression_holds(expression: dict, labels: dict) -> bool:
    key, operator = expression.get("key"), expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return True  # Gt, Lt: read by the scheduler, not by this model


def mismatch(pod_set: PodSet, flavor: Flavor) -> str | None:
    """Why ``flavor`` cannot take ``pod_set`` (None: it can)."""
    for taint in flavor.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(
            pod_set.tolerations, taint
        ):
            return f"flavor {flavor.name} has untolerated taint {taint.get('key')}"
    for key, value in pod_set.node_selector.items():
        if key in flavor.labels and flavor.labels[key] != value:
            return f"flavor {flavor.name} doesn't match node selector {key}={value}"
    if pod_set.affinity_terms:
        keys = set(flavor.labels)
        matched = any(
            all(
                _expression_holds(e, flavor.labels)
                for e in term.get("matchExpressions") or []
                if e.get("key") in keys
            )
            for term in pod_set.affinity_terms
        )
        if not matched:
            return f"flavor {flavor.name} doesn't match the pods' node affinity"
    return None


def assign(cluster: Cluster, queue: ClusterQueue, pod_sets: list[PodSet]) -> Assignment:
    out = Assignment()
    for pod_set in pod_sets:
        total = pod_set.total()
        out.flavors[pod_set.name] = {}
        uncovered = sorted(r for r in total if queue.group_of(r) is None)
        for resource in uncovered:
            out.mismatches.append(f"resource {resource} unavailable in ClusterQueue {queue.name}")
            out.mode = MISMATCH
        for group in queue.groups:
            asked = {r: v for r, v in total.items() if r in group.covered}
            if asked:
                _assign_group(cluster, queue, pod_set, group, asked, out)
    return out


def _assign_group(cluster, queue, pod_set, group, asked, out: Assignment) -> None:
    best: tuple[str, str, bool, list] | None = None  # (mode, flavor, borrows, shortfalls)
    reasons: list[str] = []
    for name, _ in group.flavors:
        flavor = cluster.flavors.get(name, Flavor(name, {}))
        why = mismatch(pod_set, flavor)
        if why is not None:
            reasons.append(why)
            continue
        mode, borrows, shortfalls = FIT, False, []
        for resource, value in sorted(asked.items()):
            fr = (name, resource)
            wanted = value + out.usage.get(fr, 0)
            available, potential = cluster.available(queue, fr), cluster.potential(queue, fr)
            if wanted > potential:
                state = NEVER
            elif wanted > available:
                state = WAIT
            else:
                state = FIT
                borrows |= cluster.used(queue.name, fr) + wanted > queue.quota(fr).nominal
            if state != FIT:
                shortfalls.append(Shortfall(name, resource, wanted, available, potential))
            mode = state if _WORST[state] > _WORST[mode] else mode
        if mode == FIT:
            best = (mode, name, borrows, [])
            break
        if best is None or _WORST[mode] < _WORST[best[0]]:
            best = (mode, name, False, shortfalls)
    if best is None:
        out.mismatches += reasons or [f"no flavor of ClusterQueue {queue.name} for {pod_set.name}"]
        out.mode = MISMATCH
        return
    mode, name, borrows, shortfalls = best
    for resource, value in asked.items():
        out.flavors[pod_set.name][resource] = name
        out.usage[(name, resource)] = out.usage.get((name, resource), 0) + value
    out.borrows |= borrows
    out.shortfalls += shortfalls
    if _WORST[mode] > _WORST[out.mode]:
        out.mode = mode
