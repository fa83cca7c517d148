"""Stage 3: structure, manifest rules, policies and target limits, all reported at once."""

from __future__ import annotations

from ..diagnostics import Diagnostic, has_errors
from ..emit import Workload
from ..resolve import Resolved
from .semantics import check_semantics
from .structure import validate_manifest
from .targets import check_targets


def validate_workload(resolved: Resolved, catalog, name: str, name_path: tuple, project, namespace, document, options):
    """Returns (manifest or None, typed types, diagnostics)."""
    manifest, types, diagnostics = validate_manifest(resolved)
    diagnostics = list(diagnostics)
    if manifest is None or types is None:
        return None, None, diagnostics
    diagnostics += check_semantics(manifest, types, resolved)
    if has_errors(diagnostics):
        return None, None, diagnostics
    probe = Workload(manifest=manifest, types=types, name=name, namespace=namespace, project=project, source=document.file, digest="")
    diagnostics += check_targets(probe, resolved, name_path)
    return manifest, types, diagnostics


__all__ = ["validate_workload", "validate_manifest", "check_semantics", "check_targets"]
