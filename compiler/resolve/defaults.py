"""Layer 0, the compiler's built-in defaults, and the ``"*"`` (every type) expansion."""

from __future__ import annotations

from .tree import Node, Origin

RAY_OPERATORS = ("kuberay", "ray")

_RESOURCES = {"cpus": 1, "cpuLimitRatio": 2, "shmSizeGB": 0}


def builtin_defaults(operator: str | None) -> dict:
    """Built-in defaults as a manifest fragment (``"*"`` stands for every type)."""
    star: dict[str, object]
    if operator in RAY_OPERATORS:
        star = {"resources": dict(_RESOURCES)}
    else:
        star = {"count": 1, "completions": 1, "parallelisms": 1, "resources": dict(_RESOURCES)}
    return {"spec": {"types": {"*": star}}}


def type_names(data: dict, operator: str | None) -> tuple[list[str], list[str]]:
    """(names of map-style types, names of Workers groups) present in merged data."""
    spec = data.get("spec") if isinstance(data, dict) else None
    types = spec.get("types") if isinstance(spec, dict) else None
    if not isinstance(types, dict):
        return [], []
    if operator in RAY_OPERATORS:
        keys = [k for k in types if k != "Workers" and k != "*"]
        workers = types.get("Workers")
        groups = (
            [str(w["name"]) for w in workers if isinstance(w, dict) and "name" in w]
            if isinstance(workers, list)
            else []
        )
        return keys, groups
    return [k for k in types if k != "*"], []


def expand_star(root: Node, names: list[str], groups: list[str]) -> Node:
    """Replace ``spec.types["*"]`` in one layer by a copy for each type, under that layer's own entries.

    The copies keep the origin of the ``"*"`` entry, so a diagnostic points at the line that set it.
    """
    spec = root.value.get("spec") if isinstance(root.value, dict) else None
    types = spec.value.get("types") if spec is not None and isinstance(spec.value, dict) else None
    if types is None or not isinstance(types.value, dict) or "*" not in types.value:
        return root
    assert spec is not None  # types was found inside it
    star = types.value["*"]
    expanded: dict = {}
    for name in names:
        own = types.value.get(name)
        expanded[name] = _overlay(star, own) if own is not None else star
    for key, value in types.value.items():
        if key != "*" and key not in expanded and key != "Workers":
            expanded[key] = value
    if groups or "Workers" in types.value:
        own_groups = {}
        workers = types.value.get("Workers")
        if workers is not None and isinstance(workers.value, list):
            for item in workers.value:
                label = item.value.get("name") if isinstance(item.value, dict) else None
                own_groups[str(label.value) if label is not None else id(item)] = item
        items = []
        for group in groups:
            name_node = Node(group, star.origin)
            base = (
                Node({"name": name_node, **star.value}, star.origin)
                if isinstance(star.value, dict)
                else star
            )
            items.append(_overlay(base, own_groups.pop(group)) if group in own_groups else base)
        items.extend(own_groups.values())
        expanded["Workers"] = Node(items, workers.origin if workers is not None else star.origin)
    new_types = Node(expanded, types.origin)
    new_spec = Node({**spec.value, "types": new_types}, spec.origin)
    return Node({**root.value, "spec": new_spec}, root.origin)


def _overlay(lower: Node, upper: Node) -> Node:
    """Within one layer, an explicit type entry wins over the ``"*"`` entry, key by key."""
    if isinstance(lower.value, dict) and isinstance(upper.value, dict):
        merged = dict(lower.value)
        for key, value in upper.value.items():
            merged[key] = _overlay(lower.value[key], value) if key in lower.value else value
        return Node(merged, upper.origin)
    return upper


def strip_star(root: Node) -> Node:
    spec = root.value.get("spec") if isinstance(root.value, dict) else None
    types = spec.value.get("types") if spec is not None and isinstance(spec.value, dict) else None
    if types is None or not isinstance(types.value, dict) or "*" not in types.value:
        return root
    assert spec is not None  # types was found inside it
    new_types = Node({k: v for k, v in types.value.items() if k != "*"}, types.origin)
    return Node(
        {**root.value, "spec": Node({**spec.value, "types": new_types}, spec.origin)}, root.origin
    )


BUILTIN_ORIGIN = Origin(0, ())
