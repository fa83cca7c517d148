"""The ``compile`` command: argument parsing and rendering around the pure core.

:func:`main` runs ``compile FILE…`` and ``compile check FILE…`` without options directly
(direct.py; importing click is a fifth of a cold start), and everything else through the click
group of app.py. Both call the same functions (core.py), so they print the same bytes.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


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
