"""Every core for many files: an ordered map over a pool of forked worker processes.

``check``, ``diff`` and ``golden`` compile many independent items (documents, files). Above
MIN_ITEMS items and with more than one worker, the items are compiled in forked processes and the
results come back in the order of the items, so the output is identical to one process's. The
work (a function and its items) is handed to the workers by the fork itself, not pickled: only
item indices go out and results come back.

Workers: ``--jobs N`` or COMPILE_JOBS; 0 (the default) means every core this process may use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

JOBS_ENV = "COMPILE_JOBS"
# Below this many items a pool costs more (fork, result pickling) than it saves.
MIN_ITEMS = 24

_work: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


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
    """How many processes compile ``items`` items: 1 when a pool would not pay for itself."""
    if jobs is None or jobs <= 0:
        jobs = available_cores()
    if items < MIN_ITEMS or jobs == 1:
        return 1
    import multiprocessing  # only when a pool may be used: it costs start-up time

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(jobs, items // (MIN_ITEMS // 2)))


def _run(index: int) -> Any:
    assert _work is not None  # set before the fork
    function, items = _work
    return function(items[index])


def ordered_map(
    function: Callable[[Any], Any], items: Sequence[Any], jobs: int | None, label: str = ""
) -> Iterator[Any]:
    """``function(item)`` for each item, in the order of ``items``; in worker processes when
    there are enough items. ``label``: a progress bar on a terminal."""
    global _work
    count = workers(jobs, len(items))
    if count == 1:
        yield from _progress(map(function, items), len(items), label)
        return
    import gc
    import multiprocessing

    _work = (function, items)
    # Objects that exist now are left out of the workers' garbage collections: a collection
    # touches every object and so copies the parent's memory page by page into each worker.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(count) as pool:
            chunk = max(1, len(items) // (count * 8))
            yield from _progress(pool.imap(_run, range(len(items)), chunk), len(items), label)
    finally:
        _work = None
        gc.unfreeze()


def _progress(results: Iterator[Any], length: int, label: str) -> Iterator[Any]:
    from .render import progress_wanted

    if not label or not progress_wanted(length):
        yield from results
        return
    import click

    with click.progressbar(results, length=length, label=label, file=sys.stderr) as bar:
        yield from bar
