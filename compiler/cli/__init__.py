"""The ``compile`` command: argument parsing and rendering around the pure core.

:func:`main` runs ``compile FILE…`` and ``compile check FILE…`` without options directly
(direct.py; importing click is a fifth of a cold start), and everything else through the click
group of app.py. Both call the same functions (core.py), so they print the same bytes.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv=None) -> None:
    _defer_import("inspect")
    from . import direct

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        direct.run(args)  # returns when the command line needs click
        from .app import run

        run(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        sys.exit(130)


def _defer_import(name: str) -> None:
    """Import ``name`` when one of its attributes is first used, not when a module imports it.

    dataclasses imports inspect (with ast, dis and tokenize, a tenth of a cold start) for one
    use: the signature it writes as the docstring of a dataclass that has none. The dataclasses
    a compile defines have docstrings, so inspect is never needed. Not importlib's LazyLoader:
    an ``import`` of a lazy module reads its ``__spec__``, and that loads it."""
    import types

    if name in sys.modules:
        return
    stub = types.ModuleType(name)

    def load(attribute: str):
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        import importlib

        module = importlib.import_module(name)
        stub.__dict__.update(module.__dict__)
        return getattr(module, attribute)

    stub.__getattr__ = load  # type: ignore[method-assign]
    sys.modules[name] = stub
