"""Manifest rules beyond types: operator type names, memory, images, reserved env, no-effect fields.

The rules read the merged data itself, not the validated model, so they also run when the models
rejected something else in the file: every problem is reported at once. A value of the wrong type
is left to the structural diagnostics and skipped here.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, error, warning
from ..model.scalars import INT32_MAX
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
    "jobset": (
        "JOB_INDEX",
        "JOB_GLOBAL_INDEX",
        "REPLICATED_JOB_NAME",
        "REPLICATED_JOB_REPLICAS",
        "GLOBAL_REPLICAS",
        "JOB_COMPLETION_INDEX",
    ),
    "pytorch": (
        "MASTER_ADDR",
        "MASTER_PORT",
        "WORLD_SIZE",
        "RANK",
        "PET_MASTER_ADDR",
        "PET_MASTER_PORT",
        "PET_NNODES",
        "PET_NODE_RANK",
    ),
    "xgboost": ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "WORKER_PORT", "WORKER_ADDRS"),
    "jax": (
        "JAXOPERATOR_COORDINATOR_ADDRESS",
        "JAXOPERATOR_COORDINATOR_HOST",
        "JAXOPERATOR_NUM_PROCESSES",
        "JAXOPERATOR_PROCESS_ID",
        "JOB_INDEX",
        "MEGASCALE_COORDINATOR_ADDRESS",
        "MEGASCALE_NUM_SLICES",
        "MEGASCALE_SLICE_ID",
    ),
    "tf": ("TF_CONFIG", "TF_TASK_INDEX"),
    "batchjob": ("JOB_COMPLETION_INDEX",),
    "kuberay": (),
    "ray": (),
}


def check_semantics(resolved: Resolved, engine_selects: bool = False) -> list[Diagnostic]:
    data = resolved.data
    spec = _mapping(data.get("spec"))
    operator = spec.get("operator") if isinstance(spec.get("operator"), str) else None
    if operator not in RESERVED_ENV:
        return []  # no operator, or one we do not support: E103/E110 say so; the rest would be noise
    out: list[Diagnostic] = []

    def at(*path):
        return resolved.location(path)

    types = _mapping(spec.get("types"))
    if operator in TYPE_NAMES:
        out += _check_type_names(operator, types, resolved)
    for path, resources in _resources(operator, types):
        has_ratio, has_memory = "ramRatio" in resources, "memory" in resources
        if has_ratio == has_memory:
            what = (
                "both ramRatio and memory are set"
                if has_ratio
                else "neither ramRatio nor memory is set"
            )
            out.append(
                error(
                    "E120",
                    f"{what}; set exactly one (memory = cpus x ramRatio GB)",
                    resolved.location(path + ("resources",)),
                    format_path(resolved.logical(path + ("resources",))),
                )
            )
        out += _check_quantity_range(path + ("resources",), resources, resolved)
        gpu = _mapping(_mapping(resources.get("accelerators")).get("gpu"))
        if gpu.get("product") and gpu.get("count", 0) == 0:
            where = path + ("resources", "accelerators", "gpu", "product")
            out.append(
                warning(
                    "W102",
                    f"gpu.product {gpu['product']!r} is ignored because gpu.count is 0 (no GPU node is required)",
                    resolved.location(where),
                    format_path(resolved.logical(where)),
                )
            )

    builder_image = _mapping(data.get("builder")).get("image")
    image = spec.get("image")
    if (
        isinstance(builder_image, str)
        and isinstance(image, str)
        and builder_image
        and builder_image != image
    ):
        out.append(
            error(
                "E130",
                f"builder.image {builder_image!r} differs from spec.image {image!r}; they must match",
                at("builder", "image"),
                "builder.image",
            )
        )

    for name in _mapping(spec.get("env")):
        if name in RESERVED_ENV.get(operator, ()):
            out.append(
                error(
                    "E140",
                    f"{name} is set by the {operator} operator contract; rename the variable",
                    resolved.location(("spec", "env", name)),
                    format_path(("spec", "env", name)),
                )
            )
        if not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", name):
            out.append(
                error(
                    "E104",
                    f"{name!r} is not a valid environment variable name",
                    resolved.location(("spec", "env", name)),
                    format_path(("spec", "env", name)),
                )
            )

    if spec.get("timeout") is not None and spec.get("activeDeadlineSeconds") is not None:
        out.append(
            warning(
                "W103",
                "both timeout and activeDeadlineSeconds are set; timeout wins",
                at("spec", "activeDeadlineSeconds"),
                "spec.activeDeadlineSeconds",
            )
        )

    out += _no_effect_warnings(data, resolved, engine_selects)
    if operator in ONE_POD_PER_JOB:
        out += _pod_count_warnings(operator, types, resolved)
    if operator and operator not in ("kuberay", "ray"):
        for field in ("rayVersion", "runtimeEnv", "jobId", "entrypointNumCpus"):
            if spec.get(field) is not None:
                out.append(
                    warning(
                        "W101",
                        f"spec.{field} applies to the kuberay operator only; it has no effect for {operator}",
                        at("spec", field),
                        f"spec.{field}",
                    )
                )
    return out


# Operators whose every Job is one pod of the group (a multi-host TPU slice excepted, sized by
# its topology): completions and parallelisms cannot apply.
ONE_POD_PER_JOB = ("pytorch", "xgboost", "jax", "tf")


def _pod_count_warnings(operator: str, types: dict, resolved: Resolved) -> list[Diagnostic]:
    out = []
    for name, job_type in types.items():
        for field in ("completions", "parallelisms"):
            path = ("spec", "types", name, field)
            layer = resolved.layer_of(path)
            # the built-in 1 and a policy's default for every type are not the user's request
            if not isinstance(job_type, dict) or job_type.get(field) is None:
                continue
            if layer is None or layer.role not in ("base", "workload", "set"):
                continue
            out.append(
                warning(
                    "W101",
                    f"{field} has no effect for {operator}: each Job of the group is one pod "
                    "(count sets how many)",
                    resolved.location(path),
                    format_path(resolved.logical(path)),
                )
            )
    return out


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value, default):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


# Kubernetes quantities are int64 in their smallest unit (millicores, bytes).
_QUANTITY_MAX = 2**63 - 1
_GIB = 1 << 30


def _check_quantity_range(path: tuple, resources: dict, resolved: Resolved) -> list[Diagnostic]:
    """CPU and memory that no Kubernetes quantity can hold (``cpus: 1e300``) are errors, not overflows."""
    cpus = _number(resources.get("cpus"), 1)
    ratio = _number(resources.get("cpuLimitRatio"), 2)
    has_memory = "memory" in resources
    memory = (
        _number(resources.get("memory"), 0)
        if has_memory
        else cpus * _number(resources.get("ramRatio"), 0)
    )
    checks = (
        ("cpus", cpus * ratio * 1000, "the CPU limit (cpus x cpuLimitRatio)"),
        ("memory" if has_memory else "ramRatio", memory * _GIB, "the memory (cpus x ramRatio GB)"),
        ("shmSizeGB", _number(resources.get("shmSizeGB"), 0) * _GIB, "/dev/shm"),
    )
    out = []
    for field, amount, what in checks:
        if amount > _QUANTITY_MAX:
            where = path + (field,)
            out.append(
                error(
                    "E104",
                    f"{what} is too large for a Kubernetes quantity",
                    resolved.location(where),
                    format_path(resolved.logical(where)),
                )
            )
    return out


def _check_type_names(operator: str, types: dict, resolved: Resolved) -> list[Diagnostic]:
    out = []
    allowed = TYPE_NAMES[operator]
    if not types:
        out.append(
            error(
                "E111",
                "at least one type is required under spec.types",
                resolved.location(("spec", "types")),
                "spec.types",
            )
        )
        return out
    for name in types:
        path = ("spec", "types", name)
        where = resolved.location(path, key=True)
        if operator == "batchjob" and not BATCHJOB_TYPE_NAME.match(name):
            out.append(
                error(
                    "E111",
                    f"type name {name!r} must be letters, digits and hyphens, starting with a letter",
                    where,
                    format_path(path),
                )
            )
        elif operator == "jobset" and not JOBSET_TYPE_NAME.match(name):
            out.append(
                error(
                    "E111",
                    f"type name {name!r} must be lower-case letters, digits and hyphens, starting with a letter",
                    where,
                    format_path(path),
                )
            )
        elif allowed is not None and name not in allowed:
            out.append(
                error(
                    "E111",
                    f"{operator} accepts the types {', '.join(allowed)}; not {name!r}",
                    where,
                    format_path(path),
                )
            )
    if operator in ("pytorch", "xgboost"):
        masters = [n for n in types if n.lower() == "master"]
        workers = [n for n in types if n.lower() == "worker"]
        if len(masters) > 1 or len(workers) > 1:
            out.append(
                error(
                    "E111",
                    f"{operator} takes one Master and one Worker type; found {', '.join(types)}",
                    resolved.location(("spec", "types")),
                    "spec.types",
                )
            )
        for name in masters:
            count = _mapping(types[name]).get("count")
            if _number(count, 1) != 1:
                out.append(
                    error(
                        "E104",
                        f"{operator} runs exactly one master; count is {count}",
                        resolved.location(("spec", "types", name, "count")),
                        f"spec.types.{name}.count",
                    )
                )
    if operator == "batchjob":
        for name, job_type in types.items():
            job_type = _mapping(job_type)
            pods = _number(job_type.get("count"), 1) * _number(job_type.get("completions"), 1)
            if pods > INT32_MAX:
                out.append(
                    error(
                        "E104",
                        f"count x completions is {pods}; a Job holds at most {INT32_MAX} pods",
                        resolved.location(("spec", "types", name)),
                        f"spec.types.{name}",
                    )
                )
    if operator in ("jax", "tf", "batchjob") and len(types) > 1:
        out.append(
            error(
                "E111",
                f"{operator} takes exactly one type; found {', '.join(types)}",
                resolved.location(("spec", "types")),
                "spec.types",
            )
        )
    return out


def _resources(operator, types: dict):
    """(data path of the type, its resources mapping) for every pod shape of the workload."""
    if operator in ("kuberay", "ray"):
        for role in ("Head", "Job"):
            if isinstance(types.get(role), dict):
                yield ("spec", "types", role), _mapping(types[role].get("resources"))
        workers = types.get("Workers")
        for index, group in enumerate(workers if isinstance(workers, list) else []):
            if isinstance(group, dict):
                yield ("spec", "types", "Workers", index), _mapping(group.get("resources"))
        return
    for name, job_type in types.items():
        if isinstance(job_type, dict) and isinstance(job_type.get("resources"), dict):
            yield ("spec", "types", name), job_type["resources"]


# (where the value is, where the warning points, why it has no effect)
_NO_EFFECT = (
    (
        ("engineName",),
        ("engineName",),
        "selects an AIchor compute engine; jobs go to the current kube context",
    ),
    (
        ("spec", "engineName"),
        ("spec", "engineName"),
        "selects an AIchor compute engine; jobs go to the current kube context",
    ),
    (
        ("spec", "tensorboard", "enabled"),
        ("spec", "tensorboard", "enabled"),
        "no TensorBoard server is started; write logs to your own storage",
    ),
    (("spec", "debug", "jupyter"), ("spec", "debug", "jupyter"), "no Jupyter server is started"),
    (
        ("spec", "debug", "vscode", "enabled"),
        ("spec", "debug", "vscode"),
        "no VS Code server is started",
    ),
    (("clone",), ("clone",), "the image already holds the code; nothing is cloned at run time"),
    (
        ("builder", "skipBuild", "enabled"),
        ("builder", "skipBuild"),
        "images are built only by `compile image`; this flag changes nothing",
    ),
)


def _no_effect_warnings(data: dict, resolved: Resolved, engine_selects: bool) -> list[Diagnostic]:
    """Fields real manifests carry that ask for something this product does not do. A switch that
    is off asks for nothing, so only a set value or a switch turned on is worth a warning. Where
    the policies name worker clusters, engineName pins the workload to one (SPEC 2.9)."""
    out = []
    for value_path, shown, why in _NO_EFFECT:
        if engine_selects and value_path[-1] == "engineName":
            continue
        value: object = data
        for segment in value_path:
            value = value.get(segment) if isinstance(value, dict) else None
        if value is not None and value is not False:
            out.append(
                warning(
                    "W101",
                    f"accepted but has no effect: {why}",
                    resolved.location(shown),
                    format_path(shown),
                )
            )
    return out
