"""Which layers a workload is built from (SPEC 3.1): built-in defaults (added by resolve), global
policy defaults, project policy defaults, the base workload, the workload, and ``--set``."""

from __future__ import annotations

from .diagnostics import Diagnostic
from .resolve import Layer


def layers_for(document, catalog, options) -> tuple[list[Layer], list[Diagnostic]]:
    """The layers of ``document``, lowest first (without the built-in layer)."""
    layers = [Layer("workload", "the workload", document.data, document.positions)]
    layers.extend(options.sets)
    return layers, []
