"""Why is my job waiting? One line a researcher understands, from the real sources (pure).

- Kueue's Workload: ``QuotaReserved`` False with Kueue's reason and message (``insufficient
  unused quota for nvidia.com/gpu in flavor default, 4 more needed``), ``Evicted``, the queue.
- Topology-aware scheduling: a workload whose pods must sit in one domain (a rack, a block) that
  has no such domain free waits for room in the topology, not for quota; Kueue's flavor assigner
  says how many pods fit (``topology "dc" allows to fit only 2 out of 4 pod(s)``).
- The position in the queue: from Kueue's visibility API when it is served, else estimated from
  the pending Workloads of the same LocalQueue in Kueue's order (priority, then creation).
- Once admitted, the scheduler's verdict on pods that do not fit (``PodScheduled`` False,
  ``Unschedulable``: ``0/4 nodes are available: 4 Insufficient cpu``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .state import FINAL_PHASES, PENDING, State

# Kueue's reasons for QuotaReserved=False (apis/kueue/v1beta2/workload_types.go, v0.19.2)
NEVER_FITS = "ExceedsMaxQuota"
NO_FLAVOR = "NoMatchingFlavor"
MAX_CAPACITY = "> maximum capacity"  # the flavor assigner's words for a request that never fits
EVALUATING = ("PendingEvaluation", "Pending", "")
# what Kueue says of a workload it has not looked at yet (workload_controller.go): no news
GENERIC = "Workload is pending evaluation"
_POD_SET_PREFIX = re.compile(r"couldn't assign flavors to pod set (?P<pod_set>[^:]+): ")
# the TAS flavor assigner's words (pkg/cache/scheduler/tas_flavor_snapshot.go, notFitMessage)
_TOPOLOGY_NO_FIT = re.compile(
    r'topology "[^"]+" (?:allows to fit only \d+ out of|doesn\'t allow to fit any of) \d+ '
)


@dataclass(frozen=True)
class Position:
    """0-based place among the LocalQueue's pending workloads, and where the number comes from."""

    index: int
    pending: int | None = None  # how many wait in the queue, when known
    estimated: bool = False  # counted from Workloads, not told by Kueue's visibility API


def _conditions(obj: dict | None) -> dict:
    status = (obj or {}).get("status") or {}
    return {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}


def _is_true(condition: dict | None) -> bool:
    return condition is not None and condition.get("status") == "True"


def queue_name(workload: dict | None) -> str:
    return str(((workload or {}).get("spec") or {}).get("queueName") or "")


def is_pending(workload: dict) -> bool:
    """Waiting for quota: neither holding quota nor finished."""
    conditions = _conditions(workload)
    return not _is_true(conditions.get("QuotaReserved")) and not _is_true(
        conditions.get("Finished")
    )


def kueue_order(workload: dict) -> tuple:
    """Kueue's queue order: higher priority first, then the older (creation or last eviction)."""
    metadata = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    priority = spec.get("priority")
    priority = priority if isinstance(priority, int) else 0
    evicted = _conditions(workload).get("Evicted")
    since = (evicted or {}).get("lastTransitionTime") if _is_true(evicted) else None
    return (-priority, since or metadata.get("creationTimestamp") or "", metadata.get("name", ""))


def _name(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def estimated_positions(queue: str, workloads) -> dict[str, Position]:
    """The place of each pending Workload of LocalQueue ``queue`` among ``workloads`` (a
    namespace's), in Kueue's order, by name."""
    line = sorted(
        (w for w in workloads if queue_name(w) == queue and is_pending(w)), key=kueue_order
    )
    return {_name(w): Position(index, len(line), estimated=True) for index, w in enumerate(line)}


def estimated_position(workload: dict, others: list[dict]) -> Position | None:
    """The place of ``workload`` among the pending Workloads of its LocalQueue (``others``: the
    namespace's Workloads, itself included)."""
    return estimated_positions(queue_name(workload), others).get(_name(workload))


def visibility_positions(summary: dict) -> dict[str, Position]:
    """Each pending Workload's place, by name, from a visibility API ``PendingWorkloadsSummary``."""
    items = summary.get("items") or []
    positions = {}
    for item in items:
        name = _name(item)
        index = item.get("positionInLocalQueue")
        if isinstance(index, int) and name not in positions:
            positions[name] = Position(index, len(items))
    return positions


def position_from_visibility(workload: dict, summary: dict) -> Position | None:
    """From a visibility API ``PendingWorkloadsSummary`` of the LocalQueue."""
    return visibility_positions(summary).get(_name(workload))


def ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _place(position: Position | None) -> str:
    if position is None:
        return ""
    ahead = position.index
    text = f"{ordinal(ahead + 1)} in line"
    if ahead:
        text += f", {ahead} job{'s' if ahead != 1 else ''} ahead"
    return text


def _kueue_message(condition: dict | None) -> str:
    message = ((condition or {}).get("message") or "").strip()
    return _POD_SET_PREFIX.sub("", message)


def _topology_request(workload: dict, pod_set: str) -> str:
    """What the pod set asks of the topology (its Workload's ``topologyRequest``), in words."""
    for candidate in (workload.get("spec") or {}).get("podSets") or []:
        if not isinstance(candidate, dict) or candidate.get("name") != pod_set:
            continue
        request = candidate.get("topologyRequest") or {}
        count = candidate.get("count")
        pods = f"its {count} pods" if isinstance(count, int) else "its pods"
        wants = []
        if request.get("required"):
            wants.append(f"{pods} in one {request['required']}")
        slice_level, size = (
            request.get("podSetSliceRequiredTopology"),
            request.get("podSetSliceSize"),
        )
        if slice_level and size:
            wants.append(f"{pods} in groups of {size}, each group in one {slice_level}")
        if wants:
            return f"pod set {pod_set} wants " + " and ".join(wants) + "; "
    return ""


def _topology_wait(workload: dict, head: str, raw_message: str) -> str | None:
    """``head`` and why the topology has no room, when that is what Kueue says."""
    if not _TOPOLOGY_NO_FIT.search(raw_message):
        return None
    pod_set = _POD_SET_PREFIX.search(raw_message)
    wants = _topology_request(workload, pod_set["pod_set"]) if pod_set else ""
    message = _POD_SET_PREFIX.sub("", raw_message.strip())
    return f"{head}, for room in the topology, not for quota: {wants}{message}"


def quota_wait(workload: dict, position: Position | None) -> str:
    """Why Kueue has not admitted ``workload`` yet."""
    conditions = _conditions(workload)
    queue = queue_name(workload) or "?"
    reserved = conditions.get("QuotaReserved")
    reason = (reserved or {}).get("reason") or ""
    message = _kueue_message(reserved)
    # Kueue v0.19 says "Pending" with the flavor assigner's message; later ones ExceedsMaxQuota
    if reason == NEVER_FITS or MAX_CAPACITY in message:
        return f"never admitted by queue {queue}: it asks more than the quota can ever give ({message})"
    if reason == NO_FLAVOR:
        return f"never admitted by queue {queue}: no flavor fits it ({message})"
    evicted = conditions.get("Evicted")
    parts = []
    if evicted is not None and _is_true(evicted):
        why = (evicted.get("message") or evicted.get("reason") or "").strip()
        parts.append(f"evicted by Kueue ({why})" if why else "evicted by Kueue")
    place = _place(position)
    parts.append(f"waiting in queue {queue}" + (f", {place}" if place else ""))
    head = "; ".join(parts)
    topology = _topology_wait(workload, head, (reserved or {}).get("message") or "")
    if topology:
        return topology
    if message and not message.startswith(GENERIC):
        return f"{head}: {message}"
    if position is not None and position.index:
        return f"{head}: jobs ahead of it go first"
    return head + (": Kueue is evaluating it" if reason in EVALUATING else "")


def unschedulable_pods(pods: list[dict]) -> tuple[int, str]:
    """(how many pods the scheduler cannot place, its message for the first of them)."""
    count, message = 0, ""
    for pod in pods:
        if ((pod.get("status") or {}).get("phase") or "Pending") != "Pending":
            continue
        scheduled = _conditions(pod).get("PodScheduled")
        if (
            scheduled
            and scheduled.get("status") == "False"
            and scheduled.get("reason") in ("Unschedulable", "SchedulerError")
        ):
            count += 1
            message = message or (scheduled.get("message") or "").strip()
    return count, message


def explain(
    state: State,
    workload: dict | None = None,
    position: Position | None = None,
    pods: list[dict] | None = None,
) -> State:
    """``state`` with its reason told as one line: why the job waits, when it waits."""
    if state.phase in FINAL_PHASES:
        return state
    if state.phase == PENDING and workload and is_pending(workload):
        return State(state.phase, quota_wait(workload, position), state.since, state.restart)
    count, message = unschedulable_pods(pods or [])
    if not count:
        return state
    stuck = f"{count} pod{'s' if count != 1 else ''} cannot be scheduled"
    verdict = f"{stuck}: {message}" if message else stuck
    admitted = "admitted by Kueue, but " if _is_true(_conditions(workload).get("Admitted")) else ""
    lead = f"{state.reason}; " if state.reason and not admitted else ""
    return State(state.phase, f"{lead}{admitted}{verdict}", state.since, state.restart)
