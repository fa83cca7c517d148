"""What ``compile FILE`` (emit) and ``compile check`` do once their arguments are parsed, without
click: the click commands (commands.py) and the direct path (direct.py) both call these, so the two
ways in print the same bytes and exit with the same code."""

from __future__ import annotations

import contextlib
import sys

from .. import __version__
from ..diagnostics import Severity, has_errors
from ..tuples import NamedTuple
from . import acyclic
from .constants import EXIT_ENV, EXIT_INVALID, EXIT_OK
from .parallel import ordered_map
from .render import as_github, as_json, as_sarif, as_text, echo

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

# an unreadable file; a .compile.yaml refused for its owner or mode
ENVIRONMENT_CODES = ("E006", "E216")


def exit_code(diagnostics) -> int:
    if any(d.code in ENVIRONMENT_CODES for d in diagnostics):
        return EXIT_ENV
    return EXIT_INVALID if has_errors(diagnostics) else EXIT_OK


def config_line(path: str) -> str:
    """Which .compile.yaml supplied policies, templates or the project: never a silent choice."""
    return f"note: using {path}"


@acyclic
def emit(files, output: str = "yaml", quiet: bool = False, **options) -> int:
    """Compile ``files`` and print their objects; the exit code."""
    from ..inputs import compile_paths
    from ..render import to_json, to_yaml

    inputs, units, diagnostics = compile_paths(files, **options)
    if inputs.config_file and not quiet:
        echo(config_line(inputs.config_file), err=True)
    shown = [d for d in diagnostics if d.is_error or not quiet]
    if shown:
        echo(as_text(shown), err=True, nl=False)
    code = exit_code(diagnostics)
    if code != EXIT_OK:
        return code
    objects = [obj for unit in units for obj in unit.objects]
    echo(to_json(objects) if output == "json" else to_yaml(objects), nl=False)
    return EXIT_OK


class _Named(NamedTuple):
    """What ``duplicate_names`` reads of a workload: all a worker process sends back of it."""

    name: str
    namespace: str | None


# _Checker, _FileChecker: plain classes, not dataclasses, whose generated methods a cold
# ``check`` would compile at every start (issue 25)


class _Checker:
    """Compiles one document for ``check``: [(diagnostics, _Named or None) per unit]. The same
    function runs in this process or in a worker (parallel.py), so the output is the same."""

    __slots__ = ("inputs",)

    def __init__(self, inputs: Any):
        self.inputs = inputs

    def __call__(self, document) -> list[tuple[list, _Named | None]]:
        from ..pipeline import compile_documents

        units = compile_documents([document], self.inputs.catalog, self.inputs.options)
        return [(unit.diagnostics, _named(unit.workload)) for unit in units]


def _named(workload) -> _Named | None:
    return None if workload is None else _Named(workload.name, workload.namespace)


@acyclic
def check(files, format_: str = "text", strict: bool = False, jobs: int = 0, **options) -> int:
    """Validate ``files`` and print the diagnostics in ``format_``; the exit code."""
    from ..inputs import sorted_diagnostics
    from ..validate.boundary import duplicate_names

    diagnostics, units, checked_files, config_file = _check_files(files, jobs, options)
    diagnostics.extend(problem for _, problem in duplicate_names(units))
    diagnostics = sorted_diagnostics(diagnostics)
    if format_ == "json":
        echo(as_json(diagnostics, checked_files), nl=False)
    elif format_ == "github":
        echo(as_github(diagnostics, checked_files), nl=False)
    elif format_ == "sarif":
        echo(as_sarif(diagnostics, __version__), nl=False)
    else:
        echo(as_text(diagnostics), nl=False)
        if config_file:
            echo(config_line(config_file))
    code = exit_code(diagnostics)
    if code == EXIT_OK and strict and any(d.severity is Severity.WARNING for d in diagnostics):
        code = EXIT_INVALID
    return code


def _check_files(files, jobs: int, options: dict) -> tuple[list, list, list, str | None]:
    """(every diagnostic but E215, the units for duplicate_names, the files, the .compile.yaml).

    Each file is read, parsed and compiled where it is checked (in a worker when there are
    many), against the catalog of the -p/-t paths: a document that draws on the other inputs (a
    base workload, a template, a policy, a file also under -p/-t) needs the catalog of every
    input, and then every file is read here first, as ``compile FILE`` does."""
    from ..inputs import load_setting
    from ..sources import expand_paths

    setting = load_setting(**options)
    paths = expand_paths(files)
    if "-" not in paths:
        catalog = setting.paths.alone
        checker = _FileChecker(setting.paths, setting.options)
        checked = list(ordered_map(checker, paths, jobs, "checking"))
        if all(result is not None for result in checked):
            diagnostics = [d for problems, _ in checked for d in problems]
            diagnostics += setting.problems + catalog.diagnostics
            units = []
            for _, documents in checked:
                for results in documents:
                    for unit_diagnostics, named in results:
                        diagnostics.extend(unit_diagnostics)
                        units.append(_NameOnly.unit(named, unit_diagnostics))
            return diagnostics, units, paths, setting.config_file
    return _check_all_read_first(files, jobs, options)


def _check_all_read_first(files, jobs: int, options: dict) -> tuple[list, list, list, str | None]:
    from ..inputs import load_inputs
    from ..pipeline import Unit

    inputs = load_inputs(files, check_policy_files=True, **options)
    diagnostics = list(inputs.diagnostics)
    units = []
    checked = ordered_map(_Checker(inputs), inputs.documents, jobs, "checking")
    for document, results in zip(inputs.documents, checked, strict=True):
        for unit_diagnostics, named in results:
            diagnostics.extend(unit_diagnostics)
            units.append(Unit(document, workload=_stand_in(named), diagnostics=unit_diagnostics))
    return diagnostics, units, inputs.files, inputs.config_file


class _FileChecker:
    """Reads, parses and checks one file, each document on its own, as _Checker does: (the
    problems of reading it, [[(diagnostics, _Placed or None) per unit] per document]); None when
    a document of it needs the catalog of every input."""

    __slots__ = ("options", "paths")

    def __init__(self, paths: Any, options: Any):
        self.paths = paths  # a PathCatalog
        self.options = options

    def __call__(self, path: str):
        from ..pipeline import compile_documents
        from ..sources import read_file

        documents, problems = read_file(path)
        if not self.paths.needs_only_the_paths(path, documents):
            return None
        results = []
        for document in documents:
            units = compile_documents([document], self.paths.alone, self.options)
            results.append([(unit.diagnostics, _placed(unit.workload, document)) for unit in units])
        return problems, results


class _Placed(NamedTuple):
    """A workload's name and namespace, and where its document names it."""

    name: str
    namespace: str | None
    where: Any


def _placed(workload, document) -> _Placed | None:
    from ..validate.boundary import _name_location

    if workload is None:
        return None
    return _Placed(workload.name, workload.namespace, _name_location(document))


class _NameOnly:
    """A document as ``duplicate_names`` reads it, when a worker parsed it: where its name is."""

    def __init__(self, where):
        self.data = {"name": None}
        self.file = where.file
        self.positions = self
        self._where = where

    def nearest(self, path, prefer_key: bool = False):
        return self._where

    @classmethod
    def unit(cls, placed: _Placed | None, diagnostics):
        from ..pipeline import Unit

        document = cls(placed.where) if placed is not None else None
        return Unit(_stand_in(document), workload=_stand_in(placed), diagnostics=diagnostics)


def _stand_in(value: object) -> Any:
    """``value`` where a Document or Workload is expected: what a worker sends back of one is all
    that ``duplicate_names`` reads of it."""
    return value


def stream_closed() -> None:
    """stdout's reader went away (``compile x.yaml | head``): say nothing more and exit 1, as
    click does, instead of a BrokenPipeError traceback at interpreter exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    sys.exit(1)
