"""An itemized item given by a higher layer replaces the lower one whole (SPEC 3.2): every required
member must be given again, nothing is borrowed from the item it replaces (E204)."""

from __future__ import annotations

from ..diagnostics import Diagnostic, Related, error
from ..resolve import Resolved
from ..resolve.tree import format_path
from .fields import item_members
from .policy import MISSING, describe


def check_overrides(resolved: Resolved) -> list[Diagnostic]:
    out = []
    for logical, new_origin, old_origin in resolved.events.replacements:
        item = _at(resolved.layers[new_origin.layer].data, new_origin.path)
        members = item_members(logical[:-1])
        if not isinstance(item, dict) or members is None:
            continue
        missing = [name for name, required in members[0].items() if required and name not in item]
        if missing:
            out.append(_incomplete(resolved, logical, new_origin, old_origin, missing))
    return out


def _at(data, data_path):
    for step in data_path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return data


def _incomplete(resolved, logical, new_origin, old_origin, missing) -> Diagnostic:
    new_layer, old_layer = resolved.layers[new_origin.layer], resolved.layers[old_origin.layer]
    names = ", ".join(repr(m) for m in missing)
    message = (
        f"{describe(new_layer)} overrides item {logical[-1]!r} of {describe(old_layer)} but leaves out {names}; "
        "an item is replaced whole, so give every member (nothing is borrowed from the item it replaces)"
    )
    related = [
        Related(f"the item of {describe(old_layer)}", old_layer.location(old_origin.path, key=True))
    ]
    return error(
        "E204",
        message,
        new_layer.location(new_origin.path, key=True),
        format_path(logical),
        related,
    )


def covered_by(diagnostic: Diagnostic, overrides: list[Diagnostic]) -> bool:
    """A 'required member missing' (E103) inside an item E204 already names."""
    return diagnostic.code == "E103" and any(
        diagnostic.path == o.path or diagnostic.path.startswith(o.path + ".") for o in overrides
    )
