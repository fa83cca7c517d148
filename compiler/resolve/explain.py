"""``compile explain``: the resolved manifest with the source of every value and item (SPEC 3.3).

Pure: a :class:`Resolved` in, text or plain data out. Each line of the text form is the YAML of the
resolved manifest with ``# <layer> <file:line:col>`` beside it, like Run:ai's "values set", per field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from . import Resolved
from .itemized import kind_of
from .tree import format_path

COMMENT_COLUMN_MAX = 56
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./:@+=-]*( [A-Za-z0-9_./:@+=-]+)*$")
_LOOKS_TYPED = re.compile(
    r"^(true|false|True|False|TRUE|FALSE|null|Null|NULL|~|[-+]?[0-9].*|\.inf|\.nan)$"
)


@dataclass(frozen=True)
class Entry:
    """One value or item of the resolved manifest and where it came from."""

    logical: tuple
    data_path: tuple
    value: object
    layer: int
    role: str
    source: str  # the layer's name
    location: str | None  # file:line:col, None for the built-in defaults


def entries(resolved: Resolved, root: tuple = ()) -> list[Entry]:
    """Every node under the data path ``root``, depth first, in the manifest's order."""
    out: list[Entry] = []
    start = _at(resolved.data, root)
    _walk(resolved, start, root, resolved.logical(root), out)
    return out


def find(resolved: Resolved, logical: tuple) -> tuple | None:
    """The data path of the logical path ``logical`` (list items by label), or None."""
    data_path: tuple = ()
    value = resolved.data
    for depth, segment in enumerate(logical):
        step = _child_key(value, logical[:depth], segment)
        if step is None:
            return None
        data_path += (step,)
        value = value[step]
    return data_path


def deletions(resolved: Resolved, under: tuple = ()) -> list[dict]:
    """Items that a layer deleted (and that stay deleted), with who deleted them."""
    out = []
    for logical, origin in resolved.events.deletions:
        if logical[: len(under)] != under or find(resolved, logical) is not None:
            continue
        layer = resolved.layers[origin.layer]
        out.append(
            {
                "path": format_path(logical),
                "layer": layer.name,
                "role": layer.role,
                "location": str(layer.location(origin.path, key=True)),
            }
        )
    return out


def _walk(resolved, value, data_path, logical, out, top=True):
    if not top:
        out.append(_entry(resolved, value, data_path, logical))
    if isinstance(value, dict):
        for key, child in value.items():
            _walk(resolved, child, data_path + (key,), logical + (str(key),), out, False)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _walk(
                resolved,
                child,
                data_path + (index,),
                logical + (_label(child, logical, index),),
                out,
                False,
            )


def _entry(resolved, value, data_path, logical) -> Entry:
    origin = resolved.origin(data_path)
    layer = resolved.layers[origin.layer] if origin else resolved.layers[-1]
    key = isinstance(value, (dict, list))  # a mapping or list: point at the key that introduces it
    location = (
        None
        if layer.role == "built-in"
        else str(layer.location(origin.path if origin else (), key))
    )
    return Entry(
        logical,
        data_path,
        value,
        origin.layer if origin else len(resolved.layers) - 1,
        layer.role,
        layer.name,
        location,
    )


def _label(item, logical, index):
    kind = kind_of(logical)
    if kind and kind[1] and isinstance(item, dict) and item.get(kind[1]) is not None:
        return str(item[kind[1]])
    return index


def _child_key(value, logical, segment):
    if isinstance(value, dict):
        for key in value:
            if str(key) == segment:
                return key
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if str(_label(item, logical, index)) == segment:
                return index
    return None


def _at(data, data_path):
    for step in data_path:
        data = data[step]
    return data


# ---------------------------------------------------------------------------------------------
# text


def explain_text(resolved: Resolved, title: str, root: tuple = ()) -> str:
    lines = [f"# {title}", "# layers, lowest first:"]
    for index, layer in enumerate(resolved.layers):
        where = "" if layer.role == "built-in" else f"  {layer.location(()).file}"
        lines.append(f"#   {index} {layer.name}{where}")
    rows = _rows(resolved, root)
    width = min(max((len(text) for text, _ in rows), default=0) + 2, COMMENT_COLUMN_MAX)
    lines += [f"{text.ljust(width)}# {source}" if source else text for text, source in rows]
    gone = deletions(resolved, resolved.logical(root))
    if gone:
        lines.append("# deleted:")
        lines += [f"#   {d['path']}  by {d['layer']} at {d['location']}" for d in gone]
    return "\n".join(lines) + "\n"


def _rows(resolved, root) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if root:
        value = _at(resolved.data, root)
        entry = _entry(resolved, value, root, resolved.logical(root))
        head = format_path(resolved.logical(root))
        rows.append(
            (
                f"{head}: {scalar(value)}" if _is_scalar(value) else f"{head}:{_empty(value)}",
                _source(entry),
            )
        )
    top = len(root) + (0 if root else 1)  # nesting level 0 is the first line under ``root``
    for entry in entries(resolved, root):
        rows.append(_row(resolved, entry, len(entry.data_path) - top))
    return rows


def _row(resolved, entry: Entry, level: int) -> tuple[str, str]:
    parent = _at(resolved.data, entry.data_path[:-1])
    # YAML's compact lists: an item's dash stands at its list's indentation, its members 2 further
    indent = "  " * (level - _list_ancestors(resolved.data, entry.data_path))
    if isinstance(parent, list):
        text = (
            f"{indent}- {scalar(entry.value)}"
            if _is_scalar(entry.value)
            else f"{indent}-{_empty(entry.value)}"
        )
        return text, _source(entry)
    key = entry.data_path[-1]
    shown_key = key if isinstance(key, str) and _PLAIN.match(key) else scalar(key)
    if _is_scalar(entry.value):
        return f"{indent}{shown_key}: {scalar(entry.value)}", _source(entry)
    return f"{indent}{shown_key}:{_empty(entry.value)}", _source(entry)


def _list_ancestors(data, data_path) -> int:
    count = 0
    for step in data_path[:-1]:
        data = data[step]
        count += isinstance(data, list)
    return count


def _empty(value) -> str:
    return " {}" if value == {} else " []" if value == [] else ""


def _source(entry: Entry) -> str:
    return entry.source if entry.location is None else f"{entry.source}  {entry.location}"


def _is_scalar(value) -> bool:
    return not isinstance(value, (dict, list))


def scalar(value) -> str:
    """A YAML flow scalar: plain when that reads back as the same string, else double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return getattr(value, "text", None) or json.dumps(value)
    text = str(value)
    if (
        _PLAIN.match(text)
        and not _LOOKS_TYPED.match(text)
        and ": " not in text
        and not text.endswith(":")
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# json


def explain_data(resolved: Resolved, title: str, root: tuple = ()) -> dict:
    values = []
    for entry in (
        [_entry(resolved, _at(resolved.data, root), root, resolved.logical(root))] if root else []
    ) + entries(resolved, root):
        item: dict[str, object] = {
            "path": format_path(entry.logical),
            "layer": entry.source,
            "role": entry.role,
            "location": entry.location,
        }
        if _is_scalar(entry.value):
            item["value"] = entry.value
        values.append(item)
    return {
        "workload": title,
        "layers": [
            {
                "index": i,
                "role": layer.role,
                "name": layer.name,
                "file": None if layer.role == "built-in" else layer.location(()).file,
            }
            for i, layer in enumerate(resolved.layers)
        ],
        "values": values,
        "deleted": deletions(resolved, resolved.logical(root)),
    }
