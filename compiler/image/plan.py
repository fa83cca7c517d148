"""Build plans: where an image is pushed, with which context, Dockerfile and arguments (pure)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BuildPlan:
    """Everything a builder needs, with paths relative to the repository root (POSIX)."""

    repository: str  # where the image is pushed, registry included
    tag: str
    context: str  # "." for the repository root
    dockerfile: str  # relative to the repository root
    build_args: tuple[tuple[str, str], ...] = ()  # (name, value) pairs, in manifest order
    target: str | None = None
    commit: str = ""
    remote_url: str | None = None
    remote_branch: str | None = None  # e.g. "main" (from origin/main)

    @property
    def destination(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def dockerfile_in_context(self) -> str:
        """The Dockerfile relative to the context (what kaniko's --dockerfile expects)."""
        return posixpath.relpath(self.dockerfile, self.context)


def normalise_path(path: str | None, default: str) -> str:
    text = (path or "").strip() or default
    normal = posixpath.normpath(text.replace("\\", "/"))
    return "." if normal in ("", ".") else normal


def dockerfile_candidates(context: str, dockerfile: str) -> tuple[str, ...]:
    """Where ``builder.dockerfile`` may be, relative to the repository root, in order of preference.

    Real manifests write it relative to the context (``context: smoke-test`` with
    ``dockerfile: ./build/Dockerfile``); the AIchor reference says relative to the repository root.
    The first that exists wins.
    """
    in_context = normalise_path(posixpath.join(context, dockerfile), "Dockerfile")
    from_root = normalise_path(dockerfile, "Dockerfile")
    return tuple(dict.fromkeys((in_context, from_root)))


def image_tag(short_commit: str, dirty: bool) -> str:
    """The commit, marked when the build includes uncommitted changes."""
    return f"{short_commit}-dirty" if dirty else short_commit


def build_args_of(builder: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in (builder.buildArgs or {}).items())
