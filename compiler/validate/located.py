"""Where a workload's problems are shown: in the workload, the file its author owns.

A problem found in a value a policy or template supplied is still the workload's problem: it is
placed at the nearest key the workload wrote (else its ``spec``), with the policy's or template's
place as context. A warning about what a template itself writes is for the template's owner, who
sees it when checking the template; it is not repeated in the report of every workload using it."""

from __future__ import annotations

from dataclasses import replace

from ..diagnostics import Diagnostic, Related
from ..parse import Document
from ..resolve.tree import parse_path

_OTHERS = ("global-policy", "project-policy", "base")  # layers the workload's author does not own
# Warnings about what a template itself writes, whatever the policies: checking the template shows
# them (pipeline.check_template), so a workload's report leaves them out.
TEMPLATES_OWN = frozenset(("W101", "W102", "W103", "W104", "W110", "W111"))


def in_the_workload(diagnostics: list[Diagnostic], document: Document, layers) -> list[Diagnostic]:
    others = [layer for layer in layers if layer.positions is not None and layer.role in _OTHERS]
    names = {layer.positions.file: layer.name for layer in others}
    roles = {layer.positions.file: layer.role for layer in others}
    out = []
    for diagnostic in diagnostics:
        source = diagnostic.location.file
        if source == document.file or source not in names:
            out.append(diagnostic)
        elif not (roles[source] == "base" and diagnostic.code in TEMPLATES_OWN):
            out.append(_moved(diagnostic, document, names[source]))
    return out


def _moved(diagnostic: Diagnostic, document: Document, layer_name: str) -> Diagnostic:
    try:
        path = parse_path(diagnostic.path)
    except ValueError:
        path = ("spec",)
    where = document.positions.nearest(path or ("spec",), prefer_key=True)
    setter = f"value set by {layer_name}"
    if any(r.message == setter and r.location is None for r in diagnostic.related):
        related = tuple(
            Related(setter, diagnostic.location) if r.message == setter else r
            for r in diagnostic.related
        )
    else:
        related = (*diagnostic.related, Related(f"from {layer_name}", diagnostic.location))
    return replace(diagnostic, location=where, related=related)
