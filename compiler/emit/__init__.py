"""Stage 4: a validated workload to Kubernetes objects, one module per target."""

from __future__ import annotations

from .batchjob import emit_job
from .jobset import emit_jobset, shared_claim_template
from .rayjob import emit_rayjob
from .workload import Workload

JOBSET_OPERATORS = ("jobset", "pytorch", "xgboost", "jax", "tf")


def emit(workload: Workload) -> list[dict]:
    """The objects for one workload: the job itself, then its Service and shared volume claim."""
    operator = workload.operator
    storage = workload.spec.storage
    shared = storage.sharedVolume if storage else None
    claim_name = f"{workload.name}-shared" if shared and operator not in JOBSET_OPERATORS else None
    if operator in JOBSET_OPERATORS:
        objects = emit_jobset(workload)
    elif operator in ("kuberay", "ray"):
        objects = emit_rayjob(workload, claim_name)
    elif operator == "batchjob":
        objects = emit_job(workload, claim_name)
    else:  # validation rejects unsupported operators before emission
        raise ValueError(f"unsupported operator {operator!r}")
    if workload.spec.ports:
        objects.append(_service(workload))
    if claim_name:
        template = shared_claim_template(shared, claim_name)
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": workload.metadata(claim_name),
                "spec": template["spec"],
            }
        )
    return objects


def service_selector(workload: Workload) -> dict:
    """The pods that listen on the manifest's ports: Ray's head; pytorch's and xgboost's Master;
    every pod of the workload for the other operators."""
    from .jobset import listening_type
    from .naming import replicated_job_name
    from .pod import WORKLOAD_LABEL
    from .rayjob import HEAD_NODE_LABEL

    selector = {WORKLOAD_LABEL: workload.name}
    if workload.operator in ("kuberay", "ray"):
        selector[HEAD_NODE_LABEL[0]] = HEAD_NODE_LABEL[1]
    elif workload.operator in JOBSET_OPERATORS:
        listener = listening_type(workload)
        if listener is not None:
            selector["jobset.sigs.k8s.io/replicatedjob-name"] = replicated_job_name(listener)
    return selector


def _service(workload: Workload) -> dict:
    """A ClusterIP Service: ``external`` is its port inside the cluster (W110 says so)."""
    ports = [
        {"name": label, "port": port.external, "targetPort": port.container, "protocol": "TCP"}
        for label, port in workload.spec.ports.items()
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": workload.metadata(f"{workload.name}-ports"),
        "spec": {"selector": service_selector(workload), "ports": ports},
    }


__all__ = ["JOBSET_OPERATORS", "Workload", "emit"]
