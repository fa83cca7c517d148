"""KubeRay RayJob target: ``kuberay`` and the legacy ``ray`` operator."""

from __future__ import annotations

import yaml

from .pod import Role, pod_template
from .workload import Workload

API_VERSION = "ray.io/v1"


def _ray_params(params: dict | None, head: bool) -> dict:
    merged = {"dashboard-host": "0.0.0.0"} if head else {}
    merged.update({str(k): str(v) for k, v in (params or {}).items()})
    return merged


def runtime_env_yaml(runtime_env: dict) -> str:
    return yaml.safe_dump(
        runtime_env, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def emit_rayjob(workload: Workload, shared_claim: str | None = None) -> list[dict]:
    spec = workload.spec
    types = workload.types
    context = workload.pod_context(shared_claim)
    head = Role(
        container="ray-head", resources=types.Head.resources, run_command=False, restart_policy=None
    )
    cluster: dict = {}
    if spec.rayVersion:
        cluster["rayVersion"] = spec.rayVersion
    cluster["headGroupSpec"] = {
        "rayStartParams": _ray_params(types.Head.rayStartParams, head=True),
        "template": pod_template(context, head),
    }
    groups = []
    for group in types.Workers:
        role = Role(
            container="ray-worker",
            resources=group.resources,
            run_command=False,
            restart_policy=None,
        )
        groups.append(
            {
                "groupName": group.name,
                "replicas": group.count,
                "minReplicas": group.count,
                "maxReplicas": group.count,
                "rayStartParams": _ray_params(group.rayStartParams, head=False),
                "template": pod_template(context, role),
            }
        )
    if groups:
        cluster["workerGroupSpecs"] = groups

    job: dict = {"entrypoint": spec.command}
    if spec.runtimeEnv:
        job["runtimeEnvYAML"] = runtime_env_yaml(spec.runtimeEnv)
    if spec.jobId:
        job["jobId"] = spec.jobId
    if spec.entrypointNumCpus is not None:
        cpus = spec.entrypointNumCpus
        job["entrypointNumCpus"] = int(cpus) if float(cpus).is_integer() else cpus
    job["shutdownAfterJobFinishes"] = True
    if spec.ttlSecondsAfterFinished is not None:
        job["ttlSecondsAfterFinished"] = spec.ttlSecondsAfterFinished
    deadline = workload.deadline_seconds()
    if deadline:
        job["activeDeadlineSeconds"] = deadline
    if spec.restartPolicy and spec.restartPolicy.backoffLimit is not None:
        job["backoffLimit"] = spec.restartPolicy.backoffLimit
    submitter = getattr(types, "Job", None)
    if submitter is not None:
        role = Role(
            container="ray-job-submitter",
            resources=submitter.resources,
            run_command=False,
            restart_policy="Never",
        )
        job["submitterPodTemplate"] = pod_template(context, role)
    job["rayClusterSpec"] = cluster
    return [
        {"apiVersion": API_VERSION, "kind": "RayJob", "metadata": workload.metadata(), "spec": job}
    ]
