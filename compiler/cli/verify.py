"""``compile verify``: drift between the cluster and what the manifests and policies make now.

The comparison is :mod:`compiler.verify` (pure); the reads are :mod:`compiler.cluster.live`.
"""

from __future__ import annotations

import json
import sys

import click

from .app import cli
from .cluster import _connect, _fail, handles_cluster_errors
from .common import (
    EXIT_ENV,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    shared_options,
    text_or_json_option,
    timeout_option,
)

EXIT_DRIFT = 1


@cli.command("verify")
@click.argument("files", nargs=-1, type=click.Path())
@shared_options
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="Without FILES: look in every namespace."
)
@click.option("--context", help="kubeconfig context (default: the current context).")
@timeout_option
@text_or_json_option
@handles_cluster_errors
def verify_command(files, all_namespaces, context, timeout, output, **options):
    """Compare live objects with what FILES compile to now, or find the jobs of --namespace NS
    compiled under other policies than today's; exit 1 on drift."""
    if files and all_namespaces:
        _fail(EXIT_USAGE, "--all-namespaces is for verify without FILES")
    if files:
        sys.exit(_verify_files(files, context, timeout, output, options))
    if not options["namespace"] and not all_namespaces:
        _fail(EXIT_USAGE, "give FILES, or --namespace NS or --all-namespaces")
    sys.exit(_verify_rules(context, timeout, output, all_namespaces, options))


def _compiled(files, options) -> list[dict]:
    from ..inputs import compile_paths
    from .core import exit_code
    from .render import as_text

    _, units, diagnostics = compile_paths(files, **options)
    if diagnostics:
        click.echo(as_text(diagnostics), err=True, nl=False)
    code = exit_code(diagnostics)
    if code != EXIT_OK:
        sys.exit(code)
    objects = [obj for unit in units for obj in unit.objects]
    if not objects:
        _fail(EXIT_INVALID, "nothing to verify: no workload among " + ", ".join(files))
    return objects


def _verify_files(files, context, timeout, output, options) -> int:
    from ..cluster.live import live_counterpart
    from ..cluster.submit import GIT_COMMIT, GIT_DIRTY, IMAGE, SUBMITTED_BY
    from ..verify.drift import compare
    from ..verify.fields import BadFields

    objects = _compiled(files, options)
    kube = _connect(context, options.get("namespace"), timeout)
    record = (SUBMITTED_BY, GIT_COMMIT, GIT_DIRTY, IMAGE)
    results = []
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        metadata.setdefault("namespace", kube.namespace)
        try:
            results.append(compare(obj, live_counterpart(kube, obj), record))
        except BadFields as exc:  # what the API server sent is not server-side apply's record
            _fail(
                EXIT_ENV, f"{obj['kind']} {metadata.get('name')}: unreadable managedFields: {exc}"
            )
    drifted = [r for r in results if r.drifted]
    if output == "json":
        report = {"drift": bool(drifted), "objects": [r.as_dict() for r in results]}
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(_drift_text(results, drifted), nl=False)
    return EXIT_DRIFT if drifted else EXIT_OK


def _drift_text(results, drifted) -> str:
    lines = []
    for result in results:
        if not result.found:
            lines.append(f"{result.label}: not on the cluster")
            continue
        if not result.differences:
            lines.append(f"{result.label}: no drift")
            continue
        count = len(result.differences)
        lines.append(f"{result.label}: {count} field{'s' if count > 1 else ''} drifted")
        for difference in result.differences:
            lines.append("  " + _difference_text(difference))
    lines.append(f"verify: {len(results)} objects, {len(drifted)} drifted")
    return "\n".join(lines) + "\n"


def _difference_text(difference) -> str:
    from ..verify.drift import MISSING, NOT_COMPILED

    who = ", ".join(difference.managers) or "no manager"
    compiled = json.dumps(difference.compiled, sort_keys=True)
    live = json.dumps(difference.live, sort_keys=True)
    if difference.kind == MISSING:
        return f"{difference.path}: compiled {compiled}, gone from the live object"
    if difference.kind == NOT_COMPILED:
        return f"{difference.path}: live {live} (applied by us), no longer in the compiled output"
    return f"{difference.path}: compiled {compiled}, live {live} (owned by {who})"


def _verify_rules(context, timeout, output, all_namespaces, options) -> int:
    from ..cluster.live import jobs_of_ours
    from ..inputs import load_inputs
    from ..verify.rules import stale_groups
    from .core import exit_code
    from .render import as_text

    inputs = load_inputs(
        [], policies=options.get("policies") or (), templates=options.get("templates") or ()
    )
    if inputs.diagnostics:
        click.echo(as_text(inputs.diagnostics), err=True, nl=False)
    code = exit_code(inputs.diagnostics)
    if code != EXIT_OK:
        sys.exit(code)
    kube = _connect(context, options.get("namespace"), timeout)
    namespace = None if all_namespaces else kube.namespace
    groups, seen = stale_groups(list(jobs_of_ours(kube, namespace)), inputs.catalog)
    stale = sum(len(group.objects) for group in groups)
    if output == "json":
        report = {"checked": seen, "stale": stale, "groups": [g.as_dict() for g in groups]}
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(_rules_text(groups, seen, stale), nl=False)
    return EXIT_DRIFT if groups else EXIT_OK


def _rules_text(groups, seen, stale) -> str:
    lines = []
    for group in groups:
        project = group.project or "(no project)"
        recorded = group.digest or "none recorded (compiled before policy digests)"
        lines.append(f"project {project}: compiled under policy digest {recorded}")
        lines.append(f"  today's: {', '.join(group.today)}")
        for obj in group.objects:
            version = f" (compiler {obj.compiler_version})" if obj.compiler_version else ""
            lines.append(f"  {obj.label}{version}")
    lines.append(f"verify: {seen} jobs, {stale} compiled under other policies than today's")
    return "\n".join(lines) + "\n"
