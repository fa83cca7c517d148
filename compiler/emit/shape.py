"""The shape of each type's Jobs and pods, as JobSet, KubeRay and Kueue count them: shared by
emission (:mod:`compiler.emit.jobset`) and placement (:mod:`compiler.emit.placement`)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for the type checker: a cold compile never imports it
if TYPE_CHECKING:
    from typing import Any

RANKED_OPERATORS = ("pytorch", "xgboost")  # Master is rank 0


def types_in_order(operator: str, types: dict) -> list[tuple[str, Any]]:
    """Types in replicated-job order: pytorch and xgboost put Master first (its RANK is 0)."""
    items = list(types.items())
    if operator in RANKED_OPERATORS:
        items.sort(key=lambda item: item[0].lower() != "master")
    return items


def tpu_hosts(resources) -> int:
    """Hosts (pods) of one TPU slice: the chips of the topology over the chips of one pod; 1 for
    a single-host slice or no TPU."""
    accelerators = resources.accelerators
    tpu = accelerators.tpu if accelerators else None
    if tpu is None:
        return 1
    chips = 1
    for dimension in tpu.topology.lower().split("x"):
        if not dimension.isdigit() or int(dimension) == 0:
            return 1
        chips *= int(dimension)
    per_pod = tpu.tpuChipsCount
    if chips <= per_pod or chips % per_pod:
        return 1
    return chips // per_pod


def job_shape(operator: str, job_type) -> tuple[int, int, int]:
    """(replicas, completions, parallelism) of one type's replicated job. A multi-host TPU slice
    is one Job of a pod per host, as JobSet's TPU examples and xpk lay it out: for jobset each of
    ``count`` Jobs is a slice; for jax ``count`` is the pods (validation refuses the operators
    that cannot use such a slice, and counts that are no whole number of slices)."""
    count = job_type.count or 1
    hosts = tpu_hosts(job_type.resources)
    if operator == "jobset":
        if hosts > 1:
            return count, hosts, hosts
        return count, job_type.completions or 1, job_type.parallelisms or 1
    if hosts > 1:
        return max(count // hosts, 1), hosts, hosts
    return count, 1, 1
