"""Same inputs, same bytes (SPEC 1 and 5): within a process, across processes with different hash
seeds, and between the YAML and JSON renderings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from example_support import REPO, compile_example, example_args, workload_examples


def _all_examples_args() -> list[str]:
    args: list[str] = []
    for path in workload_examples():
        *options, manifest = example_args(path)
        args = args or options
        args.append(manifest)
    return args


def _compile_in_subprocess(hash_seed: str, *args: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-m", "compiler", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_compiling_twice_gives_the_same_bytes(workload_example):
    first, second = compile_example(workload_example), compile_example(workload_example)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stderr == second.stderr


def test_processes_with_different_hash_seeds_give_the_same_bytes():
    args = _all_examples_args()
    assert len(args) > len(workload_examples()) - 1
    first = _compile_in_subprocess("0", *args)
    second = _compile_in_subprocess("4242", *args)
    assert first, "no output"
    assert first == second


def test_json_output_is_the_same_objects_as_yaml(workload_example):
    as_yaml = compile_example(workload_example)
    as_json = compile_example(workload_example, "-o", "json")
    assert as_yaml.exit_code == as_json.exit_code == 0, as_yaml.stderr
    objects = json.loads(as_json.stdout)["items"]
    assert isinstance(objects, list) and objects
    assert list(yaml.safe_load_all(as_yaml.stdout)) == objects


def test_output_has_no_run_dependent_values(workload_example):
    """No timestamps and no absolute paths: the output does not depend on where the repository is."""
    text = compile_example(workload_example).stdout
    for marker in ("creationTimestamp", str(REPO), "/tmp/"):
        assert marker not in text, marker
