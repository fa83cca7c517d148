"""``compile queues``: the Kueue objects that hold the policies' quotas (SPEC 2.5)."""

from __future__ import annotations

import sys

import click

from .app import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK, policies_option, policy_paths


@cli.command("queues")
@policies_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--cluster",
    metavar="NAME",
    default=None,
    help="The objects of worker cluster NAME (spec.clusters); without it, with worker clusters, "
    "the manager's.",
)
def queues_command(policies, output, cluster):
    """The Kueue objects that hold the policies' quotas, for `kubectl apply -f -`.

    \b
    compile queues -p policies/ | kubectl apply --server-side -f -
    A ResourceFlavor per GPU product and a default one, priority classes, and per project with a
    quota a ClusterQueue and a LocalQueue named after the project in its namespace.
    With worker clusters (spec.clusters of a global policy): the manager's objects, MultiKueue
    included; `--cluster NAME` gives worker NAME's.
    """
    from ..queues.compile import compile_queues
    from ..render import to_json, to_yaml
    from ..sources import read_all
    from .render import as_text

    documents, problems = read_all(policy_paths(policies))
    objects, diagnostics = compile_queues(documents, cluster)
    diagnostics = sorted(dict.fromkeys(problems + diagnostics), key=lambda d: d.sort_key())
    if diagnostics:
        click.echo(as_text(diagnostics), err=True, nl=False)
    if any(d.code == "E006" for d in diagnostics):
        sys.exit(EXIT_ENV)
    if any(d.is_error for d in diagnostics):
        sys.exit(EXIT_INVALID)
    if not objects:
        click.echo("no policy gives a project a quota (spec.quota)", err=True)
    click.echo(to_json(objects) if output == "json" else to_yaml(objects), nl=False)
    sys.exit(EXIT_OK)
