"""``compile admit`` from end to end, still pure: compiled units' main objects and Kueue's objects
(compiled from the policies, or read from the cluster with its Workloads) in, verdicts and their
text or JSON out."""

from __future__ import annotations

import json

from .queues import cluster_of
from .verdict import NEVER_FITS, NO_FLAVOR, UNKNOWN, Verdict, live_verdict, offline_verdict
from .workloads import read_workloads

JOB_KINDS = ("JobSet", "RayJob", "Job")


def main_object(objects: list[dict]) -> dict | None:
    """The object Kueue queues among a workload's compiled objects."""
    for kind in JOB_KINDS:
        found = next((o for o in objects if o.get("kind") == kind), None)
        if found is not None:
            return found
    return None


def verdicts(
    workloads: list[dict], kueue_objects: list[dict], live_workloads: list[dict] | None = None
) -> list[Verdict]:
    """A verdict per workload: offline (``live_workloads`` None) or against the cluster now."""
    cluster = cluster_of(kueue_objects)
    if live_workloads is None:
        return [offline_verdict(obj, cluster) for obj in workloads]
    held, waiting = read_workloads(live_workloads, cluster)
    return [live_verdict(obj, cluster, held, waiting) for obj in workloads]


def exit_status(found: list[Verdict]) -> int:
    """0 every workload admissible; 1 one can never be admitted; 4 an answer is unknown."""
    if any(v.verdict in (NEVER_FITS, NO_FLAVOR) for v in found):
        return 1
    return 4 if any(v.verdict == UNKNOWN for v in found) else 0


def as_text(found: list[Verdict]) -> str:
    lines = []
    for v in found:
        where = f"queue {v.queue}" if v.queue else "no queue"
        if v.cluster_queue:
            where += f" → ClusterQueue {v.cluster_queue}"
        lines.append(f"{v.namespace}/{v.name} ({v.kind}, {where}): {v.verdict}: {v.reason}")
        for pod_set in v.pod_sets:
            requests = ", ".join(f"{k} {q}" for k, q in pod_set["requests"].items())
            flavors = sorted(set((pod_set.get("flavors") or {}).values()))
            shown = f" → flavor {', '.join(flavors)}" if flavors else ""
            lines.append(f"  {pod_set['name']}: {pod_set['count']} × {{{requests}}}{shown}")
    return "".join(line + "\n" for line in lines)


def as_json(found: list[Verdict]) -> str:
    return json.dumps([v.as_dict() for v in found], indent=2, ensure_ascii=False) + "\n"
