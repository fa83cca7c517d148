"""Writes :mod:`compiler.model.records` from the pydantic models: one plain record class per model,
with the shape of each field, for :mod:`compiler.model.validator` to check data against without
importing pydantic (a third of every cold start).

The pydantic models stay the single source of truth: ``make schemas`` runs this next to the JSON
Schemas, ``tests/test_schemas_fresh.py`` fails when the checked-in copy is stale, and
``tests/test_validator.py`` feeds both validators the same inputs and compares every problem.

Run: ``python -m compiler.model.generate > compiler/model/records.py``.
"""

from __future__ import annotations

import types as pytypes
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from . import scalars
from .manifest import TYPES_MODEL, Manifest
from .policy import Policy

_CONSTRAINTS = {
    annotated_types.Gt: "gt",
    annotated_types.Ge: "ge",
    annotated_types.Lt: "lt",
    annotated_types.Le: "le",
    annotated_types.MinLen: "min_length",
}
_SCALARS = {int: "int", float: "float", bool: "bool", str: "str"}


def roots() -> list[type[BaseModel]]:
    """Every model the compiler validates data against, directly."""
    out: list[type[BaseModel]] = [Manifest, Policy]
    for shape in TYPES_MODEL.values():
        out += [m for m in _models_in(shape) if m not in out]
    return out


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def ordered_models() -> list[type[BaseModel]]:
    """The models reachable from :func:`roots`, each after the models it uses (depth first)."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)  # before its fields: Rule refers to itself
        for field in model.model_fields.values():
            for inner in _models_in(field.annotation):
                visit(inner)
            for meta in field.metadata:
                for inner in _models_in(meta):
                    visit(inner)

    for root in roots():
        visit(root)
    return seen


# ---------------------------------------------------------------------------------------------
# shapes: plain tuples the validator reads


def field_shape(field: FieldInfo) -> tuple:
    return shape_of(field.annotation, tuple(field.metadata))


def shape_of(annotation, metadata: tuple = ()) -> tuple:
    """The shape of ``annotation`` with the pydantic ``metadata`` a field or Annotated adds."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return shape_of(base, (*extra, *metadata))
    discriminator = next((m for m in metadata if type(m).__name__ == "Discriminator"), None)
    if origin in (Union, pytypes.UnionType):
        return _union_shape(annotation, metadata, discriminator)
    constraints = _constraints(metadata)
    if origin is Literal:
        return ("literal", get_args(annotation), _literal_expected(annotation))
    if annotation is Any:
        return ("any",)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation.__name__)
    if origin is dict:
        key, value = get_args(annotation)
        assert key is str, annotation
        return ("dict", shape_of(value), constraints)
    if origin is list:
        return ("list", shape_of(get_args(annotation)[0]), constraints)
    if annotation is str:
        return (_text_kind(metadata),)
    if annotation in _SCALARS:
        return (_SCALARS[annotation], constraints)
    raise TypeError(f"no shape for {annotation!r}")


def _union_shape(annotation, metadata: tuple, discriminator) -> tuple:
    members = [a for a in get_args(annotation) if a is not type(None)]
    nullable = len(members) < len(get_args(annotation))
    if len(members) == 1:
        inner = shape_of(members[0], metadata)
    elif discriminator is not None:
        function: Any = discriminator.discriminator
        name = function.__name__
        assert getattr(scalars, name, None) is function, (
            f"{name} must live in compiler.model.scalars"
        )
        tags = [_tag_of(m) for m in members]
        inner = ("tagged", name, tuple(zip(tags, map(shape_of, members), strict=True)))
    else:
        # pydantic flattens nested unions; its labels for the members name them in errors
        flat = Union[tuple(members)]  # type: ignore[valid-type]  # noqa: UP007 (built at run time)
        choices = get_args(flat)
        inner = (
            "union",
            tuple(zip(_union_labels(flat), map(shape_of, choices), strict=True)),
            _constraints(metadata),
        )
    return ("nullable", inner) if nullable else inner


def _tag_of(member) -> str:
    return next(m.tag for m in get_args(member)[1:] if type(m).__name__ == "Tag")


def _union_labels(union) -> list[str]:
    """pydantic-core's label for each member of a smart union, as its errors' locations show."""
    try:
        TypeAdapter(union, config=ConfigDict(strict=True)).validate_python(object())
    except Exception as exc:
        labels: list[str] = []
        for problem in exc.errors(include_url=False):  # type: ignore[attr-defined]
            if problem["loc"][0] not in labels:
                labels.append(problem["loc"][0])
        assert len(labels) == len(get_args(union)), (union, labels)
        return labels
    raise AssertionError(f"{union} accepted an object()")


def _literal_expected(annotation) -> str:
    try:
        TypeAdapter(annotation).validate_python(object())
    except Exception as exc:
        return exc.errors()[0]["ctx"]["expected"]  # type: ignore[attr-defined]
    raise AssertionError(f"{annotation} accepted an object()")


def _text_kind(metadata: tuple) -> str:
    before = [m.func for m in metadata if isinstance(m, BeforeValidator)]
    after = [m.func for m in metadata if isinstance(m, AfterValidator)]
    if before == [scalars.number_as_text] and after == [scalars.check_duration]:
        return "duration"
    if before == [scalars.number_as_text] and not after:
        return "text"
    assert not before and not after, metadata
    return "str"


def _constraints(metadata: tuple) -> tuple:
    out = []
    for meta in metadata:
        name = _CONSTRAINTS.get(type(meta))
        if name is not None:
            out.append((name, getattr(meta, name if name != "min_length" else "min_length")))
    return tuple(out)


def default_of(field: FieldInfo) -> tuple:
    if field.is_required():
        return ("required",)
    if field.default_factory is not None:
        assert field.default_factory is list, field
        return ("list",)
    assert field.default is not PydanticUndefined
    return ("value", field.default)


# ---------------------------------------------------------------------------------------------
# Python text


def annotation_text(shape: tuple) -> str:
    kind = shape[0]
    if kind in ("text", "str", "duration"):
        return "str"
    if kind in ("int", "float", "bool"):
        return kind
    if kind == "any":
        return "Any"
    if kind == "literal":
        return f"Literal[{', '.join(map(repr, shape[1]))}]"
    if kind == "model":
        return shape[1]
    if kind == "dict":
        return f"dict[str, {annotation_text(shape[1])}]"
    if kind == "list":
        return f"list[{annotation_text(shape[1])}]"
    if kind == "nullable":
        return f"{annotation_text(shape[1])} | None"
    if kind == "tagged":
        return " | ".join(annotation_text(member) for _, member in shape[2])
    if kind == "union":
        return " | ".join(annotation_text(member) for _, member in shape[1])
    raise TypeError(shape)


def model_text(model: type[BaseModel]) -> str:
    fields = model.model_fields
    lines = [f"class {model.__name__}(Record):"]
    doc = (model.__doc__ or "").strip().splitlines()
    if doc and model.__doc__ != BaseModel.__doc__:
        lines.append(f'    """{doc[0]}"""')
        lines.append("")
    lines.append(f"    __slots__ = ({''.join(repr(n) + ', ' for n in fields).rstrip()})")
    for name, field in fields.items():
        lines.append(f"    {name}: {annotation_text(field_shape(field))}")
    lines.append("    FIELDS = (")
    for name, field in fields.items():
        lines.append(f"        ({name!r}, {field_shape(field)!r}, {default_of(field)!r}),")
    lines.append("    )")
    return "\n".join(lines)


HEADER = '''"""The manifest and policy models as plain records, with the shape of every field.

GENERATED by ``python -m compiler.model.generate`` (``make schemas``) from the pydantic models in
compiler/model/manifest.py and policy.py; do not edit. tests/test_schemas_fresh.py fails when this
copy is stale. :mod:`compiler.model.validator` checks data against these shapes.
"""

from __future__ import annotations

from .record import Record

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any, Literal'''


def module_text() -> str:
    models = ordered_models()
    parts = [HEADER]
    parts += [model_text(model) for model in models]
    registry = "".join(f"    {m.__name__!r}: {m.__name__},\n" for m in models)
    parts.append(f"MODELS: dict[str, type[Record]] = {{\n{registry}}}")
    operators = "".join(
        f"    {operator!r}: {shape_of(annotation)!r},\n"
        for operator, annotation in TYPES_MODEL.items()
    )
    parts.append(
        "# the shape of spec.types, per operator\n"
        f"TYPES_SHAPES: dict[str, tuple] = {{\n{operators}}}\n"
        "SUPPORTED_OPERATORS = tuple(TYPES_SHAPES)"
    )
    return "\n\n\n".join(parts) + "\n"


if __name__ == "__main__":
    print(module_text(), end="")
