"""Shared fixtures: where things are, the examples, and the CLI run in-process.

Every example is compiled the way golden/regenerate.sh does it, from the repository root:

    compile -p examples/policies -t examples/templates examples/<stem>.yaml

(-p/-t only when the directory exists). Tests ask for the `workload_example` argument to run once per
workload example (see pytest_generate_tests). The plain functions live in example_support.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from example_support import (
    EXAMPLES,
    GOLDEN,
    REPO,
    SHARED,
    example_objects,
    run_cli,
    workload_examples,
)


def pytest_generate_tests(metafunc):
    if "workload_example" in metafunc.fixturenames:
        metafunc.parametrize("workload_example", workload_examples(), ids=lambda p: p.stem)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def compile_cli():
    """`compile_cli(*args, cwd=REPO) -> CliResult(exit_code, stdout, stderr)`."""
    return run_cli


@pytest.fixture(scope="session")
def example_path():
    """`example_path(stem) -> Path` of examples/<stem>.yaml (which must exist)."""

    def find(stem: str) -> Path:
        path = EXAMPLES / f"{stem}.yaml"
        assert path.is_file(), f"missing example {path}"
        return path

    return find


@pytest.fixture(scope="session")
def compiled():
    """`compiled(path, *extra_args) -> list[dict]`, cached per argument list for the session."""
    cache: dict[tuple, list[dict]] = {}

    def objects(path: Path, *extra: str) -> list[dict]:
        key = (str(path), extra)
        if key not in cache:
            cache[key] = example_objects(path, *extra)
        return json.loads(json.dumps(cache[key]))  # a fresh copy: tests may not disturb each other

    return objects
