"""Limits: totals over all the pods a workload makes."""

from __future__ import annotations

from ...diagnostics import Diagnostic, Location, Related, error
from ...emit import quantity
from ...emit.jobset import tpu_hosts
from ...emit.rayjob import SUBMITTER_REQUESTS
from ...resolve import Resolved
from ..policy_load import LoadedPolicy
from .messages import rounded, show
from .tree import MISSING, ONE_POD_PER_JOB, lookup

RAY_OPERATORS = ("kuberay", "ray")


def workload_totals(operator: str, types, submitter: bool = False) -> dict[str, float]:
    """pods, cpus, memoryGB and gpus over the whole workload (per-pod values x pods)."""
    totals = {"pods": 0, "cpus": 0.0, "memoryGB": 0.0, "gpus": 0}
    for _, pods, per_pod in pod_groups(operator, types, submitter):
        totals["pods"] += pods
        for name, amount in per_pod.items():
            totals[name] += pods * amount
    return totals


def pod_groups(operator, types, submitter: bool = False):
    """(type label, pods, per-pod {cpus, memoryGB, gpus}) for each group of identical pods.
    ``submitter``: a RayJob without the legacy ``Job`` type runs KubeRay's default submitter
    pod (written out or not), one pod more."""
    for name, pods, resources in pod_resources(operator, types):
        yield name, pods, _per_pod(resources)
    if not isinstance(types, dict) and getattr(types, "Job", None) is None and submitter:
        yield "submitter", 1, dict(SUBMITTER_REQUESTS)


def pod_resources(operator, types):
    """(type label, pods, the manifest's resources) for each group of identical pods the
    manifest sizes (a RayJob's default submitter, which it does not, left out)."""
    if isinstance(types, dict):
        for name, job_type in types.items():
            count = job_type.count or 1
            per_job = 1 if operator in ONE_POD_PER_JOB else (job_type.completions or 1)
            if operator == "jobset" and tpu_hosts(job_type.resources) > 1:
                per_job = tpu_hosts(job_type.resources)  # each Job is a slice, a pod per host
            yield name, count * per_job, job_type.resources
        return
    yield "Head", 1, types.Head.resources
    for group in types.Workers:  # a multi-host TPU group: each replica is numOfHosts pods
        yield group.name, group.count * tpu_hosts(group.resources), group.resources
    if getattr(types, "Job", None) is not None:
        yield "Job", 1, types.Job.resources


def tpu_totals(operator, types) -> dict[str, int]:
    """TPU chips over the whole workload, per TPU type (google.com/tpu x pods)."""
    out: dict[str, int] = {}
    for _, pods, resources in pod_resources(operator, types):
        tpu = resources.accelerators.tpu if resources.accelerators else None
        if tpu is not None:
            out[tpu.type] = out.get(tpu.type, 0) + pods * tpu.tpuChipsCount
    return out


def _per_pod(resources) -> dict[str, float]:
    """Per-pod amounts as the emitted quantities state them (rounded to millicores and bytes)."""
    cpus = resources.cpus if resources.cpus is not None else 1
    memory = resources.memory if resources.memory is not None else cpus * (resources.ramRatio or 0)
    gpu = (
        resources.accelerators.gpu
        if resources.accelerators and resources.accelerators.gpu
        else None
    )
    return {
        "cpus": _emitted(quantity.cpu_millis, cpus, 1000),
        "memoryGB": _emitted(quantity.memory_bytes, memory, 1 << 30),
        "gpus": gpu.count if gpu else 0,
    }


def _emitted(to_unit, amount: float, per_unit: int) -> float:
    """``amount`` as the emitted quantity states it; beyond any quantity (E104 says so): as given."""
    try:
        return to_unit(amount) / per_unit
    except (OverflowError, ValueError):
        return amount


def check_limits(resolved: Resolved, policy: LoadedPolicy, types) -> list[Diagnostic]:
    if policy.limits is None:
        return []
    submitter = _runs_submitter(resolved)
    totals = workload_totals(resolved.operator, types, submitter)
    out = []
    for name, limit in policy.limits.model_dump(exclude_none=True).items():
        if totals[name] > limit:
            message = f"the workload's total {name} {show(rounded(totals[name]))} ({_breakdown(resolved.operator, types, name, submitter)}) is above the limit {show(limit)}"
            related = [Related(policy.label, policy.limit_location(name))]
            out.append(error("E411", message, _types_location(resolved), "spec.types", related))
    return out


def _runs_submitter(resolved: Resolved) -> bool:
    """A RayJob always runs a submitter pod (K8sJobMode): the one written out, else KubeRay's
    default one (common/job.go GetDefaultSubmitterContainer), sized like it."""
    return resolved.operator in RAY_OPERATORS


def _breakdown(operator, types, name: str, submitter: bool = False) -> str:
    parts = []
    for label, pods, per_pod in pod_groups(operator, types, submitter):
        parts.append(
            f"{label}: {pods} pod{'s' if pods != 1 else ''}"
            if name == "pods"
            else f"{label}: {pods} x {show(rounded(per_pod[name]))}"
        )
    return ", ".join(parts)


def _types_location(resolved: Resolved) -> Location:
    """spec.types as the workload (else its base) wrote it: totals are the workload's doing."""
    for layer in reversed(resolved.layers):
        if (
            layer.role in ("workload", "base")
            and lookup(layer.data, ("spec", "types")) is not MISSING
        ):
            return layer.location(("spec", "types"), key=True)
    return resolved.location(("spec", "types"), key=True)
