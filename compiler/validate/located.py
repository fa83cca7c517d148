"""Where a workload's problems are shown: in the workload, the file its author owns.

A problem found in a value a policy or template supplied is still the workload's problem: it is
placed at the nearest key the workload wrote (else its ``spec``), with the policy's or template's
place as context. A warning placed in a policy or template is for that file's owner, who sees it
when checking that file; it is not repeated in the report of every workload that uses it."""

from __future__ import annotations

from dataclasses import replace

from ..diagnostics import Diagnostic, Related
from ..parse import Document
from ..resolve.tree import parse_path

_OTHERS = ("global-policy", "project-policy", "base")  # layers the workload's author does not own


def in_the_workload(diagnostics: list[Diagnostic], document: Document, layers) -> list[Diagnostic]:
    names = {
        layer.positions.file: layer.name
        for layer in layers
        if layer.positions is not None and layer.role in _OTHERS
    }
    out = []
    for diagnostic in diagnostics:
        source = diagnostic.location.file
        if source == document.file or source not in names:
            out.append(diagnostic)
        elif diagnostic.is_error:
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
