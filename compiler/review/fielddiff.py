"""Per-object, per-field differences between two lists of Kubernetes objects, for people.

Paths read like ``spec.replicatedJobs[worker].replicas``: list items that carry a unique ``name``
are addressed by that name (so inserting a replicated job does not renumber every later one),
other list items by index, and keys that are not plain words in brackets
(``metadata.annotations["manifest-compiler/digest"]``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

ADDED, REMOVED, CHANGED, REORDERED = "added", "removed", "changed", "reordered"
UNEXPLAINED = (
    "unexplained"  # deepdiff is not installed: the object differs, which fields is unknown
)

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LONG_VALUE = 160


class ItemName(str):
    """A dict key that stands for the ``name`` of a list item."""


class NamedItems(dict):
    """A list of named items, keyed by name for comparison; ``plain`` turns it back into a list."""


@dataclass(frozen=True)
class FieldChange:
    """One difference: in the object ``obj`` (``Kind/name``), at ``path``."""

    obj: str
    path: str
    kind: str  # ADDED, REMOVED, CHANGED, REORDERED
    old: object = None
    new: object = None

    def describe(self) -> str:
        where = f"{self.obj} {self.path}" if self.path else self.obj
        if self.kind == CHANGED:
            return f"{where}: {show(self.old)} → {show(self.new)}"
        if self.kind == ADDED:
            return f"{where}: added {show(self.new)}" if self.path else f"{where}: new object"
        if self.kind == REMOVED:
            return (
                f"{where}: removed (was {show(self.old)})"
                if self.path
                else f"{where}: object removed"
            )
        if self.kind == REORDERED:
            return f"{where}: order {show(self.old)} → {show(self.new)}"
        return f"{where}: differs (install deepdiff to see which fields)"

    def as_dict(self) -> dict:
        out: dict[str, object] = {"object": self.obj, "path": self.path, "change": self.kind}
        if self.kind in (CHANGED, REMOVED, REORDERED):
            out["old"] = self.old
        if self.kind in (CHANGED, ADDED, REORDERED):
            out["new"] = self.new
        return out


def show(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (dict, list)) and len(text) > _LONG_VALUE:
        return text[: _LONG_VALUE - 1] + "…"
    return text


def object_key(obj) -> tuple:
    if not isinstance(obj, dict):
        return ("?", "", repr(obj))
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return (
        str(obj.get("kind", "?")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name", "")),
    )


def object_label(key: tuple) -> str:
    kind, _namespace, name = key
    return f"{kind}/{name}"


def object_changes(old_objects: list, new_objects: list) -> list[FieldChange]:
    """Every difference between the two object lists, object by object, in output order."""
    old_by_key = _keyed(old_objects)
    new_by_key = _keyed(new_objects)
    changes: list[FieldChange] = []
    for key in _ordered_keys(old_by_key, new_by_key):
        label = object_label(key)
        if key not in new_by_key:
            changes.append(FieldChange(label, "", REMOVED))
        elif key not in old_by_key:
            changes.append(FieldChange(label, "", ADDED))
        else:
            changes.extend(field_changes(label, old_by_key[key], new_by_key[key]))
    return changes


def field_changes(label: str, old, new) -> list[FieldChange]:
    """The differences inside one object (deepdiff finds them; we name them)."""
    try:
        from deepdiff import DeepDiff  # only the review commands need it
    except ImportError:
        return [] if old == new else [FieldChange(label, "", UNEXPLAINED)]
    old_n, new_n = normalize(old), normalize(new)
    found = DeepDiff(old_n, new_n, view="tree", verbose_level=2)
    changes = []
    for report_type, levels in found.items():
        kind = _KINDS.get(report_type)
        if kind is None:
            continue
        for level in levels:
            segments = level.path(output_format="list")
            changes.append(
                FieldChange(
                    label,
                    render_path(segments),
                    kind,
                    None if kind == ADDED else plain(level.t1),
                    None if kind == REMOVED else plain(level.t2),
                )
            )
    changes.extend(_order_changes(label, old_n, new_n, []))
    return sorted(changes, key=lambda c: _path_sort_key(c.path))


_KINDS = {
    "values_changed": CHANGED,
    "type_changes": CHANGED,
    "dictionary_item_added": ADDED,
    "dictionary_item_removed": REMOVED,
    "iterable_item_added": ADDED,
    "iterable_item_removed": REMOVED,
    "attribute_added": ADDED,
    "attribute_removed": REMOVED,
}


def normalize(value):
    """Lists of uniquely named mappings become ``NamedItems`` keyed by ``ItemName``."""
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        if _is_named_list(value):
            return NamedItems((ItemName(item["name"]), normalize(item)) for item in value)
        return [normalize(item) for item in value]
    return value


def plain(value):
    """The inverse of :func:`normalize`, for showing values."""
    if isinstance(value, NamedItems):
        return [plain(item) for item in value.values()]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def render_path(segments) -> str:
    out = ""
    for segment in segments:
        if isinstance(segment, ItemName | int):
            out += f"[{segment}]"
        elif _PLAIN_KEY.match(str(segment)):
            out += f".{segment}" if out else str(segment)
        else:
            out += f"[{json.dumps(str(segment), ensure_ascii=False)}]"
    return out


def _is_named_list(items: list) -> bool:
    if not items or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in items
    ):
        return False
    return len({item["name"] for item in items}) == len(items)


def _order_changes(label: str, old, new, segments: list) -> list[FieldChange]:
    """Named items whose relative order changed (the field diff cannot see order)."""
    changes = []
    if isinstance(old, NamedItems) and isinstance(new, NamedItems):
        common = [name for name in old if name in new]
        reordered = [name for name in new if name in old]
        if common != reordered:
            changes.append(
                FieldChange(
                    label,
                    render_path(segments),
                    REORDERED,
                    [str(n) for n in common],
                    [str(n) for n in reordered],
                )
            )
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key in new:
                changes.extend(_order_changes(label, old[key], new[key], segments + [key]))
    elif isinstance(old, list) and isinstance(new, list):
        for index, (a, b) in enumerate(zip(old, new, strict=False)):
            changes.extend(_order_changes(label, a, b, segments + [index]))
    return changes


def _keyed(objects: list) -> dict:
    keyed: dict = {}
    for obj in objects:
        key = object_key(obj)
        while key in keyed:  # two objects of one kind and name: keep both, distinctly
            key = (key[0], key[1], key[2] + "'")
        keyed[key] = obj
    return keyed


def _ordered_keys(old: dict, new: dict) -> list:
    return list(new) + [key for key in old if key not in new]


def _path_sort_key(path: str) -> list:
    """Natural order: ``[2]`` before ``[10]``."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path)
    ]
