"""``compile admission``: the policies as ValidatingAdmissionPolicy objects (issue 16).

Thin: reads the policy files, calls :func:`compiler.admission.admission_objects`, prints.
"""

from __future__ import annotations

import sys

import click

from . import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK


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


def admission_text(policy_paths, audit: bool = False, global_selector: dict | None = None):
    """(the output text or None, diagnostics) of ``compile admission -p POLICY_PATHS``."""
    from ..admission import admission_objects
    from ..catalog import build_catalog
    from ..diagnostics import has_errors
    from ..render import to_yaml
    from ..validate.policy import loaded_policy

    catalog = build_catalog([], tuple(policy_paths))
    policies = [p for p in (loaded_policy(d) for d in catalog.policies) if p is not None]
    result = admission_objects(policies, audit=audit, global_selector=global_selector)
    diagnostics = list(catalog.diagnostics) + result.diagnostics
    if has_errors(diagnostics):
        return None, diagnostics
    return result.header() + to_yaml(result.objects), diagnostics


@cli.command("admission")
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(),
    help="Policy file or directory (repeatable) [default: the policies of .compile.yaml].",
)
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
    from .render import as_text

    selector = parse_selector(global_selector)
    if not policies:
        from ..config import load_config

        config, problems = load_config()
        if problems:
            click.echo(as_text(problems), err=True, nl=False)
            sys.exit(EXIT_ENV)
        policies = config.policies
    if not policies:
        raise click.UsageError("no policies: give -p/--policy, or list them in .compile.yaml")
    text, diagnostics = admission_text(policies, audit, selector)
    shown = [d for d in diagnostics if d.is_error or not quiet]
    if shown:
        click.echo(as_text(shown), err=True, nl=False)
    if any(d.code == "E006" for d in diagnostics):
        sys.exit(EXIT_ENV)
    if has_errors(diagnostics) or text is None:
        sys.exit(EXIT_INVALID)
    click.echo(text, nl=False)
    sys.exit(EXIT_OK)


# ---------------------------------------------------------------------------------------------
# review: golden files and diffs cover the admission policies like any other output

ADMISSION_GOLDEN = "admission/policies.yaml"


def admission_golden(directory: str, golden_dir: str) -> list:
    """golden/admission/policies.yaml holds ``compile admission -p DIRECTORY/policies``."""
    import os

    from ..review.compiled import Compiled
    from ..review.golden import compare_golden
    from .review import _read_bytes, option_dirs

    policies, _ = option_dirs(directory)
    golden_path = os.path.join(golden_dir, ADMISSION_GOLDEN)
    expected = _read_bytes(golden_path)
    if not policies and expected is None:
        return []
    compiled = None
    if policies:
        text, diagnostics = admission_text(policies)
        compiled = Compiled(f"compile admission -p {policies[0]}", text, tuple(diagnostics))
    return [compare_golden("admission/policies", golden_path, expected, compiled)]


def admission_diff(before, after) -> list:
    """One more entry of ``compile diff`` when the admission policies of the two sides differ
    (policy files are named relative to the paths each side was given, so that only content
    shows)."""
    from ..review.compiled import Compiled
    from ..review.diff import UNCHANGED, compare

    if not before.policies and not after.policies:
        return []
    label = "admission policies (compile admission)"
    sides = []
    for side in (before, after):
        text, diagnostics = admission_text(side.policies) if side.policies else ("", [])
        if text:
            text = _relative_paths(text, side.policies)
        sides.append(Compiled(label, text, side.relabel(diagnostics)))
    result = compare(*sides)
    return [] if result.status == UNCHANGED else [result]


def _relative_paths(text: str, paths) -> str:
    import os

    for path in sorted(paths, key=len, reverse=True):
        if os.path.isdir(path):
            text = text.replace(path.rstrip(os.sep) + os.sep, "")
        else:
            text = text.replace(path, os.path.basename(path))
    return text
