"""The checked-in JSON Schemas (schemas/*.json) and the records generated from the models
(compiler/model/records.py) are exactly what their generators print today, and the manifest schema
agrees with the compiler on the examples."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from compiler.parse import load_documents

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
EXAMPLES = REPO / "examples"


def generated(which: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "compiler", "schema", which],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("which", ["manifest", "policy"])
def test_checked_in_schema_is_fresh(which):
    path = SCHEMAS / f"{which}.schema.json"
    assert path.exists(), f"{path.relative_to(REPO)} is missing: run `make schemas`"
    assert path.read_text() == generated(which), (
        f"{path.relative_to(REPO)} is stale: run `make schemas`"
    )


def test_checked_in_records_are_fresh():
    path = REPO / "compiler" / "model" / "records.py"
    result = subprocess.run(
        [sys.executable, "-m", "compiler.model.generate"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert path.read_text() == result.stdout, (
        "compiler/model/records.py is stale: run `make schemas`"
    )


@cache
def manifest_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def manifest_documents(path: Path) -> list:
    documents, diagnostics = load_documents(path.read_bytes(), str(path))
    assert diagnostics == []
    return [
        d.data
        for d in documents
        if isinstance(d.data, dict) and d.data.get("kind") == "AIchorManifest"
    ]


def schema_errors(data) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in manifest_validator().iter_errors(data)
    ]


EXAMPLE_FILES = sorted(p for p in EXAMPLES.rglob("*.yaml") if manifest_documents(p))


def test_there_are_manifest_examples():
    assert len(EXAMPLE_FILES) >= 5


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_schema_accepts_every_example_manifest(path):
    for data in manifest_documents(path):
        assert schema_errors(data) == []


def heavy_example() -> dict:
    (data,) = manifest_documents(EXAMPLES / "jobset-heavy-and-workers.yaml")
    return copy.deepcopy(data)


def test_schema_rejects_a_misspelt_field():
    data = heavy_example()
    resources = data["spec"]["types"]["worker"]["resources"]
    resources["ramratio"] = resources.pop("ramRatio")
    errors = schema_errors(data)
    assert any("ramratio" in e for e in errors), errors


def test_schema_rejects_a_misspelt_top_level_field():
    data = heavy_example()
    data["bulder"] = data.pop("builder")
    assert any("bulder" in e for e in schema_errors(data))


def test_schema_rejects_a_quoted_count():
    data = heavy_example()
    data["spec"]["types"]["worker"]["count"] = "8"
    assert any("count" in e for e in schema_errors(data))


def test_schema_requires_the_spec_of_a_standalone_workload():
    data = heavy_example()
    del data["spec"]["image"]
    assert any("image" in e for e in schema_errors(data))


def test_schema_lets_an_inheriting_workload_leave_fields_to_its_base():
    data = {
        "kind": "AIchorManifest",
        "baseWorkload": "team-a",
        "spec": {"types": {"worker": {"count": 4}}, "ports": {"old": {"deleted": True}}},
    }
    assert schema_errors(data) == []


def test_schema_takes_numbers_where_the_compiler_reads_them_as_text():
    data = heavy_example()
    data["spec"]["env"]["VERSION"] = 1.10
    data["spec"]["env"]["ENABLED"] = True
    assert schema_errors(data) == []


def test_schema_checks_types_by_operator():
    data = heavy_example()
    data["spec"]["types"]["worker"]["Workers"] = []
    assert schema_errors(data)
