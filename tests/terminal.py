"""Commands started as an interactive shell starts them, whatever this test run ignores.

An ignored signal stays ignored in what a process starts, and Python installs its Ctrl-C handler
only where SIGINT is not ignored: under `nohup`, or as a background job of a non-interactive shell
(as some CI runners start the suite), a command the tests start would ignore SIGINT, and a test of
Ctrl-C would wait for a process that never heard it (issue 19: `compile watch` "still running 30 s
after Ctrl-C"). A terminal's Ctrl-C reaches a foreground process whose SIGINT is at its default:
the launcher below gives the command exactly that, then becomes it (exec, same pid).
"""

from __future__ import annotations

import sys

LAUNCHER = (
    "import os, signal, sys\n"
    "for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
    "    signal.signal(signum, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def from_a_terminal(argv: list[str]) -> list[str]:
    """``argv`` run with SIGINT, SIGTERM and SIGHUP at their defaults (pass it to Popen)."""
    return [sys.executable, "-c", LAUNCHER, *argv]
