"""Policy diagnostics: the value's place, the rule's, and who set the value."""

from __future__ import annotations

import re

from ...diagnostics import Diagnostic, Related, error
from ...resolve.tree import format_path
from .tree import present


def describe(layer) -> str:
    return "the built-in defaults" if layer.role == "built-in" else layer.name


def violation(code, message, resolved, entry, logical, data_path, shown_path=None) -> Diagnostic:
    setter = resolved.layer_of(data_path) if data_path is not None else None
    related = [Related(entry.policy.label, entry.location)]
    exists = present(resolved.data, logical)
    if setter is not None and exists:
        related.append(Related(f"value set by {describe(setter)}"))
    if setter is not None and exists and setter.role == "base":
        code, message = (
            "E206",
            f"{message}: {setter.name} no longer satisfies the current policy (the policy changed)",
        )
    where = resolved.location(data_path, key=False)
    return error(code, message, where, format_path(shown_path or logical), related)


def deleted_violation(code, message, resolved, entry, logical, origin) -> Diagnostic:
    layer = resolved.layers[origin.layer]
    related = [
        Related(entry.policy.label, entry.location),
        Related(f"deleted by {describe(layer)}"),
    ]
    if layer.role == "base":
        code, message = (
            "E206",
            f"{message}: {layer.name} no longer satisfies the current policy (the policy changed)",
        )
    return error(
        code, message, layer.location(origin.path, key=True), format_path(logical), related
    )


def show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = getattr(value, "text", None)
        if text:
            return text
        return (
            str(int(value))
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e15
            else str(value)
        )
    if isinstance(value, str):
        return value if re.fullmatch(r"[0-9]+(\.[0-9]+)?[wdhms]?", value) else repr(value)
    if isinstance(value, (dict, list)):
        return _flow(value)
    return str(value)


def _flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return show(value)


def rounded(value):
    return int(value) if float(value).is_integer() else round(value, 3)
