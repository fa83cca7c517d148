"""bench/ works (issue 15): a tiny run prints every row, and the schemas it hands kubeconform are
right. Timings are printed by the benchmark, never asserted here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import kubeconform  # noqa: E402  (bench/kubeconform.py)


def test_a_tiny_bench_run_prints_every_measure():
    result = subprocess.run(
        [
            sys.executable,
            "bench/bench.py",
            *("--limit", "3", "--growth", "2", "--runs", "1", "--cold-runs", "1"),
            *("--big-runs", "1", "--no-kubeconform", "--no-largest", "--json"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    measures = " | ".join(row["measure"] for row in report["rows"])
    for expected in (
        "one process, after start-up",
        "1 worker(s), a fresh process",
        "cold `compile examples/jobset-heavy-and-workers.yaml`",
        "cold `compile check",
        "cold `compile --help`",
        "over 6 files (2x the corpus)",
        "growth from 1x to 2x",
        "count: 100000",
    ):
        assert expected in measures
    assert "kubeconform comparison skipped (--no-kubeconform)" in report["notes"]
    cold = next(r for r in report["rows"] if r["measure"].startswith("cold `compile --help`"))
    assert "MiB peak RSS" in cold["result"]
    (census,) = [n for n in report["notes"] if n.startswith("bytecode of the environment")]
    # make install compiles the whole environment (issue 19): nothing is compiled again per run
    present, imported = map(int, re.findall(r"present for (\d+) of the (\d+) modules", census)[0])
    assert present == imported > 100, census


def test_the_largest_manifest_is_the_last_that_compiles():
    sys.path.insert(0, str(REPO))
    import bench

    text = bench.largest_manifest(value_bytes=200_000)
    entries = text.count("\n    V")
    assert entries >= 1
    assert bench.compiles(text)
    assert not bench.compiles(bench.manifest_with_env(entries + 1, 200_000))


def test_crd_schemas_are_closed_like_kubeconform_strict():
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "string"}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "port": {"x-kubernetes-int-or-string": True},
            "given": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    strict = kubeconform.closed(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["spec"]["additionalProperties"] is False
    assert "additionalProperties" not in strict["properties"]["free"]
    assert strict["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert strict["properties"]["given"]["additionalProperties"] is True
    assert "additionalProperties" not in schema  # the input is not changed


def test_standalone_schemas_carry_the_definitions_they_reach_even_recursive_ones():
    definitions = {
        "Node": {
            "properties": {"child": {"$ref": "#/$defs/Node"}, "leaf": {"$ref": "#/$defs/Leaf"}}
        },
        "Leaf": {"type": "string"},
        "Unused": {"type": "integer"},
    }
    schema = {"properties": {"root": {"$ref": "/api/_definitions.json#/$defs/Node"}}}
    result = kubeconform.standalone(schema, definitions)
    assert result["properties"]["root"]["$ref"] == "#/$defs/Node"
    assert sorted(result["$defs"]) == ["Leaf", "Node"]
    assert result["$defs"]["Node"]["properties"]["child"]["$ref"] == "#/$defs/Node"


def test_schema_paths_follow_kubeconforms_template(tmp_path):
    # {{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json, as kubeconform fills it
    # (registry.go: Group is the part before "/", or the version itself for the core group)
    assert kubeconform.schema_path(tmp_path, "v1", "PersistentVolumeClaim") == (
        tmp_path / "v1" / "persistentvolumeclaim_v1.json"
    )
    assert kubeconform.schema_path(tmp_path, "jobset.x-k8s.io/v1alpha2", "JobSet") == (
        tmp_path / "jobset.x-k8s.io" / "jobset_v1alpha2.json"
    )


def test_every_crd_version_and_the_core_kinds_get_a_schema(tmp_path):
    schemas = kubeconform.write_schemas(tmp_path, {("batch/v1", "Job"), ("v1", "Service")})
    assert schemas.missing == []
    job = yaml.safe_load((tmp_path / "batch" / "job_v1.json").read_text())
    assert job["additionalProperties"] is False
    assert "io.k8s.api.core.v1.PodSpec" in job["$defs"]
    assert all(not ref.startswith("/api/") for ref in _refs(job))
    rayjob = json.loads((tmp_path / "ray.io" / "rayjob_v1.json").read_text())
    assert rayjob["properties"]["spec"]["additionalProperties"] is False
    assert (tmp_path / "jobset.x-k8s.io" / "jobset_v1alpha2.json").exists()
    assert "-ignore-missing-schemas" not in schemas.argv()


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
