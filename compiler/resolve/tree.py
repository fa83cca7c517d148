"""Annotated trees: plain data where every value remembers which layer set it, and where.

Layers are merged as annotated trees; the result is split back into plain data (for the models
and emitters) and a provenance map (for diagnostics and ``compile explain``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..diagnostics import Location
from ..parse import Positions
from ..tuples import NamedTuple
from .itemized import kind_of


@dataclass(frozen=True)
class Layer:
    """One input to the merge, lowest first: built-in, policies, base workload, workload, --set."""

    role: str  # built-in | global-policy | project-policy | base | workload | set
    name: str  # human name: "built-in defaults", "policy team-a-limits", "template team-a", ...
    data: object
    positions: Positions | None = None
    base_path: tuple = ()  # where ``data`` sits inside its document (policy defaults: spec.defaults)

    def location(self, path: tuple, key: bool = False) -> Location:
        if self.positions is None:
            return Location(f"<{self.name}>", 1, 1)
        return self.positions.nearest(self.base_path + tuple(path), prefer_key=key)

    def describe(self) -> str:
        return self.name


class Origin(NamedTuple):  # a tuple: made for every value of every layer, so made cheaply
    layer: int  # index into the layer list
    path: tuple  # data path within that layer (indices for lists)


class Node:
    """A value with its origin; containers hold Nodes."""

    __slots__ = ("origin", "value")

    def __init__(self, value, origin: Origin):
        self.value = value
        self.origin = origin

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Node({self.value!r} @ {self.origin})"


_new_tuple = tuple.__new__  # Origin(layer, path) without the namedtuple's Python-level __new__


def annotate(data, layer: int, path: tuple = ()) -> Node:
    origin = _new_tuple(Origin, (layer, path))
    if isinstance(data, dict):
        return Node({k: annotate(v, layer, path + (k,)) for k, v in data.items()}, origin)
    if isinstance(data, list):
        return Node([annotate(v, layer, path + (i,)) for i, v in enumerate(data)], origin)
    return Node(data, origin)


def strip(node: Node, path: tuple = (), origins: dict | None = None, logical: tuple = ()):
    """Plain data plus two maps: data path -> Origin, and data path -> logical path."""
    if origins is None:
        origins = {}
    return _stripped(node, path, origins), origins


def _stripped(node: Node, path: tuple, origins: dict):
    origins[path] = node.origin
    value = node.value
    if isinstance(value, dict):
        return {k: _stripped(v, path + (k,), origins) for k, v in value.items()}
    if isinstance(value, list):
        return [_stripped(v, path + (i,), origins) for i, v in enumerate(value)]
    return value


def logical_path(data, path: tuple) -> tuple:
    """Replace list indices inside itemized lists by item labels (``Workers.0`` -> ``Workers.gpu``)."""
    out: list = []
    current = data
    for segment in path:
        kind = kind_of(tuple(out)) if isinstance(segment, int) else None
        if kind and kind[1] and isinstance(current, list) and 0 <= segment < len(current):
            item = current[segment]
            label = item.get(kind[1]) if isinstance(item, dict) else None
            out.append(str(label) if label is not None else segment)
        else:
            out.append(segment)
        try:
            current = current[segment]
        except (KeyError, IndexError, TypeError):
            current = None
    return tuple(out)


def format_path(path) -> str:
    """``spec.types.worker.resources.cpus``; indices as ``[0]``; keys with dots in brackets."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif "." in segment or "[" in segment or not segment:
            text += f'["{segment}"]'
        else:
            text += ("." if text else "") + segment
    return text


_SEGMENT = re.compile(r'\["([^"]*)"\]|\[\'([^\']*)\'\]|([^.\[\]]+)')


def parse_path(text: str) -> tuple[str, ...]:
    """``spec.labels["app.kubernetes.io/team"]`` -> ("spec", "labels", "app.kubernetes.io/team")."""
    segments, pos = [], 0
    while pos < len(text):
        if text[pos] == "." and pos > 0:
            pos += 1
        match = _SEGMENT.match(text, pos)
        if not match:
            raise ValueError(f"cannot read the path {text!r} at {text[pos:]!r}")
        segments.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    if not segments:
        raise ValueError("the path is empty")
    return tuple(segments)
