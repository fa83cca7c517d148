"""JobSet targets: ``jobset``, ``pytorch``, ``xgboost``, ``jax`` and ``tf``.

Every type becomes one replicated job, in type order, so JobSet's ``job-global-index`` is the rank
across types. Per-pod facts (indices, ranks) come from JobSet's annotations through the downward
API, so the output does not grow with ``count``.
"""

from __future__ import annotations

import json

from .naming import pod_hostname, replicated_job_name
from .pod import Role, field_env, pod_template
from .workload import Workload

API_VERSION = "jobset.x-k8s.io/v1alpha2"
JS = "jobset.sigs.k8s.io/"
JOB_INDEX = JS + "job-index"
GLOBAL_INDEX = JS + "job-global-index"

PYTORCH_PORT = 23456
XGBOOST_PORT = 9999
JAX_PORT = 1234
TF_PORT = 2222


def jobset_env() -> tuple:
    return (
        field_env("JOB_INDEX", JOB_INDEX),
        field_env("JOB_GLOBAL_INDEX", GLOBAL_INDEX),
        field_env("REPLICATED_JOB_NAME", JS + "replicatedjob-name"),
        field_env("REPLICATED_JOB_REPLICAS", JS + "replicatedjob-replicas"),
        field_env("GLOBAL_REPLICAS", JS + "global-replicas"),
    )


def _literal(name: str, value) -> dict:
    return {"name": name, "value": str(value)}


def _first_pod(workload: Workload, rjob: str) -> str:
    return f"{pod_hostname(workload.name, rjob)}.{workload.name}"


def _leader(workload: Workload) -> str:
    """The rank-0 type: Master if there is one, else the first type."""
    for name in workload.types:
        if name.lower() == "master":
            return replicated_job_name(name)
    return replicated_job_name(next(iter(workload.types)))


def _contract(workload: Workload, type_name: str) -> tuple[tuple, str]:
    """(contract env, shell prelude) of one type for the workload's operator."""
    operator = workload.operator
    types = workload.types
    world = sum(t.count or 1 for t in types.values())
    rjob = replicated_job_name(type_name)
    if operator == "jobset":
        return jobset_env(), ""
    if operator == "pytorch":
        return (
            _literal("MASTER_ADDR", _first_pod(workload, _leader(workload))),
            _literal("MASTER_PORT", PYTORCH_PORT),
            _literal("WORLD_SIZE", world),
            field_env("RANK", GLOBAL_INDEX),
        ), ""
    if operator == "xgboost":
        workers = [n for n in types if n.lower() == "worker"]
        worker_rjob = replicated_job_name(workers[0]) if workers else rjob
        worker_count = types[workers[0]].count or 1 if workers else 0
        prelude = (
            f"WORKER_ADDRS=; i=0; while [ $i -lt {worker_count} ]; do "
            f'WORKER_ADDRS="$WORKER_ADDRS${{WORKER_ADDRS:+,}}{workload.name}-{worker_rjob}-$i-0.{workload.name}"; '
            "i=$((i+1)); done; export WORKER_ADDRS"
        )
        return (
            _literal("MASTER_ADDR", _first_pod(workload, _leader(workload))),
            _literal("MASTER_PORT", XGBOOST_PORT),
            _literal("WORLD_SIZE", world),
            field_env("RANK", GLOBAL_INDEX),
            _literal("WORKER_PORT", XGBOOST_PORT),
        ), prelude
    if operator == "jax":
        host = _first_pod(workload, rjob)
        return (
            _literal("JAXOPERATOR_COORDINATOR_ADDRESS", f"{host}:{JAX_PORT}"),
            _literal("JAXOPERATOR_COORDINATOR_HOST", host),
            _literal("JAXOPERATOR_NUM_PROCESSES", types[type_name].count or 1),
            field_env("JAXOPERATOR_PROCESS_ID", JOB_INDEX),
        ), ""
    if operator == "tf":
        count = types[type_name].count or 1
        if count == 1:
            return (), ""
        hosts = [
            f"{pod_hostname(workload.name, rjob, i)}.{workload.name}:{TF_PORT}"
            for i in range(count)
        ]
        cluster = json.dumps({"worker": hosts}, separators=(",", ":"))
        tf_config = f'{{"cluster":{cluster},"task":{{"type":"worker","index":$(TF_TASK_INDEX)}}}}'
        return (field_env("TF_TASK_INDEX", JOB_INDEX), _literal("TF_CONFIG", tf_config)), ""
    raise ValueError(f"no JobSet contract for operator {operator!r}")


def emit_jobset(workload: Workload) -> list[dict]:
    spec = workload.spec
    storage = spec.storage
    context = workload.pod_context()
    one_pod_per_job = workload.operator != "jobset"
    replicated = []
    for type_name, job_type in workload.types.items():
        contract, prelude = _contract(workload, type_name)
        rjob = replicated_job_name(type_name)
        role = Role(
            container=rjob, resources=job_type.resources, contract_env=contract, prelude=prelude
        )
        completions = 1 if one_pod_per_job else (job_type.completions or 1)
        parallelism = 1 if one_pod_per_job else (job_type.parallelisms or 1)
        job_spec: dict = {
            "completionMode": "Indexed",
            "completions": completions,
            "parallelism": parallelism,
            "backoffLimit": workload.backoff_limit(),
        }
        deadline = workload.deadline_seconds()
        if deadline:
            job_spec["activeDeadlineSeconds"] = deadline
        job_spec["template"] = pod_template(context, role)
        replicated.append(
            {"name": rjob, "replicas": job_type.count or 1, "template": {"spec": job_spec}}
        )

    js_spec: dict = {
        "network": {"enableDNSHostnames": True, "subdomain": workload.name},
        "replicatedJobs": replicated,
    }
    if spec.ttlSecondsAfterFinished is not None:
        js_spec["ttlSecondsAfterFinished"] = spec.ttlSecondsAfterFinished
    if storage and storage.sharedVolume:
        js_spec["volumeClaimPolicies"] = [
            {
                "templates": [shared_claim_template(storage.sharedVolume, name="shared")],
                "retentionPolicy": {"whenDeleted": "Delete"},
            }
        ]
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "JobSet",
            "metadata": workload.metadata(),
            "spec": js_spec,
        }
    ]


def shared_claim_template(volume, name: str) -> dict:
    from . import quantity

    claim: dict = {
        "accessModes": [volume.accessMode or "ReadWriteMany"],
        "resources": {"requests": {"storage": quantity.memory(volume.sizeGB)}},
    }
    if volume.storageClass:
        claim["storageClassName"] = volume.storageClass
    return {"metadata": {"name": name}, "spec": claim}
