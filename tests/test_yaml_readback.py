"""SPEC 5: the YAML stream is read back unchanged by kubectl's reader. kubectl splits a stream at
"---" lines and converts each document with Go's sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 rules),
where `y`, `n`, `1e-3`, `0o17` or `1_000` are a bool or a number. testbed/yamlcheck is that
reader (the version pinned in its go.mod/go.sum), built once by testbed/yamlcheck/build.sh; it
prints what it read as JSON, which must equal the compiler's own objects.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from example_support import REPO, example_args, run_cli, workload_examples
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.render import to_yaml


@pytest.fixture(scope="module")
def kubectl_reader() -> str:
    built = subprocess.run(
        ["bash", str(REPO / "testbed" / "yamlcheck" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, f"testbed/yamlcheck/build.sh failed:\n{built.stderr}"
    return built.stdout.strip().splitlines()[-1]


def read_back(reader: str, stream: str) -> list:
    done = subprocess.run([reader], input=stream, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_reader_is_kubectls_yaml_1_1(kubectl_reader):
    """The reader reads plain `y`, `1e-3`, `0o17` as YAML 1.1 does: if it did not, the other
    tests here would prove nothing."""
    got = read_back(kubectl_reader, "---\na: y\nb: 1e-3\nc: 0o17\nd: 1_000\ne: 'y'\n")
    assert got == [{"a": True, "b": 0.001, "c": 15, "d": 1000, "e": "y"}]


_TRICKY = st.sampled_from(
    [
        "y", "Y", "n", "N", "yes", "No", "on", "OFF", "true", "False", "null", "~", "",
        "1e-3", "2e5", "-1E+3", "0o17", "0x1F", "0b101", "017", "1_000", "0_x1F", "+1", "-.5",
        ".inf", "-.Inf", ".NaN", "1.", "12:30", "190:20:30", "2001-12-14", "2001-12-14 21:59:43",
        "<<", "=", "2.41.0", "16Gi", "500m", "0.0.0.0", "@x", "`x", "!x", "&x", "*x", "- x",
        "? x", "x: y", "x #y", "%x", "|", ">", "'", '"', "\t", " x", "x ", "\x85", "\u2028",
    ]
)  # fmt: skip
_NUMERIC = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False).map(repr),
    st.floats(allow_nan=False).map(lambda f: f"{f:e}"),
    st.integers(min_value=0).map(oct),
    st.integers(min_value=0).map(hex),
    st.from_regex(r"\A[-+]?[0-9_.]{1,8}([eE][-+]?[0-9]{1,3})?\Z"),
)
_VALUES = st.one_of(_TRICKY, _NUMERIC, st.text(max_size=12))


@settings(max_examples=150, deadline=None)
@given(values=st.lists(_VALUES, min_size=1, max_size=20))
def test_every_generated_string_reads_back_as_written(kubectl_reader, values):
    """Strings as env values, label values and keys, nested in lists: kubectl reads each one
    back as the same string."""
    objects = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {f"k{i}": v for i, v in enumerate(values)}},
            "data": {v: v for v in values},
            "env": [{"name": f"E{i}", "value": v} for i, v in enumerate(values)],
        }
    ]
    assert read_back(kubectl_reader, to_yaml(objects)) == objects


def test_env_and_labels_that_look_like_numbers_compile_to_strings(kubectl_reader, tmp_path):
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "name: lr\n"
        "spec:\n"
        "  operator: jobset\n"
        "  image: img\n"
        "  command: run\n"
        "  labels: {stage: 'y', lr: 1e-3}\n"
        "  env: {LR: 1e-3, DECAY: 2e5, MODE: 0o17, FLAG: 'n', STEPS: 1_000}\n"
        "  types:\n"
        "    worker: {count: 1, resources: {cpus: 1, ramRatio: 1}}\n",
        encoding="utf-8",
    )
    as_yaml = run_cli(str(manifest))
    as_json = run_cli("-o", "json", str(manifest))
    assert as_yaml.exit_code == as_json.exit_code == 0, as_yaml.stderr
    objects = json.loads(as_json.stdout)["items"]
    assert read_back(kubectl_reader, as_yaml.stdout) == objects
    env = {
        e["name"]: e["value"]
        for e in objects[0]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
        if "value" in e
    }
    assert env["LR"] == "1e-3" and env["FLAG"] == "n" and env["MODE"] == "0o17"


@pytest.mark.parametrize("example", workload_examples(), ids=lambda p: p.stem)
def test_every_example_reads_back_as_its_json(kubectl_reader, example: Path):
    as_yaml = run_cli(*example_args(example))
    as_json = run_cli("-o", "json", *example_args(example))
    assert as_yaml.exit_code == as_json.exit_code == 0, as_yaml.stderr
    assert read_back(kubectl_reader, as_yaml.stdout) == json.loads(as_json.stdout)["items"]
