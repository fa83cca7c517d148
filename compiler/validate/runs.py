"""What the API server, the kubelet or a controller would refuse later, said now with the
manifest's position (SPEC 5: "An object the API server or a controller would reject is a
compile-time error"): empty names, label syntax, volume names and mount paths, /dev/shm against
the memory limit, ports Ray needs, TPU slices, and objects too large to store.
"""

from __future__ import annotations

import json
import re

from ..diagnostics import Diagnostic, error, warning
from ..emit import JOBSET_OPERATORS, Workload
from ..emit.jobset import tpu_hosts
from ..emit.pod import (
    GPU_PRODUCT_LABEL,
    RAY_OPERATORS,
    SHARED_VOLUME,
    SHM_VOLUME,
    memory_gb,
    pvc_volume_name,
)
from ..emit.rayjob import RAY_HEAD_PORTS
from ..resolve import Resolved, format_path

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

# etcd's default --max-request-bytes (1.5 MiB), which bounds one stored object.
MAX_OBJECT_BYTES = 3 * 512 * 1024
# k8s.io/apimachinery validation: TotalAnnotationSizeLimitB.
MAX_ANNOTATION_BYTES = 256 * 1024
# kept for what compile and submit write beside the manifest's annotations: the source path, the
# manifest and policy digests, the version, the submitter, the git commit and the image
OWN_ANNOTATION_BYTES = 4 * 1024
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# k8s.io/apimachinery/pkg/util/validation: qualified names (label and annotation keys) and
# label values.
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a qualified name (a label or annotation key), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return "its prefix must be a DNS subdomain (lower-case, at most 253 characters)"
    if not name:
        return "its name part is empty"
    if len(name) > 63 or not _NAME.match(name):
        return (
            "its name part must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _NAME.match(value):
        return (
            "a label value must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def check_runs(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out += _empty_values(workload, resolved)
    out += _labels(workload, resolved)
    out += _volume_names(workload, resolved)
    out += _mount_paths(workload, resolved)
    out += _shm(workload, resolved)
    out += _ports(workload, resolved)
    out += _tpu_slices(workload, resolved)
    out += _size(workload, resolved)
    out += _ray_ttl(workload, resolved)
    out += _job_id(workload, resolved)
    out += _identity(workload, resolved)
    return out


# KubeRay writes the submission id unquoted into the submitter's shell line (common/job.go
# BuildJobSubmitCommand); a plain identifier is one word there, whatever the shell.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _job_id(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    job_id = workload.spec.jobId
    if workload.operator not in RAY_OPERATORS or job_id is None or _PLAIN_ID.match(job_id):
        return []
    return [
        _error(
            "E317",
            f"jobId {job_id!r} must be a plain identifier (letters, digits, '.', '_', '-', "
            "starting with a letter or digit): KubeRay writes it unquoted into the shell line "
            "that submits the job",
            resolved,
            ("spec", "jobId"),
        )
    ]


def _identity(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """A service account and a pull secret are objects named by DNS-1123 subdomains."""
    spec = workload.spec
    named: list[tuple[str, tuple]] = []
    if spec.serviceAccountName is not None:
        named.append((spec.serviceAccountName, ("spec", "serviceAccountName")))
    for index, name in enumerate(spec.imagePullSecrets or []):
        named.append((name, ("spec", "imagePullSecrets", index)))
    return [
        _error(
            "E318",
            f"{name!r} is not a Kubernetes object name (a DNS-1123 subdomain: lower-case "
            "letters, digits, '-' and '.', at most 253)",
            resolved,
            path,
        )
        for name, path in named
        if len(name) > 253 or not _SUBDOMAIN.match(name)
    ]


def _ray_ttl(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """A RayJob's ttlSecondsAfterFinished is how long its RayCluster (GPUs included) outlives
    the job (KubeRay rayjob_controller.go handleShutdownAfterJobFinishes); the output deletes the
    cluster at once, and no RayJob field Kueue allows deletes the record later."""
    path = ("spec", "ttlSecondsAfterFinished")
    layer = resolved.layer_of(path)
    if (
        workload.operator not in ("kuberay", "ray")
        or workload.spec.ttlSecondsAfterFinished is None
        or layer is None
        or layer.role not in ("base", "workload", "set")
    ):
        return []
    where, shown = _at(resolved, path)
    return [
        warning(
            "W111",
            "on a RayJob this would keep the Ray cluster running that long after the job; the "
            "cluster is deleted when the job ends, and the RayJob record stays until deleted "
            "(compile cancel)",
            where,
            shown,
        )
    ]


def _at(resolved: Resolved, path: tuple, shown: str | None = None):
    return resolved.location(path), shown or format_path(resolved.logical(path))


def _error(code: str, message: str, resolved: Resolved, path: tuple) -> Diagnostic:
    where, shown = _at(resolved, path)
    return error(code, message, where, shown)


# ---------------------------------------------------------------------------------------------


def _empty_values(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    spec = workload.spec
    checks: list[tuple[tuple, str, str]] = [
        (("spec", "image"), spec.image, "the image"),
        (("spec", "command"), spec.command, "the command"),
    ]
    for label, secret in (spec.secrets or {}).items():
        checks.append((("spec", "secrets", label, "secretName"), secret.secretName, "secretName"))
    storage = spec.storage
    for index, pvc in enumerate((storage.attachExistingPVCs or []) if storage else []):
        path = ("spec", "storage", "attachExistingPVCs", index, "name")
        checks.append((path, pvc.name, "the claim name"))
    for name, value in (spec.env or {}).items():
        if not isinstance(value, str):
            checks.append((("spec", "env", name, "secret"), value.secret, "the Secret name"))
            checks.append((("spec", "env", name, "key"), value.key, "the Secret key"))
    return [
        _error("E309", f"{what} is empty", resolved, path)
        for path, value, what in checks
        if not value.strip()
    ]


def _labels(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    spec = workload.spec
    out = []
    entries: list[tuple[tuple, str, str | None]] = []
    for key, value in (spec.labels or {}).items():
        entries.append((("spec", "labels", key), key, value))
    for key in spec.annotations or {}:
        entries.append((("spec", "annotations", key), key, None))
    for type_path, resources in _resources(workload):
        for key, value in (resources.extraSelectors or {}).items():
            entries.append((type_path + ("resources", "extraSelectors", key), key, value))
    for path, key, value in entries:
        if key == "":
            out.append(_error("E309", "a label or annotation key is empty", resolved, path))
            continue
        problem = label_key_problem(key)
        if problem:
            out.append(_error("E310", f"key {key!r} is not valid: {problem}", resolved, path))
        elif value is not None and label_value_problem(value):
            out.append(
                _error(
                    "E310",
                    f"value {value!r} of {key!r}: {label_value_problem(value)}",
                    resolved,
                    path,
                )
            )
    annotations = sum(len(k) + len(v) for k, v in (spec.annotations or {}).items())
    if annotations > MAX_ANNOTATION_BYTES - OWN_ANNOTATION_BYTES:
        out.append(
            _error(
                "E313",
                f"the annotations hold {annotations} bytes; Kubernetes accepts at most "
                f"{MAX_ANNOTATION_BYTES} on one object, of which compile and submit keep "
                f"{OWN_ANNOTATION_BYTES} for their own (source, digests, version, submitter, "
                "commit, image)",
                resolved,
                ("spec", "annotations"),
            )
        )
    return out


def _resources(workload: Workload) -> list[tuple[tuple, Any]]:
    types = workload.types
    if isinstance(types, dict):
        return [(("spec", "types", name), t.resources) for name, t in types.items()]
    out: list[tuple[tuple, Any]] = [(("spec", "types", "Head"), types.Head.resources)]
    out += [(("spec", "types", "Workers", i), g.resources) for i, g in enumerate(types.Workers)]
    if getattr(types, "Job", None) is not None:
        out.append((("spec", "types", "Job"), types.Job.resources))
    return out


def _volume_names(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """Every volume of a pod needs its own name; ours are made from labels and claim names,
    lower-cased (`Creds` and `creds` would both be `secret-creds`)."""
    spec = workload.spec
    seen: dict[str, str] = {SHM_VOLUME: "shmSizeGB", SHARED_VOLUME: "storage.sharedVolume"}
    out = []
    named: list[tuple[str, tuple]] = [
        (f"secret-{label}".lower(), ("spec", "secrets", label)) for label in spec.secrets or {}
    ]
    storage = spec.storage
    for index, pvc in enumerate((storage.attachExistingPVCs or []) if storage else []):
        named.append((pvc_volume_name(pvc.name), ("spec", "storage", "attachExistingPVCs", index)))
    for volume, path in named:
        shown = format_path(resolved.logical(path))
        if volume in seen:
            out.append(
                _error(
                    "E311",
                    f"this makes the volume name {volume!r}, which {seen[volume]} already has",
                    resolved,
                    path,
                )
            )
        else:
            seen[volume] = shown
    return out


def _mount_paths(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    spec = workload.spec
    paths: list[tuple[tuple, str]] = [
        (("spec", "secrets", label, "mountPath"), secret.mountPath)
        for label, secret in (spec.secrets or {}).items()
    ]
    storage = spec.storage
    for index, pvc in enumerate((storage.attachExistingPVCs or []) if storage else []):
        paths.append(
            (("spec", "storage", "attachExistingPVCs", index, "mountPoint"), pvc.mountPoint)
        )
    if storage and storage.sharedVolume:
        paths.append(
            (("spec", "storage", "sharedVolume", "mountPoint"), storage.sharedVolume.mountPoint)
        )
    out = []
    for path, mount in paths:
        normal = mount.rstrip("/") or ("/" if mount.startswith("/") else "")
        if not mount.strip():
            problem = "is empty"
        elif not mount.startswith("/"):
            problem = f"{mount!r} is relative; a mount path is absolute"
        elif normal == "/":
            problem = "'/' would hide the image's whole file system"
        elif normal == SERVICE_ACCOUNT_DIR or normal.startswith(SERVICE_ACCOUNT_DIR + "/"):
            problem = f"{mount!r} is where Kubernetes mounts the service account token"
        else:
            continue
        out.append(_error("E312", f"mount path {problem}", resolved, path))
    return out


def _shm(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """/dev/shm is a memory-backed emptyDir: its pages count against the container's memory
    limit, so a larger size is an OOM kill waiting to happen, not more room."""
    out: list[Diagnostic] = []
    for path, resources in _resources(workload):
        memory = memory_gb(resources)
        if workload.operator in RAY_OPERATORS:
            out += _ray_shm(resources, resolved, path + ("resources", "shmSizeGB"))
        elif resources.shmSizeGB and resources.shmSizeGB > memory:
            out.append(
                _error(
                    "E308",
                    f"shmSizeGB {resources.shmSizeGB:g} is above the pod's memory limit "
                    f"({memory:g} GB); /dev/shm is memory and counts against that limit",
                    resolved,
                    path + ("resources", "shmSizeGB"),
                )
            )
    return out


def _ray_shm(resources, resolved: Resolved, path: tuple) -> list[Diagnostic]:
    """KubeRay gives every Ray pod a /dev/shm of the pod's memory for the object store (common/
    pod.go makeEmptyDirVolume) unless one is mounted; a smaller one sends the object store,
    30% of memory by default, to disk. So shmSizeGB has no effect on a Ray pod, which is said."""
    layer = resolved.layer_of(path)
    if not resources.shmSizeGB or layer is None or layer.role not in ("base", "workload", "set"):
        return []
    where, shown = _at(resolved, path)
    return [
        warning(
            "W101",
            "shmSizeGB has no effect on a Ray pod: KubeRay mounts a /dev/shm of the pod's memory "
            "for Ray's object store",
            where,
            shown,
        )
    ]


def _ports(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    ports = workload.spec.ports or {}
    out = []
    if workload.operator in ("kuberay", "ray"):
        ray = {p["name"]: p["containerPort"] for p in RAY_HEAD_PORTS}
        numbers = {number: name for name, number in ray.items()}
        for label, port in ports.items():
            taken = ray.get(label) is not None or port.container in numbers
            if taken:
                other = label if label in ray else numbers[port.container]
                out.append(
                    _error(
                        "E306",
                        f"Ray's head uses the port {other!r} ({ray[other]}) itself; give this "
                        "port another name and number",
                        resolved,
                        ("spec", "ports", label),
                    )
                )
    # a port a policy adds for every job (an admin port) is the administrator's to know about
    asked = [
        label
        for label in ports
        if (layer := resolved.layer_of(("spec", "ports", label))) is not None
        and layer.role in ("base", "workload", "set")
    ]
    asked.sort(  # the workload's own port first: a template's is its owner's to hear about
        key=lambda label: getattr(resolved.layer_of(("spec", "ports", label)), "role", "") == "base"
    )
    if asked:
        first = ports[asked[0]]
        service = f"{workload.name}-ports"
        where, shown = _at(resolved, ("spec", "ports", asked[0]))
        out.append(
            warning(
                "W110",
                f"external ports are the ports of the ClusterIP Service {service}, reachable "
                f"inside the cluster only; from outside use `kubectl port-forward "
                f"service/{service} {first.external}`",
                where,
                shown,
            )
        )
    return out


# Operators whose groups are one pod a Job, ranked across Jobs: a multi-host TPU slice, whose
# hosts must be the pods of one Job on one node pool, has no place in them.
_NO_SLICES = {
    "pytorch": "its Master and Workers are one pod a Job each, ranked across Jobs",
    "xgboost": "XGBoost has no TPU support, and its workers are one pod a Job each",
    "tf": "its workers are one pod a Job each, named in TF_CONFIG, not a TPU slice's hosts",
}


def _tpu_slices(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    operator = workload.operator
    if operator not in JOBSET_OPERATORS:
        return []
    out = []
    for name, job_type in workload.types.items():
        hosts = tpu_hosts(job_type.resources)
        count = job_type.count or 1
        if hosts > 1 and operator in _NO_SLICES:
            tpu = job_type.resources.accelerators.tpu
            out.append(
                _error(
                    "E319",
                    f"a {tpu.topology} slice with {tpu.tpuChipsCount} chips a pod is {hosts} "
                    f"hosts, one Job of a pod per host; operator {operator} cannot run it: "
                    f"{_NO_SLICES[operator]}. Use operator jax or jobset (a Job per slice), "
                    "or a topology of one host",
                    resolved,
                    ("spec", "types", name, "resources", "accelerators", "tpu"),
                )
            )
        elif hosts > 1 and operator == "jobset":
            out += _slice_pods(job_type, hosts, resolved, ("spec", "types", name))
        elif hosts > 1 and count % hosts:
            out.append(
                _error(
                    "E314",
                    f"a {job_type.resources.accelerators.tpu.topology} slice with "
                    f"{job_type.resources.accelerators.tpu.tpuChipsCount} chips a pod has {hosts} "
                    f"hosts; count {count} is not a whole number of slices",
                    resolved,
                    ("spec", "types", name, "count"),
                )
            )
    return out


def _slice_pods(job_type, hosts: int, resolved: Resolved, path: tuple) -> list[Diagnostic]:
    """jobset: each Job of a multi-host TPU type is one slice, its pods the slice's hosts; a
    written 1 is the usual boilerplate and taken as unset."""
    out = []
    for field in ("completions", "parallelisms"):
        value = getattr(job_type, field)
        layer = resolved.layer_of(path + (field,))
        if (
            value in (None, 1, hosts)
            or layer is None
            or layer.role not in ("base", "workload", "set")
        ):
            continue
        out.append(
            _error(
                "E319",
                f"each Job of this type is one TPU slice of {hosts} hosts, a pod per host: "
                f"{field} is {hosts}, not {value} (count says how many slices)",
                resolved,
                path + (field,),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# size, bounded before anything is built


def _pod_bytes(workload: Workload) -> int:
    """An upper estimate of what the manifest adds to each pod template, in JSON bytes."""
    spec = workload.spec
    size = 1024 + 2 * len(spec.command) + len(spec.image)
    for name, value in (spec.env or {}).items():
        text = value if isinstance(value, str) else value.secret + value.key
        size += len(json.dumps(name)) + len(json.dumps(text)) + 64
    for key, value in {**(spec.labels or {}), **(spec.annotations or {})}.items():
        size += len(json.dumps(key)) + len(json.dumps(value)) + 8
    for label, secret in (spec.secrets or {}).items():
        size += 2 * len(label) + len(secret.secretName) + len(secret.mountPath) + 128
    storage = spec.storage
    for pvc in (storage.attachExistingPVCs or []) if storage else []:
        size += 2 * len(pvc.name) + len(pvc.mountPoint) + 160
    size += 96 * len(spec.ports or {})
    return size


def _tf_config_bytes(workload: Workload) -> int:
    if workload.operator != "tf":
        return 0
    ((name, job_type),) = workload.types.items()
    count = job_type.count or 1
    host = len(f'"{workload.name}-{name.lower()}-{count}-0.{workload.name}:2222",')
    return count * host if count > 1 else 0


def _size(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """The job object holds one pod template per type (per Ray group): its size is known from
    the manifest before anything is built, and a JobSet of 100 types x 5,000 variables, or a tf
    TF_CONFIG listing a million workers, must be refused, not built."""
    templates = len(_resources(workload))
    pod = _pod_bytes(workload) + _tf_config_bytes(workload)
    total = 4096 + templates * pod
    if total <= MAX_OBJECT_BYTES:
        return []
    if _tf_config_bytes(workload) > MAX_OBJECT_BYTES // 2:
        ((name, _),) = workload.types.items()
        path: tuple = ("spec", "types", name, "count")
        why = "TF_CONFIG lists every worker"
    elif workload.operator in JOBSET_OPERATORS and templates > 1:
        path, why = ("spec", "types"), f"each of the {templates} types carries the environment"
    else:
        path, why = ("spec", "env"), "the environment and metadata are large"
    return [
        _error(
            "E313",
            f"the job object would be about {total // 1024} KiB ({why}); the API server stores "
            f"at most {MAX_OBJECT_BYTES // 1024} KiB in one object",
            resolved,
            path,
        )
    ]


# ---------------------------------------------------------------------------------------------
# the cluster's facts (SPEC 2.6)


def gpu_product_label(policies) -> tuple[str, list[Diagnostic]]:
    """The node label naming a GPU product: a global policy's ``spec.cluster.gpuProductLabel``,
    else NVIDIA feature discovery's. Two global policies that disagree are an error."""
    stated = [
        (policy, policy.cluster.gpuProductLabel)
        for policy in policies
        if policy.project is None
        and getattr(policy, "cluster", None) is not None
        and policy.cluster.gpuProductLabel
    ]
    if not stated:
        return GPU_PRODUCT_LABEL, []
    first_policy, label = stated[0]
    problems = []
    for policy, other in stated[1:]:
        if other != label:
            where = policy.document.positions.nearest(("spec", "cluster", "gpuProductLabel"))
            problems.append(
                error(
                    "E316",
                    f"spec.cluster.gpuProductLabel is {other!r} here but {label!r} in "
                    f"{first_policy.label}; the cluster has one GPU product label",
                    where,
                    "spec.cluster.gpuProductLabel",
                )
            )
    problem = label_key_problem(label)
    if problem:
        where = first_policy.document.positions.nearest(("spec", "cluster", "gpuProductLabel"))
        problems.append(
            error("E310", f"gpuProductLabel {label!r}: {problem}", where, "spec.cluster")
        )
    return label, problems


def rdma_networks(policies) -> tuple[dict, list[Diagnostic]]:
    """RDMA network -> its device resource and variables (``spec.cluster.rdma`` of the global
    policies, SPEC 2.6). Two global policies that describe one network differently: E316."""
    networks: dict = {}
    first: dict = {}
    problems = []
    for policy in policies:
        cluster = getattr(policy, "cluster", None)
        if policy.project is not None or cluster is None or not cluster.rdma:
            continue
        for name, network in cluster.rdma.items():
            problem = label_key_problem(network.resource)
            if problem or "/" not in network.resource:
                where = policy.document.positions.nearest(
                    ("spec", "cluster", "rdma", name, "resource")
                )
                why = problem or "a device resource is a qualified name, domain/name"
                problems.append(
                    error(
                        "E310",
                        f"rdma resource {network.resource!r}: {why}",
                        where,
                        f"spec.cluster.rdma.{name}.resource",
                    )
                )
            if name not in networks:
                networks[name], first[name] = network, policy
            elif _rdma_fields(network) != _rdma_fields(networks[name]):
                where = policy.document.positions.nearest(("spec", "cluster", "rdma", name))
                problems.append(
                    error(
                        "E316",
                        f"spec.cluster.rdma.{name} differs from {first[name].label}'s; the "
                        "cluster has one device resource and set of variables per network",
                        where,
                        f"spec.cluster.rdma.{name}",
                    )
                )
    return networks, problems


def _rdma_fields(network) -> tuple:
    return (network.resource, network.count, sorted((network.env or {}).items()))


def check_rdma(resolved, types, rdma: dict) -> list[Diagnostic]:
    """E323: a pod attaches RDMA networks whose variables (spec.cluster.rdma) disagree: which
    value NCCL should read is not the compiler's to guess."""
    from .policy import pod_resources

    out = []
    for name, _, resources in pod_resources(None, types):
        devices = resources.rdma.devices if resources.rdma else []
        seen: dict = {}
        for network in devices:
            for variable, value in ((rdma.get(network) and rdma[network].env) or {}).items():
                earlier = seen.setdefault(variable, (network, value))
                if earlier[1] != value:
                    path: tuple = ("spec", "types", name, "resources", "rdma", "devices")
                    if not isinstance(types, dict):
                        path = ("spec", "types")  # Ray groups: a list, named by their name
                    out.append(
                        error(
                            "E323",
                            f"networks {earlier[0]} and {network} give {variable} different "
                            f"values ({earlier[1]!r}, {value!r}) in spec.cluster.rdma; a pod "
                            "gets one value: give the networks one",
                            resolved.location(path),
                            ".".join(path),
                        )
                    )
    return out
