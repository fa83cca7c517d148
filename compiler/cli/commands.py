"""The commands of the core: emit, check, schema."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..diagnostics import Severity, has_errors
from . import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK, load_inputs, shared_options
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


def _sorted(diagnostics):
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: d.sort_key())


def run_pipeline(files, **options):
    from ..pipeline import compile_documents

    inputs = load_inputs(files, **options)
    units = compile_documents(inputs.documents, inputs.catalog, inputs.options)
    diagnostics = list(inputs.diagnostics)
    for unit in units:
        diagnostics.extend(unit.diagnostics)
    return inputs, units, _sorted(diagnostics)


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
    from ..render import to_json, to_yaml

    inputs, units, diagnostics = run_pipeline(files, **options)
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
def check_command(files, format_, strict, **options):
    """Validate FILES without emitting; for pre-commit hooks and CI."""
    from ..pipeline import compile_documents
    from ..validate.boundary import duplicate_names
    from .render import progress

    inputs = load_inputs(files, **options)
    diagnostics = list(inputs.diagnostics)
    units = []
    with progress(inputs.documents, "checking") as documents:  # a bar on a terminal only
        for document in documents:
            for unit in compile_documents([document], inputs.catalog, inputs.options):
                diagnostics.extend(unit.diagnostics)
                units.append(unit)
    diagnostics.extend(problem for _, problem in duplicate_names(units))
    diagnostics = _sorted(diagnostics)
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
