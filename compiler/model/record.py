"""The base of the generated records (:mod:`compiler.model.records`): frozen, slotted, compared and
printed like the pydantic models they stand for, with the few pydantic methods the compiler uses."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    R = TypeVar("R", bound="Record")


class Record:
    __slots__ = ()
    # (name, shape, default) per field, in the model's order; see compiler.model.generate
    FIELDS: ClassVar[tuple[tuple[str, tuple, tuple], ...]] = ()

    def __init__(self, **values: Any) -> None:
        for name, _, default in self.FIELDS:
            if name in values:
                value = values[name]
            elif default[0] == "value":
                value = default[1]
            elif default[0] == "list":
                value = []
            else:
                raise TypeError(f"{type(self).__name__}: {name!r} is required")
            object.__setattr__(self, name, value)

    # the shape of each field by name, made once per class
    SHAPES: ClassVar[dict[str, tuple]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.SHAPES = {name: shape for name, shape, _ in cls.FIELDS}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(cls.SHAPES)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name, _, _ in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Record)
            and type(other) is type(self)
            and self._values() == other._values()
        )

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name, _, _ in self.FIELDS)
        return f"{type(self).__name__}({shown})"

    def model_dump(self, exclude_none: bool = False) -> dict[str, Any]:
        """The record as plain data, nested records included (pydantic's ``model_dump``)."""
        out = {}
        for name, _, _ in self.FIELDS:
            value = getattr(self, name)
            if value is None and exclude_none:
                continue
            out[name] = _dump(value, exclude_none)
        return out

    def model_copy(self: R, update: dict[str, Any] | None = None) -> R:
        """A copy with ``update``'s fields replaced, unvalidated (pydantic's ``model_copy``)."""
        values = {name: getattr(self, name) for name, _, _ in self.FIELDS}
        return type(self)(**{**values, **(update or {})})


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Record):
        return value.model_dump(exclude_none)
    if isinstance(value, dict):
        return {key: _dump(item, exclude_none) for key, item in value.items()}
    if isinstance(value, list):
        return [_dump(item, exclude_none) for item in value]
    return value
