"""Every core for many files: an ordered map over this process and forked children.

``check``, ``diff`` and ``golden`` compile many independent items (documents, files). Above
MIN_ITEMS items and with more than one worker, this process forks one child per extra worker; each
process takes every n-th item, the children send their results back through a pipe (pickled), and
the results come out in the order of the items, so the output is identical to one process's. The
work (a function and its items) reaches the children through the fork itself, not pickled. Plain
``os.fork`` rather than ``multiprocessing``: its import alone costs a quarter of a cold start.

Workers: ``--jobs N`` or COMPILE_JOBS; 0 (the default) means every core this process may use.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

JOBS_ENV = "COMPILE_JOBS"
# Below this many items a pool costs more (fork, result pickling) than it saves.
MIN_ITEMS = 24


def jobs_option(function):
    """``-j/--jobs N`` (COMPILE_JOBS): worker processes; 0, the default, uses every core."""
    import click

    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=0),
        default=0,
        envvar=JOBS_ENV,
        show_default=True,
        help=f"Worker processes over many files (0: every core; also {JOBS_ENV}).",
    )(function)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def workers(jobs: int | None, items: int) -> int:
    """How many processes compile ``items`` items: 1 when forking would not pay for itself."""
    if jobs is None or jobs <= 0:
        jobs = available_cores()
    if items < MIN_ITEMS or jobs == 1 or not hasattr(os, "fork"):
        return 1
    return max(1, min(jobs, items // (MIN_ITEMS // 2)))


def ordered_map(
    function: Callable[[Any], Any], items: Sequence[Any], jobs: int | None, label: str = ""
) -> Iterator[Any]:
    """``function(item)`` for each item, in the order of ``items``; in several processes when
    there are enough items. ``label``: a progress bar on a terminal (over this process's share)."""
    count = workers(jobs, len(items))
    if count == 1:
        yield from _progress(map(function, items), len(items), label)
        return
    import gc

    # Objects that exist now are left out of the children's garbage collections: a collection
    # touches every object and so copies the parent's memory page by page into each child.
    gc.freeze()
    children: list[tuple[int, int]] = []
    try:
        children = [_fork(function, items, share, count) for share in range(1, count)]
        mine = list(_progress(map(function, items[0::count]), len(items[0::count]), label))
        results: list[Any] = [None] * len(items)
        results[0::count] = mine
        for share in range(1, count):
            pid, pipe = children.pop(0)
            results[share::count] = _collect(pid, pipe)
        yield from results
    finally:
        gc.unfreeze()
        for pid, pipe in children:  # the caller stopped early or this process failed
            _stop(pid, pipe)


def _fork(function: Callable[[Any], Any], items: Sequence[Any], share: int, count: int):
    """A child that maps ``function`` over every ``count``-th item from ``share`` and writes the
    pickled results (or the exception) to a pipe: (its pid, the pipe's reading end)."""
    import pickle

    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    os.close(read_end)
    try:
        payload = pickle.dumps((True, [function(item) for item in items[share::count]]))
    except BaseException as exc:
        payload = _pickled_failure(exc)
    with os.fdopen(write_end, "wb") as out:
        out.write(payload)
    os._exit(0)  # no atexit handlers, no flushing of the parent's buffers a second time


def _pickled_failure(exc: BaseException) -> bytes:
    import pickle

    try:
        return pickle.dumps((False, exc))
    except Exception:
        return pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _collect(pid: int, pipe: int) -> list[Any]:
    import pickle

    with os.fdopen(pipe, "rb") as source:
        data = source.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"worker process {pid} ended without results (status {status})")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def _stop(pid: int, pipe: int) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    os.close(pipe)


def _progress(results: Iterator[Any], length: int, label: str) -> Iterator[Any]:
    from .render import progress_wanted

    if not label or not progress_wanted(length):
        yield from results
        return
    import click

    with click.progressbar(results, length=length, label=label, file=sys.stderr) as bar:
        yield from bar
