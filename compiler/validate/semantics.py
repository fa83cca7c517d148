"""Manifest rules beyond types: operator type names, memory, images, reserved env, no-effect fields."""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, error, warning
from ..model.manifest import INT32_MAX, Manifest
from ..resolve import Resolved, format_path

JOBSET_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# batchjob names only its container (lower-cased); real manifests write `Worker`.
BATCHJOB_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")

# Type names each map-style operator accepts (None: any name its *_TYPE_NAME pattern matches).
TYPE_NAMES: dict[str, tuple[str, ...] | None] = {
    "jobset": None,
    "pytorch": ("Master", "master", "Worker", "worker"),
    "xgboost": ("Master", "master", "Worker", "worker"),
    "jax": ("Worker", "worker"),
    "tf": ("Worker", "worker"),
    "batchjob": None,
}

# Environment variables each operator's contract sets; a manifest may not set them itself.
RESERVED_ENV: dict[str, tuple[str, ...]] = {
    "jobset": ("JOB_INDEX", "JOB_GLOBAL_INDEX", "REPLICATED_JOB_NAME", "REPLICATED_JOB_REPLICAS", "GLOBAL_REPLICAS", "JOB_COMPLETION_INDEX"),
    "pytorch": ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"),
    "xgboost": ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "WORKER_PORT", "WORKER_ADDRS"),
    "jax": ("JAXOPERATOR_COORDINATOR_ADDRESS", "JAXOPERATOR_COORDINATOR_HOST", "JAXOPERATOR_NUM_PROCESSES", "JAXOPERATOR_PROCESS_ID"),
    "tf": ("TF_CONFIG",),
    "batchjob": ("JOB_COMPLETION_INDEX",),
    "kuberay": (),
    "ray": (),
}


def check_semantics(manifest: Manifest, types, resolved: Resolved) -> list[Diagnostic]:
    spec = manifest.spec
    operator = spec.operator
    out: list[Diagnostic] = []

    def at(*path):
        return resolved.location(path)

    if operator in TYPE_NAMES:
        out += _check_type_names(operator, types, resolved)
    for path, resources in _resources(operator, types):
        both = resources.ramRatio is not None and resources.memory is not None
        if both or (resources.ramRatio is None and resources.memory is None):
            what = "both ramRatio and memory are set" if both else "neither ramRatio nor memory is set"
            out.append(error("E120", f"{what}; set exactly one (memory = cpus x ramRatio GB)",
                             resolved.location(path + ("resources",)), format_path(resolved.logical(path + ("resources",)))))
        out += _check_quantity_range(path + ("resources",), resources, resolved)
        gpu = resources.accelerators.gpu if resources.accelerators else None
        if gpu and gpu.product and gpu.count == 0:
            where = path + ("resources", "accelerators", "gpu", "product")
            out.append(warning("W102", f"gpu.product {gpu.product!r} is ignored because gpu.count is 0 (no GPU node is required)",
                               resolved.location(where), format_path(resolved.logical(where))))

    if manifest.builder and manifest.builder.image and manifest.builder.image != spec.image:
        out.append(error("E130", f"builder.image {manifest.builder.image!r} differs from spec.image {spec.image!r}; they must match",
                         at("builder", "image"), "builder.image"))

    for name in spec.env or {}:
        if name in RESERVED_ENV.get(operator, ()):
            out.append(error("E140", f"{name} is set by the {operator} operator contract; rename the variable",
                             resolved.location(("spec", "env", name)), format_path(("spec", "env", name))))
        if not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", name):
            out.append(error("E104", f"{name!r} is not a valid environment variable name",
                             resolved.location(("spec", "env", name)), format_path(("spec", "env", name))))

    if spec.timeout and spec.activeDeadlineSeconds:
        out.append(warning("W103", "both timeout and activeDeadlineSeconds are set; timeout wins",
                           at("spec", "activeDeadlineSeconds"), "spec.activeDeadlineSeconds"))

    out += _no_effect_warnings(manifest, resolved)
    if operator not in ("kuberay", "ray"):
        for field in ("rayVersion", "runtimeEnv", "jobId", "entrypointNumCpus"):
            if getattr(spec, field) is not None:
                out.append(warning("W101", f"spec.{field} applies to the kuberay operator only; it has no effect for {operator}",
                                   at("spec", field), f"spec.{field}"))
    return out


# Kubernetes quantities are int64 in their smallest unit (millicores, bytes).
_QUANTITY_MAX = 2**63 - 1
_GIB = 1 << 30


def _check_quantity_range(path: tuple, resources, resolved: Resolved) -> list[Diagnostic]:
    """CPU and memory that no Kubernetes quantity can hold (``cpus: 1e300``) are errors, not overflows."""
    cpus = resources.cpus if resources.cpus is not None else 1
    ratio = resources.cpuLimitRatio if resources.cpuLimitRatio is not None else 2
    memory = resources.memory if resources.memory is not None else cpus * (resources.ramRatio or 0)
    checks = (
        ("cpus", cpus * ratio * 1000, "the CPU limit (cpus x cpuLimitRatio)"),
        ("memory" if resources.memory is not None else "ramRatio", memory * _GIB, "the memory (cpus x ramRatio GB)"),
        ("shmSizeGB", (resources.shmSizeGB or 0) * _GIB, "/dev/shm"),
    )
    out = []
    for field, amount, what in checks:
        if amount > _QUANTITY_MAX:
            where = path + (field,)
            out.append(error("E104", f"{what} is too large for a Kubernetes quantity",
                             resolved.location(where), format_path(resolved.logical(where))))
    return out


def _check_type_names(operator: str, types: dict, resolved: Resolved) -> list[Diagnostic]:
    out = []
    allowed = TYPE_NAMES[operator]
    if not types:
        out.append(error("E111", "at least one type is required under spec.types", resolved.location(("spec", "types")), "spec.types"))
        return out
    for name, job_type in types.items():
        path = ("spec", "types", name)
        where = resolved.positions_key(path) if hasattr(resolved, "positions_key") else resolved.location(path)
        if operator == "batchjob" and not BATCHJOB_TYPE_NAME.match(name):
            out.append(error("E111", f"type name {name!r} must be letters, digits and hyphens, starting with a letter",
                             where, format_path(path)))
        elif operator == "jobset" and not JOBSET_TYPE_NAME.match(name):
            out.append(error("E111", f"type name {name!r} must be lower-case letters, digits and hyphens, starting with a letter",
                             where, format_path(path)))
        elif allowed is not None and name not in allowed:
            out.append(error("E111", f"{operator} accepts the types {', '.join(allowed)}; not {name!r}", where, format_path(path)))
    if operator in ("pytorch", "xgboost"):
        masters = [n for n in types if n.lower() == "master"]
        workers = [n for n in types if n.lower() == "worker"]
        if len(masters) > 1 or len(workers) > 1:
            out.append(error("E111", f"{operator} takes one Master and one Worker type; found {', '.join(types)}",
                             resolved.location(("spec", "types")), "spec.types"))
        for name in masters:
            if types[name].count not in (None, 1):
                out.append(error("E104", f"{operator} runs exactly one master; count is {types[name].count}",
                                 resolved.location(("spec", "types", name, "count")), f"spec.types.{name}.count"))
    if operator == "batchjob":
        for name, job_type in types.items():
            pods = (job_type.count or 1) * (job_type.completions or 1)
            if pods > INT32_MAX:
                out.append(error("E104", f"count x completions is {pods}; a Job holds at most {INT32_MAX} pods",
                                 resolved.location(("spec", "types", name)), f"spec.types.{name}"))
    if operator in ("jax", "tf", "batchjob") and len(types) > 1:
        out.append(error("E111", f"{operator} takes exactly one type; found {', '.join(types)}",
                         resolved.location(("spec", "types")), "spec.types"))
    return out


def _resources(operator, types):
    if types is None:
        return
    if isinstance(types, dict):
        for name, job_type in types.items():
            yield ("spec", "types", name), job_type.resources
        return
    yield ("spec", "types", "Head"), types.Head.resources
    if getattr(types, "Job", None) is not None:
        yield ("spec", "types", "Job"), types.Job.resources
    for index, group in enumerate(types.Workers):
        yield ("spec", "types", "Workers", index), group.resources


def _no_effect_warnings(manifest: Manifest, resolved: Resolved) -> list[Diagnostic]:
    spec = manifest.spec
    found: list[tuple[tuple, str]] = []
    if manifest.engineName is not None:
        found.append((("engineName",), "selects an AIchor compute engine; jobs go to the current kube context"))
    if spec.engineName is not None:
        found.append((("spec", "engineName"), "selects an AIchor compute engine; jobs go to the current kube context"))
    if spec.tensorboard and spec.tensorboard.enabled:
        found.append((("spec", "tensorboard", "enabled"), "no TensorBoard server is started; write logs to your own storage"))
    if spec.debug and spec.debug.jupyter:
        found.append((("spec", "debug", "jupyter"), "no Jupyter server is started"))
    if spec.debug and spec.debug.vscode and spec.debug.vscode.enabled:
        found.append((("spec", "debug", "vscode"), "no VS Code server is started"))
    if manifest.clone is not None:
        found.append((("clone",), "the image already holds the code; nothing is cloned at run time"))
    if manifest.builder and manifest.builder.skipBuild and manifest.builder.skipBuild.enabled:
        found.append((("builder", "skipBuild"), "images are built only by `compile image`; this flag changes nothing"))
    return [warning("W101", f"accepted but has no effect: {why}", resolved.location(path), format_path(path))
            for path, why in found]
