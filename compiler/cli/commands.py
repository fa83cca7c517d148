"""The commands of the core: emit, check, schema. Their work is in core.py, which the direct path
(direct.py) runs without click for ``compile FILE`` and ``compile check FILE``."""

from __future__ import annotations

import sys

import click

from .app import cli
from .common import EXIT_OK, shared_options
from .constants import FORMATS
from .parallel import jobs_option


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
    from . import core

    code = core.emit(files, output, quiet, **options)
    if code != EXIT_OK:
        sys.exit(code)


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
    from . import core

    sys.exit(core.check(files, format_, strict, jobs, **options))


@cli.command("schema")
@click.argument("which", type=click.Choice(["manifest", "policy"]), default="manifest")
def schema_command(which):
    """Print the JSON Schema of manifests or policies (for editors)."""
    import json

    from ..model.schema import manifest_schema, policy_schema

    schema = manifest_schema() if which == "manifest" else policy_schema()
    click.echo(json.dumps(schema, indent=2, sort_keys=False))
