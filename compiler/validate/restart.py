"""What a kind cannot do with ``spec.restartPolicy`` (SPEC 2.8): a compile-time error, never
silently another behaviour. What each kind does emit is in :mod:`compiler.emit.restart`."""

from __future__ import annotations

from ..diagnostics import Diagnostic, error
from ..emit import Workload
from ..emit.jobset import job_shape
from ..emit.restart import scope
from ..resolve import Resolved, format_path

RAY_OPERATORS = ("kuberay", "ray")


def check_restart(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    spec = workload.spec
    policy = spec.restartPolicy
    if policy is None:
        return (
            _per_index_limits(workload, resolved) if scope(spec, workload.operator) == "pod" else []
        )
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
    if chosen == "pod" and operator not in RAY_OPERATORS:
        out += _per_index_limits(workload, resolved)
    if operator in RAY_OPERATORS and policy.failOnExitCodes:
        report(
            "E331",
            "failOnExitCodes",
            f"operator {operator} cannot fail on an exit code: KubeRay sees only that the Ray "
            "job failed, not its exit code (remove it; with backoffLimit: 0 every failure is final)",
        )
    return out


# batch/v1 validation (pkg/apis/batch/validation): a Job of more than 100000 completions that
# retries per index may run at most 10000 pods at once
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS = 10_000


def _per_index_limits(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """The pod scope retries per index (backoffLimitPerIndex), which the API server allows on a
    Job of more than 100000 completions only with at most 10000 pods at once."""
    out = []
    for type_name, completions, parallelism in _job_shapes(workload):
        if (
            completions > COMPLETIONS_SOFT_LIMIT
            and parallelism > PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS
        ):
            path = ("spec", "types", type_name)
            out.append(
                error(
                    "E332",
                    f"a Job of {completions} pods that retries each pod on its own (restart "
                    f"scope pod) may run at most {PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS} at "
                    f"once, not {parallelism} (Kubernetes' limit for more than "
                    f"{COMPLETIONS_SOFT_LIMIT} completions); lower parallelisms",
                    resolved.location(path),
                    format_path(resolved.logical(path)),
                )
            )
    return out


def _job_shapes(workload: Workload) -> list[tuple[str, int, int]]:
    """(type, completions, parallelism) of each Job the workload makes."""
    if workload.operator == "batchjob":
        ((name, job_type),) = workload.types.items()
        count = job_type.count or 1
        return [(name, count * (job_type.completions or 1), count * (job_type.parallelisms or 1))]
    shapes = []
    for name, job_type in workload.types.items():
        _, completions, parallelism = job_shape(workload.operator, job_type)
        shapes.append((name, completions, parallelism))
    return shapes


def _pods(workload: Workload) -> int:
    ((_, job_type),) = workload.types.items()
    return (job_type.count or 1) * (job_type.completions or 1)
