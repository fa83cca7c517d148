"""The direct path: ``compile FILE…`` and ``compile check FILE…`` with no option run here, without
importing click, which is a fifth of a cold start (issue 15). Any other command line (an option, a
file name that could be a command, a ``COMPILE_JOBS`` that is not a plain number): :func:`run`
returns and click parses it.

Both paths call the same functions (core.py) with the same values: tests/test_direct.py checks that
click would pass exactly the defaults below, and that both print the same bytes with the same exit
code. Nothing is imported here before a command line is known to be direct: ``--help`` pays nothing.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

JOBS_ENV = "COMPILE_JOBS"  # as parallel.py reads it through click (-j/--jobs)

# what click passes for each option the direct path leaves out
NO_OPTIONS: dict[str, Any] = {
    "policies": (),
    "templates": (),
    "project": None,
    "sets": (),
    "namespace": None,
    "name": None,
    "image_digest": None,
}
EMIT_DEFAULTS = {"output": "yaml", "quiet": False, **NO_OPTIONS}
CHECK_DEFAULTS = {"format_": "text", "strict": False, "jobs": 0, **NO_OPTIONS}


def may_name_a_command(arg: str) -> bool:
    """Command names are plain words; a path (``x.yaml``, ``dir/``, ``-``) or an option is not."""
    return bool(arg) and not arg.startswith("-") and not any(c in arg for c in "./\\")


def plan(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    """(the command, its keyword arguments) for a command line the direct path runs, or None."""
    if not args or any(arg.startswith("-") for arg in args):
        return None
    if args[0] == "check":
        files = args[1:]
        jobs = os.environ.get(JOBS_ENV)
        if not files or (jobs is not None and not (jobs.isascii() and jobs.isdigit())):
            return None  # click says what is wrong with COMPILE_JOBS
        return "check", {
            "files": tuple(files),
            **CHECK_DEFAULTS,
            **({"jobs": int(jobs)} if jobs is not None else {}),
        }
    if may_name_a_command(args[0]):
        return None
    return "emit", {"files": tuple(args), **EMIT_DEFAULTS}


def run(args: list[str]) -> None:
    """Run ``args`` and exit, if the direct path takes them; else return."""
    planned = plan(args)
    if planned is None:
        return
    import errno

    from . import core

    command, arguments = planned
    try:
        code = core.emit(**arguments) if command == "emit" else core.check(**arguments)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        core.stream_closed()
    sys.exit(code)
