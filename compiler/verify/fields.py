"""Server-side apply's record of who owns what: ``metadata.managedFields[].fieldsV1``.

A fieldsV1 tree is a mapping whose keys name a child of the node they sit in:

- ``f:NAME``: the field NAME of a mapping;
- ``k:{"name":"worker"}``: the item of an associative list whose key fields have these values;
- ``v:VALUE``: the item of a set (a list of scalars) with this JSON value;
- ``i:N``: the item at index N of a list of another kind;
- ``.``: the node itself (a mapping or list item that is owned as a whole, besides its children).

A leaf (``{}``) is a field owned whole: a scalar, an atomic list or an atomic map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# One step of a path: ("f", "spec"), ("k", (("name", "worker"),)), ("v", 3), ("i", 0)
Step = tuple


@dataclass(frozen=True)
class Owner:
    manager: str
    operation: str  # Apply | Update
    subresource: str  # "" or "status", "scale"
    leaves: frozenset  # paths (tuples of steps) owned whole
    keys: dict  # path of a list -> the key field names its items are addressed by ("k:")


class BadFields(ValueError):
    pass


def parse_step(key: str) -> Step:
    """A fieldsV1 key as a step; BadFields for a key of no known form."""
    prefix, _, rest = key.partition(":")
    try:
        if prefix == "f" and _:
            return ("f", rest)
        if prefix == "k" and _:
            item = json.loads(rest)
            if not isinstance(item, dict):
                raise BadFields(f"k: key is not a JSON object: {key!r}")
            return ("k", tuple(sorted((str(k), _frozen(v)) for k, v in item.items())))
        if prefix == "v" and _:
            return ("v", _frozen(json.loads(rest)))
        if prefix == "i" and _:
            return ("i", int(rest))
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadFields(f"unreadable fieldsV1 key {key!r}: {exc}") from exc
    raise BadFields(f"unknown fieldsV1 key {key!r}")


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def owned_leaves(tree: dict, prefix: tuple = ()) -> tuple[set, dict]:
    """(the paths owned whole, list path -> key field names) of one fieldsV1 tree."""
    if not isinstance(tree, dict):
        raise BadFields(f"fieldsV1 node at {prefix} is not a mapping")
    leaves: set = set()
    keys: dict = {}
    children = {name: child for name, child in tree.items() if name != "."}
    if not children:
        leaves.add(prefix)
        return leaves, keys
    for name, child in children.items():
        step = parse_step(name)
        if step[0] == "k":
            keys[prefix] = tuple(field for field, _ in step[1])
        child_leaves, child_keys = owned_leaves(child, (*prefix, step))
        leaves |= child_leaves
        keys.update(child_keys)
    return leaves, keys


def owners(obj: dict) -> list[Owner]:
    """Every entry of the object's managedFields, parsed; BadFields when one is malformed."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    parsed = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        leaves, keys = owned_leaves(entry.get("fieldsV1") or {})
        parsed.append(
            Owner(
                str(entry.get("manager", "")),
                str(entry.get("operation", "")),
                str(entry.get("subresource", "")),
                frozenset(leaves),
                keys,
            )
        )
    return parsed


def render(path: tuple) -> str:
    """A path for people: ``spec.replicatedJobs[name=worker].replicas``."""
    text = ""
    for kind, value in path:
        if kind == "f" and _plain(value):
            text += ("." if text else "") + value
        elif kind == "f":
            text += f'["{value}"]'
        elif kind == "k":
            text += "[" + ",".join(f"{k}={_show(v)}" for k, v in value) + "]"
        elif kind == "v":
            text += f"[{json.dumps(value)}]"
        else:
            text += f"[{value}]"
    return text


def _plain(name: str) -> bool:
    return name.replace("_", "a").replace("-", "a").isalnum() and not name[:1].isdigit()


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
