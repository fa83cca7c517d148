"""What the example-based tests share: paths, the workload examples, the CLI run in-process.

Plain functions (not fixtures) so that test modules and golden/regenerate.sh can import them; a
module named conftest cannot be imported reliably because tests/cluster has its own.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from click.testing import CliRunner

from compiler.cli.app import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "golden"
EXAMPLE_OPTION_DIRS = (("-p", "examples/policies"), ("-t", "examples/templates"))


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path = REPO) -> CliResult:
    """`compile ARGS...` in-process, from `cwd` (relative paths in the output depend on it)."""
    runner = CliRunner()
    with contextlib.chdir(cwd):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def _is_workload(document) -> bool:
    if not isinstance(document, dict) or document.get("usage") == "Template":
        return False
    spec = document.get("spec")
    return document.get("kind") == "AIchorManifest" or (
        document.get("kind") is None and isinstance(spec, dict) and "operator" in spec
    )


def workload_examples() -> list[Path]:
    """Top-level examples/*.yaml holding at least one workload (not templates or policies)."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        if any(_is_workload(d) for d in documents):
            found.append(path)
    return found


def example_args(path: Path) -> list[str]:
    """The golden-file command line for one example, relative to the repository root."""
    args: list[str] = []
    for flag, directory in EXAMPLE_OPTION_DIRS:
        if (REPO / directory).is_dir():
            args += [flag, directory]
    return args + [str(path.relative_to(REPO))]


def compile_example(path: Path, *extra: str) -> CliResult:
    return run_cli(*extra, *example_args(path))


def example_objects(path: Path, *extra: str) -> list[dict]:
    """The emitted objects of one example (via -o json); fails the test if compilation fails."""
    result = compile_example(path, "-o", "json", *extra)
    assert result.exit_code == 0, f"{path.name} does not compile:\n{result.stderr}"
    return json.loads(result.stdout)["items"]
