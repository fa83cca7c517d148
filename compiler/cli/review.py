"""``compile golden`` and ``compile diff``: how a platform admin reviews a change of output.

The comparisons are pure (:mod:`compiler.review`); this module compiles, reads and writes files,
and asks git for older revisions. The core is imported inside the commands so that other
commands start fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import click

from . import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK
from .parallel import jobs_option


class EnvironmentProblem(Exception):
    """Something outside the input is wrong (a file cannot be written, git is missing): exit 3."""


class UsageProblem(Exception):
    """The command line asks for something impossible (an unknown revision): exit 2."""


# ---------------------------------------------------------------------------------------------
# compiling one manifest file exactly as `compile FILE` prints it


def compile_file(path: str, policies=(), templates=(), project=None, config=None):
    """(Compiled, holds a workload) for one file, as ``compile`` would print it.

    ``config`` None: the .compile.yaml found from here applies, as on the command line; a
    ``Config``: that one instead (``compile diff`` gives one without policies and templates, so that
    each side has only its own)."""
    from ..diagnostics import has_errors
    from ..pipeline import MANIFEST_KIND, is_template, kind_of
    from ..render import to_yaml
    from ..review.compiled import Compiled
    from .commands import run_pipeline

    inputs, units, diagnostics = run_pipeline(
        [path], policies=tuple(policies), templates=tuple(templates), project=project, config=config
    )
    readable = bool(inputs.documents) or not diagnostics
    holds_workload = any(
        kind_of(d) == MANIFEST_KIND and not is_template(d) for d in inputs.documents
    )
    text = (
        None
        if has_errors(diagnostics)
        else to_yaml([obj for unit in units for obj in unit.objects])
    )
    return Compiled(path, text, tuple(diagnostics)), holds_workload or not readable


def option_dirs(directory: str) -> tuple[list[str], list[str]]:
    """DIR/policies and DIR/templates, each when it exists (the golden-file convention)."""
    policies = os.path.join(directory, "policies")
    templates = os.path.join(directory, "templates")
    return ([policies] if os.path.isdir(policies) else []), (
        [templates] if os.path.isdir(templates) else []
    )


def top_level_yaml(directory: str) -> list[str]:
    names = sorted(
        n
        for n in os.listdir(directory)
        if n.endswith(".yaml") and os.path.isfile(os.path.join(directory, n))
    )
    return [os.path.join(directory, n) for n in names]


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
    from ..review.golden import FAILED, compare_golden, pair_stems, summary

    directory = os.path.normpath(directory)
    if not os.path.isdir(directory):
        raise click.BadParameter(f"{directory} is not a directory", param_hint="DIRECTORY")
    golden_dir = (
        os.path.normpath(golden_dir)
        if golden_dir
        else os.path.join(os.path.dirname(directory), "golden")
    )
    compiled = _compile_examples(directory, jobs)
    try:
        results = []
        for stem, _, has_golden in pair_stems(list(compiled), _golden_stems(golden_dir)):
            golden_path = os.path.join(golden_dir, f"{stem}.yaml")
            expected = _read_bytes(golden_path) if has_golden else None
            results.append(compare_golden(stem, golden_path, expected, compiled.get(stem)))
        results += _queue_golden(directory, golden_dir)
        results += _admission_golden(directory, golden_dir)
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


def _compile_examples(directory: str, jobs: int | None = None) -> dict:
    """{stem: Compiled} for the files of DIRECTORY/*.yaml that hold a workload (or cannot be read)."""
    import functools

    from .parallel import ordered_map

    policies, templates = option_dirs(directory)
    paths = top_level_yaml(directory)
    compile_one = functools.partial(compile_file, policies=policies, templates=templates)
    compiled = {}
    for path, (result, holds_workload) in zip(
        paths, ordered_map(compile_one, paths, jobs, "compiling examples"), strict=True
    ):
        if holds_workload:
            compiled[_stem(path)] = result
    return compiled


QUEUES_GOLDEN = os.path.join("kueue", "queues.yaml")


def _queue_golden(directory: str, golden_dir: str) -> list:
    """golden/kueue/queues.yaml holds ``compile queues -p DIRECTORY/policies`` when the policies
    give a quota: a quota change shows in review like any other change of output."""
    from ..queues.kueue import compile_queues
    from ..render import to_yaml
    from ..review.compiled import Compiled
    from ..review.golden import compare_golden
    from ..sources import read_all

    policies, _ = option_dirs(directory)
    golden_path = os.path.join(golden_dir, QUEUES_GOLDEN)
    expected = _read_bytes(golden_path)
    compiled = None
    if policies:
        documents, problems = read_all(policies)
        objects, diagnostics = compile_queues(documents)
        found = tuple(problems + diagnostics)
        failed = any(d.is_error for d in found)
        if objects or failed:
            text = None if failed else to_yaml(objects)
            compiled = Compiled(f"compile queues -p {policies[0]}", text, found)
    if compiled is None and expected is None:
        return []
    return [compare_golden("kueue/queues", golden_path, expected, compiled)]


def _admission_golden(directory: str, golden_dir: str) -> list:
    from .admission import admission_golden

    return admission_golden(directory, golden_dir)


def _admission_diff(before, after) -> list:
    from .admission import admission_diff

    return admission_diff(before, after)


def _golden_stems(golden_dir: str) -> list[str]:
    """Every *.yaml entry, files or not: one that cannot be read is reported, never skipped."""
    if not os.path.isdir(golden_dir):
        return []
    return sorted(
        _stem(name)
        for name in os.listdir(golden_dir)
        if name.endswith(".yaml") and not name.startswith(".")
    )


def _stem(path: str) -> str:
    return os.path.basename(path)[: -len(".yaml")]


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read {path}: {exc.strerror or exc}") from exc


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
    """Each file is replaced whole (temporary file + rename): old or new, never partial."""
    from ..review.golden import DIFFERENT, EXTRA, FAILED, MISSING

    try:
        os.makedirs(golden_dir, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create {golden_dir}: {exc.strerror or exc}") from exc
    for r in results:
        if r.status in (DIFFERENT, MISSING):
            _make_dirs(os.path.dirname(r.golden))
            write_atomically(r.golden, r.text.encode("utf-8"))
            click.echo(f"{'updated' if r.status == DIFFERENT else 'wrote'} {r.golden}")
        elif r.status == EXTRA:
            _remove(r.golden)
            click.echo(f"removed {r.golden} (no example holds a workload for it)")
        elif r.status == FAILED:
            click.echo(f"{r.example}: does not compile; {r.golden} left as it was")
            echo_diagnostics(r.diagnostics)


def _make_dirs(directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create {directory}: {exc.strerror or exc}") from exc


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot remove {path}: {exc.strerror or exc}") from exc


def write_atomically(path: str, data: bytes) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX)."""
    import tempfile

    directory = os.path.dirname(path) or "."
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = 0o644
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write in {directory}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise EnvironmentProblem(
                f"cannot write {path}: {exc.strerror or exc}; it was left as it was"
            ) from exc
        raise


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
    FILES default to the workloads in examples/*.yaml. Each manifest is compiled under both and
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
    manifests = _diff_manifests(files)
    config = _diff_config()
    if not (policies or templates):
        policies, templates = (
            _default_paths(config, "policies"),
            _default_paths(config, "templates"),
        )
    try:
        with contextlib.ExitStack() as stack:
            before, after = _diff_sides(
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
            results, environment = _diff_all(manifests, before, after, project, config, jobs)
            admission = _admission_diff(before, after)
            quotas = _quota_changes(before, after)
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


class Side:
    """One side of a diff: a label for people, and the policy and template paths to compile with."""

    def __init__(self, label: str, policies, templates, root: str | None = None):
        self.label, self.policies, self.templates, self.root = (
            label,
            list(policies),
            list(templates),
            root,
        )

    def relabel(self, diagnostics) -> tuple:
        """Diagnostics that point into a materialised revision say ``REV:path`` instead of a temp path."""
        root = self.root
        if root is None:
            return tuple(diagnostics)
        import dataclasses

        def place(location):
            if location is None or not location.file.startswith(root + os.sep):
                return location
            return dataclasses.replace(
                location, file=f"{self.label}:{location.file[len(root) + 1 :]}"
            )

        def move(d):
            related = tuple(dataclasses.replace(r, location=place(r.location)) for r in d.related)
            return dataclasses.replace(d, location=place(d.location), related=related)

        return tuple(move(d) for d in diagnostics)


def _diff_manifests(files) -> list[str]:
    from ..sources import expand_paths

    if files:
        return expand_paths(files)
    if not os.path.isdir("examples"):
        raise click.UsageError("no FILES given and no examples/ directory here")
    return top_level_yaml("examples")


def _diff_sides(
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
) -> tuple[Side, Side]:
    if before_dir:
        return _dir_side(before_dir), _dir_side(after_dir)
    if not git_range and not base_rev:
        return (
            Side("before", policies_before, templates_before),
            Side("after", policies_after, templates_after),
        )
    repo = _git_root()
    paths = _repo_paths(repo, policies, "policy") + _repo_paths(repo, templates, "template")
    if git_range:
        old_rev, new_rev = _split_range(repo, git_range)
        return _revision_side(stack, repo, old_rev, paths), _revision_side(
            stack, repo, new_rev, paths
        )
    _verify_revision(repo, base_rev)
    working = Side(
        "working tree",
        [p for p in policies if os.path.exists(p)],
        [p for p in templates if os.path.exists(p)],
    )
    return _revision_side(stack, repo, base_rev, paths), working


def _diff_config():
    """The .compile.yaml found from here: its project applies to both sides, its paths to neither."""
    from ..config import load_config
    from .render import as_text

    config, problems = load_config()
    if problems:
        click.echo(as_text(problems), err=True, nl=False)
        sys.exit(EXIT_ENV if has_environment_error(problems) else EXIT_INVALID)
    return config


def _default_paths(config, kind: str) -> list[str]:
    """For --git/--base: the .compile.yaml's paths, else examples/policies and examples/templates."""
    configured = list(getattr(config, kind))
    if config.file is not None and (config.policies or config.templates):
        return configured
    path = os.path.join("examples", kind)
    return [path] if os.path.exists(path) else []


def _dir_side(directory: str) -> Side:
    policies, templates = option_dirs(directory)
    if not policies and not templates:
        policies = [directory]  # policies and `usage: Template` manifests side by side
    return Side(directory, policies, templates)


def _diff_all(manifests, before: Side, after: Side, project, config, jobs=None):
    from ..config import Config
    from .parallel import ordered_map

    only_project = Config(config.file, project=config.project)
    results, environment = [], []
    both_sides = _BothSides(before, after, project, only_project)
    for compared in ordered_map(both_sides, list(manifests), jobs, "compiling"):
        if compared is not None:
            result, problems = compared
            results.append(result)
            environment += problems
    return results, environment


@dataclass(frozen=True)
class _BothSides:
    """One manifest compiled before and after, compared: (the comparison, its E006s), or None
    when the file holds no workload. Runs in this process or in a worker (parallel.py)."""

    before: Side
    after: Side
    project: str | None
    config: object

    def __call__(self, path: str):
        from ..review.compiled import Compiled
        from ..review.diff import compare

        before, after = self.before, self.after
        old, holds_workload = compile_file(
            path, before.policies, before.templates, self.project, self.config
        )
        if not holds_workload:
            return None
        new, _ = compile_file(path, after.policies, after.templates, self.project, self.config)
        environment = [d for d in old.diagnostics + new.diagnostics if d.code == "E006"]
        old = Compiled(old.file, old.text, before.relabel(old.diagnostics))
        new = Compiled(new.file, new.text, after.relabel(new.diagnostics))
        return compare(old, new), environment


def _quota_changes(before: Side, after: Side) -> list[str]:
    """``team-a: gpus 16 → 8``: what ``compile queues`` would hold differently after the change."""
    from ..queues import quota_changes
    from ..queues.kueue import summary_of
    from ..sources import read_all

    def summary(side: Side) -> dict:
        documents, _ = read_all(side.policies)
        return summary_of(documents)

    return quota_changes(summary(before), summary(after))


def _report_diff(results, before: Side, after: Side, format_: str, quotas=(), admission=()) -> None:
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


# ---------------------------------------------------------------------------------------------
# git: revisions materialised into temporary directories


def _git(repo: str | None, *args: str, binary: bool = False):
    import subprocess

    command = ["git", *(["-C", repo] if repo else []), *args]
    try:
        done = subprocess.run(command, capture_output=True, check=False)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run git: {exc.strerror or exc}") from exc
    return (
        done
        if binary
        else subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
    )


def _git_root() -> str:
    done = _git(None, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise EnvironmentProblem(f"--git/--base need a git repository here: {done.stderr.strip()}")
    return done.stdout.strip()


def _verify_revision(repo: str, rev: str) -> str:
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode != 0:
        raise UsageProblem(f"{rev!r} is not a revision of this repository")
    return done.stdout.strip()


def _split_range(repo: str, spec: str) -> tuple[str, str]:
    if "..." in spec:
        old, new = spec.split("...", 1)
        old, new = old or "HEAD", new or "HEAD"
        _verify_revision(repo, old), _verify_revision(repo, new)
        base = _git(repo, "merge-base", old, new)
        if base.returncode != 0:
            raise UsageProblem(f"{old!r} and {new!r} have no common ancestor")
        return base.stdout.strip(), new
    if ".." not in spec:
        raise UsageProblem(
            f"--git takes REV1..REV2, not {spec!r} (use --base REV to compare with the working tree)"
        )
    old, new = spec.split("..", 1)
    old, new = old or "HEAD", new or "HEAD"
    _verify_revision(repo, old), _verify_revision(repo, new)
    return old, new


def _repo_paths(repo: str, paths, what: str) -> list[tuple[str, str]]:
    """(kind, path relative to the repository root, in git's spelling) for each -p/-t path."""
    kind = "policies" if what == "policy" else "templates"
    out = []
    for path in paths:
        relative = os.path.relpath(os.path.realpath(path), os.path.realpath(repo))
        if relative == ".." or relative.startswith(".." + os.sep):
            raise UsageProblem(f"the {what} path {path} is outside the repository {repo}")
        out.append((kind, relative.replace(os.sep, "/")))
    return out


def _revision_side(stack, repo: str, rev: str, paths) -> Side:
    """Extract the policy and template paths of ``rev`` into a temporary directory."""
    import io
    import tarfile
    import tempfile

    root = stack.enter_context(tempfile.TemporaryDirectory(prefix="compile-diff-"))
    root = os.path.realpath(root)
    present = [
        (kind, p) for kind, p in paths if _git(repo, "cat-file", "-e", f"{rev}:{p}").returncode == 0
    ]
    if present:
        archive = _git(
            repo,
            "archive",
            "--format=tar",
            rev,
            "--",
            *sorted({p for _, p in present}),
            binary=True,
        )
        if archive.returncode != 0:
            raise EnvironmentProblem(
                f"git archive {rev} failed: {archive.stderr.decode(errors='replace').strip()}"
            )
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(root, filter="data")
    policies = [os.path.join(root, p) for kind, p in present if kind == "policies"]
    templates = [os.path.join(root, p) for kind, p in present if kind == "templates"]
    return Side(rev, policies, templates, root)
