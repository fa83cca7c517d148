"""JobSet targets: ``jobset``, ``pytorch``, ``xgboost``, ``jax`` and ``tf``.

Every type becomes one replicated job, in type order, so JobSet's ``job-global-index`` is the rank
across types. Per-pod facts (indices, ranks) come from JobSet's annotations through the downward
API, so the output does not grow with ``count``.
"""

from __future__ import annotations

import json

from . import restart
from .naming import pod_hostname, replicated_job_name, type_path
from .pod import Role, field_env, gpu_count, pod_template
from .shape import RANKED_OPERATORS, job_shape, tpu_hosts, types_in_order
from .workload import Workload

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

API_VERSION = "jobset.x-k8s.io/v1alpha2"
JS = "jobset.sigs.k8s.io/"
JOB_INDEX = JS + "job-index"
GLOBAL_INDEX = JS + "job-global-index"

PYTORCH_PORT = 23456
XGBOOST_PORT = 9999
JAX_PORT = 1234
TF_PORT = 2222

EXCLUSIVE_TOPOLOGY = "alpha.jobset.sigs.k8s.io/exclusive-topology"


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


def ordered_types(workload: Workload) -> list[tuple[str, Any]]:
    """Types in replicated-job order. pytorch and xgboost put Master first whatever the file's
    order, so that its ``job-global-index`` (RANK) is 0, the rank MASTER_ADDR names."""
    return types_in_order(workload.operator, workload.types)


def _leader(workload: Workload) -> str:
    """The rank-0 type: Master if there is one, else the first type."""
    return replicated_job_name(ordered_types(workload)[0][0])


def tpu_slices(job_type) -> int:
    """TPU slices of one type (a Job each): its pods over the hosts of a slice; 0 without TPU."""
    accelerators = job_type.resources.accelerators
    if accelerators is None or accelerators.tpu is None:
        return 0
    return max((job_type.count or 1) // tpu_hosts(job_type.resources), 1)


def _user_sets(workload: Workload, name: str) -> bool:
    return name in (workload.spec.env or {})


def _contract(workload: Workload, type_name: str) -> tuple[tuple, str]:
    """(contract env, shell prelude) of one type for the workload's operator."""
    operator = workload.operator
    types = workload.types
    world = sum(t.count or 1 for t in types.values())
    rjob = replicated_job_name(type_name)
    if operator == "jobset":
        return jobset_env(), ""
    if operator == "pytorch":
        master = _first_pod(workload, _leader(workload))
        env: tuple = (
            _literal("MASTER_ADDR", master),
            _literal("MASTER_PORT", PYTORCH_PORT),
            _literal("WORLD_SIZE", world),
            field_env("RANK", GLOBAL_INDEX),
            # what torchrun reads when given no flags (torch/distributed/run.py, env-backed args)
            _literal("PET_MASTER_ADDR", master),
            _literal("PET_MASTER_PORT", PYTORCH_PORT),
            _literal("PET_NNODES", world),
            field_env("PET_NODE_RANK", GLOBAL_INDEX),
        )
        if not _user_sets(workload, "PET_NPROC_PER_NODE"):
            # one process per GPU, as Kubeflow's PyTorchJob and Trainer set it; torchrun's own
            # default is 1 process, which leaves all GPUs but one idle
            gpus = gpu_count(types[type_name].resources)
            env += (_literal("PET_NPROC_PER_NODE", gpus or 1),)
        if not _user_sets(workload, "PYTHONUNBUFFERED"):
            env += (_literal("PYTHONUNBUFFERED", 1),)
        return env, ""
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
        count = types[type_name].count or 1
        slice_hosts = tpu_hosts(types[type_name].resources)
        coordinator: tuple = (
            _literal("JAXOPERATOR_COORDINATOR_ADDRESS", f"{host}:{JAX_PORT}"),
            _literal("JAXOPERATOR_COORDINATOR_HOST", host),
            _literal("JAXOPERATOR_NUM_PROCESSES", count),
        )
        slices = tpu_slices(types[type_name])
        if slices > 1:
            # several TPU slices joined over the data-center network (multislice), as jobset
            # issue 787 sets it by hand: jax (_src/clusters/cloud_tpu_cluster.py) and libtpu read
            # the coordinator's host (slice 0, host 0), the slice count and this pod's slice,
            # which is its Job's index (one Job per slice)
            coordinator += (
                _literal("MEGASCALE_COORDINATOR_ADDRESS", host),
                _literal("MEGASCALE_NUM_SLICES", slices),
                field_env("MEGASCALE_SLICE_ID", JOB_INDEX),
            )
        if slice_hosts == 1:
            return coordinator + (field_env("JAXOPERATOR_PROCESS_ID", JOB_INDEX),), ""
        # one Job per slice, one pod per host: process = slice x hosts + host
        prelude = (
            "JAXOPERATOR_PROCESS_ID=$((JOB_INDEX * "
            f"{slice_hosts} + JOB_COMPLETION_INDEX)); export JAXOPERATOR_PROCESS_ID"
        )
        return coordinator + (field_env("JOB_INDEX", JOB_INDEX),), prelude
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


def _tracker_type(workload: Workload) -> str | None:
    """xgboost's Master, whose rank-0 pod runs the tracker at MASTER_PORT; the others wait for
    it to be Ready (JobSet ``dependsOn``). None for every other operator, and for an xgboost
    workload without a Master (its first worker runs the tracker: nothing to wait for)."""
    if workload.operator != "xgboost":
        return None
    return next((name for name in workload.types if name.lower() == "master"), None)


def listening_type(workload: Workload) -> str | None:
    """The type whose pods serve the manifest's ports: pytorch's and xgboost's Master (rank 0),
    else None (every type: jobset types, or the single jax/tf type)."""
    if workload.operator in RANKED_OPERATORS:
        return ordered_types(workload)[0][0]
    return None


def emit_jobset(workload: Workload) -> list[dict]:
    spec = workload.spec
    storage = spec.storage
    context = workload.pod_context()
    gang = restart.scope(spec, workload.operator) == "workload"
    listener = listening_type(workload)
    replicated = []
    multi_host = False
    tracker = _tracker_type(workload)
    placed = workload.placement_annotations()
    for type_name, job_type in ordered_types(workload):
        contract, prelude = _contract(workload, type_name)
        rjob = replicated_job_name(type_name)
        role = Role(
            container=rjob,
            resources=job_type.resources,
            contract_env=contract,
            prelude=prelude,
            listens=listener is None or listener == type_name,
            readiness_port=XGBOOST_PORT if type_name == tracker else None,
        )
        replicas, completions, parallelism = job_shape(workload.operator, job_type)
        multi_host = multi_host or tpu_hosts(job_type.resources) > 1
        job_spec: dict = {
            "completionMode": "Indexed",
            "completions": completions,
            "parallelism": parallelism,
            # the workload scope restarts every Job (failurePolicy below); the pod scope
            # replaces the failed pod inside its Job
            **(restart.workload_scope_child_job(spec) if gang else restart.pod_scope_job(spec)),
        }
        deadline = workload.deadline_seconds()
        if deadline:
            job_spec["activeDeadlineSeconds"] = deadline
        job_spec["template"] = pod_template(
            context, role, annotations=placed.get(type_path(type_name))
        )
        replicated_job: dict = {"name": rjob, "replicas": replicas}
        if tracker is not None and type_name != tracker:
            # xgboost's workers exit when the tracker does not answer (socket.cc: no retry of a
            # failed getaddrinfo, a few connects): JobSet creates them once the master is Ready
            replicated_job["dependsOn"] = [
                {"name": replicated_job_name(tracker), "status": "Ready"}
            ]
        replicated_job["template"] = {"spec": job_spec}
        replicated.append(replicated_job)

    js_spec: dict = {
        "network": {"enableDNSHostnames": True, "subdomain": workload.name},
        "replicatedJobs": replicated,
    }
    if gang:
        js_spec["failurePolicy"] = restart.jobset_failure_policy(spec)
    if spec.ttlSecondsAfterFinished is not None:
        js_spec["ttlSecondsAfterFinished"] = spec.ttlSecondsAfterFinished
    if storage and storage.sharedVolume:
        js_spec["volumeClaimPolicies"] = [
            {
                "templates": [shared_claim_template(storage.sharedVolume, name="shared")],
                "retentionPolicy": {"whenDeleted": "Delete"},
            }
        ]
    metadata = workload.metadata()
    if multi_host:  # one slice per node pool (JobSet's exclusive placement)
        metadata["annotations"][EXCLUSIVE_TOPOLOGY] = "cloud.google.com/gke-nodepool"
    return [{"apiVersion": API_VERSION, "kind": "JobSet", "metadata": metadata, "spec": js_spec}]


def shared_claim_template(volume, name: str) -> dict:
    from . import quantity

    claim: dict = {
        "accessModes": [volume.accessMode or "ReadWriteMany"],
        "resources": {"requests": {"storage": quantity.memory(volume.sizeGB)}},
    }
    if volume.storageClass:
        claim["storageClassName"] = volume.storageClass
    return {"metadata": {"name": name}, "spec": claim}
