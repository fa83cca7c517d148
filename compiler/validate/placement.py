"""Placement (SPEC 2.7): what Kueue would only report once it tries to admit, found at compile time.

- E370: a placement while no global policy states the cluster's topology.
- E371: ``within`` names no level of the topology.
- E372: the workload's queue is not one ``compile queues`` gives a topology (no project quota).
- E373: the pods placed together cannot fit one domain of the level (the policy's ``capacity``).
- E374: options Kueue's webhook rejects together (a preferred slice, a group it cannot make).
- E375: a placement the kind cannot honour (a RayJob has no child Jobs).
- E376: a topology Kueue's Topology refuses (a level or node label twice, the host not last);
  a node label that is no label key is E310, two global policies with different topologies E316.
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, error
from ..emit.placement import PodSet, pod_sets, together
from ..resolve import Resolved, format_path
from .policy.limits import _per_pod
from .quota import placeable
from .runs import label_key_problem

TYPE_CHECKING = False  # typing is for the type checker: a cold compile never imports it
if TYPE_CHECKING:
    from typing import Any

HOSTNAME = "kubernetes.io/hostname"
TOPOLOGY = ("spec", "cluster", "topology")
CAPACITY_UNITS = {"pods": "pods", "gpus": "GPUs", "cpus": "CPUs", "memoryGB": "GB of memory"}


# ---------------------------------------------------------------------------------------------
# the cluster's topology, from the global policies


def topology_levels(policies) -> tuple[tuple, list[Diagnostic]]:
    """(the cluster's topology levels, problems): the first global policy stating
    ``spec.cluster.topology``; another global policy stating a different one is E316."""
    stated = [
        p
        for p in policies
        if p.project is None and getattr(p, "cluster", None) and p.cluster.topology
    ]
    if not stated:
        return (), []
    first = stated[0]
    levels = tuple(first.cluster.topology)
    problems = _shape_problems(first, levels)
    for policy in stated[1:]:
        if _plain(policy.cluster.topology) != _plain(levels):
            problems.append(
                error(
                    "E316",
                    f"spec.cluster.topology differs from {first.label}'s; the cluster has one "
                    "topology",
                    policy.document.positions.nearest(TOPOLOGY, prefer_key=True),
                    "spec.cluster.topology",
                )
            )
    return levels, problems


def _plain(levels) -> list:
    return [(lvl.name, lvl.nodeLabel, _capacity(lvl)) for lvl in levels]


def _capacity(level) -> tuple:
    capacity = level.capacity
    return tuple(getattr(capacity, n, None) for n in CAPACITY_UNITS) if capacity else ()


def _shape_problems(policy, levels: tuple) -> list[Diagnostic]:
    """What Kueue's Topology CRD refuses: a node label twice, the host label above the lowest
    level; and a level name twice (placements could not say which); bad label keys (E310)."""
    out = []
    names: set = set()
    labels: set = set()
    for index, level in enumerate(levels):
        where = policy.document.positions.nearest(TOPOLOGY + (index,))
        path = f"spec.cluster.topology[{index}]"
        problem = label_key_problem(level.nodeLabel)
        if problem:
            out.append(error("E310", f"nodeLabel {level.nodeLabel!r}: {problem}", where, path))
        if level.name in names:
            out.append(error("E376", f"level {level.name!r} is named twice", where, path))
        if level.nodeLabel in labels:
            message = f"node label {level.nodeLabel!r} names two levels; Kueue needs one per level"
            out.append(error("E376", message, where, path))
        if level.nodeLabel == HOSTNAME and index != len(levels) - 1:
            message = (
                f"{HOSTNAME} can only be the lowest (last) level of a Kueue Topology: list the "
                "widest domain first and the host last"
            )
            out.append(error("E376", message, where, path))
        names.add(level.name)
        labels.add(level.nodeLabel)
    return out


# ---------------------------------------------------------------------------------------------
# a workload's placement


def check_placement(
    resolved: Resolved, operator: str, types, spec, levels: tuple, quota
) -> list[Diagnostic]:
    """E370-E375 for the workload's placements (its own and its types'). ``quota``: the policy
    holding the quota of the workload's queue (None: no project quota behind it)."""
    sets = pod_sets(operator, types, spec.placement)
    placed = [s for s in sets if s.placement is not None]
    if not placed:
        return []
    written = _written(sets, spec)
    if not levels:
        return [
            _error(
                resolved,
                "E370",
                path,
                "placement needs the cluster's topology, and no global policy states it "
                "(spec.cluster.topology): ask the cluster's administrator",
            )
            for path in written
        ]
    known = {level.name: level for level in levels}
    unknown = [
        _error(
            resolved,
            "E371",
            path + ("within",),
            f"unknown topology level {within!r}; the cluster's levels are "
            f"{', '.join(known)}{_suggestion(within, known)}",
        )
        for path, within in written.items()
        if within not in known
    ]
    if unknown:
        return unknown
    out = []
    why = _no_topology(spec.queue, quota)
    if why:
        out += [_error(resolved, "E372", path, why) for path in written]
    out += _kind_problems(resolved, operator, placed)
    out += _combination_problems(resolved, operator, sets)
    if not out:
        out += _capacity_problems(resolved, operator, sets, known)
    return out


def _no_topology(queue: str | None, quota) -> str | None:
    """Why the workload's queue has no topology (compile queues gives it none), or None."""
    if quota is None:
        return (
            f"the workload's queue ({queue or 'none'}) has no topology: Kueue places pods only "
            "on a ResourceFlavor with a topologyName, which compile queues gives the queue of a "
            "project with a quota; without one the placement could not be honoured"
        )
    if not placeable(quota.quota):
        kinds = "TPU types" if quota.quota.tpus else "GPU products"
        return (
            f"the queue of project {quota.project} has no topology: its quota names {kinds}, so "
            "Kueue would give a pod two flavors and places a pod set on exactly one topology "
            "flavor; compile queues gives a topology to a quota of cpus, memoryGB and a number "
            "of gpus"
        )
    return None


def _written(sets: list[PodSet], spec) -> dict:
    """Path of each placement in force -> its level: spec.placement, the types' own."""
    out: dict = {}
    if spec.placement is not None:
        out[("spec", "placement")] = spec.placement.within
    for pod_set in sets:
        if pod_set.own:
            out[pod_set.path + ("placement",)] = pod_set.placement.within
    return out


def _place_of(pod_set: PodSet) -> tuple:
    return pod_set.path + ("placement",) if pod_set.own else ("spec", "placement")


def _kind_problems(resolved, operator, placed: list[PodSet]) -> list[Diagnostic]:
    if operator not in ("kuberay", "ray"):
        return []
    return [
        _error(
            resolved,
            "E375",
            _place_of(s) + ("each",),
            "each: job keeps every child Job in its own domain, and a RayJob has no child Jobs "
            "(Kueue places its head and worker groups): use each: type or workload",
        )
        for s in _first_per_place([s for s in placed if s.each == "job"])
    ]


def _first_per_place(sets: list[PodSet]) -> list[PodSet]:
    seen: set = set()
    out = []
    for pod_set in sets:
        if _place_of(pod_set) not in seen:
            seen.add(_place_of(pod_set))
            out.append(pod_set)
    return out


def _combination_problems(resolved, operator, sets: list[PodSet]) -> list[Diagnostic]:
    out = []
    preferred_slices = [
        s for s in sets if s.placement is not None and s.sliced(operator) and s.mode == "preferred"
    ]
    out += [
        _error(
            resolved,
            "E374",
            _place_of(s) + ("mode",),
            "each: job with mode: preferred: Kueue keeps a child Job's pods in one domain only "
            "as a requirement (podset-slice-required-topology; there is no preferred slice): "
            "use mode: required, or each: type with mode: preferred",
        )
        for s in _first_per_place(preferred_slices)
    ]
    grouped = together(sets)
    if len(grouped) < 2:
        return out
    where = _place_of(grouped[0])
    requests = {(s.placement.within, s.mode) for s in grouped}
    names = ", ".join(s.name for s in grouped)
    if len(requests) > 1:
        shown = "; ".join(f"{s.name}: {s.mode} within {s.placement.within}" for s in grouped)
        out.append(
            _error(
                resolved,
                "E374",
                where,
                f"each: workload puts {names} in one domain, but their placements differ "
                f"({shown}): give them one level and mode, or each: type",
            )
        )
    elif len(grouped) > 2:
        out.append(
            _error(
                resolved,
                "E374",
                where,
                f"each: workload would put the {len(grouped)} pod sets {names} in one domain; "
                "Kueue (podset-group-name) groups exactly two pod sets, one of them a single pod: "
                "use each: type, or place fewer types together",
            )
        )
    elif all(s.pods != 1 for s in grouped):
        out.append(
            _error(
                resolved,
                "E374",
                where,
                f"each: workload would put {names} ({grouped[0].pods} and {grouped[1].pods} pods) "
                "in one domain; Kueue (podset-group-name) groups two pod sets only when one of "
                "them is a single pod: use each: type",
            )
        )
    return out


def _capacity_problems(resolved, operator, sets: list[PodSet], known: dict) -> list[Diagnostic]:
    """E373: the pods one domain must hold, against the level's capacity."""
    out = []
    grouped = together(sets)
    units = [[s] for s in sets if s.placement is not None and s not in grouped]
    if grouped:
        units.append(grouped)
    for unit in units:
        level = known[unit[0].placement.within]
        if level.capacity is None or unit[0].mode == "preferred":
            continue
        slice_only = unit[0].sliced(operator)
        need = _needs(unit, slice_only)
        for name, unit_name in CAPACITY_UNITS.items():
            room = getattr(level.capacity, name, None)
            if room is not None and need[name] > room:
                whose = (
                    f"one Job of {unit[0].name}" if slice_only else ", ".join(s.name for s in unit)
                )
                out.append(
                    _error(
                        resolved,
                        "E373",
                        _place_of(unit[0]) + ("within",),
                        f"{whose} needs {_num(need[name])} {unit_name} in one "
                        f"{level.name}, and one {level.name} holds {_num(room)} (the policy's "
                        "spec.cluster.topology capacity): Kueue would never admit it",
                    )
                )
                break
    return out


def _needs(unit: list[PodSet], slice_only: bool) -> dict:
    need = {"pods": 0, "gpus": 0.0, "cpus": 0.0, "memoryGB": 0.0}
    for pod_set in unit:
        pods = pod_set.pods_per_job if slice_only else pod_set.pods
        need["pods"] += pods
        for name, amount in _per_pod(pod_set.resources).items():
            need[name] += pods * amount
    return need


def _num(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _suggestion(word: str, known: dict) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _error(resolved: Resolved, code: str, path: tuple, message: str) -> Diagnostic:
    return error(code, message, resolved.location(_data_path(resolved, path)), format_path(path))


def _data_path(resolved: Resolved, logical: tuple) -> tuple:
    """``logical`` with a Ray worker group's name replaced by its index in the resolved data."""
    out: list = []
    current: Any = resolved.data
    for segment in logical:
        if isinstance(current, list):
            names = [item.get("name") if isinstance(item, dict) else None for item in current]
            segment = names.index(segment) if segment in names else segment
        out.append(segment)
        try:
            current = current[segment]
        except (KeyError, IndexError, TypeError):
            current = None
    return tuple(out)


__all__ = ["check_placement", "topology_levels"]
