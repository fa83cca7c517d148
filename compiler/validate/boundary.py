"""What a manifest may not say, whatever the policy: the edges of the administrator's boundary.

- ``deleted: true`` only on an item of an itemized collection (E209);
- one spelling per output value: the Kueue queue and priority labels come from ``spec.queue`` and
  ``spec.priority``, the accelerator node labels from ``accelerators``, Multus networks from
  ``resources.rdma`` (E210);
- labels and annotations the compiler owns (E211);
- queue and priority are label values (E212);
- memory that the emitted quantity would round to zero (E213; CPU below 1m is E304);
- project and namespace are DNS-1123 labels (E214): they become URL path segments and names;
- one label per item of an itemized list (E342);
- ``rayStartParams`` free of shell syntax (E343): KubeRay pastes them into a shell line.

Pure: reads the merged data (any shape; a wrong type is left to the structural checks).
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic, Location, Related, error
from ..emit import quantity
from ..resolve import Resolved, format_path

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
SECOND_SPELLINGS = {
    ("labels", QUEUE_LABEL): "spec.queue",
    ("labels", PRIORITY_LABEL): "spec.priority",
    ("extraSelectors", "nvidia.com/gpu.product"): "accelerators.gpu.product",
    ("extraSelectors", "cloud.google.com/gke-tpu-accelerator"): "accelerators.tpu.type",
    ("extraSelectors", "cloud.google.com/gke-tpu-topology"): "accelerators.tpu.topology",
    # Multus attaches networks a pod's annotations name: only resources.rdma, which the policies'
    # spec.cluster.rdma describes, may (the default network would move the pod off the cluster's)
    ("annotations", "k8s.v1.cni.cncf.io/networks"): "resources.rdma.devices",
    ("annotations", "v1.multus-cni.io/default-network"): "resources.rdma.devices",
}
RESERVED_KEYS = ("app.kubernetes.io/managed-by",)
RESERVED_PREFIXES = ("manifest-compiler/",)
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_LABEL = 63


def check_boundary(resolved: Resolved, gpu_product_label: str | None = None) -> list[Diagnostic]:
    """``gpu_product_label``: the cluster's node label naming a GPU product (SPEC 2.6), which
    ``extraSelectors`` may not set either."""
    spec = resolved.data.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    return (
        _misplaced_deletions(resolved)
        + _metadata_keys(resolved, spec)
        + _selector_keys(resolved, spec, gpu_product_label)
        + _queue_and_priority(resolved, spec)
        + _quantities(resolved, spec)
        + _duplicate_labels(resolved, spec)
        + _ray_start_params(resolved, spec)
    )


def reserved(key: str) -> bool:
    return key in RESERVED_KEYS or key.startswith(RESERVED_PREFIXES)


def is_dns1123_label(text) -> bool:
    return isinstance(text, str) and len(text) <= MAX_LABEL and bool(DNS1123_LABEL.match(text))


def check_names(project, namespace, resolved: Resolved) -> list[Diagnostic]:
    """E214: the project and the namespace become object names and API path segments."""
    out = []
    for what, value, path in (("project", project, ("project",)), ("namespace", namespace, None)):
        if value is None or is_dns1123_label(value):
            continue
        where = (
            resolved.location(path)
            if path and isinstance(resolved.data.get("project"), str)
            else Location(f"<{what}>", 1, 1)
        )
        message = (
            f"{what} {value!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {MAX_LABEL} characters)"
        )
        out.append(error("E214", message, where, what))
    return out


def _misplaced_deletions(resolved: Resolved) -> list[Diagnostic]:
    out = []
    for path, origin in resolved.events.misplaced:
        layer = resolved.layers[origin.layer]
        message = (
            "'deleted: true' removes an item of an itemized collection (env, secrets, ports, labels, "
            "annotations, attachExistingPVCs, extraSelectors, extraTolerations, types); "
            f"{format_path(path)} is not one: set it to the value you want instead"
        )
        out.append(error("E209", message, layer.location(origin.path, key=True), format_path(path)))
    return out


def _metadata_keys(resolved: Resolved, spec: dict) -> list[Diagnostic]:
    out = []
    for collection in ("labels", "annotations"):
        items = spec.get(collection)
        for key in items if isinstance(items, dict) else ():
            path = ("spec", collection, key)
            where = resolved.location(path, key=True)
            if (collection, key) in SECOND_SPELLINGS:
                field = SECOND_SPELLINGS[(collection, key)]
                message = f"{key} is written by {field}; set {field} instead (one value, one field)"
                out.append(error("E210", message, where, format_path(path)))
            elif reserved(str(key)):
                message = (
                    f"{key} is set by the compiler (it identifies what it made); a manifest may "
                    "not set it"
                )
                out.append(error("E211", message, where, format_path(path)))
    return out


def _selector_keys(resolved: Resolved, spec: dict, gpu_product_label: str | None) -> list:
    spellings = dict(SECOND_SPELLINGS)
    if gpu_product_label:
        spellings[("extraSelectors", gpu_product_label)] = "accelerators.gpu.product"
    out = []
    for type_path, resources in _resources(spec):
        selectors = resources.get("extraSelectors")
        for key in selectors if isinstance(selectors, dict) else ():
            field = spellings.get(("extraSelectors", key))
            if field is None:
                continue
            path = type_path + ("resources", "extraSelectors", key)
            message = f"the node label {key} is written by {field}; set {field} instead"
            out.append(
                error(
                    "E210",
                    message,
                    resolved.location(path, key=True),
                    format_path(resolved.logical(path)),
                )
            )
    return out


def _queue_and_priority(resolved: Resolved, spec: dict) -> list[Diagnostic]:
    out = []
    for field in ("queue", "priority"):
        value = spec.get(field)
        if not isinstance(value, str):
            continue
        if len(value) <= MAX_LABEL and LABEL_VALUE.match(value):
            continue
        message = (
            f"{value!r} is not a label value (1 to {MAX_LABEL} letters, digits, '-', '_' or '.', "
            f"starting and ending with a letter or digit); spec.{field} becomes a Kueue label"
        )
        out.append(error("E212", message, resolved.location(("spec", field)), f"spec.{field}"))
    return out


def _number(value, default):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value


def _quantities(resolved: Resolved, spec: dict) -> list[Diagnostic]:
    """Positive memory the emitted quantity would round to 0 (1 byte is the smallest a Kubernetes
    quantity states): no request and no limit at all. CPU below 1m is E304 (targets)."""
    out = []
    for type_path, resources in _resources(spec):
        cpus = _number(resources.get("cpus"), 1)
        memory_field = "memory" if "memory" in resources else "ramRatio"
        memory = (
            _number(resources.get("memory"), None)
            if memory_field == "memory"
            else (
                cpus * resources["ramRatio"]
                if _number(resources.get("ramRatio"), None) is not None
                else None
            )
        )
        shm = _number(resources.get("shmSizeGB"), 0)
        checks = (
            (
                memory_field,
                memory,
                memory is not None and 0 < memory < 1 and quantity.memory_bytes(memory) < 1,
                "1 byte",
            ),
            ("shmSizeGB", shm, 0 < shm < 1 and quantity.memory_bytes(shm) < 1, "1 byte"),
        )
        for field, value, too_small, smallest in checks:
            if not too_small:
                continue
            path = type_path + ("resources", field)
            message = (
                f"{value} is below {smallest}, the smallest amount Kubernetes states; it would "
                "become 0 (no request and no limit)"
            )
            out.append(
                error(
                    "E213",
                    message,
                    resolved.location(path),
                    format_path(resolved.logical(path)),
                )
            )
    return out


def _duplicate_labels(resolved: Resolved, spec: dict) -> list[Diagnostic]:
    """E342: two items of one itemized list with one label (two Workers groups ``g``, two
    tolerations of one key): a rule or an override addresses an item by its label, so one of
    them would go unchecked or unchanged."""
    lists = [(("spec", "storage", "attachExistingPVCs"), "name")]
    types = spec.get("types")
    if isinstance(types, dict) and isinstance(types.get("Workers"), list):
        lists.append((("spec", "types", "Workers"), "name"))
    lists += [
        (type_path + ("resources", "extraTolerations"), "key") for type_path, _ in _resources(spec)
    ]
    out = []
    for path, member in lists:
        items = _at(resolved.data, path)
        seen: set = set()
        for index, item in enumerate(items if isinstance(items, list) else ()):
            label = item.get(member) if isinstance(item, dict) else None
            if label is None or not isinstance(label, (str, int)):
                continue
            if label in seen:
                message = (
                    f"two items have {member} {label!r}; items of this list are told apart by "
                    f"{member} (rules and overrides address them by it): give each its own"
                )
                where = resolved.location(path + (index, member))
                out.append(error("E342", message, where, format_path(resolved.logical(path))))
            seen.add(label)
    return out


# KubeRay writes each rayStartParams entry as ` --KEY=VALUE` into the `ray start` line a shell
# runs (pod.go, convertParamMap): a character the shell reads as syntax would run a command
SHELL_SYNTAX = frozenset(";&|$`<>()'!#~*?\n\r\t\0")
RAY_PARAM_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _ray_start_params(resolved: Resolved, spec: dict) -> list[Diagnostic]:
    """E343: a ``rayStartParams`` key or value the shell would read as more than a word."""
    types = spec.get("types")
    if spec.get("operator") not in ("kuberay", "ray") or not isinstance(types, dict):
        return []
    groups = [("spec", "types", "Head")] + [
        ("spec", "types", "Workers", index)
        for index in range(len(types["Workers"]) if isinstance(types.get("Workers"), list) else 0)
    ]
    out = []
    for group in groups:
        params = _at(resolved.data, group + ("rayStartParams",))
        for key, value in params.items() if isinstance(params, dict) else ():
            path = group + ("rayStartParams", key)
            text = value if isinstance(value, str) else ""
            bad = sorted({c for c in text if c in SHELL_SYNTAX})
            if RAY_PARAM_KEY.match(str(key)) and not bad:
                continue
            what = f"key {key!r}" if not RAY_PARAM_KEY.match(str(key)) else f"value {value!r}"
            shown = " ".join(repr(c) for c in bad) or "not a parameter name"
            message = (
                f"rayStartParams {what} ({shown}): KubeRay pastes each parameter into the shell "
                "line that runs `ray start`, where it would be read as shell syntax"
            )
            where = resolved.location(path, key=not bad)
            out.append(error("E343", message, where, format_path(resolved.logical(path))))
    return out


def _at(data, path: tuple):
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _resources(spec: dict):
    """(data path of a type, its resources mapping) for every pod shape, whatever the operator."""
    types = spec.get("types")
    if not isinstance(types, dict):
        return
    for name, job_type in types.items():
        if name == "Workers" and isinstance(job_type, list):
            for index, group in enumerate(job_type):
                if isinstance(group, dict) and isinstance(group.get("resources"), dict):
                    yield ("spec", "types", "Workers", index), group["resources"]
        elif isinstance(job_type, dict) and isinstance(job_type.get("resources"), dict):
            yield ("spec", "types", name), job_type["resources"]


def duplicate_names(units) -> list[tuple[int, Diagnostic]]:
    """(index of the unit, E215) for every workload whose output name (and namespace) an earlier
    one already has: the second would overwrite the first on the cluster."""
    first: dict = {}
    out = []
    for index, unit in enumerate(units):
        workload = getattr(unit, "workload", None)
        if workload is None:
            continue
        key = (workload.namespace, workload.name)
        if key not in first:
            first[key] = unit
            continue
        where = _name_location(unit.document)
        scope = f" in namespace {workload.namespace}" if workload.namespace else ""
        message = (
            f"two workloads are named {workload.name!r}{scope}; each needs its own name "
            "(set name:, or compile them one at a time with --name)"
        )
        related = [Related("the first one", _name_location(first[key].document))]
        out.append((index, error("E215", message, where, "name", related)))
    return out


def reject_duplicate_names(units: list) -> list:
    """``units``, where each workload named like an earlier one carries E215 and emits nothing."""
    for index, problem in duplicate_names(units):
        units[index].diagnostics.append(problem)
        units[index].objects = []
    return units


def _name_location(document) -> Location:
    data = document.data if isinstance(document.data, dict) else {}
    if "name" in data:
        return document.positions.nearest(("name",))
    return Location(document.file, 1, 1)
