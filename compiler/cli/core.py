"""What ``compile FILE`` (emit) and ``compile check`` do once their arguments are parsed, without
click: the click commands (commands.py) and the direct path (direct.py) both call these, so the two
ways in print the same bytes and exit with the same code."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any, cast

from .. import __version__
from ..diagnostics import Severity, has_errors
from .constants import EXIT_ENV, EXIT_INVALID, EXIT_OK
from .parallel import ordered_map
from .render import as_github, as_json, as_sarif, as_text, echo

# an unreadable file; a .compile.yaml refused for its owner or mode
ENVIRONMENT_CODES = ("E006", "E216")


def exit_code(diagnostics) -> int:
    if any(d.code in ENVIRONMENT_CODES for d in diagnostics):
        return EXIT_ENV
    return EXIT_INVALID if has_errors(diagnostics) else EXIT_OK


def config_line(path: str) -> str:
    """Which .compile.yaml supplied policies, templates or the project: never a silent choice."""
    return f"note: using {path}"


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


@dataclass(frozen=True)
class _Named:
    """What ``duplicate_names`` reads of a workload: all a worker process sends back of it."""

    name: str
    namespace: str | None


@dataclass(frozen=True)
class _Checker:
    """Compiles one document for ``check``: [(diagnostics, _Named or None) per unit]. The same
    function runs in this process or in a worker (parallel.py), so the output is the same."""

    inputs: Any

    def __call__(self, document) -> list[tuple[list, _Named | None]]:
        from ..pipeline import compile_documents

        units = compile_documents([document], self.inputs.catalog, self.inputs.options)
        return [(unit.diagnostics, _named(unit.workload)) for unit in units]


def _named(workload) -> _Named | None:
    return None if workload is None else _Named(workload.name, workload.namespace)


def check(files, format_: str = "text", strict: bool = False, jobs: int = 0, **options) -> int:
    """Validate ``files`` and print the diagnostics in ``format_``; the exit code."""
    from ..inputs import load_inputs, sorted_diagnostics
    from ..pipeline import Unit
    from ..validate.boundary import duplicate_names

    inputs = load_inputs(files, check_policy_files=True, **options)
    diagnostics = list(inputs.diagnostics)
    units = []
    checked = ordered_map(_Checker(inputs), inputs.documents, jobs, "checking")
    for document, results in zip(inputs.documents, checked, strict=True):
        for unit_diagnostics, named in results:
            diagnostics.extend(unit_diagnostics)
            units.append(Unit(document, workload=cast(Any, named), diagnostics=unit_diagnostics))
    diagnostics.extend(problem for _, problem in duplicate_names(units))
    diagnostics = sorted_diagnostics(diagnostics)
    if format_ == "json":
        echo(as_json(diagnostics, inputs.files), nl=False)
    elif format_ == "github":
        echo(as_github(diagnostics, inputs.files), nl=False)
    elif format_ == "sarif":
        echo(as_sarif(diagnostics, __version__), nl=False)
    else:
        echo(as_text(diagnostics), nl=False)
        if inputs.config_file:
            echo(config_line(inputs.config_file))
    code = exit_code(diagnostics)
    if code == EXIT_OK and strict and any(d.severity is Severity.WARNING for d in diagnostics):
        code = EXIT_INVALID
    return code


def stream_closed() -> None:
    """stdout's reader went away (``compile x.yaml | head``): say nothing more and exit 1, as
    click does, instead of a BrokenPipeError traceback at interpreter exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    sys.exit(1)
