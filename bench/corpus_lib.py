"""Compile every file of the real-manifest corpus (``../shared/corpus/aichor``) in this process and
sort each file into one category. Shared by ``bench/corpus_report.py`` and ``tests/test_corpus.py``.

Each corpus file is named ``<owner>__<repo>__<blob>.yaml``; the name its manifest had in its own
repository (``INDEX.json``) becomes ``--name``, as the user's ``compile`` would have derived it.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from compiler.catalog import build_catalog
from compiler.emit.naming import dns1035
from compiler.model.records import SUPPORTED_OPERATORS
from compiler.pipeline import Options, compile_documents
from compiler.sources import read_file

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "aichor"

COMPILED = "compiled"
REJECTED = "rejected"
OUT_OF_SCOPE = "out of scope"
BROKEN_YAML = "broken YAML"
TRACEBACK = "traceback"
CATEGORIES = (COMPILED, REJECTED, OUT_OF_SCOPE, BROKEN_YAML, TRACEBACK)

YAML_CODES = {"E001", "E003", "E004", "E005"}


@dataclass
class Outcome:
    path: Path
    category: str
    operators: list = field(default_factory=list)
    objects: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)
    error: str = ""

    @property
    def error_codes(self) -> set[str]:
        return {d.code for d in self.diagnostics if d.is_error}


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


def original_basenames() -> dict[str, str]:
    """Corpus file name -> the file name it had in its own repository (``manifest.jax.yaml``)."""
    index = json.loads((CORPUS / "INDEX.json").read_text())
    return {entry["file"]: entry["path"].rsplit("/", 1)[-1] for entry in index}


def original_names() -> dict[str, str]:
    """Corpus file name -> the output name its original path gives (``manifest.jax.yaml`` -> ``manifest-jax``)."""
    index = json.loads((CORPUS / "INDEX.json").read_text())
    names = {}
    for entry in index:
        stem = entry["path"].rsplit("/", 1)[-1]
        for suffix in (".yaml", ".yml"):
            stem = stem.removesuffix(suffix)
        names[entry["file"]] = dns1035(stem) or "workload"
    return names


def _operator(document) -> str | None:
    spec = document.data.get("spec") if isinstance(document.data, dict) else None
    operator = spec.get("operator") if isinstance(spec, dict) else None
    return operator if isinstance(operator, str) else None


def compile_file(path: Path, name: str | None = None) -> Outcome:
    try:
        documents, diagnostics = read_file(str(path))
        units = compile_documents(documents, build_catalog(documents), Options(name=name))
    except Exception:  # a traceback is the bug this harness exists to find
        return Outcome(path, TRACEBACK, error=traceback.format_exc())
    diagnostics = list(diagnostics) + [d for unit in units for d in unit.diagnostics]
    objects = [obj for unit in units for obj in unit.objects]
    operators = [_operator(document) for document in documents]
    outcome = Outcome(path, "", operators, objects, diagnostics)
    outcome.category = _category(outcome)
    return outcome


def _category(outcome: Outcome) -> str:
    errors = outcome.error_codes
    if errors & YAML_CODES or not outcome.operators:
        return BROKEN_YAML
    if not any(op in SUPPORTED_OPERATORS for op in outcome.operators):
        return OUT_OF_SCOPE
    if outcome.objects and not errors:
        return COMPILED
    return REJECTED


def compile_corpus() -> list[Outcome]:
    names = original_names()
    return [compile_file(path, names.get(path.name)) for path in corpus_files()]


def tally(outcomes) -> Counter:
    return Counter(outcome.category for outcome in outcomes)
