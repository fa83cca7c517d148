"""The effect of a policy or template change on every manifest: compiled before and after, compared."""

from __future__ import annotations

from dataclasses import dataclass

from ..emit.workload import RULES_DIGEST_ANNOTATION, VERSION_ANNOTATION
from .compiled import Compiled, read_objects
from .fielddiff import FieldChange, object_changes

# Status ids (JSON); the text output shows them with spaces.
BECAME_INVALID = "became-invalid"
BECAME_VALID = "became-valid"
CHANGED = "output-changed"
ERRORS_CHANGED = "errors-changed"
STILL_INVALID = "still-invalid"
UNCHANGED = "unchanged"

STATUSES = (BECAME_INVALID, BECAME_VALID, CHANGED, ERRORS_CHANGED, STILL_INVALID, UNCHANGED)
CHANGES = (BECAME_INVALID, BECAME_VALID, CHANGED, ERRORS_CHANGED)


@dataclass(frozen=True)
class DiffResult:
    file: str
    status: str
    changes: tuple[FieldChange, ...] = ()
    diagnostics: tuple = ()  # the errors after the change
    new_errors: tuple = ()  # errors after the change that were not there before
    gone_errors: tuple = ()  # errors before the change that are not there after
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.status in CHANGES


def compare(before: Compiled, after: Compiled) -> DiffResult:
    if not before.ok or not after.ok:
        return _compare_errors(before, after)
    if before.text == after.text:
        return DiffResult(after.file, UNCHANGED)
    assert before.text is not None and after.text is not None  # both ok
    if _PROVENANCE_LINE.sub("", before.text) == _PROVENANCE_LINE.sub("", after.text):
        return DiffResult(after.file, UNCHANGED)  # only the recorded digest differs: no parsing
    old, _ = read_objects(before.text)
    new, _ = read_objects(after.text)
    if _without_provenance(old) == _without_provenance(new):
        # most objects under a changed policy differ only in the digest they record: equal
        # objects need no field-by-field comparison, the costliest step of a review
        return DiffResult(after.file, UNCHANGED)
    changes = tuple(c for c in object_changes(old or [], new or []) if not _provenance(c.path))
    note = "" if changes else "the bytes differ but the objects are equal (formatting or key order)"
    return DiffResult(after.file, CHANGED, changes, note=note)


# Which rules and which compiler made an object: every object under a changed policy records
# the new digest, which says nothing about what the change does to it.
_PROVENANCE = (RULES_DIGEST_ANNOTATION, VERSION_ANNOTATION)


def _provenance_lines():
    import re

    keys = "|".join(re.escape(key) for key in _PROVENANCE)
    # as the renderer writes them under metadata.annotations: the digest is sha256 hex, the
    # version a plain scalar, so no line of a block scalar (a command) is mistaken for one
    return re.compile(rf"^    (?:{keys}): (?:sha256:[0-9a-f]{{64}}|[0-9A-Za-z.+-]+)\n", re.M)


_PROVENANCE_LINE = _provenance_lines()


def _provenance(path: str) -> bool:
    return any(path == f'metadata.annotations["{key}"]' for key in _PROVENANCE)


def _without_provenance(objects) -> list:
    stripped = []
    for obj in objects or []:
        if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
            annotations = obj["metadata"].get("annotations")
            if isinstance(annotations, dict):
                kept = {k: v for k, v in annotations.items() if k not in _PROVENANCE}
                obj = {**obj, "metadata": {**obj["metadata"], "annotations": kept}}
        stripped.append(obj)
    return stripped


def _compare_errors(before: Compiled, after: Compiled) -> DiffResult:
    before_keys = {_error_key(d) for d in before.errors}
    after_keys = {_error_key(d) for d in after.errors}
    new = tuple(d for d in after.errors if _error_key(d) not in before_keys)
    gone = tuple(d for d in before.errors if _error_key(d) not in after_keys)
    if before.ok:
        status = BECAME_INVALID
    elif after.ok:
        status = BECAME_VALID
    else:
        status = ERRORS_CHANGED if new or gone else STILL_INVALID
    return DiffResult(
        after.file, status, diagnostics=after.errors, new_errors=new, gone_errors=gone
    )


def _error_key(d) -> tuple:
    """What identifies an error on both sides (the related places, in policy files, may move)."""
    return (d.code, d.path, d.message, str(d.location))


def summary(results: list[DiffResult]) -> str:
    parts = [
        f"{sum(r.status == status for r in results)} {words(status)}"
        for status in STATUSES
        if any(r.status == status for r in results)
    ]
    noun = "manifest" if len(results) == 1 else "manifests"
    return f"diff: {len(results)} {noun}" + (": " + ", ".join(parts) if parts else "")


def counts(results: list[DiffResult]) -> dict:
    return {status: sum(r.status == status for r in results) for status in STATUSES}


def words(status: str) -> str:
    return status.replace("-", " ")
