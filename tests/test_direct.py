"""The direct path (compiler/cli/direct.py) runs `compile FILE…` and `compile check FILE…` without
click, for start-up time (issue 15). It must be invisible: click would call the same function with
the same values, and both ways print the same bytes and exit with the same code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli import direct, parallel
from compiler.cli.app import cli

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "aichor"
EXAMPLE = "examples/jobset-heavy-and-workers.yaml"

CLICK = "import sys; from compiler.cli.app import run; run(sys.argv[1:])"
DIRECT = "import sys; from compiler.cli import main; main(sys.argv[1:])"
# the console script: main, then the direct path ends the process at once (no teardown)
PROGRAM = "from compiler.cli import program; program()"


def click_params(args: list[str]) -> dict:
    """What click's parsing of ``args`` hands to the command's function."""
    command_name, *rest = args if args[0] == "check" else ["emit", *args]
    command = cli.commands[command_name]
    with command.make_context(command_name, list(rest)) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(
    "args", [[EXAMPLE], ["a.yaml", "dir/"], ["check", EXAMPLE], ["check", "examples", "x.yml"]]
)
def test_click_would_pass_what_the_direct_path_passes(args, monkeypatch):
    monkeypatch.delenv("COMPILE_JOBS", raising=False)
    command, arguments = direct.plan(args)
    assert command == ("check" if args[0] == "check" else "emit")
    assert arguments == click_params(args)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["check"],
        ["check", "--strict", EXAMPLE],
        [EXAMPLE, "-o", "json"],
        ["-p", "examples/policies", EXAMPLE],
        [EXAMPLE, "--", "x.yaml"],
        ["explain", EXAMPLE],
        ["emit", EXAMPLE],
        ["schema"],
        ["golden"],
        ["manifest"],  # a plain word could be a command: click decides
        ["-"],
    ],
)
def test_anything_else_goes_to_click(args):
    assert direct.plan(args) is None


@pytest.mark.parametrize("jobs", ["x", "-1", " 2", "1_0", "٣", ""])
def test_a_compile_jobs_that_is_no_plain_number_goes_to_click(jobs, monkeypatch):
    assert direct.JOBS_ENV == parallel.JOBS_ENV
    monkeypatch.setenv("COMPILE_JOBS", jobs)  # click accepts some, refuses others: it decides
    assert direct.plan(["check", EXAMPLE]) is None


@pytest.mark.parametrize("jobs", ["0", "1", "2", "16", "007"])
def test_a_plain_compile_jobs_is_read_as_click_reads_it(jobs, monkeypatch):
    monkeypatch.setenv("COMPILE_JOBS", jobs)
    assert direct.plan(["check", EXAMPLE]) == ("check", click_params(["check", EXAMPLE]))
    assert click_params(["check", EXAMPLE])["jobs"] == int(jobs)


def _run(code: str, args: list[str], cwd: Path) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(cwd)},
    )
    return result.returncode, result.stdout, result.stderr


def _awkward_files(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "broken.yaml").write_text("kind: AIchorManifest\nspec: [\n")
    (tmp_path / "escape.yaml").write_text(
        'kind: AIchorManifest\nspec:\n  operator: jobset\n  "\\e[31mred": 1\n'
    )
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: p}\nspec: {}\n"
    )


COMMAND_LINES = [
    [str(REPO / EXAMPLE)],
    [str(REPO / "examples" / "xgboost-dist.yaml"), str(REPO / "examples" / "kuberay-cpu-gpu.yaml")],
    ["check", str(REPO / "examples")],
    ["check", str(REPO / EXAMPLE)],
    ["check", "empty.yaml", "broken.yaml", "escape.yaml", "policy.yaml", "missing.yaml"],
    ["empty.yaml"],
    ["broken.yaml", str(REPO / EXAMPLE)],
    ["escape.yaml"],
    ["missing.yaml"],
    ["policy.yaml"],
    ["check", str(CORPUS)],
]


@pytest.mark.parametrize(
    "args", COMMAND_LINES, ids=lambda args: " ".join(Path(a).name for a in args)
)
def test_direct_and_click_print_the_same_bytes(args, tmp_path):
    _awkward_files(tmp_path)
    assert direct.plan(args) is not None
    direct_result = _run(DIRECT, args, tmp_path)
    assert direct_result == _run(CLICK, args, tmp_path)
    assert direct_result == _run(PROGRAM, args, tmp_path)
    assert "Traceback" not in direct_result[2]


def test_a_reader_that_goes_away_ends_quietly_with_exit_1(tmp_path):
    """`compile x.yaml | head -1`: click's way, exit 1 and no BrokenPipeError traceback."""
    value = "v" * 400
    env = "".join(f"    VAR_{i}: {value}\n" for i in range(400))  # > 64 KiB, the pipe's buffer
    manifest = tmp_path / "big.yaml"
    manifest.write_text(
        "kind: AIchorManifest\napiVersion: 0.2.2\nname: big\nspec:\n  operator: jobset\n"
        "  image: img\n  command: run\n  types:\n    worker:\n      count: 1\n"
        "      resources: {cpus: 1, ramRatio: 2}\n  env:\n" + env
    )
    for code in (DIRECT, CLICK, PROGRAM):
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(manifest)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        )
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(4) == b"---\n"
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 1, stderr
        assert stderr == "", stderr


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["check", "--help"], ["schema", "nosuch"]]
)
def test_the_program_prints_what_click_prints(args, tmp_path):
    """--help and --version end the process at once too; everything else exits as before."""
    result = _run(PROGRAM, args, tmp_path)
    assert result == _run(CLICK, args, tmp_path)
    assert result[0] == (2 if "nosuch" in args else 0)
