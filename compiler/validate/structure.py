"""Structure and types: the merged manifest against the models' generated shapes (checked without
pydantic, see :mod:`compiler.model.validator`), as positioned diagnostics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..diagnostics import Diagnostic, close_matches, error
from ..model.records import MODELS, SUPPORTED_OPERATORS, TYPES_SHAPES, Manifest
from ..model.scalars import number_as_text
from ..model.validator import Invalid, Problem, validate
from ..resolve import Resolved, format_path

MANIFEST_SHAPE = ("model", "Manifest")

_UNION_TAGS = {"value", "secretRef", "function-after", "function-before"}


def validate_manifest(resolved: Resolved) -> tuple[Manifest | None, Any, list[Diagnostic]]:
    """Validate the merged manifest. Returns (manifest, typed spec.types, diagnostics)."""
    diagnostics: list[Diagnostic] = []
    manifest = None
    try:
        manifest = validate(Manifest, resolved.data)
    except Invalid as exc:
        diagnostics.extend(_from_problems(exc.problems, resolved, (), MANIFEST_SHAPE))

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
            types = validate(TYPES_SHAPES[operator], spec["types"])
        except Invalid as exc:
            diagnostics.extend(
                _from_problems(exc.problems, resolved, ("spec", "types"), TYPES_SHAPES[operator])
            )
    return (manifest if not diagnostics else None), types, diagnostics


def _from_problems(
    problems: list[Problem], resolved: Resolved, prefix: tuple, root_shape: tuple
) -> list[Diagnostic]:
    out = []
    for problem in problems:
        loc = prefix + tuple(p for p in problem["loc"] if p not in _UNION_TAGS)
        kind = problem["type"]
        shown = format_path(resolved.logical(loc))
        if kind == "extra_forbidden":
            known = fields_at(root_shape, tuple(problem["loc"][:-1]))
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
    close = close_matches(word, list(known), n=1, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if close:
        return f"; did you mean {close[0]!r}?"
    if list_known and known and len(known) <= 12:
        return f"; expected one of: {', '.join(sorted(known))}"
    return ""


def fields_at(shape: tuple, loc: tuple) -> list[str]:
    """The keys the model at ``loc`` (a problem's location) under ``shape`` accepts, for 'did you
    mean'; a location names a tagged or smart union's member by its tag."""
    for segment in loc:
        shape = _not_null(shape)
        kind = shape[0]
        if kind == "model":
            if segment not in MODELS[shape[1]].SHAPES:
                return []
            shape = MODELS[shape[1]].SHAPES[segment]
        elif kind in ("dict", "list"):
            shape = shape[1]
        elif kind in ("tagged", "union"):
            members = dict(shape[2] if kind == "tagged" else shape[1])
            if segment not in members:
                return []
            shape = members[segment]
        else:
            return []
    shape = _not_null(shape)
    return list(MODELS[shape[1]].field_names()) if shape[0] == "model" else []


def _not_null(shape: tuple) -> tuple:
    return shape[1] if shape[0] == "nullable" else shape
