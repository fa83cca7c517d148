"""Submitting compiled objects: the submission record, unique names, server-side apply.

What a submission records on its objects (annotations), so that a job on the cluster says where
it came from: who submitted it, the git commit of the manifest's repository, and the image.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .client import ApiError, Kube
from .kinds import FIELD_MANAGER, resource_for

SUBMITTED_BY = "manifest-compiler/submitted-by"
GIT_COMMIT = "manifest-compiler/git-commit"
GIT_DIRTY = "manifest-compiler/git-dirty"
IMAGE = "manifest-compiler/image"
RECORD_ANNOTATIONS = (SUBMITTED_BY, GIT_COMMIT, GIT_DIRTY, IMAGE)


# ---------------------------------------------------------------------------------------------
# the submission record


def submitter() -> str:
    """``user@host``, as the shell knows them."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class GitState:
    commit: str | None  # None: not in a git repository (or git is missing, or no commit yet)
    dirty_paths: tuple = ()
    problem: str = ""  # why there is no commit, for the warning

    @property
    def dirty(self) -> bool:
        return bool(self.dirty_paths)


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=30
    )


def git_state(manifest: str) -> GitState:
    """The commit of the repository holding ``manifest``; dirty when a tracked file is changed or
    the manifest itself is not committed."""
    path = Path(manifest).resolve()
    directory = path.parent
    try:
        head = _git(directory, "rev-parse", "--verify", "HEAD")
    except FileNotFoundError:
        return GitState(None, problem="git is not installed")
    except (OSError, subprocess.SubprocessError) as exc:
        return GitState(None, problem=f"git failed: {exc}")
    if head.returncode != 0:
        inside = _git(directory, "rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            return GitState(None, problem=f"{manifest} is not in a git repository")
        return GitState(None, problem=f"the repository of {manifest} has no commit yet")
    commit = head.stdout.strip()
    changed = _git(directory, "status", "--porcelain", "--untracked-files=no")
    dirty = [line[3:] for line in changed.stdout.splitlines() if line.strip()]
    tracked = _git(directory, "ls-files", "--error-unmatch", "--", str(path))
    if tracked.returncode != 0:
        dirty.insert(0, f"{manifest} (not committed)")
    return GitState(commit, tuple(dirty))


def record(git: GitState, image: str | None, who: str) -> tuple[tuple[str, str], ...]:
    """The annotations a submission adds to every object."""
    annotations = [(SUBMITTED_BY, who)]
    if git.commit:
        annotations.append((GIT_COMMIT, git.commit))
        if git.dirty:
            annotations.append((GIT_DIRTY, "true"))
    if image:
        annotations.append((IMAGE, image))
    return tuple(annotations)


def image_of(obj: dict) -> str | None:
    """The image of the first container of a JobSet, RayJob or Job."""

    def containers(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "containers" and isinstance(value, list):
                    yield from (c for c in value if isinstance(c, dict))
                else:
                    yield from containers(value)
        elif isinstance(node, list):
            for value in node:
                yield from containers(value)

    return next((c.get("image") for c in containers(obj.get("spec") or {}) if c.get("image")), None)


def timestamp_suffix(moment: datetime) -> str:
    """Run:ai's unique-name suffix: ``-2026-11-23t10-50-57`` (UTC, DNS-1035 friendly)."""
    return moment.astimezone(UTC).strftime("-%Y-%m-%dt%H-%M-%S")


def now_suffix() -> str:
    return timestamp_suffix(datetime.now(UTC))


# ---------------------------------------------------------------------------------------------
# applying


def apply(kube: Kube, obj: dict, dry_run: bool = False) -> dict:
    """Server-side apply under the field manager ``manifest-compiler``."""
    resource = resource_for(obj)
    namespace = (obj.get("metadata") or {}).get("namespace") or kube.namespace
    body = dict(obj)
    body["metadata"] = {**(obj.get("metadata") or {}), "namespace": namespace}
    query = {
        "fieldManager": FIELD_MANAGER,
        "force": "true",
        "fieldValidation": "Strict",
        "dryRun": "All" if dry_run else None,
    }
    return kube.request(
        "PATCH",
        resource.path(namespace, body["metadata"]["name"]),
        query,
        body=json.dumps(body),
        content_type="application/apply-patch+yaml",
    )


def describe_error(exc: ApiError) -> str:
    return f"{exc.status} {exc.reason}: {exc.message}"
