"""The manifest language (AIchor apiVersion 0.2.0-0.2.3 plus this product's additions).

These models are the single source of truth: validation runs through them and
``schemas/manifest.schema.json`` is generated from them (``compile schema manifest``).
They carry no defaults for values a policy may set: built-in defaults are a resolution layer
(see :mod:`compiler.resolve.defaults`), so that ``explain`` can say where every value came from.
"""

# No `from __future__ import annotations` here: pydantic would have to evaluate every annotation
# string itself, which costs ~20 ms of every cold start.
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from .scalars import INT32_MAX, INT64_MAX, env_kind
from .text import DurationText, Text


class Strict(BaseModel):
    # strict: a quoted "8" or a `true` is not a count; finite: `.inf` CPUs cannot become a quantity.
    # defer_build: only the validators a run uses are built (Manifest, the operator's types), which
    # saves ~25 ms of a cold start over building one for every nested model.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        strict=True,
        allow_inf_nan=False,
        defer_build=True,
    )


# ---------------------------------------------------------------------------------------------
# resources


class Gpu(Strict):
    count: int = Field(0, ge=0, le=INT32_MAX, description="GPUs per pod (nvidia.com/gpu).")
    type: Literal["gpu"] | None = Field(None, description="Always 'gpu' in AIchor manifests.")
    product: Text | None = Field(
        None, description="Value of the node label nvidia.com/gpu.product."
    )


class Tpu(Strict):
    type: Text = Field(
        description="TPU accelerator, e.g. tpu-v5-lite-podslice (node label cloud.google.com/gke-tpu-accelerator)."
    )
    topology: Text = Field(
        description="TPU topology, e.g. 4x4 (node label cloud.google.com/gke-tpu-topology)."
    )
    tpuChipsCount: int = Field(
        ge=1, le=INT32_MAX, description="TPU chips per pod (google.com/tpu)."
    )


class Accelerators(Strict):
    gpu: Gpu | None = None
    tpu: Tpu | None = None


class Rdma(Strict):
    devices: list[Text] = Field(
        default_factory=list, description="Secondary networks (Multus) attached to each pod."
    )


class Toleration(Strict):
    key: Text | None = None
    operator: Literal["Equal", "Exists"] | None = None
    value: Text | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: int | None = Field(None, le=INT64_MAX)


class Resources(Strict):
    cpus: float | None = Field(None, gt=0, description="CPU request per pod (default 1).")
    ramRatio: float | None = Field(
        None, gt=0, description="GB of memory per CPU: memory = cpus x ramRatio."
    )
    memory: float | None = Field(
        None, gt=0, description="Memory per pod in GB (apiVersion 0.2.3); exclusive with ramRatio."
    )
    cpuLimitRatio: float | None = Field(
        None, ge=1, description="CPU limit = cpus x cpuLimitRatio (default 2)."
    )
    shmSizeGB: float | None = Field(
        None, ge=0, description="Size of a memory-backed /dev/shm; 0 for none."
    )
    accelerators: Accelerators | None = None
    rdma: Rdma | None = None
    extraSelectors: dict[str, Text] | None = Field(
        None, description="Added to the pod's nodeSelector."
    )
    extraTolerations: list[Toleration] | None = Field(
        None, description="Added to the pod's tolerations."
    )


# ---------------------------------------------------------------------------------------------
# placement (SPEC 2.7)


class Placement(Strict):
    """Which pods Kueue's topology-aware scheduling keeps in one domain of a topology level."""

    within: Text = Field(
        description="A level of the cluster's topology (spec.cluster.topology of a global "
        "policy), e.g. rack or block: the pods share one domain of it."
    )
    mode: Literal["required", "preferred"] | None = Field(
        None,
        description="required (default): the job waits until one domain has room; preferred: "
        "one domain if possible, else spread.",
    )
    each: Literal["workload", "type", "job"] | None = Field(
        None,
        description="What shares one domain: the whole workload (default), each type, or each "
        "child Job (its pods).",
    )


# ---------------------------------------------------------------------------------------------
# types, per operator


class JobType(Strict):
    """One group of workers (jobset, pytorch, xgboost, jax, tf, batchjob)."""

    count: int | None = Field(
        None, ge=1, le=INT32_MAX, description="Jobs in the group (JobSet replicas)."
    )
    completions: int | None = Field(
        None, ge=1, le=INT32_MAX, description="Pods per Job (default 1)."
    )
    parallelisms: int | None = Field(
        None, ge=1, le=INT32_MAX, description="Pods of one Job running at once (default 1)."
    )
    resources: Resources
    placement: Placement | None = Field(None, description="This type's placement (SPEC 2.7).")


class RayHead(Strict):
    resources: Resources
    rayStartParams: dict[str, Text] | None = Field(
        None, description="Extra `ray start` parameters of the head."
    )
    placement: Placement | None = Field(None, description="The head's placement (SPEC 2.7).")


class RayWorkerGroup(Strict):
    name: Text = Field(description="Worker group name.")
    count: int = Field(
        ge=0, le=INT32_MAX, description="Workers in the group (replicas = min = max)."
    )
    resources: Resources
    rayStartParams: dict[str, Text] | None = None
    placement: Placement | None = Field(
        None, description="This worker group's placement (SPEC 2.7)."
    )


class RaySubmitter(Strict):
    resources: Resources


class KuberayTypes(Strict):
    Head: RayHead
    Workers: list[RayWorkerGroup] = Field(default_factory=list)


class RayTypes(KuberayTypes):
    Job: RaySubmitter | None = Field(
        None, description="Legacy `ray` operator: sizes the job-submitter pod."
    )


MapTypes = dict[str, JobType]

# ---------------------------------------------------------------------------------------------
# spec


class SecretRef(Strict):
    secret: Text = Field(description="Name of the Kubernetes Secret.")
    key: Text = Field(description="Key within the Secret.")


EnvValue = Annotated[
    Annotated[Text, Tag("value")] | Annotated[SecretRef, Tag("secretRef")],
    Discriminator(env_kind),
]


class SecretMount(Strict):
    secretName: Text
    mountPath: Text


class Port(Strict):
    container: int = Field(ge=1, le=65535)
    external: int = Field(ge=1, le=65535)


class SharedVolume(Strict):
    mountPoint: Text
    sizeGB: float = Field(gt=0)
    storageClass: Text | None = None
    accessMode: (
        Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"] | None
    ) = None


class ExistingPvc(Strict):
    name: Text
    mountPoint: Text


class Storage(Strict):
    sharedVolume: SharedVolume | None = None
    attachExistingPVCs: list[ExistingPvc] | None = None


class Toggle(Strict):
    enabled: bool | None = None


class VsCode(Strict):
    enabled: bool | None = None
    path: Text | None = None
    provider: Text | None = None


class Debug(Strict):
    jupyter: bool | None = None
    vscode: VsCode | None = None


ExitCode = Annotated[int, Ge(1), Le(255)]  # a process's exit status; 0 is success


class RestartPolicy(Strict):
    """Failure and restart (SPEC 2.8), one vocabulary compiled for every kind."""

    # A disruption (a pod with the DisruptionTarget condition) never counts against
    # backoffLimit, and a timeout (DeadlineExceeded) is never retried: compiler/emit/restart.py.

    backoffLimit: int | None = Field(
        None,
        ge=0,
        le=INT32_MAX,
        description="Retries caused by the program itself (a disruption or a timeout never counts).",
    )
    scope: Literal["workload", "pod"] | None = Field(
        None,
        description=(
            "What restarts after a failure: workload (every pod together; the default for "
            "pytorch, xgboost, jax, tf, kuberay, ray) or pod (only the failed pod; the default "
            "for jobset and batchjob)."
        ),
    )
    failOnExitCodes: list[ExitCode] | None = Field(
        None,
        min_length=1,
        description="Exit codes (1-255) that fail the workload at once, with no retry.",
    )


class GracefulTermination(Strict):
    shutdownCommand: Text | None = Field(None, description="Runs as the container's preStop hook.")
    terminationGracePeriodSeconds: int | None = Field(None, ge=0, le=INT64_MAX)


class Spec(Strict):
    operator: Text
    image: Text
    command: Text
    types: dict[str, Any] = Field(description="Worker groups; their shape depends on the operator.")
    env: dict[str, EnvValue] | None = None
    secrets: dict[str, SecretMount] | None = None
    ports: dict[str, Port] | None = None
    labels: dict[str, Text] | None = None
    annotations: dict[str, Text] | None = None
    storage: Storage | None = None
    tensorboard: Toggle | None = None
    debug: Debug | None = None
    timeout: DurationText | None = Field(
        None, description="Run time limit: 90s, 30m, 6h, 1d (wins over activeDeadlineSeconds)."
    )
    activeDeadlineSeconds: int | None = Field(None, gt=0, le=INT64_MAX)
    ttlSecondsAfterFinished: int | None = Field(None, ge=0, le=INT32_MAX)
    rayVersion: Text | None = None
    runtimeEnv: dict[str, Any] | None = Field(
        None, description="Ray runtime_env (kuberay), emitted as runtimeEnvYAML."
    )
    jobId: Text | None = Field(None, description="Ray submission id (kuberay).")
    entrypointNumCpus: float | None = Field(
        None,
        ge=0,
        description="CPUs the Ray entrypoint requires (kuberay); 0 keeps it on the head.",
    )
    restartPolicy: RestartPolicy | None = None
    gracefulTermination: GracefulTermination | None = None
    serviceAccountName: Text | None = Field(
        None, description="Service account of every pod (usually from a policy's defaults)."
    )
    imagePullSecrets: list[Text] | None = Field(
        None,
        description="Secrets every pod pulls its image with (private registries); Secret names.",
    )
    queue: Text | None = Field(
        None, description="Kueue LocalQueue (label kueue.x-k8s.io/queue-name)."
    )
    priority: Text | None = Field(None, description="Kueue WorkloadPriorityClass.")
    placement: Placement | None = Field(
        None,
        description="Pods kept in one domain of the cluster's topology (Kueue topology-aware "
        "scheduling); a type's own placement wins over it.",
    )
    engineName: Text | None = None


class SkipBuild(Strict):
    enabled: bool | None = None
    experimentID: Text | None = None
    failIfNotFound: bool | None = None


class Builder(Strict):
    image: Text | None = None
    dockerfile: Text | None = None
    context: Text | None = None
    buildArgs: dict[str, Text] | None = None
    registry: Text | None = None
    target: Text | None = None
    skipBuild: SkipBuild | None = None


class Clone(Strict):
    includeDotGit: bool | None = None
    submodules: Text | None = None
    depth: int | None = Field(None, ge=1)


class Manifest(Strict):
    kind: Literal["AIchorManifest"] | None = None
    apiVersion: Text | None = None
    name: Text | None = None
    usage: Literal["Submit", "Template"] | None = None
    baseWorkload: Text | None = None
    project: Text | None = None
    builder: Builder | None = None
    clone: Clone | None = None
    engineName: Text | None = None
    spec: Spec


# Operators and the shape of their `spec.types`.
TYPES_MODEL: dict[str, Any] = {
    "jobset": MapTypes,
    "pytorch": MapTypes,
    "xgboost": MapTypes,
    "jax": MapTypes,
    "tf": MapTypes,
    "batchjob": MapTypes,
    "kuberay": KuberayTypes,
    "ray": RayTypes,
}
SUPPORTED_OPERATORS = tuple(TYPES_MODEL)
