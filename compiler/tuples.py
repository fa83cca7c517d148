"""``class X(NamedTuple)`` without importing :mod:`typing` at run time.

A cold ``compile x.yaml`` needs nothing else of typing, and importing it is a twentieth of the run
(issue 25). Type checkers read typing's own NamedTuple (the ``TYPE_CHECKING`` branch); at run time
the class statement builds the same ``collections.namedtuple``, with the defaults, methods and
docstring of its body.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False  # true for type checkers, which read the branch below; never imports typing

__all__ = ["NamedTuple"]

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    # what the class body holds besides its fields, that the namedtuple must not be given again
    _MADE_BY_PYTHON = {"__module__", "__qualname__", "__annotations__", "__orig_bases__"}

    class _NamedTupleMeta(type):
        def __new__(cls, typename, bases, namespace):
            if namespace.get("_base_of_named_tuples"):
                return super().__new__(cls, typename, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[name] for name in fields if name in namespace]
            with_default = [name in namespace for name in fields]
            if with_default != sorted(with_default):
                raise TypeError(f"{typename}: a field without a default follows one with a default")
            made = collections.namedtuple(
                typename, fields, defaults=defaults, module=namespace["__module__"]
            )
            for key, value in namespace.items():
                if key not in _MADE_BY_PYTHON and key not in fields:
                    setattr(made, key, value)
            made.__qualname__ = namespace["__qualname__"]
            return made

    class NamedTuple(metaclass=_NamedTupleMeta):
        _base_of_named_tuples = True
