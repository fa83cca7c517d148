"""What a build needs to know about the repository, and whether it may build from it.

:func:`read_git_facts` is the edge (it runs ``git``); :func:`check_git` and
:func:`kaniko_git_context` are pure.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Location, error


class GitUnavailable(Exception):
    """Not a git repository, no commit yet, or git cannot be run."""


@dataclass(frozen=True)
class GitFacts:
    root: str
    commit: str
    short_commit: str
    changes: tuple[str, ...]  # `git status --porcelain` lines: modified, staged, untracked
    remote_branches: tuple[str, ...]  # "origin/main", … that contain HEAD
    remote_urls: tuple = ()  # (remote name, fetch URL) pairs

    @property
    def dirty(self) -> bool:
        return bool(self.changes)

    def remote_url(self, remote: str) -> str | None:
        return dict(self.remote_urls).get(remote)


def _git(directory: str, *args: str) -> str:
    environment = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            ["git", "-C", directory, *args],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
    except OSError as exc:
        raise GitUnavailable(f"cannot run git: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        raise GitUnavailable(
            done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"git {' '.join(args)} failed"
        )
    return done.stdout


def parse_remote_branches(output: str) -> tuple[str, ...]:
    """``git branch -r --contains HEAD`` output to branch names, without ``origin/HEAD -> …`` aliases."""
    branches = []
    for line in output.splitlines():
        name = line.strip().lstrip("* ").strip()
        if name and "->" not in name:
            branches.append(name)
    return tuple(branches)


def read_git_facts(directory: str) -> GitFacts:
    """The repository holding ``directory``; raises :class:`GitUnavailable`."""
    root = _git(directory, "rev-parse", "--show-toplevel").strip()
    commit = _git(root, "rev-parse", "--verify", "HEAD^{commit}").strip()
    short = _git(root, "rev-parse", "--short", "HEAD").strip()
    changes = tuple(
        line for line in _git(root, "status", "--porcelain").splitlines() if line.strip()
    )
    branches = parse_remote_branches(_git(root, "branch", "-r", "--contains", "HEAD"))
    remotes = tuple(name for name in _git(root, "remote").split() if name)
    urls = tuple((name, _git(root, "remote", "get-url", name).strip()) for name in remotes)
    return GitFacts(root, commit, short, changes, branches, urls)


def check_git(facts: GitFacts, allow_dirty: bool, where: Location) -> list[Diagnostic]:
    """A build must come from a clean tree whose commit is on a remote branch, unless --allow-dirty."""
    if allow_dirty:
        return []
    problems = []
    if facts.dirty:
        shown = ", ".join(line[3:] for line in facts.changes[:5]) + (
            ", …" if len(facts.changes) > 5 else ""
        )
        problems.append(
            error(
                "E602",
                f"the working tree of {facts.root} has uncommitted changes ({shown}); "
                "commit them, or build anyway with --allow-dirty",
                where,
            )
        )
    if not facts.remote_branches:
        problems.append(
            error(
                "E603",
                f"commit {facts.short_commit} is not on any remote branch; push it "
                "(git push), or build anyway with --allow-dirty",
                where,
            )
        )
    return problems


def split_remote_branch(name: str) -> tuple[str, str]:
    """``origin/feature/x`` -> (``origin``, ``feature/x``)."""
    remote, _, branch = name.partition("/")
    return remote, branch


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")


def kaniko_git_context(url: str, branch: str | None, commit: str) -> str:
    """kaniko's ``git://HOST/PATH#refs/heads/BRANCH#COMMIT`` context for a remote URL.

    kaniko clones ``git://`` contexts over HTTPS, so an SSH remote (``git@host:org/repo.git``,
    ``ssh://git@host/org/repo.git``) is rewritten to its host and path.
    """
    text = url.strip()
    for prefix in ("https://", "http://", "git://", "ssh://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            text = text.split("@", 1)[1] if "@" in text.split("/", 1)[0] else text
            break
    else:
        match = _SCP_LIKE.match(text)
        if match:
            text = f"{match.group(1)}/{match.group(2)}"
    reference = f"#refs/heads/{branch}" if branch else "#"
    return f"git://{text}{reference}#{commit}"
