"""Start-up stays light (SPEC 7): the core commands never import the kubernetes client, and
`compile --help` does not even load the models. Checked on sys.modules, not on the clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/jobset-heavy-and-workers.yaml"

PROBE = """
import json, runpy, sys
report, args = sys.argv[1], sys.argv[2:]
sys.argv = ["compile", *args]
code = 0
try:
    runpy.run_module("compiler", run_name="__main__", alter_sys=True)
except SystemExit as exit_:
    code = exit_.code
with open(report, "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def modules_loaded_by(tmp_path, *args) -> tuple[int, set[str]]:
    report = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.exists(), result.stderr
    data = json.loads(report.read_text())
    return data["code"], set(data["modules"])


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


CORE_COMMANDS = [
    pytest.param([EXAMPLE], id="compile FILE"),
    pytest.param(["emit", "-o", "json", EXAMPLE], id="compile emit -o json FILE"),
    pytest.param(["check", EXAMPLE], id="compile check FILE"),
    pytest.param(["check", "--format", "sarif", "examples"], id="compile check --format sarif DIR"),
    pytest.param(["schema", "manifest"], id="compile schema"),
    pytest.param(["explain", EXAMPLE], id="compile explain FILE"),
    pytest.param(["--help"], id="compile --help"),
    pytest.param(["check", "--help"], id="compile check --help"),
]


@pytest.mark.parametrize("args", CORE_COMMANDS)
def test_core_commands_never_import_kubernetes(tmp_path, args):
    code, modules = modules_loaded_by(tmp_path, *args)
    assert code in (0, 1)
    assert (
        top_level(modules) & {"kubernetes", "kubernetes_validate", "urllib3", "jsonschema"} == set()
    )


def test_the_probe_sees_what_a_command_imports(tmp_path):
    code, modules = modules_loaded_by(tmp_path, "schema", "manifest")
    assert code == 0
    assert {"compiler.model.manifest", "pydantic"} <= modules


# compile, check and emit validate with the shapes generated from the models (issue 15): pydantic,
# a third of a cold start, is for `compile schema` and the tests that hold the two validators equal
PYDANTIC_FREE = [
    pytest.param([EXAMPLE], id="compile FILE"),
    pytest.param(
        ["-p", "examples/policies", "-t", "examples/templates", "examples/team-a-my-ports.yaml"],
        id="compile -p -t FILE",
    ),
    pytest.param(["emit", "-o", "json", EXAMPLE], id="compile emit -o json FILE"),
    pytest.param(["check", EXAMPLE], id="compile check FILE"),
    pytest.param(["check", "-p", "examples/policies", "examples"], id="compile check -p DIR"),
    pytest.param(
        ["check", str(REPO.parent / "shared" / "corpus" / "aichor")], id="compile check CORPUS"
    ),
]


@pytest.mark.parametrize("args", PYDANTIC_FREE)
def test_compiling_and_checking_never_import_pydantic(tmp_path, args):
    code, modules = modules_loaded_by(tmp_path, *args)
    assert code in (0, 1)
    assert {"compiler.pipeline", "compiler.model.validator", "yaml"} <= modules
    assert {
        name for name in modules if name.split(".")[0] in ("pydantic", "pydantic_core")
    } == set()
    assert {"compiler.model.manifest", "compiler.model.policy"} & modules == set()
    if not any(arg.startswith("-") for arg in args):  # the direct path: no click (cli/direct.py)
        assert "click" not in top_level(modules)


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_does_not_load_the_models(tmp_path, args):
    code, modules = modules_loaded_by(tmp_path, *args)
    assert code == 0
    assert {"pydantic", "compiler.pipeline", "compiler.model.manifest"} & modules == set()


@pytest.mark.parametrize("args", [[EXAMPLE], ["check", EXAMPLE]], ids=["compile", "check"])
def test_a_cold_compile_loads_neither_inspect_nor_hashlib(tmp_path, args):
    # issue 25: inspect (with ast, dis, tokenize) came with dataclasses, hashlib with the digest
    code, modules = modules_loaded_by(tmp_path, *args)
    assert code == 0
    assert modules & {"ast", "dis", "tokenize", "hashlib", "_hashlib"} == set()


@pytest.mark.parametrize("args", [[EXAMPLE], ["check", EXAMPLE]], ids=["compile", "check"])
def test_a_cold_compile_loads_neither_typing_nor_fractions(tmp_path, args):
    # issue 25: typing (NamedTuple, Any, TypeVar) is for the type checker only (compiler/tuples.py
    # and TYPE_CHECKING blocks); a duration (the example's timeout: 6h) is summed without fractions
    code, modules = modules_loaded_by(tmp_path, *args)
    assert code == 0
    assert modules & {"typing", "fractions", "decimal"} == set()
