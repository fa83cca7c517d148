"""The policy language (SPEC 2.4): defaults, per-field rules, and workload totals.

Booleans and numbers are strict: ``required: yes`` is the string "yes" in YAML 1.2 and must not
silently become true. Bounds (``min``/``max``) may be numbers or durations (``7d``); which one fits
which field is checked against the manifest model by :mod:`compiler.validate.policy_load`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from .manifest import Strict
from .text import Text

Bound = StrictInt | StrictFloat | StrictStr
Limit = StrictInt | StrictFloat


class Rule(Strict):
    required: StrictBool | None = Field(None, description="The final value must be present.")
    min: Bound | None = Field(
        None, description="Inclusive lower bound (number or duration such as 1h)."
    )
    max: Bound | None = Field(
        None, description="Inclusive upper bound (number or duration such as 7d)."
    )
    step: Limit | None = Field(
        None, gt=0, description="The value must equal min + k x step (min defaults to 0)."
    )
    options: list[Any] | None = Field(
        None, min_length=1, description="The value must be one of these."
    )
    pattern: StrictStr | None = Field(
        None,
        description="The value must contain a match (a search); anchor with ^...$ for the whole value.",
    )
    canEdit: StrictBool | None = Field(
        None, description="false: the final value must equal the policy's default."
    )
    forbidden: StrictBool | None = Field(
        None, description="true: a template, workload or --set may not set the field."
    )
    canAdd: StrictBool | None = Field(
        None, description="false: no item labels beyond the policy defaults' labels."
    )
    canRemove: StrictBool | None = Field(None, description="false: the item may not be deleted.")
    itemRules: dict[str, Rule] | None = Field(
        None, description="Member name -> rules applied to every item's member."
    )


class Limits(Strict):
    gpus: Limit | None = Field(None, ge=0, description="Total GPUs over all pods.")
    cpus: Limit | None = Field(None, ge=0, description="Total CPU requests over all pods.")
    memoryGB: Limit | None = Field(None, ge=0, description="Total memory over all pods, in GB.")
    pods: StrictInt | None = Field(
        None, ge=0, description="Total pods (jobset: count x completions per type)."
    )


GpuQuota = Limit | dict[str, Limit]
QUEUEING = ("StrictFIFO", "BestEffortFIFO")


class Borrowing(Strict):
    cpus: Limit | None = Field(None, ge=0, description="CPUs this project may borrow.")
    memoryGB: Limit | None = Field(None, ge=0, description="Memory this project may borrow, in GB.")
    gpus: GpuQuota | None = Field(
        None, description="GPUs this project may borrow: a number, or per GPU product."
    )


class Quota(Strict):
    """What one project may use at once, held by Kueue (SPEC 2.5); ``compile queues`` emits it."""

    cpus: Limit = Field(ge=0, description="CPUs over the project's running jobs.")
    memoryGB: Limit = Field(ge=0, description="Memory over the project's running jobs, in GB.")
    gpus: GpuQuota | None = Field(
        None,
        description="GPUs: a number, or per GPU product {NVIDIA-H100-80GB-HBM3: 16}. Absent: 0.",
    )
    tpus: dict[str, Limit] | None = Field(
        None,
        description="TPU chips per TPU type {tpu-v5-lite-podslice: 64} (a ResourceFlavor per "
        "type, covering google.com/tpu). Absent: the project's queue covers no TPUs.",
    )
    cohort: Text | None = Field(
        None, description="Unused quota is lent to / borrowed from this cohort."
    )
    borrowingLimit: Borrowing | None = Field(
        None, description="At most this much borrowed from the cohort (needs a cohort)."
    )
    queueing: Literal["StrictFIFO", "BestEffortFIFO"] | None = Field(
        None, description="StrictFIFO (default, one FIFO per project) or BestEffortFIFO."
    )


class RdmaNetwork(Strict):
    """What a pod attaching one RDMA network (Multus) needs: its device resource and the
    variables NCCL reads to use it (SPEC 2.6)."""

    resource: Text = Field(
        description="The device plugin's resource the pod requests, e.g. rdma/hca_shared."
    )
    count: StrictInt = Field(1, ge=1, description="How many of the resource a pod requests.")
    env: dict[str, Text] | None = Field(
        None, description="Variables the pod's containers get, e.g. {NCCL_IB_HCA: mlx5}."
    )


class Cluster(Strict):
    """Facts of the cluster the output is for (SPEC 2.6); only a global policy states them."""

    gpuProductLabel: Text | None = Field(
        None,
        description="Node label naming a GPU product: nvidia.com/gpu.product (NVIDIA feature "
        "discovery, the default) or cloud.google.com/gke-accelerator (GKE).",
    )
    rdma: dict[str, RdmaNetwork] | None = Field(
        None,
        description="RDMA network (as manifests name it in resources.rdma.devices) -> the device "
        "resource and NCCL variables of a pod that attaches it.",
    )
    systemNamespaces: list[Text] | None = Field(
        None,
        description="Namespaces of the cluster's controllers besides kube-system, kube-public, "
        "kube-node-lease, jobset-system, kueue-system, kuberay-system and ray-system: global "
        "admission policies (compile admission) leave them alone, and what their service "
        "accounts make counts as made for an admitted workload.",
    )


PodKind = Literal[
    "Pod",
    "ReplicationController",
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "DaemonSet",
    "CronJob",
    "RayCluster",
    "RayService",
]


class AdmissionSpec(Strict):
    """What `compile admission` lets into project namespaces beyond what compile emits."""

    allowKinds: list[PodKind] | None = Field(
        None,
        description="Kinds that run pods, other than JobSet, RayJob and Job, a researcher may "
        "create in the project's namespace (a global policy: in every project's). Their pods "
        "still meet every rule on what one pod runs.",
    )
    priorityClasses: list[Text] | None = Field(
        None,
        description="PriorityClasses a pod of the project may name (spec.priorityClassName); "
        "none when absent.",
    )


class WorkerShare(Strict):
    """What one project may use at once on one worker cluster: the amounts of spec.quota (SPEC
    2.5), without cohort, borrowing or queueing, which the project's quota gives every worker."""

    cpus: Limit = Field(ge=0, description="CPUs of the project's jobs on this worker.")
    memoryGB: Limit = Field(ge=0, description="Memory of the project's jobs on this worker, in GB.")
    gpus: GpuQuota | None = Field(
        None,
        description="GPUs on this worker: a number, or per GPU product, as the project's "
        "spec.quota.gpus is given. Absent: 0.",
    )
    tpus: dict[str, Limit] | None = Field(
        None, description="TPU chips per TPU type on this worker. Absent: none."
    )


class WorkerCluster(Strict):
    """A worker cluster the manager dispatches workloads to (Kueue MultiKueue, SPEC 2.9)."""

    name: Text = Field(
        description="The MultiKueueCluster's name, and what engineName: NAME pins a workload to; "
        "a DNS-1123 label."
    )
    kubeconfigSecret: Text = Field(
        description="The Secret in Kueue's namespace on the manager whose key 'kubeconfig' "
        "reaches this worker; a DNS-1123 name."
    )
    quota: dict[str, WorkerShare] | None = Field(
        None,
        description="Project -> what it may use at once on this worker. Absent: the worker holds "
        "every project's whole spec.quota. Given: the worker holds only these projects; the "
        "workers' shares of a project together hold at least its spec.quota.",
    )


class PolicyMetadata(Strict):
    name: Text
    project: Text | None = Field(None, description="Absent: a global policy.")


class PolicySpec(Strict):
    defaults: dict[str, Any] | None = Field(
        None, description="A manifest fragment; '*' under spec.types means every type."
    )
    rules: dict[str, Rule] | None = Field(
        None, description="Field path -> rule; '*' matches one segment; dotted keys in brackets."
    )
    limits: Limits | None = None
    quota: Quota | None = Field(
        None, description="What the project may use at once, on Kueue (compile queues)."
    )
    priorities: dict[str, StrictInt] | None = Field(
        None, description="Kueue WorkloadPriorityClass name -> value (higher runs first)."
    )
    cluster: Cluster | None = Field(
        None, description="Facts of the target cluster (a global policy only), SPEC 2.6."
    )
    admission: AdmissionSpec | None = Field(
        None, description="What compile admission admits in project namespaces (issue 20)."
    )
    clusters: list[WorkerCluster] | None = Field(
        None,
        description="Worker clusters a manager dispatches workloads to with Kueue MultiKueue "
        "(a global policy only), SPEC 2.9; compile queues emits the manager's objects, and with "
        "--cluster NAME the worker's.",
    )


class Policy(Strict):
    apiVersion: Literal["manifest-compiler/v1"]
    kind: Literal["Policy"]
    metadata: PolicyMetadata
    spec: PolicySpec
