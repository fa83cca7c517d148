"""The files a review reads and writes: example directories, golden files, atomic rewrites."""

from __future__ import annotations

import contextlib
import os
import tempfile


class EnvironmentProblem(Exception):
    """Something outside the input is wrong (a file cannot be written, git is missing): exit 3."""


class UsageProblem(Exception):
    """The command line asks for something impossible (an unknown revision): exit 2."""


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


def workload_files(directory: str, leave_out=()) -> list[str]:
    """The YAML files under ``directory`` (hidden ones and those under ``leave_out`` aside) that
    hold a workload: what a policy change can affect in a user's repository."""
    from ..documents import MANIFEST_KIND, is_template, kind_of
    from ..sources import expand_paths, read_file

    skipped = tuple(os.path.realpath(path) for path in leave_out)
    found = []
    for path in expand_paths([directory]):
        real = os.path.realpath(path)
        if any(real == s or real.startswith(s + os.sep) for s in skipped):
            continue
        documents, _ = read_file(path)
        if any(kind_of(d) == MANIFEST_KIND and not is_template(d) for d in documents):
            found.append(os.path.relpath(path) if directory == "." else path)
    return found


def golden_stems(golden_dir: str) -> list[str]:
    """Every *.yaml entry, files or not: one that cannot be read is reported, never skipped."""
    if not os.path.isdir(golden_dir):
        return []
    return sorted(
        stem(name)
        for name in os.listdir(golden_dir)
        if name.endswith(".yaml") and not name.startswith(".")
    )


def stem(path: str) -> str:
    return os.path.basename(path)[: -len(".yaml")]


def read_bytes(path: str) -> bytes | None:
    """The file's bytes; None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read {path}: {exc.strerror or exc}") from exc


def make_dirs(directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create {directory}: {exc.strerror or exc}") from exc


def remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot remove {path}: {exc.strerror or exc}") from exc


def write_atomically(path: str, data: bytes) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX)."""
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
