"""The outputs a review compares, each compiled from files: a manifest as ``compile FILE`` prints
it, and the policies' Kueue queues and admission policies."""

from __future__ import annotations

import os

from ..diagnostics import Diagnostic, has_errors
from ..documents import MANIFEST_KIND, is_template, kind_of
from ..render import to_yaml
from .compiled import Compiled


def compile_file(
    path: str, policies=(), templates=(), project=None, config=None
) -> tuple[Compiled, bool]:
    """(Compiled, holds a workload) for one file, as ``compile`` would print it.

    ``config`` None: the .compile.yaml found from here applies, as on the command line; a
    ``Config``: that one instead (``compile diff`` gives one without policies and templates, so that
    each side has only its own)."""
    from ..inputs import compile_paths

    inputs, units, diagnostics = compile_paths(
        [path], policies=tuple(policies), templates=tuple(templates), project=project, config=config
    )
    return _compiled(path, inputs.documents, units, diagnostics)


def _compiled(path: str, documents, units, diagnostics) -> tuple[Compiled, bool]:
    readable = bool(documents) or not diagnostics
    holds_workload = any(kind_of(d) == MANIFEST_KIND and not is_template(d) for d in documents)
    text = (
        None
        if has_errors(diagnostics)
        else to_yaml([obj for unit in units for obj in unit.objects])
    )
    return Compiled(path, text, tuple(diagnostics)), holds_workload or not readable


def compile_read(path: str, read, paths, project, config) -> tuple[Compiled, bool]:
    """:func:`compile_file` of a file already read (``read``: its documents and the problems of
    reading it) under policies and templates already read (``paths``, a PathCatalog): the same
    result, without reading anything again. ``config`` is a ``Config`` (as ``compile diff`` gives)."""
    from ..catalog import catalog_for
    from ..inputs import sorted_diagnostics
    from ..pipeline import Options, compile_documents

    documents, problems = read
    catalog = (
        paths.alone
        if paths.needs_only_the_paths(path, documents)
        else catalog_for(documents, paths)
    )
    options = Options(project=project, default_project=config.project)
    units = compile_documents(documents, catalog, options)
    diagnostics = list(problems) + catalog.diagnostics
    for unit in units:
        diagnostics.extend(unit.diagnostics)
    return _compiled(path, documents, units, sorted_diagnostics(diagnostics))


def queues_of(policy_paths) -> Compiled | None:
    """``compile queues -p POLICY_PATHS``; None when the policies give no quota."""
    from ..queues.compile import compile_queues
    from ..sources import read_all

    documents, problems = read_all(policy_paths)
    objects, diagnostics = compile_queues(documents)
    found = tuple(problems + diagnostics)
    failed = any(d.is_error for d in found)
    if not objects and not failed:
        return None
    text = None if failed else to_yaml(objects)
    return Compiled(f"compile queues -p {policy_paths[0]}", text, found)


def admission_text(
    policy_paths, audit: bool = False, global_selector: dict | None = None
) -> tuple[str | None, list[Diagnostic]]:
    """(the output text or None, diagnostics) of ``compile admission -p POLICY_PATHS``."""
    from ..admission import admission_objects
    from ..catalog import build_catalog
    from ..validate.policy import loaded_policy

    catalog = build_catalog([], tuple(policy_paths))
    policies = [p for p in (loaded_policy(d) for d in catalog.policies) if p is not None]
    result = admission_objects(policies, audit=audit, global_selector=global_selector)
    diagnostics = list(catalog.diagnostics) + result.diagnostics
    if has_errors(diagnostics):
        return None, diagnostics
    return result.header() + to_yaml(result.objects), diagnostics


def relative_paths(text: str, paths) -> str:
    """Policy files named relative to the paths a side was given, so that only content differs."""
    for path in sorted(paths, key=len, reverse=True):
        if os.path.isdir(path):
            text = text.replace(path.rstrip(os.sep) + os.sep, "")
        else:
            text = text.replace(path, os.path.basename(path))
    return text
