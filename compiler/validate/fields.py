"""What the manifest model says about a logical field path: its kind, its members, its items.

Paths are *logical* (list items by label) and may hold ``"*"`` for one segment. ``spec.types`` is
typed per operator, so its children are the union of every operator's type models.
"""

from __future__ import annotations

import types as pytypes
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from ..model.manifest import JobType, Manifest, RayHead, RaySubmitter, RayWorkerGroup
from ..model.text import DurationText
from ..resolve.tree import parse_path  # noqa: F401  (re-exported: rule paths are field paths)

SCALAR_KINDS = ("string", "duration", "integer", "number", "bool")


@dataclass(frozen=True)
class FieldInfo:
    kind: str  # string | duration | integer | number | bool | object | map | list | any
    annotations: tuple  # the model types the path may hold (several for spec.types.*)


def field_info(path: tuple) -> FieldInfo | tuple[int, list[str]]:
    """The field at ``path``, or (index of the first unknown segment, the names known there)."""
    candidates = [Manifest]
    for depth, segment in enumerate(path):
        children = []
        for annotation in candidates:
            children += _child(annotation, segment, path[:depth])
        if not children:
            return depth, sorted({name for a in candidates for name in _known(a)})
        candidates = children
    return FieldInfo(_kind_of(candidates), tuple(candidates))


def item_members(path: tuple) -> tuple[dict[str, bool], bool] | None:
    """(member -> required, members are known) for the items of the collection at ``path``."""
    info = field_info(path + ("*",))
    if not isinstance(info, FieldInfo):
        return None
    members: dict[str, bool] = {}
    for annotation in info.annotations:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, field in annotation.model_fields.items():
                members[name] = members.get(name, True) and field.is_required()
    return members, bool(members)


def _child(annotation, segment: str, parent: tuple) -> list:
    if parent == ("spec", "types"):
        return _type_models(segment)
    if annotation is Any:
        return [Any]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(segment)
        return _alternatives(field.annotation) if field is not None else []
    origin = get_origin(annotation)
    if origin in (dict, list):
        return _alternatives(get_args(annotation)[-1])
    return []


def _type_models(segment: str) -> list[Any]:
    named: dict[str, list[Any]] = {
        "Head": [RayHead],
        "Job": [RaySubmitter],
        "Workers": [list[RayWorkerGroup]],
    }
    if segment == "*":
        return [JobType, RayHead, RaySubmitter, RayWorkerGroup]
    return named.get(segment, [JobType])


def _known(annotation) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _alternatives(annotation) -> list:
    """The concrete types a field may hold: Optional, unions and Annotated unwrapped."""
    if annotation == DurationText:
        return [DurationText]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin in (Union, pytypes.UnionType):
        out = []
        for arg in get_args(annotation):
            if arg is not type(None):
                out += _alternatives(arg)
        return out
    return [annotation]


def _kind_of(candidates: list) -> str:
    kinds = {_leaf_kind(a) for a in candidates}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"integer", "number"}:
        return "number"
    return "any"


def _leaf_kind(annotation) -> str:
    if annotation == DurationText:
        return "duration"
    if annotation is Any:
        return "any"
    if get_origin(annotation) is Literal:
        return "string"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "object"
        for kind, python_type in (
            ("bool", bool),
            ("integer", int),
            ("number", float),
            ("string", str),
        ):
            if issubclass(annotation, python_type):
                return kind
    origin = get_origin(annotation)
    if origin is dict:
        return "map"
    if origin is list:
        return "list"
    return "any"
