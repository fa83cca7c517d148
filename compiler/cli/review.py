"""``compile golden`` and ``compile diff``: how a platform admin reviews a change of output.

Thin: the work (compiling both sides, comparing, extracting git revisions, writing golden files)
is :mod:`compiler.review`'s; this module parses arguments, renders results and picks exit codes.
The core is imported inside the commands so that other commands start fast.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click

from .app import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK
from .parallel import jobs_option, ordered_map


def _mapper(jobs: int | None, label: str):
    """How the review runs its compiles: in worker processes when worth it, with a progress bar."""
    return lambda function, items: ordered_map(function, items, jobs, label)


def has_environment_error(diagnostics) -> bool:
    return any(d.code == "E006" for d in diagnostics)


def echo_diagnostics(diagnostics, indent: str = "  ") -> None:
    from .render import text_line

    for d in diagnostics:
        click.echo(indent + text_line(d))


# ---------------------------------------------------------------------------------------------
# compile golden


@cli.command("golden")
@click.argument("directory", default="examples", type=click.Path(file_okay=False))
@click.option(
    "--golden-dir",
    type=click.Path(file_okay=False),
    help="Where the golden files are [default: golden/ beside DIRECTORY].",
)
@click.option(
    "--update",
    is_flag=True,
    help="Rewrite the golden files that differ, write missing ones, delete those without an example.",
)
@jobs_option
def golden_command(directory, golden_dir, update, jobs):
    """Compile every workload in DIRECTORY/*.yaml and compare with its golden file.

    \b
    golden/<stem>.yaml is the exact output of, from the repository root:
      compile -p examples/policies -t examples/templates examples/<stem>.yaml
    Exit 1 when any file differs, is missing or has no example, or an example does not compile.
    """
    from ..review.files import EnvironmentProblem
    from ..review.golden import FAILED, summary
    from ..review.runs import compile_examples, golden_results

    directory = os.path.normpath(directory)
    if not os.path.isdir(directory):
        raise click.BadParameter(f"{directory} is not a directory", param_hint="DIRECTORY")
    golden_dir = (
        os.path.normpath(golden_dir)
        if golden_dir
        else os.path.join(os.path.dirname(directory), "golden")
    )
    compiled = compile_examples(directory, _mapper(jobs, "compiling examples"))
    try:
        results = golden_results(directory, golden_dir, compiled)
        if update:
            _update_golden(results, golden_dir)
        else:
            _report_golden(results)
    except EnvironmentProblem as problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_ENV)
    click.echo(summary(results, updated=update))
    failed = [r for r in results if (r.status == FAILED if update else r.failed)]
    environment = any(has_environment_error(c.diagnostics) for c in compiled.values())
    sys.exit(EXIT_ENV if environment else EXIT_INVALID if failed else EXIT_OK)


def _report_golden(results) -> None:
    from ..review.golden import DIFFERENT, EXTRA, FAILED, MISSING

    for r in results:
        if r.status == DIFFERENT:
            click.echo(f"{r.golden}: differs from the output of {r.example}")
            for change in r.changes:
                click.echo("  " + change.describe())
            if r.note:
                click.echo(f"  ({r.note})")
        elif r.status == MISSING:
            click.echo(
                f"{r.golden}: missing (the output of {r.example}; `compile golden --update` writes it)"
            )
        elif r.status == EXTRA:
            click.echo(f"{r.golden}: no example {r.stem}.yaml holds a workload for it")
        elif r.status == FAILED:
            click.echo(f"{r.example}: does not compile; {r.golden} not compared")
            echo_diagnostics(r.diagnostics)


def _update_golden(results, golden_dir: str) -> None:
    from ..review.runs import update_golden

    for done, r in update_golden(results, golden_dir):
        if done == "removed":
            click.echo(f"removed {r.golden} (no example holds a workload for it)")
        elif done == "kept":
            click.echo(f"{r.example}: does not compile; {r.golden} left as it was")
            echo_diagnostics(r.diagnostics)
        else:
            click.echo(f"{done} {r.golden}")


# ---------------------------------------------------------------------------------------------
# compile diff


@cli.command("diff")
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--before",
    "before_dir",
    type=click.Path(file_okay=False),
    help="Directory with the old policies/ and templates/.",
)
@click.option(
    "--after",
    "after_dir",
    type=click.Path(file_okay=False),
    help="Directory with the new policies/ and templates/.",
)
@click.option(
    "--policies-before",
    multiple=True,
    type=click.Path(),
    help="Old policy file or directory (repeatable).",
)
@click.option(
    "--policies-after",
    multiple=True,
    type=click.Path(),
    help="New policy file or directory (repeatable).",
)
@click.option(
    "--templates-before",
    multiple=True,
    type=click.Path(),
    help="Old template file or directory (repeatable).",
)
@click.option(
    "--templates-after",
    multiple=True,
    type=click.Path(),
    help="New template file or directory (repeatable).",
)
@click.option(
    "--git",
    "git_range",
    metavar="REV1..REV2",
    help="Compare the policies and templates of two git revisions.",
)
@click.option(
    "--base",
    "base_rev",
    metavar="REV",
    help="Compare a git revision's policies and templates with the working tree's.",
)
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(),
    help="With --git/--base: the policy paths in the repository [default: those of .compile.yaml, else examples/policies].",
)
@click.option(
    "-t",
    "--templates",
    "templates",
    multiple=True,
    type=click.Path(),
    help="With --git/--base: the template paths in the repository [default: those of .compile.yaml, else examples/templates].",
)
@click.option("--project", help="Project whose policies apply (default: each manifest's project).")
@click.option(
    "--format", "format_", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--exit-code", is_flag=True, help="Exit 1 when any manifest's result changed (for CI)."
)
@jobs_option
def diff_command(
    files,
    before_dir,
    after_dir,
    policies_before,
    policies_after,
    templates_before,
    templates_after,
    git_range,
    base_rev,
    policies,
    templates,
    project,
    format_,
    exit_code,
    jobs,
):
    """Show a policy or template change's effect on every manifest's output.

    \b
    compile diff --before old/ --after new/            (each with policies/ and templates/)
    compile diff --policies-before a.yaml --policies-after b.yaml
    compile diff --git HEAD~1..HEAD                     (two revisions of this repository)
    compile diff --base origin/main                     (a revision against the working tree)
    FILES default to the workloads under the current directory (in this repository, examples/*.yaml). Each manifest is compiled under both and
    reported as: became invalid, became valid, output changed, errors changed, still invalid, unchanged.
    """
    modes = [
        bool(before_dir or after_dir),
        bool(policies_before or policies_after or templates_before or templates_after),
        bool(git_range),
        bool(base_rev),
    ]
    if sum(modes) != 1:
        raise click.UsageError(
            "give exactly one of: --before/--after, --policies-before/--policies-after "
            "(and --templates-*), --git REV1..REV2, --base REV"
        )
    if (before_dir or after_dir) and not (before_dir and after_dir):
        raise click.UsageError("--before and --after go together")
    if (policies or templates) and not (git_range or base_rev):
        raise click.UsageError(
            "-p/-t name the paths in the repository for --git/--base; "
            "otherwise use --policies-before/--policies-after"
        )
    from ..review.files import EnvironmentProblem, UsageProblem
    from ..review.revisions import default_paths, diff_sides
    from ..review.runs import admission_diff, diff_all, quota_changes

    config = _diff_config()
    manifests = _diff_manifests(files, config)
    if not (policies or templates):
        policies, templates = (
            default_paths(config, "policies"),
            default_paths(config, "templates"),
        )
    try:
        with contextlib.ExitStack() as stack:
            before, after = diff_sides(
                stack,
                before_dir,
                after_dir,
                policies_before,
                policies_after,
                templates_before,
                templates_after,
                git_range,
                base_rev,
                policies,
                templates,
            )
            results, environment = diff_all(
                manifests, before, after, project, config, _mapper(jobs, "compiling")
            )
            admission = admission_diff(before, after)
            quotas = quota_changes(before, after)
    except UsageProblem as problem:
        raise click.UsageError(str(problem)) from None
    except EnvironmentProblem as problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_ENV)
    _report_diff(results, before, after, format_, quotas, admission)
    if environment:
        from .render import as_text

        click.echo(as_text(list(dict.fromkeys(environment))), err=True, nl=False)
        sys.exit(EXIT_ENV)
    changed = any(r.changed for r in results + admission) or bool(quotas)
    sys.exit(EXIT_INVALID if exit_code and changed else EXIT_OK)


def _diff_manifests(files, config) -> list[str]:
    """FILES; else this repository's examples/*.yaml; else, in a user's repository (one with a
    .compile.yaml that names policies or templates, or no examples/), every workload under the
    current directory outside the policies and templates."""
    from ..review.files import top_level_yaml, workload_files
    from ..sources import expand_paths

    if files:
        return expand_paths(files)
    configured = config.file is not None and (config.policies or config.templates)
    if os.path.isdir("examples") and not configured:
        return top_level_yaml("examples")
    found = workload_files(".", config.policies + config.templates)
    if not found:
        raise click.UsageError("no FILES given and no workload manifest under this directory")
    return found


def _diff_config():
    """The .compile.yaml found from here: its project applies to both sides, its paths to neither."""
    from ..config import load_config
    from .render import as_text

    config, problems = load_config()
    if problems:
        click.echo(as_text(problems), err=True, nl=False)
        sys.exit(EXIT_ENV if has_environment_error(problems) else EXIT_INVALID)
    return config


def _report_diff(results, before, after, format_: str, quotas=(), admission=()) -> None:
    from ..review.diff import counts, summary, words

    if format_ == "json":
        import json

        from .render import as_dict

        document = {
            "version": 1,
            "before": before.label,
            "after": after.label,
            "summary": {"manifests": len(results), **counts(results)},
            "manifests": [
                {
                    "file": r.file,
                    "status": r.status,
                    "changes": [c.as_dict() for c in r.changes],
                    "diagnostics": [as_dict(d) for d in r.diagnostics],
                    "newErrors": [as_dict(d) for d in r.new_errors],
                    "goneErrors": [as_dict(d) for d in r.gone_errors],
                    "note": r.note,
                }
                for r in results
            ],
            "quotas": list(quotas),
            "admission": [
                {"status": r.status, "changes": [c.as_dict() for c in r.changes]} for r in admission
            ],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"comparing {before.label} → {after.label}")
    if quotas:
        click.echo("quotas (compile queues):")
        for line in quotas:
            click.echo("  " + line)
    for r in list(results) + list(admission):
        click.echo(f"{r.file}: {words(r.status)}")
        for change in r.changes:
            click.echo("  " + change.describe())
        if r.note:
            click.echo(f"  ({r.note})")
        echo_diagnostics(r.new_errors, "  + ")
        echo_diagnostics(r.gone_errors, "  - ")
    click.echo(summary(results))
