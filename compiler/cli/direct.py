"""The direct path: ``compile FILE…`` and ``compile check FILE…`` with no option run here, without
importing click, which is a fifth of a cold start (issue 15). Any other command line, an option, a
file name that could be a command, ``COMPILE_JOBS`` set: :func:`run` returns and click parses it.

Both paths call the same functions (core.py) with the same values: tests/test_direct.py checks that
click would pass exactly :data:`core.NO_OPTIONS` and the defaults below, and that both print the
same bytes with the same exit code.
"""

from __future__ import annotations

import errno
import os
import sys

from . import core
from .parallel import JOBS_ENV

# the defaults of the click options the direct path leaves out
EMIT_DEFAULTS = {"output": "yaml", "quiet": False}
CHECK_DEFAULTS = {"format_": "text", "strict": False, "jobs": 0}


def may_name_a_command(arg: str) -> bool:
    """Command names are plain words; a path (``x.yaml``, ``dir/``, ``-``) or an option is not."""
    return bool(arg) and not arg.startswith("-") and not any(c in arg for c in "./\\")


def plan(args: list[str]):
    """(the core function, its keyword arguments) for a command line the direct path runs, or None."""
    if not args or any(arg.startswith("-") for arg in args):
        return None
    if args[0] == "check":
        files = args[1:]
        if not files or JOBS_ENV in os.environ:
            return None
        return core.check, {"files": tuple(files), **CHECK_DEFAULTS, **core.NO_OPTIONS}
    if may_name_a_command(args[0]):
        return None
    return core.emit, {"files": tuple(args), **EMIT_DEFAULTS, **core.NO_OPTIONS}


def run(args: list[str]) -> None:
    """Run ``args`` and exit, if the direct path takes them; else return."""
    planned = plan(args)
    if planned is None:
        return
    function, arguments = planned
    try:
        code = function(**arguments)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        core.stream_closed()
    sys.exit(code)
