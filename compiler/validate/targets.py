"""Limits of the target APIs that would otherwise surface only at ``kubectl apply`` time."""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, error, warning
from ..emit import JOBSET_OPERATORS, Workload
from ..emit.jobset import job_shape
from ..emit.naming import MAX_LABEL, POD_SUFFIX, RAYJOB_MAX, is_dns1035, replicated_job_name
from ..emit.pod import shm_size_gb
from ..emit.quantity import cpu_millis
from ..resolve import Resolved, format_path
from .restart import check_restart
from .runs import check_runs

KUEUE_MAX_POD_SETS = 18
# Kueue's names for the RayJob pod sets besides the worker groups (kueue
# pkg/controller/jobs/rayjob/rayjob_controller.go headGroupPodSetName, submitterJobPodSetName).
RAY_RESERVED_GROUPS = ("head", "submitter")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*$")


def check_targets(workload: Workload, resolved: Resolved, name_path: tuple) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    name = workload.name
    where = resolved.location(name_path) if name_path else resolved.location(())
    if not is_dns1035(name):
        out.append(
            error(
                "E301",
                f"name {name!r} is not a valid DNS-1035 label (lower-case letters, digits, '-', starting with a letter, at most 63)",
                where,
                "name",
            )
        )
        return out
    operator = workload.operator
    if operator in JOBSET_OPERATORS:
        out += _jobset_names(workload, resolved)
        pod_sets = len(workload.types)
    elif operator in ("kuberay", "ray"):
        if len(name) > RAYJOB_MAX:
            out.append(
                error(
                    "E302",
                    f"a RayJob name may have at most {RAYJOB_MAX} characters; {name!r} has {len(name)} (use --name)",
                    where,
                    "name",
                )
            )
        for index, group in enumerate(workload.types.Workers):
            path: tuple = ("spec", "types", "Workers", index, "name")
            if group.name in RAY_RESERVED_GROUPS:
                out.append(
                    error(
                        "E307",
                        f"worker group name {group.name!r} is reserved: Kueue names the head's and "
                        "the submitter's pod sets 'head' and 'submitter'; rename the group",
                        resolved.location(path),
                        format_path(resolved.logical(path)),
                    )
                )
            elif not DNS1123_LABEL.match(group.name) or len(group.name) > MAX_LABEL:
                out.append(
                    error(
                        "E301",
                        f"worker group name {group.name!r} must be lower-case letters, digits and '-'",
                        resolved.location(path),
                        format_path(resolved.logical(path)),
                    )
                )
        # head, each worker group, and the submitter Job's pod (K8sJobMode, KubeRay's default)
        pod_sets = 2 + len(workload.types.Workers)
    else:
        (job_type,) = workload.types.values()
        last = (job_type.count or 1) * (job_type.completions or 1) - 1
        pod = f"{name}-{last}"
        if len(pod) + POD_SUFFIX > MAX_LABEL:
            out.append(
                error(
                    "E302",
                    f"pod names such as {pod}-xxxxx would exceed {MAX_LABEL} characters; shorten the name (--name)",
                    where,
                    "name",
                )
            )
        pod_sets = 1

    if pod_sets > KUEUE_MAX_POD_SETS:
        message = f"{pod_sets} pod sets; a Kueue workload admits at most {KUEUE_MAX_POD_SETS}"
        if workload.spec.queue:
            out.append(
                error(
                    "E303",
                    message + " (spec.queue is set)",
                    resolved.location(("spec", "types")),
                    "spec.types",
                )
            )
        else:
            out.append(
                warning(
                    "W104",
                    message + "; this job cannot be queued",
                    resolved.location(("spec", "types")),
                    "spec.types",
                )
            )

    for label in workload.spec.ports or {}:
        if len(label) > 15 or not IANA_SVC_NAME.match(label):
            path = ("spec", "ports", label)
            out.append(
                error(
                    "E301",
                    f"port label {label!r} must be at most 15 lower-case letters, digits and '-' (it names the container port)",
                    resolved.location(path),
                    format_path(path),
                )
            )
    for collection in ("secrets",):
        for label in getattr(workload.spec, collection) or {}:
            volume = f"secret-{label}".lower()
            if not DNS1123_LABEL.match(volume) or len(volume) > MAX_LABEL:
                path = ("spec", collection, label)
                out.append(
                    error(
                        "E301",
                        f"label {label!r} must be letters, digits and '-' (it names a volume)",
                        resolved.location(path),
                        format_path(path),
                    )
                )
    out += _quantities(workload, resolved)
    out += _mount_paths(workload, resolved)
    out += check_runs(workload, resolved)
    out += check_restart(workload, resolved)
    return out


def _mount_paths(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    """Secrets, claims and the shared volume share each container: no two may claim one path."""
    spec = workload.spec
    claimed: list[tuple[str, tuple]] = [("/dev/shm", ())]  # taken when a pod gets a /dev/shm
    for label, secret in (spec.secrets or {}).items():
        claimed.append((secret.mountPath, ("spec", "secrets", label, "mountPath")))
    storage = spec.storage
    for index, pvc in enumerate((storage.attachExistingPVCs or []) if storage else []):
        claimed.append(
            (pvc.mountPoint, ("spec", "storage", "attachExistingPVCs", index, "mountPoint"))
        )
    if storage and storage.sharedVolume:
        claimed.append(
            (storage.sharedVolume.mountPoint, ("spec", "storage", "sharedVolume", "mountPoint"))
        )
    uses_shm = any(
        shm_size_gb(workload.operator, resources) for resources in _all_resources(workload.types)
    )
    out, seen = [], {}
    for mount_path, path in claimed:
        normal = mount_path.rstrip("/") or "/"
        if not path:
            if uses_shm:
                seen[normal] = "/dev/shm (shmSizeGB, or a pod of several GPUs)"
            continue
        shown = format_path(resolved.logical(path))
        if normal in seen:
            out.append(
                error(
                    "E305",
                    f"{mount_path!r} is already the mount path of {seen[normal]}",
                    resolved.location(path),
                    shown,
                )
            )
        else:
            seen[normal] = shown
    return out


def _all_resources(types):
    if isinstance(types, dict):
        return [t.resources for t in types.values()]
    extra = [types.Job.resources] if getattr(types, "Job", None) else []
    return [types.Head.resources, *extra, *(g.resources for g in types.Workers)]


def _jobset_names(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    out = []
    for type_name, job_type in workload.types.items():
        rjob = replicated_job_name(type_name)
        replicas, completions, _ = job_shape(workload.operator, job_type)
        last_job = replicas - 1
        last_pod = completions - 1
        job_name = f"{workload.name}-{rjob}-{last_job}"
        pod_name = f"{job_name}-{last_pod}"
        path = ("spec", "types", type_name)
        if len(job_name) > MAX_LABEL:
            out.append(
                error(
                    "E302",
                    f"Job name {job_name!r} would exceed {MAX_LABEL} characters; shorten the name or the type",
                    resolved.location(path),
                    format_path(path),
                )
            )
        elif len(pod_name) + POD_SUFFIX > MAX_LABEL:
            out.append(
                error(
                    "E302",
                    f"pod names such as {pod_name}-xxxxx would exceed {MAX_LABEL} characters; shorten the name (--name) or the type name",
                    resolved.location(path),
                    format_path(path),
                )
            )
    return out


def _quantities(workload: Workload, resolved: Resolved) -> list[Diagnostic]:
    out = []
    types = workload.types
    entries = (
        list(types.items())
        if isinstance(types, dict)
        else [("Head", types.Head)]
        + [(g.name, g) for g in types.Workers]
        + ([("Job", types.Job)] if getattr(types, "Job", None) else [])
    )
    for label, item in entries:
        cpus = item.resources.cpus if item.resources.cpus is not None else 1
        if cpu_millis(cpus) < 1:
            path = ("spec", "types", label, "resources", "cpus")
            out.append(
                error(
                    "E304",
                    f"cpus {cpus} is below 1 millicore (0.001)",
                    resolved.location(path),
                    format_path(path),
                )
            )
    return out
