"""What a kind cannot do with ``spec.restartPolicy`` (SPEC 2.8): a compile-time error, never
silently another behaviour. What each kind does emit is in :mod:`compiler.emit.restart`."""

from __future__ import annotations

from ..diagnostics import Diagnostic, error
from ..emit import Workload
from ..emit.restart import scope
from ..resolve import Resolved, format_path

RAY_OPERATORS = ("kuberay", "ray")


def check_restart(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    spec = workload.spec
    policy = spec.restartPolicy
    if policy is None:
        return []
    operator = workload.operator
    out: list[Diagnostic] = []

    def report(code: str, field: str, message: str) -> None:
        path = ("spec", "restartPolicy", field)
        out.append(error(code, message, resolved.location(path), format_path(path)))

    chosen = scope(spec, operator)
    if operator in RAY_OPERATORS and chosen == "pod":
        report(
            "E330",
            "scope",
            f"operator {operator} cannot restart one pod of a Ray job on its own: a RayJob "
            "retries on a new RayCluster (KubeRay backoffLimit), so its scope is workload",
        )
    elif operator == "batchjob" and chosen == "workload" and _pods(workload) > 1:
        report(
            "E330",
            "scope",
            "a batch/v1 Job cannot restart all its pods together (it replaces each failed pod); "
            "use scope: pod, or operator jobset for a group that restarts as one",
        )
    if operator in RAY_OPERATORS and policy.failOnExitCodes:
        report(
            "E331",
            "failOnExitCodes",
            f"operator {operator} cannot fail on an exit code: KubeRay sees only that the Ray "
            "job failed, not its exit code (remove it; with backoffLimit: 0 every failure is final)",
        )
    return out


def _pods(workload: Workload) -> int:
    ((_, job_type),) = workload.types.items()
    return (job_type.count or 1) * (job_type.completions or 1)
