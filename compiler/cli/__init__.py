"""The ``compile`` command: argument parsing and rendering around the pure core.

:func:`main` runs ``compile FILE…`` and ``compile check FILE…`` without options directly
(direct.py; importing click is a fifth of a cold start), and everything else through the click
group of app.py. Both call the same functions (core.py), so they print the same bytes.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["cli", "main"]


def main(argv=None) -> None:
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


_FROM_APP = frozenset(
    ("cli", "run", "COMMAND_MODULES", "FIRST_MODULES", "CommandsOnDemand", "_register")
)


def __getattr__(name: str) -> Any:
    """``cli`` (the click group) and the rest of app.py, imported on first use."""
    if name not in _FROM_APP:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.app"), name)
