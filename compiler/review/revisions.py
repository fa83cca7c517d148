"""The two sides of ``compile diff``: directories, explicit paths, or git revisions materialised
into temporary directories."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import tarfile
import tempfile
from contextlib import ExitStack

from .files import EnvironmentProblem, UsageProblem, option_dirs


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

        def place(location):
            if location is None or not location.file.startswith(root + os.sep):
                return location
            return location._replace(file=f"{self.label}:{location.file[len(root) + 1 :]}")

        def move(d):
            related = tuple(dataclasses.replace(r, location=place(r.location)) for r in d.related)
            return dataclasses.replace(d, location=place(d.location), related=related)

        return tuple(move(d) for d in diagnostics)


def diff_sides(
    stack: ExitStack,
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


def default_paths(config, kind: str) -> list[str]:
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


# ---------------------------------------------------------------------------------------------
# git: revisions materialised into temporary directories


def _git(repo: str | None, *args: str, binary: bool = False):
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
