"""``compile local``: compile FILES as ``compile`` does, plan the pods the cluster would run
(compiler.local.plan) and run them here as processes (compiler.local.run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .app import cli
from .common import EXIT_ENV, EXIT_OK, shared_options


@cli.command("local")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@shared_options
@click.option(
    "--secrets",
    "secrets_dir",
    type=click.Path(),
    metavar="DIR",
    help="Secrets and ConfigMaps the pods read: DIR/<name>/<key> files, or Secret/ConfigMap "
    "YAML documents in DIR/*.yaml.",
)
def local_command(files, secrets_dir, **options):
    """Run FILES on this machine: every pod a process with the environment the cluster gives it.

    \b
    Output is each pod's, prefixed `POD | `; the exit code is the job's: 0 when every pod
    completed, else the first failing pod's code (130 on Ctrl-C). Run a smaller copy with
    --set, e.g. --set spec.types.worker.count=2.
    """
    from ..local.plan import plan
    from ..local.run import run_plan
    from ..local.sandbox import FALLBACK_NOTE, namespaces_refused
    from ..local.secrets import SecretsError, read_sources
    from . import core
    from .render import as_text, echo

    try:
        sources = read_sources(Path(secrets_dir)) if secrets_dir else {}
    except SecretsError as e:
        echo(f"error: --secrets: {e}", err=True)
        sys.exit(EXIT_ENV)
    objects, code = _compile(files, options)
    if code != EXIT_OK:
        sys.exit(code)
    pods = plan(objects, sources)
    if pods.diagnostics:
        echo(as_text(list(pods.diagnostics)), err=True, nl=False)
    code = core.exit_code(list(pods.diagnostics))
    if code != EXIT_OK:
        sys.exit(code)
    refused = namespaces_refused()
    if refused is not None:
        echo(FALLBACK_NOTE.format(reason=refused), err=True)
    sys.exit(run_plan(pods, Path.cwd(), dict(os.environ), namespaces=refused is None))


def _compile(files, options) -> tuple[list[dict], int]:
    """The objects ``compile FILES`` would print, and its exit code."""
    from ..inputs import compile_paths
    from . import core
    from .render import as_text, echo

    inputs, units, diagnostics = compile_paths(files, **options)
    if inputs.config_file:
        echo(core.config_line(inputs.config_file), err=True)
    if diagnostics:
        echo(as_text(diagnostics), err=True, nl=False)
    return [obj for unit in units for obj in unit.objects], core.exit_code(diagnostics)
