"""What the manifest model says about a logical field path: its kind, its members, its items.

Paths are *logical* (list items by label) and may hold ``"*"`` for one segment. ``spec.types`` is
typed per operator, so its children are the union of every operator's type models. The answers come
from the shapes generated from the models (:mod:`compiler.model.records`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.records import MODELS
from ..resolve.tree import parse_path  # noqa: F401  (re-exported: rule paths are field paths)

SCALAR_KINDS = ("string", "duration", "integer", "number", "bool")

_MANIFEST = ("model", "Manifest")
_TYPE_SHAPES: dict[str, list[tuple]] = {
    "Head": [("model", "RayHead")],
    "Job": [("model", "RaySubmitter")],
    "Workers": [("list", ("model", "RayWorkerGroup"), ())],
}
_ANY_TYPE = [("model", name) for name in ("JobType", "RayHead", "RaySubmitter", "RayWorkerGroup")]
_LEAF_KINDS = {
    "duration": "duration",
    "any": "any",
    "literal": "string",
    "text": "string",
    "str": "string",
    "model": "object",
    "bool": "bool",
    "int": "integer",
    "float": "number",
    "dict": "map",
    "list": "list",
}


@dataclass(frozen=True)
class FieldInfo:
    """What a manifest path may hold."""

    kind: str  # string | duration | integer | number | bool | object | map | list | any
    shapes: tuple  # the shapes the path may hold (several for spec.types.*)


def field_info(path: tuple) -> FieldInfo | tuple[int, list[str]]:
    """The field at ``path``, or (index of the first unknown segment, the names known there)."""
    candidates = [_MANIFEST]
    for depth, segment in enumerate(path):
        children = []
        for shape in candidates:
            children += _child(shape, segment, path[:depth])
        if not children:
            return depth, sorted({name for shape in candidates for name in _known(shape)})
        candidates = children
    return FieldInfo(_kind_of(candidates), tuple(candidates))


def item_members(path: tuple) -> tuple[dict[str, bool], bool] | None:
    """(member -> required, members are known) for the items of the collection at ``path``."""
    info = field_info(path + ("*",))
    if not isinstance(info, FieldInfo):
        return None
    members: dict[str, bool] = {}
    for shape in info.shapes:
        if shape[0] == "model":
            for name, _, default in MODELS[shape[1]].FIELDS:
                members[name] = members.get(name, True) and default[0] == "required"
    return members, bool(members)


def _child(shape: tuple, segment: str, parent: tuple) -> list[tuple]:
    if parent == ("spec", "types"):
        return _ANY_TYPE if segment == "*" else _TYPE_SHAPES.get(segment, [("model", "JobType")])
    kind = shape[0]
    if kind == "any":
        return [shape]
    if kind == "model":
        field = MODELS[shape[1]].SHAPES.get(segment)
        return _alternatives(field) if field is not None else []
    if kind in ("dict", "list"):
        return _alternatives(shape[1])
    return []


def _known(shape: tuple) -> list[str]:
    return list(MODELS[shape[1]].field_names()) if shape[0] == "model" else []


def _alternatives(shape: tuple) -> list[tuple]:
    """The concrete shapes a field may hold: nullable and unions unwrapped."""
    kind = shape[0]
    if kind == "nullable":
        return _alternatives(shape[1])
    if kind in ("tagged", "union"):
        members = shape[2] if kind == "tagged" else shape[1]
        return [alternative for _, member in members for alternative in _alternatives(member)]
    return [shape]


def _kind_of(candidates: list[tuple]) -> str:
    kinds = {_LEAF_KINDS[shape[0]] for shape in candidates}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"integer", "number"}:
        return "number"
    return "any"
