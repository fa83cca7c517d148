"""Every workload example compiles to exactly the bytes of its golden file.

After an intended change of output, run golden/regenerate.sh and review the diff of golden/.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys

import pytest
from example_support import GOLDEN, compile_example, example_args, workload_examples


def _unified_diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"golden/{name}",
        tofile=f"compile output of examples/{name}",
    )
    return "".join(lines)


def test_example_matches_golden_file(workload_example):
    golden = GOLDEN / f"{workload_example.stem}.yaml"
    assert golden.is_file(), f"{golden} is missing: run golden/regenerate.sh and commit the result"
    result = compile_example(workload_example)
    assert result.exit_code == 0, (
        f"compile {' '.join(example_args(workload_example))} failed:\n{result.stderr}"
    )
    expected = golden.read_bytes().decode("utf-8")
    if (
        result.stdout != expected
    ):  # pytest.fail: one readable diff instead of pytest's own string diff
        pytest.fail(
            f"output of examples/{workload_example.name} differs from golden/{golden.name} "
            f"(golden/regenerate.sh rewrites it):\n"
            + _unified_diff(expected, result.stdout, golden.name)
        )


def test_every_golden_file_has_its_example():
    stems = {path.stem for path in workload_examples()}
    stale = sorted(path.name for path in GOLDEN.glob("*.yaml") if path.stem not in stems)
    assert not stale, f"golden files without a workload example (delete them): {stale}"


def test_regenerate_script_writes_the_golden_files(tmp_path):
    """golden/regenerate.sh runs the same command as this module, so its output is the golden set."""
    env = {**os.environ, "COMPILE": f"{sys.executable} -m compiler"}
    result = subprocess.run(
        ["/bin/sh", str(GOLDEN / "regenerate.sh"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(f"{path.stem}.yaml" for path in workload_examples())
    for name in written:
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name


def test_there_is_an_example_per_operator():
    import yaml

    operators = set()
    for path in workload_examples():
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and isinstance(document.get("spec"), dict):
                operators.add(document["spec"].get("operator"))
    assert {"jobset", "pytorch", "xgboost", "jax", "tf", "kuberay", "ray", "batchjob"} <= operators
