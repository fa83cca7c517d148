"""The ``compile`` command: argument parsing and rendering around the pure core.

:func:`main` runs ``compile FILE…`` and ``compile check FILE…`` without options directly
(direct.py; importing click is a fifth of a cold start), and everything else through the click
group of app.py. Both call the same functions (core.py), so they print the same bytes.
"""

from __future__ import annotations

import functools
import gc
import sys

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    R = TypeVar("R")

__all__ = ["acyclic", "main", "program"]


def program() -> None:
    """The ``compile`` program (the console script): :func:`main`, then, where the command was
    ``compile FILE…``, ``compile check FILE…`` (the direct path) or ``compile --help``, the
    process ends at once: the interpreter's teardown (freeing every object one by one, a last
    pass of the cycle collector) is a twentieth of a cold run and has nothing left to do; the
    output is already flushed."""
    try:
        main()
    except SystemExit as finished:
        args = sys.argv[1:]
        if isinstance(finished.code, int) and (_runs_direct(args) or args in _HELP):
            _exit_at_once(finished.code)
        raise


_HELP = (["--help"], ["-h"], ["--version"])


def main(argv=None) -> None:
    collecting = gc.isenabled()
    gc.disable()  # start-up makes objects that live as long as the process; see acyclic()
    _defer_import("inspect")
    from . import direct

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        direct.run(args)  # returns when the command line needs click
        if collecting:
            gc.enable()  # as before for click's commands; emit and check turn it off (acyclic)
        from .app import run

        run(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        sys.exit(130)
    finally:
        if collecting:
            gc.enable()


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


def acyclic(command: Callable[..., R]) -> Callable[..., R]:
    """``command`` run without the cycle collector. Compiling makes plain data (dicts, lists,
    tuples, records) that reference counting frees as soon as it is dropped: over the corpus ten
    times the collector frees nothing (the same peak memory without it) and costs a sixth of
    ``check``'s CPU time, walking the objects of the start-up again and again. ``compile FILE``
    and ``check`` are wrapped in this; the others keep it (``diff`` holds cycles: without the
    collector its memory grows with the manifests)."""

    @functools.wraps(command)
    def without_cycle_collector(*args, **kwargs) -> R:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return command(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return without_cycle_collector


def _runs_direct(args: list[str]) -> bool:
    from . import direct

    return direct.plan(args) is not None


def _exit_at_once(code: int) -> None:
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None  # the interpreter's exit says what went wrong, as before
    os._exit(code)
