"""What the review commands compare: one manifest file compiled, as the CLI would print it."""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class Compiled:
    """``text`` is the exact stdout of ``compile FILE`` when it succeeds; None when it fails."""

    file: str
    text: str | None
    diagnostics: tuple = ()

    @property
    def ok(self) -> bool:
        return self.text is not None

    @property
    def errors(self) -> tuple:
        return tuple(d for d in self.diagnostics if d.is_error)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def objects_of(text: str) -> list:
    """The objects of an output stream (both sides of a comparison are read the same way)."""
    return [obj for obj in yaml.load_all(text, Loader=_Loader) if obj is not None]


def read_objects(text: str) -> tuple[list | None, str]:
    """(objects, "") or (None, why they cannot be read) — for golden files people may have edited."""
    try:
        return objects_of(text), ""
    except yaml.YAMLError as exc:
        return None, f"not readable as YAML ({str(exc).splitlines()[0]})"
