"""``compile admission``: the policies as ValidatingAdmissionPolicy objects (issue 16).

Thin: :func:`compiler.review.outputs.admission_text` reads the policies and builds the objects
(the same text ``compile golden`` and ``compile diff`` compare); this module prints it.
"""

from __future__ import annotations

import sys

import click

from .app import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK, policies_option, policy_paths


def parse_selector(text: str | None) -> dict | None:
    """``key=value,key2=value2`` -> matchLabels."""
    if not text:
        return None
    labels = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{part!r} is not KEY=VALUE", param_hint="--global-selector")
        labels[key.strip()] = value.strip()
    return labels


@cli.command("admission")
@policies_option
@click.option(
    "--audit",
    is_flag=True,
    help="Bind with validationActions [Audit, Warn] instead of [Deny]: report, do not refuse.",
)
@click.option(
    "--global-selector",
    metavar="KEY=VALUE[,…]",
    help="Bind global policies only to namespaces with these labels [default: every namespace].",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print warnings.")
def admission_command(policies, audit, global_selector, quiet):
    """Print ValidatingAdmissionPolicy objects that make the API server hold the policies.

    \b
    compile admission -p policies/ | kubectl apply -f -
    The policies bind to JobSet, RayJob and batch/v1 Job objects in each project's namespace
    (global policies: every namespace). The comment at the top lists the rules that only
    `compile` can hold.
    """
    from ..diagnostics import has_errors
    from ..review.outputs import admission_text
    from .render import as_text

    selector = parse_selector(global_selector)
    text, diagnostics = admission_text(policy_paths(policies), audit, selector)
    shown = [d for d in diagnostics if d.is_error or not quiet]
    if shown:
        click.echo(as_text(shown), err=True, nl=False)
    if any(d.code == "E006" for d in diagnostics):
        sys.exit(EXIT_ENV)
    if has_errors(diagnostics) or text is None:
        sys.exit(EXIT_INVALID)
    click.echo(text, nl=False)
    sys.exit(EXIT_OK)
