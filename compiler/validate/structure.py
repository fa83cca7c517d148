"""Structure and types: the merged manifest against the models' generated shapes (checked without
pydantic, see :mod:`compiler.model.validator`), as positioned diagnostics."""

from __future__ import annotations

from collections.abc import Mapping

from ..diagnostics import Diagnostic, close_matches, error
from ..model.records import MODELS, SUPPORTED_OPERATORS, TYPES_SHAPES, Manifest
from ..model.scalars import number_as_text
from ..model.validator import Invalid, Problem, validate
from ..resolve import Resolved, format_path
from ..tuples import NamedTuple

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

MANIFEST_SHAPE = ("model", "Manifest")

_UNION_TAGS = {"value", "secretRef", "function-after", "function-before"}


def validate_manifest(resolved: Resolved) -> tuple[Manifest | None, Any, list[Diagnostic]]:
    """Validate the merged manifest. Returns (manifest, typed spec.types, diagnostics).

    Every structural problem of the file is reported at once: beneath a misspelt key its value is
    checked as the key it evidently means, and the types are checked even when the operator is
    missing or misspelt (against the shape the operator, or the types themselves, suggest)."""
    diagnostics: list[Diagnostic] = []
    manifest = None
    misspelt: list[Misspelling] = []
    try:
        manifest = validate(Manifest, resolved.data)
    except Invalid as exc:
        misspelt = misspellings(exc.problems, MANIFEST_SHAPE)
        diagnostics.extend(
            _from_problems(_unmasked(exc.problems, misspelt), resolved, (), MANIFEST_SHAPE)
        )
        diagnostics.extend(_beneath(misspelt, resolved, (), MANIFEST_SHAPE))

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
            diagnostics.extend(_types_problems(exc.problems, resolved, operator))
    if not isinstance(operator, str) or operator not in SUPPORTED_OPERATORS:
        diagnostics.extend(_unknown_keys_in_types(spec, misspelt, resolved))
    return (manifest if not diagnostics else None), types, diagnostics


class Misspelling(NamedTuple):
    """An unknown key that evidently means a field its mapping accepts."""

    parent: tuple  # the problem location of the mapping that holds it
    written: str
    meant: str


def misspellings(problems: list[Problem], root_shape: tuple) -> list[Misspelling]:
    out = []
    for problem in problems:
        if problem["type"] != "extra_forbidden":
            continue
        parent, written = tuple(problem["loc"][:-1]), str(problem["loc"][-1])
        known = fields_at(root_shape, parent)
        close = close_matches(written, known, n=1, cutoff=0.6)
        if close:
            out.append(Misspelling(parent, written, close[0]))
    return out


def intended_paths(resolved: Resolved) -> list[tuple[tuple, tuple]]:
    """(the mapping, the field it evidently means) of every misspelt key of the manifest and of
    its types, as data paths: what a problem found there only because of the misspelling is about."""
    spec = resolved.data.get("spec") if isinstance(resolved.data, dict) else None
    parts: list[tuple[tuple, tuple, Any]] = [((), MANIFEST_SHAPE, resolved.data)]
    if isinstance(spec, dict) and isinstance(spec.get("types"), dict):
        operator = number_as_text(spec.get("operator"))
        if operator not in SUPPORTED_OPERATORS:
            operator = _operator_from_types(spec["types"])
        parts.append((("spec", "types"), TYPES_SHAPES[operator], spec["types"]))
    out = []
    for prefix, shape, value in parts:
        try:
            validate(shape, value)
        except Invalid as exc:
            for m in misspellings(exc.problems, shape):
                holder = prefix + _data_path(m.parent)
                out.append((holder, holder + (m.meant,)))
    return out


def _operator_from_types(types: dict) -> str:
    return "kuberay" if "Head" in types or "Workers" in types else "jobset"


def _unmasked(problems: list[Problem], misspelt: list[Misspelling]) -> list[Problem]:
    """Without 'X is required' where a misspelt key evidently means X: one report per mistake."""
    meant = {m.parent + (m.meant,) for m in misspelt}
    return [p for p in problems if not (p["type"] == "missing" and tuple(p["loc"]) in meant)]


def _beneath(
    misspelt: list[Misspelling], resolved: Resolved, prefix: tuple, root_shape: tuple
) -> list[Diagnostic]:
    """The unknown keys beneath each misspelt key, its value checked as the field it means."""
    out: list[Diagnostic] = []
    for misspelling in misspelt:
        shape = shape_at(root_shape, misspelling.parent + (misspelling.meant,))
        written_at = prefix + _data_path(misspelling.parent) + (misspelling.written,)
        value = _at(resolved.data, written_at)
        if shape is None or not isinstance(value, dict):
            continue
        try:
            validate(shape, value)
        except Invalid as exc:
            unknown = [p for p in exc.problems if p["type"] == "extra_forbidden"]
            out.extend(_from_problems(unknown, resolved, written_at, shape))
            out.extend(_beneath(misspellings(unknown, shape), resolved, written_at, shape))
    return out


def _types_problems(problems: list[Problem], resolved: Resolved, operator: str) -> list:
    shape = TYPES_SHAPES[operator]
    misspelt = misspellings(problems, shape)
    prefix = ("spec", "types")
    return _from_problems(_unmasked(problems, misspelt), resolved, prefix, shape) + _beneath(
        misspelt, resolved, prefix, shape
    )


def _unknown_keys_in_types(spec, misspelt: list[Misspelling], resolved: Resolved) -> list:
    """With no operator to go by, the unknown keys of spec.types (or of a misspelling of it),
    against the shape a misspelt operator names, else the shape the type names suggest."""
    if not isinstance(spec, dict):
        return []
    meant = {m.meant: m.written for m in misspelt if m.parent == ("spec",)}
    types_key = "types" if "types" in spec else meant.get("types")
    types = spec.get(types_key) if types_key else None
    if not isinstance(types, dict):
        return []
    operator = number_as_text(spec.get(meant.get("operator", "operator")))
    if operator not in SUPPORTED_OPERATORS:
        operator = _operator_from_types(types)
    shape = TYPES_SHAPES[operator]
    try:
        validate(shape, types)
    except Invalid as exc:
        unknown = [p for p in exc.problems if p["type"] == "extra_forbidden"]
        prefix = ("spec", types_key)
        return _from_problems(unknown, resolved, prefix, shape) + _beneath(
            misspellings(unknown, shape), resolved, prefix, shape
        )
    return []


def _data_path(loc: tuple) -> tuple:
    return tuple(p for p in loc if p not in _UNION_TAGS)


def _at(data, path: tuple):
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data


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
    found = shape_at(shape, loc)
    if found is None:
        return []
    found = _not_null(found)
    return list(MODELS[found[1]].field_names()) if found[0] == "model" else []


def shape_at(shape: tuple, loc: tuple) -> tuple | None:
    """The shape of the value at ``loc`` under ``shape``; None where the shapes do not say."""
    for segment in loc:
        shape = _not_null(shape)
        kind = shape[0]
        if kind == "model":
            if segment not in MODELS[shape[1]].SHAPES:
                return None
            shape = MODELS[shape[1]].SHAPES[segment]
        elif kind in ("dict", "list"):
            shape = shape[1]
        elif kind in ("tagged", "union"):
            members = dict(shape[2] if kind == "tagged" else shape[1])
            if segment not in members:
                return None
            shape = members[segment]
        else:
            return None
    return shape


def _not_null(shape: tuple) -> tuple:
    return shape[1] if shape[0] == "nullable" else shape
