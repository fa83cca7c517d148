"""What a parsed document is: a workload, a template or a policy (SPEC 2)."""

from __future__ import annotations

from .parse import Document

MANIFEST_KIND = "AIchorManifest"
POLICY_KIND = "Policy"


def kind_of(document: Document) -> str | None:
    data = document.data
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if (
        kind is None
        and isinstance(data.get("spec"), dict)
        and ("operator" in data["spec"] or "types" in data["spec"])
    ):
        return MANIFEST_KIND
    return kind if isinstance(kind, str) else None


def is_template(document: Document) -> bool:
    return isinstance(document.data, dict) and document.data.get("usage") == "Template"
