"""The shared pod builder: one container running the manifest's command, with its resources,
environment, volumes, node selection and tolerations (SPEC 5, "Each type's pod")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model.records import Resources, Spec
from . import quantity

SHM_VOLUME = "dshm"
SHARED_VOLUME = "shared"
WORKLOAD_LABEL = "manifest-compiler/workload"
MULTUS_NETWORKS = "k8s.v1.cni.cncf.io/networks"
RAY_OPERATORS = ("kuberay", "ray")
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # NVIDIA feature discovery; policies may change it
READINESS_PERIOD_SECONDS = 2  # how soon a ready tracker is seen (the kubelet's default: 10 s)
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MAX_LABEL = 63


@dataclass(frozen=True)
class Role:
    """What differs between the pods of one workload: the container, its contract, its sizing."""

    container: str
    resources: Resources
    contract_env: tuple = ()  # env entries (dicts) set by the operator contract, before the user's
    run_command: bool = True  # False for Ray pods: KubeRay supplies `ray start` itself
    prelude: str = ""  # shell lines run before the command (e.g. to build WORKER_ADDRS)
    restart_policy: str | None = "Never"
    extra_labels: tuple = ()
    listens: bool = True  # declares the manifest's ports (the pods the ports Service selects)
    own_ports: tuple = ()  # container ports the framework itself needs (Ray's head), before the user's
    readiness_port: int | None = None  # tcpSocket readiness probe (xgboost's tracker)


@dataclass(frozen=True)
class Context:
    """Facts about the whole workload that every pod needs."""

    name: str
    spec: Spec
    shared_volume_claim: str | None = (
        None  # PVC name for storage.sharedVolume (None: JobSet-managed)
    )
    pod_labels: dict = field(default_factory=dict)
    image: str = ""  # what the containers run: spec.image, or it pinned to a digest
    gpu_product_label: str = GPU_PRODUCT_LABEL  # the cluster's node label naming a GPU product
    rdma: dict = field(default_factory=dict)  # RDMA network -> RdmaNetwork (spec.cluster.rdma)


def container_command(spec: Spec, prelude: str = "") -> list[str]:
    script = f"{prelude}\n{spec.command}" if prelude else spec.command
    return ["/bin/sh", "-c", script]


def user_env(spec: Spec) -> list[dict]:
    out: list[dict] = []
    for name, value in (spec.env or {}).items():
        if isinstance(value, str):
            out.append({"name": name, "value": value})
        else:
            out.append(
                {
                    "name": name,
                    "valueFrom": {"secretKeyRef": {"name": value.secret, "key": value.key}},
                }
            )
    return out


def identity(spec: Spec) -> dict:
    """The pod spec fields that say who the pod is and how it pulls its image."""
    out: dict = {}
    if spec.serviceAccountName:
        out["serviceAccountName"] = spec.serviceAccountName
    if spec.imagePullSecrets:
        out["imagePullSecrets"] = [{"name": name} for name in spec.imagePullSecrets]
    return out


def field_env(name: str, annotation: str) -> dict:
    return {
        "name": name,
        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{annotation}']"}},
    }


def rdma_devices(resources: Resources, rdma: dict | None) -> dict[str, int]:
    """Device resource -> count the pod requests for the RDMA networks it attaches, as the
    cluster's policy maps them (networks it does not map request nothing)."""
    out: dict[str, int] = {}
    for network in resources.rdma.devices if resources.rdma else []:
        known = (rdma or {}).get(network)
        if known is not None:
            out[known.resource] = out.get(known.resource, 0) + known.count
    return out


def rdma_env(resources: Resources, rdma: dict | None, spec: Spec) -> list[dict]:
    """The variables of the RDMA networks the pod attaches (the first network's value of a
    variable wins), except those the manifest's env sets."""
    values: dict[str, str] = {}
    for network in resources.rdma.devices if resources.rdma else []:
        known = (rdma or {}).get(network)
        for name, value in ((known.env or {}) if known is not None else {}).items():
            values.setdefault(name, value)
    own = spec.env or {}
    return [{"name": n, "value": v} for n, v in values.items() if n not in own]


def container_resources(resources: Resources, rdma: dict | None = None) -> dict:
    cpus = resources.cpus if resources.cpus is not None else 1
    ratio = resources.cpuLimitRatio if resources.cpuLimitRatio is not None else 2
    gigabytes = memory_gb(resources)
    requests = {"cpu": quantity.cpu(cpus), "memory": quantity.memory(gigabytes)}
    limits = {"cpu": quantity.cpu(cpus * ratio), "memory": quantity.memory(gigabytes)}
    accelerators = resources.accelerators
    if accelerators and accelerators.gpu and accelerators.gpu.count:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(accelerators.gpu.count)
    if accelerators and accelerators.tpu:
        requests["google.com/tpu"] = limits["google.com/tpu"] = str(accelerators.tpu.tpuChipsCount)
    for device, count in sorted(rdma_devices(resources, rdma).items()):
        requests[device] = limits[device] = str(count)  # extended resources: request = limit
    return {"requests": requests, "limits": limits}


def node_selector(resources: Resources, gpu_product_label: str = GPU_PRODUCT_LABEL) -> dict:
    selector: dict = {}
    accelerators = resources.accelerators
    if accelerators and accelerators.gpu and accelerators.gpu.count and accelerators.gpu.product:
        selector[gpu_product_label] = accelerators.gpu.product
    if accelerators and accelerators.tpu:
        selector["cloud.google.com/gke-tpu-accelerator"] = accelerators.tpu.type
        selector["cloud.google.com/gke-tpu-topology"] = accelerators.tpu.topology
    selector.update(resources.extraSelectors or {})
    return selector


def pvc_volume_name(claim: str) -> str:
    """A volume name (a DNS-1123 label) for an existing claim. Claim names may hold dots and run to
    253 characters; those get a sanitised name with a digest of the claim, so two stay distinct."""
    name = f"pvc-{claim}".lower()
    if _DNS1123_LABEL.match(name) and len(name) <= _MAX_LABEL:
        return name
    from ..digests import sha256

    digest = sha256(claim.encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", name)[: _MAX_LABEL - len(digest) - 1].strip("-")
    return f"{stem}-{digest}"


def tolerations(resources: Resources) -> list[dict]:
    return [t.model_dump(exclude_none=True) for t in resources.extraTolerations or []]


def gpu_count(resources: Resources) -> int:
    accelerators = resources.accelerators
    gpu = accelerators.gpu if accelerators else None
    return gpu.count if gpu else 0


def memory_gb(resources: Resources) -> float:
    """The pod's memory (request = limit) in GB: ``memory``, else ``cpus x ramRatio``."""
    cpus = resources.cpus if resources.cpus is not None else 1
    return resources.memory if resources.memory is not None else cpus * (resources.ramRatio or 0)


def shm_size_gb(operator: str, resources: Resources) -> float:
    """GB of the memory-backed /dev/shm the pod gets; 0 for none (the runtime's 64 MiB).

    ``shmSizeGB`` when the manifest sizes it; else, for a pod of more than one GPU (NCCL and
    data loaders outgrow 64 MiB), the pod's memory, as KubeRay sizes a Ray pod's. Ray pods get
    none from here: KubeRay mounts its own, sized from the memory, unless one is already
    mounted, and a smaller one would push Ray's object store (30% of memory) to disk."""
    if operator in RAY_OPERATORS:
        return 0
    if resources.shmSizeGB:
        return resources.shmSizeGB
    return memory_gb(resources) if gpu_count(resources) > 1 else 0


def volumes_and_mounts(context: Context, resources: Resources) -> tuple[list[dict], list[dict]]:
    spec = context.spec
    volumes: list[dict] = []
    mounts: list[dict] = []
    shm = shm_size_gb(spec.operator, resources)
    if shm:
        volumes.append(
            {
                "name": SHM_VOLUME,
                "emptyDir": {"medium": "Memory", "sizeLimit": quantity.memory(shm)},
            }
        )
        mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    for label, secret in (spec.secrets or {}).items():
        volume = f"secret-{label}".lower()
        volumes.append({"name": volume, "secret": {"secretName": secret.secretName}})
        mounts.append({"name": volume, "mountPath": secret.mountPath, "readOnly": True})
    storage = spec.storage
    for pvc in (storage.attachExistingPVCs or []) if storage else []:
        volume = pvc_volume_name(pvc.name)
        volumes.append({"name": volume, "persistentVolumeClaim": {"claimName": pvc.name}})
        mounts.append({"name": volume, "mountPath": pvc.mountPoint})
    if storage and storage.sharedVolume:
        if context.shared_volume_claim:
            volumes.append(
                {
                    "name": SHARED_VOLUME,
                    "persistentVolumeClaim": {"claimName": context.shared_volume_claim},
                }
            )
        mounts.append({"name": SHARED_VOLUME, "mountPath": storage.sharedVolume.mountPoint})
    return volumes, mounts


def pod_template(
    context: Context, role: Role, labels: dict | None = None, annotations: dict | None = None
) -> dict:
    spec = context.spec
    resources = role.resources
    container: dict = {"name": role.container, "image": context.image or spec.image}
    if role.run_command:
        container["command"] = container_command(spec, role.prelude)
    env = list(role.contract_env) + rdma_env(resources, context.rdma, spec) + user_env(spec)
    if env:
        container["env"] = env
    ports = [dict(port) for port in role.own_ports]
    if spec.ports and role.listens:
        ports += [
            {"name": label, "containerPort": port.container, "protocol": "TCP"}
            for label, port in spec.ports.items()
        ]
    if ports:
        container["ports"] = ports
    container["resources"] = container_resources(resources, context.rdma)
    if role.readiness_port is not None:
        container["readinessProbe"] = {
            "tcpSocket": {"port": role.readiness_port},
            "periodSeconds": READINESS_PERIOD_SECONDS,
        }
    volumes, mounts = volumes_and_mounts(context, resources)
    if mounts:
        container["volumeMounts"] = mounts
    if resources.rdma and resources.rdma.devices:
        container["securityContext"] = {"capabilities": {"add": ["IPC_LOCK"]}}
    graceful = spec.gracefulTermination
    if graceful and graceful.shutdownCommand:
        container["lifecycle"] = {
            "preStop": {"exec": {"command": ["/bin/sh", "-c", graceful.shutdownCommand]}}
        }

    pod: dict = {}
    if role.restart_policy:
        pod["restartPolicy"] = role.restart_policy
    if graceful and graceful.terminationGracePeriodSeconds is not None:
        pod["terminationGracePeriodSeconds"] = graceful.terminationGracePeriodSeconds
    selector = node_selector(resources, context.gpu_product_label)
    if selector:
        pod["nodeSelector"] = selector
    tolerated = tolerations(resources)
    if tolerated:
        pod["tolerations"] = tolerated
    pod.update(identity(spec))
    pod["containers"] = [container]
    if volumes:
        pod["volumes"] = volumes

    metadata: dict = {}
    pod_labels = {**context.pod_labels, **dict(role.extra_labels), **(labels or {})}
    if pod_labels:
        metadata["labels"] = pod_labels
    pod_annotations = dict(spec.annotations or {})
    if resources.rdma and resources.rdma.devices:
        pod_annotations[MULTUS_NETWORKS] = ",".join(resources.rdma.devices)
    pod_annotations.update(annotations or {})
    if pod_annotations:
        metadata["annotations"] = pod_annotations
    return {"metadata": metadata, "spec": pod} if metadata else {"spec": pod}
