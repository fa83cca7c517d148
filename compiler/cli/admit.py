"""``compile admit``: will Kueue admit it? (SPEC §6, §2.5)."""

from __future__ import annotations

import sys

import click

from .app import cli
from .cluster import handles_cluster_errors
from .common import shared_options, text_or_json_option, timeout_option


@cli.command("admit")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@shared_options
@click.option("--live", is_flag=True, help="Against the cluster's queues now (current kubeconfig).")
@click.option("--context", help="Kubeconfig context (with --live; default: the current one).")
@timeout_option
@text_or_json_option
@handles_cluster_errors
def admit_command(files, live, context, timeout, output, **options):
    """Will Kueue admit FILES? From the policies alone: fits, fits by borrowing, never, no flavor.

    \b
    With --live, from the cluster's queues now: admitted at once, waits behind N workloads, or
    unknown with the reason (preemption, fair sharing, admission checks: not modelled).
    Exit 0: every workload admissible; 1: invalid input, or one can never be admitted;
    3: environment (no cluster, unreadable file); 4: an answer is unknown.
    """
    from ..admit.report import as_json, as_text, exit_status, main_object, verdicts
    from ..inputs import compile_paths
    from ..queues.compile import compile_queues
    from .core import exit_code
    from .render import as_text as diagnostics_text

    inputs, units, diagnostics = compile_paths(files, **options)
    queue_objects: list[dict] = []
    if not live:  # live, the cluster's own queues count
        queue_objects, queue_problems = compile_queues(inputs.catalog.policies)
        diagnostics = diagnostics + [d for d in queue_problems if d.is_error]
    if diagnostics:
        click.echo(diagnostics_text(diagnostics), err=True, nl=False)
    code = exit_code(diagnostics)
    if code:
        sys.exit(code)
    workloads = [obj for obj in (main_object(unit.objects) for unit in units) if obj is not None]
    if live:
        from ..cluster.admit import kueue_objects
        from ..cluster.client import connect

        kube = connect(context, options.get("namespace"), timeout)
        objects, live_workloads = kueue_objects(kube)
        found = verdicts(workloads, objects, live_workloads)
    else:
        found = verdicts(workloads, queue_objects)
    click.echo(as_json(found) if output == "json" else as_text(found), nl=False)
    sys.exit(exit_status(found))
