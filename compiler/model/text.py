"""Scalar types of the models: text that YAML may have read as a number, durations. The rules
themselves live in :mod:`compiler.model.scalars`, which the compiler uses without pydantic."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from .scalars import check_duration, number_as_text

# The JSON Schema says what a YAML editor may accept: a number or boolean is taken as written.
_TEXT_SCHEMA = WithJsonSchema({"type": ["string", "number", "boolean"]})

Text = Annotated[str, BeforeValidator(number_as_text), _TEXT_SCHEMA]

DurationText = Annotated[
    str,
    BeforeValidator(number_as_text),
    AfterValidator(check_duration),
    WithJsonSchema(
        {"type": ["string", "number"], "pattern": r"^\s*(\d+|(\d+(\.\d+)?(w|d|h|m|s))+)\s*$"}
    ),
]
