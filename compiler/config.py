"""``.compile.yaml``: default policies, templates and project for every command, found from the
current directory upward, so that a pre-commit hook needs no arguments.

The search stops at the root of the git repository (a directory holding ``.git``) or at $HOME, so
that a file in a shared parent directory (``/tmp``, a group share) is never picked up; a config
owned by another user, or writable by group or others, is refused (E216): it would let someone
else choose every job's policies, templates and defaults.

    policies: [policies/]        # a path or a list of paths, relative to this file's directory
    templates: templates/
    project: team-a              # used when a manifest names no project

Finding the file touches the file system (:func:`find_config`, :func:`load_config`);
reading its content is pure (:func:`parse_config`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .diagnostics import Diagnostic, Location, close_matches, error
from .parse import load_documents

CONFIG_NAME = ".compile.yaml"
KEYS = ("policies", "templates", "project")


@dataclass(frozen=True)
class Config:
    """A .compile.yaml: its policies, templates and default project."""

    file: str | None = None
    policies: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    project: str | None = None


def parse_config(source: bytes | str, file: str) -> tuple[Config, list[Diagnostic]]:
    """The configuration in ``source``; paths in it are joined to the directory of ``file``."""
    documents, problems = load_documents(source, file)
    problems = [p for p in problems if p.code != "E011"]  # an empty file configures nothing
    if problems:
        return Config(file), problems
    data = documents[0].data if documents else None
    if data is None:
        return Config(file), []
    positions = documents[0].positions
    if not isinstance(data, dict):
        return Config(file), [
            error(
                "E102",
                f"{CONFIG_NAME} must be a mapping with the keys {', '.join(KEYS)}",
                Location(file),
            )
        ]
    diagnostics = _unknown_keys(data, positions)
    base = os.path.dirname(file)
    policies, problems = _paths(data, "policies", base, positions)
    diagnostics += problems
    templates, problems = _paths(data, "templates", base, positions)
    diagnostics += problems
    project = data.get("project")
    if project is not None and not (isinstance(project, str) and project):
        diagnostics.append(
            error(
                "E102", "project must be a project name", positions.nearest(("project",)), "project"
            )
        )
        project = None
    return Config(file, policies, templates, project), diagnostics


def _unknown_keys(data: dict, positions) -> list[Diagnostic]:
    out = []
    for key in data:
        if key not in KEYS:
            close = close_matches(str(key), KEYS)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; expected one of: {', '.join(KEYS)}"
            )
            out.append(
                error(
                    "E101",
                    f"unknown key {key!r} in {CONFIG_NAME}{hint}",
                    positions.nearest((key,), prefer_key=True),
                    str(key),
                )
            )
    return out


def _paths(data: dict, key: str, base: str, positions) -> tuple[tuple[str, ...], list[Diagnostic]]:
    value = data.get(key)
    if value is None:
        return (), []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        return (), [
            error(
                "E102", f"{key} must be a path or a list of paths", positions.nearest((key,)), key
            )
        ]
    return tuple(
        item if os.path.isabs(item) else os.path.normpath(os.path.join(base, item))
        for item in items
    ), []


def find_config(start: str = ".") -> str | None:
    """The nearest ``.compile.yaml`` from ``start`` upward, as a path relative to ``start``; the
    search ends at the repository root (``.git``) or at $HOME, whichever comes first."""
    prefix = start
    home = os.path.realpath(os.path.expanduser("~"))
    seen = set()
    while True:
        real = os.path.realpath(prefix)
        if real in seen:
            return None
        seen.add(real)
        candidate = os.path.join(prefix, CONFIG_NAME)
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
        if real == home or os.path.exists(os.path.join(real, ".git")):
            return None
        prefix = os.path.join(prefix, os.pardir)


def untrusted(path: str) -> str | None:
    """Why the config at ``path`` cannot be trusted (another owner, writable by others), or None."""
    uid = os.geteuid()
    for stat in (os.lstat(path), os.stat(path)):
        if stat.st_uid != uid:
            return f"it is owned by uid {stat.st_uid}, not by you (uid {uid})"
        if stat.st_mode & 0o022 and not _is_link(stat):
            return f"it is writable by group or others (chmod go-w {path})"
    return None


def _is_link(stat) -> bool:
    import stat as modes

    return modes.S_ISLNK(stat.st_mode)


def load_config(start: str = ".") -> tuple[Config, list[Diagnostic]]:
    path = find_config(start)
    if path is None:
        return Config(), []
    try:
        reason = untrusted(path)
    except OSError as exc:
        reason = f"it cannot be inspected: {exc.strerror or exc}"
    if reason:
        message = f"refusing {os.path.abspath(path)}: {reason}"
        return Config(), [error("E216", message, Location(path))]
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        return Config(path), [
            error("E006", f"cannot read {CONFIG_NAME}: {exc.strerror or exc}", Location(path))
        ]
    return parse_config(source, path)
