"""Golden files: ``golden/<stem>.yaml`` holds the exact output of ``examples/<stem>.yaml``.

The bytes decide whether a golden file matches; the field diff only explains a mismatch, so a
difference the field diff cannot see (formatting, key order) still fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from .compiled import Compiled, read_objects
from .fielddiff import FieldChange, object_changes

SAME = "same"
DIFFERENT = "different"
MISSING = "missing"  # an example without its golden file
EXTRA = "extra"  # a golden file without its example
FAILED = "failed"  # the example does not compile

FAILING = (DIFFERENT, MISSING, EXTRA, FAILED)


@dataclass(frozen=True)
class GoldenResult:
    stem: str
    example: str | None
    golden: str
    status: str
    changes: tuple[FieldChange, ...] = ()
    diagnostics: tuple = ()
    note: str = ""
    text: str | None = None  # the example's output, which --update writes

    @property
    def failed(self) -> bool:
        return self.status in FAILING


def compare_golden(
    stem: str, golden: str, expected: bytes | None, compiled: Compiled | None
) -> GoldenResult:
    """Compare one example's output with its golden file's bytes (None: the file does not exist)."""
    if compiled is None:
        return GoldenResult(stem, None, golden, EXTRA)
    if not compiled.ok:
        return GoldenResult(stem, compiled.file, golden, FAILED, diagnostics=compiled.errors)
    if expected is None:
        return GoldenResult(stem, compiled.file, golden, MISSING, text=compiled.text)
    assert compiled.text is not None  # ok
    if expected == compiled.text.encode("utf-8"):
        return GoldenResult(stem, compiled.file, golden, SAME)
    changes, note = explain(expected, compiled.text)
    return GoldenResult(
        stem, compiled.file, golden, DIFFERENT, tuple(changes), note=note, text=compiled.text
    )


def explain(expected: bytes, actual: str) -> tuple[list[FieldChange], str]:
    """Field changes from the golden bytes to the actual output, or why there are none to show."""
    try:
        old_text = expected.decode("utf-8")
    except UnicodeDecodeError:
        return [], "the golden file is not UTF-8"
    old_objects, problem = read_objects(old_text)
    if old_objects is None:
        return [], f"the golden file is {problem}"
    new_objects, _ = read_objects(actual)
    changes = object_changes(old_objects, new_objects or [])
    if not changes:
        return [], "the bytes differ but the objects are equal (formatting, quoting or key order)"
    return changes, ""


def pair_stems(example_stems: list[str], golden_stems: list[str]) -> list[tuple[str, bool, bool]]:
    """(stem, has example, has golden file) for every stem of either side, examples first."""
    examples, goldens = set(example_stems), set(golden_stems)
    ordered = sorted(examples) + sorted(goldens - examples)
    return [(stem, stem in examples, stem in goldens) for stem in ordered]


_WORDS = {
    SAME: "match",
    DIFFERENT: "differ",
    MISSING: "missing golden file",
    EXTRA: "golden file without example",
    FAILED: "do not compile",
}
_UPDATED_WORDS = {**_WORDS, DIFFERENT: "updated", MISSING: "written", EXTRA: "removed"}


def summary(results: list[GoldenResult], updated: bool = False) -> str:
    """``golden: 13 files: 12 match, 1 differ`` (after --update: ``1 updated``)."""
    words = _UPDATED_WORDS if updated else _WORDS
    statuses = (SAME, DIFFERENT, MISSING, EXTRA, FAILED)
    parts = [
        f"{sum(r.status == s for r in results)} {words[s]}"
        for s in statuses
        if s == SAME or any(r.status == s for r in results)
    ]
    return f"golden: {len(results)} files: " + ", ".join(parts)
