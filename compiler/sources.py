"""The edge where files are read: paths in, parsed documents and diagnostics out."""

from __future__ import annotations

import os
import sys

from .diagnostics import Diagnostic, Location, error
from .parse import Document, load_documents
from .parse.yaml12 import MAX_BYTES

YAML_SUFFIXES = (".yaml", ".yml")


def read_file(path: str) -> tuple[list[Document], list[Diagnostic]]:
    try:
        data = _read_bounded(path)
    except OSError as exc:
        return [], [error("E006", f"cannot read file: {exc.strerror or exc}", Location(path))]
    return load_documents(data, "<stdin>" if path == "-" else path)


def _read_bounded(path: str) -> bytes:
    """At most one byte more than the parser accepts: a huge file (or /dev/zero) is refused, not loaded."""
    if path == "-":
        return sys.stdin.buffer.read(MAX_BYTES + 1)
    with open(path, "rb") as stream:
        return stream.read(MAX_BYTES + 1)


def expand_paths(paths) -> list[str]:
    """Files as given; directories expand to their YAML files, recursively, in sorted order,
    leaving out hidden files and directories (``.compile.yaml``, ``.pre-commit-config.yaml``,
    ``.github/``: configuration, not manifests)."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(
                    os.path.join(root, f)
                    for f in sorted(files)
                    if f.endswith(YAML_SUFFIXES) and not f.startswith(".")
                )
        else:
            out.append(path)
    return out


def read_all(paths) -> tuple[list[Document], list[Diagnostic]]:
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    for path in expand_paths(paths):
        docs, problems = read_file(path)
        documents.extend(docs)
        diagnostics.extend(problems)
    return documents, diagnostics
