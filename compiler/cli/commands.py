"""The commands of the core: emit, check, schema."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, cast

import click

from .. import __version__
from ..diagnostics import Severity, has_errors
from . import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK, shared_options
from .parallel import jobs_option, ordered_map
from .render import FORMATS, as_github, as_json, as_sarif, as_text

# an unreadable file; a .compile.yaml refused for its owner or mode
ENVIRONMENT_CODES = ("E006", "E216")


def _exit_code(diagnostics) -> int:
    if any(d.code in ENVIRONMENT_CODES for d in diagnostics):
        return EXIT_ENV
    return EXIT_INVALID if has_errors(diagnostics) else EXIT_OK


def config_line(path: str) -> str:
    """Which .compile.yaml supplied policies, templates or the project: never a silent choice."""
    return f"note: using {path}"


@cli.command("emit")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@shared_options
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print warnings.")
def emit_command(files, output, quiet, **options):
    """Compile FILES to Kubernetes objects on stdout (the default command)."""
    from ..inputs import compile_paths
    from ..render import to_json, to_yaml

    inputs, units, diagnostics = compile_paths(files, **options)
    if inputs.config_file and not quiet:
        click.echo(config_line(inputs.config_file), err=True)
    shown = [d for d in diagnostics if d.is_error or not quiet]
    if shown:
        click.echo(as_text(shown), err=True, nl=False)
    code = _exit_code(diagnostics)
    if code != EXIT_OK:
        sys.exit(code)
    objects = [obj for unit in units for obj in unit.objects]
    click.echo(to_json(objects) if output == "json" else to_yaml(objects), nl=False)


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


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@shared_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to print diagnostics.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@jobs_option
def check_command(files, format_, strict, jobs, **options):
    """Validate FILES without emitting; for pre-commit hooks and CI."""
    from ..inputs import load_inputs, sorted_diagnostics
    from ..pipeline import Unit
    from ..validate.boundary import duplicate_names

    inputs = load_inputs(files, **options)
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
        click.echo(as_json(diagnostics, inputs.files), nl=False)
    elif format_ == "github":
        click.echo(as_github(diagnostics, inputs.files), nl=False)
    elif format_ == "sarif":
        click.echo(as_sarif(diagnostics, __version__), nl=False)
    else:
        click.echo(as_text(diagnostics), nl=False, err=False)
        if inputs.config_file:
            click.echo(config_line(inputs.config_file))
    code = _exit_code(diagnostics)
    if code == EXIT_OK and strict and any(d.severity is Severity.WARNING for d in diagnostics):
        code = EXIT_INVALID
    sys.exit(code)


@cli.command("schema")
@click.argument("which", type=click.Choice(["manifest", "policy"]), default="manifest")
def schema_command(which):
    """Print the JSON Schema of manifests or policies (for editors)."""
    import json

    from ..model.schema import manifest_schema, policy_schema

    schema = manifest_schema() if which == "manifest" else policy_schema()
    click.echo(json.dumps(schema, indent=2, sort_keys=False))
