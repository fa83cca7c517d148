"""batch/v1 Job target: ``batchjob``. One Indexed Job; each pod reads ``JOB_COMPLETION_INDEX``."""

from __future__ import annotations

from . import restart
from .naming import type_path
from .pod import Role, pod_template
from .workload import Workload


def emit_job(workload: Workload, shared_claim: str | None = None) -> list[dict]:
    spec = workload.spec
    ((type_name, job_type),) = workload.types.items()
    count = job_type.count or 1
    context = workload.pod_context(shared_claim)
    role = Role(container=type_name.lower(), resources=job_type.resources)
    job_spec: dict = {
        "completionMode": "Indexed",
        "completions": count * (job_type.completions or 1),
        "parallelism": count * (job_type.parallelisms or 1),
        # one Job cannot restart all its pods together: the pod scope (validation refuses the
        # workload scope for more than one pod)
        **restart.pod_scope_job(spec),
    }
    deadline = workload.deadline_seconds()
    if deadline:
        job_spec["activeDeadlineSeconds"] = deadline
    if spec.ttlSecondsAfterFinished is not None:
        job_spec["ttlSecondsAfterFinished"] = spec.ttlSecondsAfterFinished
    placed = workload.placement_annotations().get(type_path(type_name))
    job_spec["template"] = pod_template(context, role, annotations=placed)
    return [
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": workload.metadata(), "spec": job_spec}
    ]
