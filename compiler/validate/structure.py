"""Structure and types: the merged manifest against the pydantic models, as positioned diagnostics."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..diagnostics import Diagnostic, error
from ..model.manifest import SUPPORTED_OPERATORS, TYPES_MODEL, Manifest
from ..model.text import number_as_text
from ..resolve import Resolved, format_path

_ADAPTERS: dict[str, TypeAdapter] = {}

_UNION_TAGS = {"value", "secretRef", "function-after", "function-before"}


def adapter(operator: str) -> TypeAdapter:
    if operator not in _ADAPTERS:
        _ADAPTERS[operator] = TypeAdapter(TYPES_MODEL[operator])
    return _ADAPTERS[operator]


def validate_manifest(resolved: Resolved) -> tuple[Manifest | None, Any, list[Diagnostic]]:
    """Validate the merged manifest. Returns (manifest, typed spec.types, diagnostics)."""
    diagnostics: list[Diagnostic] = []
    manifest = None
    try:
        manifest = Manifest.model_validate(resolved.data)
    except ValidationError as exc:
        diagnostics.extend(_from_pydantic(exc, resolved, (), Manifest))

    spec = resolved.data.get("spec") if isinstance(resolved.data, dict) else None
    operator = number_as_text(spec.get("operator")) if isinstance(spec, dict) else None
    types = None
    if isinstance(operator, str) and operator not in SUPPORTED_OPERATORS:
        path = ("spec", "operator")
        diagnostics.append(
            error(
                "E110",
                f"operator {operator!r} is not supported; supported operators: {', '.join(SUPPORTED_OPERATORS)}"
                + _suggest(operator, SUPPORTED_OPERATORS, list_known=False),
                resolved.location(path),
                format_path(path),
            )
        )
    elif (
        isinstance(operator, str) and isinstance(spec, dict) and isinstance(spec.get("types"), dict)
    ):
        try:
            types = adapter(operator).validate_python(spec["types"])
        except ValidationError as exc:
            diagnostics.extend(
                _from_pydantic(exc, resolved, ("spec", "types"), TYPES_MODEL[operator])
            )
    return (manifest if not diagnostics else None), types, diagnostics


def _from_pydantic(
    exc: ValidationError, resolved: Resolved, prefix: tuple, root_type
) -> list[Diagnostic]:
    out = []
    for problem in exc.errors(include_url=False):
        loc = prefix + tuple(p for p in problem["loc"] if p not in _UNION_TAGS)
        kind = problem["type"]
        shown = format_path(resolved.logical(loc))
        if kind == "extra_forbidden":
            known = _fields_at(root_type, tuple(problem["loc"][:-1]))
            message = f"unknown key {loc[-1]!r}" + _suggest(str(loc[-1]), known)
            out.append(error("E101", message, resolved.location(loc, key=True), shown))
            continue
        if kind == "missing":
            hint = (
                f"; supported operators: {', '.join(SUPPORTED_OPERATORS)}"
                if loc == ("spec", "operator")
                else ""
            )
            out.append(
                error(
                    "E103",
                    f"{loc[-1]!r} is required{hint}",
                    resolved.location(loc[:-1], key=True),
                    shown,
                )
            )
            continue
        code = "E102" if kind.endswith(("_type", "_parsing")) else "E104"
        out.append(error(code, _problem_message(problem), resolved.location(loc), shown))
    return out


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _problem_message(problem: Mapping[str, Any]) -> str:
    kind, value = problem["type"], problem.get("input")
    if kind in _EXPECTED:
        hint = " (remove the quotes)" if isinstance(value, str) and _is_number(value) else ""
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}{hint}"
    ctx = problem.get("ctx") or {}
    if kind.startswith("literal_error"):
        message = f"must be one of {ctx.get('expected', '')}"
    elif kind == "value_error":
        message = str(ctx.get("error", problem["msg"]))
    else:
        message = problem["msg"]
    shown = _show(value)
    return message if shown in message or isinstance(value, (dict, list)) else f"{shown}: {message}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {_show(value)}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"the number {_show(value)}"


def _show(value, limit: int = 60) -> str:
    """A value as the manifest wrote it (``null``, ``true``, ``1.10``), shortened for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = getattr(value, "text", None) or repr(value)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _suggest(word: str, known, list_known: bool = True) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if close:
        return f"; did you mean {close[0]!r}?"
    if list_known and known and len(known) <= 12:
        return f"; expected one of: {', '.join(sorted(known))}"
    return ""


def _fields_at(root_type, loc: tuple) -> list[str]:
    """The keys a model accepts at ``loc`` (for 'did you mean')."""
    current = root_type
    for segment in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(segment)
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation):
    """Strip Optional/Annotated layers down to a model, dict or list type."""
    for _ in range(6):
        args = get_args(annotation)
        origin = get_origin(annotation)
        if origin in (dict, list) or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            return annotation
        candidates = [a for a in args if a is not type(None)]
        models = [a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)] or [
            a for a in candidates if get_origin(a) in (dict, list)
        ]
        if models:
            annotation = models[0]
        elif candidates:
            annotation = candidates[0]
        else:
            return annotation
    return annotation
