"""Checks plain data against the generated shapes (:mod:`compiler.model.records`) the way pydantic
checks it against the models, in strict mode, without importing pydantic.

A problem is a dict like one of pydantic's errors (``type``, ``loc``, ``msg``, ``input``, ``ctx``),
in pydantic's order, so that the stages that turn problems into diagnostics do not care which
validator found them; ``tests/test_validator.py`` holds the two to the same answers.
"""

from __future__ import annotations

import math

from . import scalars
from .record import Record
from .records import MODELS

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

    Problem = dict[str, Any]
else:
    Problem = dict


class Invalid(Exception):
    """The data does not fit; ``problems`` says where and why, in pydantic's words."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems

    def errors(self) -> list[Problem]:
        return self.problems


def validate(model: type[Record] | tuple, data: Any) -> Any:
    """``data`` as a record of ``model`` (or as the value of a shape); raises :class:`Invalid`."""
    shape = ("model", model.__name__) if isinstance(model, type) else model
    problems: list[Problem] = []
    value = _check(shape, data, (), problems)
    if problems:
        raise Invalid(problems)
    return value


_FAILED = object()


def _problem(problems: list[Problem], kind: str, loc: tuple, msg: str, value, ctx=None) -> object:
    problem = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        problem["ctx"] = ctx
    problems.append(problem)
    return _FAILED


def _check(shape: tuple, value: Any, loc: tuple, problems: list[Problem]) -> Any:
    return _CHECKS[shape[0]](shape, value, loc, problems)


def _check_nullable(shape, value, loc, problems):
    return None if value is None else _check(shape[1], value, loc, problems)


def _check_any(shape, value, loc, problems):
    return value


def _check_str(shape, value, loc, problems):
    if not isinstance(value, str):
        return _problem(problems, "string_type", loc, "Input should be a valid string", value)
    return value


def _check_text(shape, value, loc, problems):
    return _check_str(shape, scalars.number_as_text(value), loc, problems)


def _check_duration(shape, value, loc, problems):
    text = _check_text(shape, value, loc, problems)
    if text is _FAILED:
        return text
    try:
        return scalars.check_duration(text)
    except ValueError as exc:
        return _problem(problems, "value_error", loc, f"Value error, {exc}", text, {"error": exc})


def _check_bool(shape, value, loc, problems):
    if not isinstance(value, bool):
        return _problem(problems, "bool_type", loc, "Input should be a valid boolean", value)
    return value


def _check_int(shape, value, loc, problems):
    if isinstance(value, bool) or not isinstance(value, int):
        return _problem(problems, "int_type", loc, "Input should be a valid integer", value)
    return _bounded(int(value), shape[1], loc, problems, value)


def _check_float(shape, value, loc, problems):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _problem(problems, "float_type", loc, "Input should be a valid number", value)
    number = float(value)
    if not math.isfinite(number):
        return _problem(problems, "finite_number", loc, "Input should be a finite number", value)
    return _bounded(number, shape[1], loc, problems, value, as_float=True)


_BOUNDS = {
    "gt": ("greater_than", "greater than", lambda v, b: v > b),
    "ge": ("greater_than_equal", "greater than or equal to", lambda v, b: v >= b),
    "lt": ("less_than", "less than", lambda v, b: v < b),
    "le": ("less_than_equal", "less than or equal to", lambda v, b: v <= b),
}


def _bounded(number, constraints, loc, problems, value, as_float: bool = False):
    for name, bound in constraints:
        kind, words, holds = _BOUNDS[name]
        if not holds(number, bound):
            shown = float(bound) if as_float else bound
            return _problem(
                problems,
                kind,
                loc,
                f"Input should be {words} {_number_text(bound)}",
                value,
                {name: shown},
            )
    return number


def _number_text(bound) -> str:
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def _check_literal(shape, value, loc, problems):
    _, allowed, expected = shape
    for option in allowed:
        if type(value) is type(option) and value == option:
            return option
    return _problem(
        problems, "literal_error", loc, f"Input should be {expected}", value, {"expected": expected}
    )


def _check_dict(shape, value, loc, problems):
    if not isinstance(value, dict):
        return _problem(problems, "dict_type", loc, "Input should be a valid dictionary", value)
    out, failed = {}, False
    for key, item in value.items():
        if not isinstance(key, str):
            _problem(
                problems, "string_type", (*loc, key, "[key]"), "Input should be a valid string", key
            )
            failed = True
        checked = _check(shape[1], item, (*loc, key), problems)
        failed = failed or checked is _FAILED
        out[key] = checked
    return _FAILED if failed else out


def _check_list(shape, value, loc, problems):
    if not isinstance(value, list):
        return _problem(problems, "list_type", loc, "Input should be a valid list", value)
    out = [_check(shape[1], item, (*loc, index), problems) for index, item in enumerate(value)]
    if any(item is _FAILED for item in out):
        return _FAILED
    for name, bound in shape[2]:
        if name == "min_length" and len(out) < bound:
            return _problem(
                problems,
                "too_short",
                loc,
                f"List should have at least {bound} item{'s' if bound != 1 else ''} after "
                f"validation, not {len(out)}",
                value,
                {"field_type": "List", "min_length": bound, "actual_length": len(out)},
            )
    return out


def _check_tagged(shape, value, loc, problems):
    _, function, members = shape
    tag = getattr(scalars, function)(value)
    return _check(dict(members)[tag], value, (*loc, tag), problems)


def _check_union(shape, value, loc, problems):
    """A smart union in strict mode: the first member the value fits; else every member's problems."""
    _, members, constraints = shape
    found: list[Problem] = []
    for label, member in members:
        attempt: list[Problem] = []
        checked = _check(member, value, (*loc, label), attempt)
        if checked is not _FAILED:
            if constraints:
                return _bounded(checked, constraints, loc, problems, value)
            return checked
        found += attempt
    problems += found
    return _FAILED


def _check_model(shape, value, loc, problems):
    model = MODELS[shape[1]]
    if not isinstance(value, dict):
        return _problem(
            problems,
            "model_type",
            loc,
            f"Input should be a valid dictionary or instance of {model.__name__}",
            value,
            {"class_name": model.__name__},
        )
    # the record is filled as its fields are checked, as ``model(**values)`` would fill it, without
    # a second pass over every field of the model
    record, failed = _new_record(model), False
    for name, field_shape, default in model.FIELDS:
        if name in value:
            checked = _check(field_shape, value[name], (*loc, name), problems)
            failed = failed or checked is _FAILED
            _set_field(record, name, checked)
        elif default[0] == "value":
            _set_field(record, name, default[1])
        elif default[0] == "list":
            _set_field(record, name, [])
        else:
            _problem(problems, "missing", (*loc, name), "Field required", value)
            failed = True
    for key, item in value.items():
        if not isinstance(key, str):
            _problem(problems, "invalid_key", (*loc, key), "Keys should be strings", key)
            failed = True
        elif key not in model.SHAPES:
            _problem(
                problems, "extra_forbidden", (*loc, key), "Extra inputs are not permitted", item
            )
            failed = True
    return _FAILED if failed else record


_new_record = object.__new__
_set_field = object.__setattr__  # records are frozen: their own __setattr__ refuses


_CHECKS = {
    "nullable": _check_nullable,
    "any": _check_any,
    "str": _check_str,
    "text": _check_text,
    "duration": _check_duration,
    "bool": _check_bool,
    "int": _check_int,
    "float": _check_float,
    "literal": _check_literal,
    "dict": _check_dict,
    "list": _check_list,
    "tagged": _check_tagged,
    "union": _check_union,
    "model": _check_model,
}
