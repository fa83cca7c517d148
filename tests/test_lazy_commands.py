"""Start-up (issue 15): `compile FILE` and `compile check FILE` import only the module of their
command; every other command is still found, listed in --help and dispatched as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compiler.cli.app import COMMAND_MODULES, FIRST_MODULES, _register, cli
from compiler.cli.direct import may_name_a_command as _may_name_a_command

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/jobset-heavy-and-workers.yaml"
OTHER_MODULES = {f"compiler.cli.{name}" for name in COMMAND_MODULES if name not in FIRST_MODULES}

PROBE = """
import json, sys
from compiler.cli.app import cli
try:
    cli.main(args=sys.argv[2:], prog_name="compile", standalone_mode=True)
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""


def modules_loaded_by(tmp_path, *args) -> set[str]:
    report = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return set(json.loads(report.read_text()))


@pytest.mark.parametrize(
    "args", [[EXAMPLE], ["check", EXAMPLE], ["emit", EXAMPLE], ["check", "examples/"], ["-"]]
)
def test_the_hot_commands_import_no_other_command_module(tmp_path, args):
    loaded = modules_loaded_by(tmp_path, *args)
    assert "compiler.cli.commands" in loaded
    assert loaded & OTHER_MODULES == set()


@pytest.mark.parametrize("args", [["explain", "--help"], ["status", "--help"], ["nosuch"]])
def test_other_commands_load_them(tmp_path, args):
    loaded = modules_loaded_by(tmp_path, *args)
    assert {"compiler.cli.explain", "compiler.cli.cluster"} <= loaded


def test_help_lists_every_command_without_loading_them(tmp_path):
    loaded = modules_loaded_by(tmp_path, "--help")
    assert loaded & OTHER_MODULES == set()


@pytest.mark.parametrize("width", [40, 80, 120, 300])
def test_the_listing_is_what_click_would_print_from_the_commands(width):
    _register()
    ctx = click.Context(cli, info_name="compile")
    ours, clicks = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    cli.format_commands(ctx, ours)
    click.Group.format_commands(cli, ctx, clicks)
    assert ours.getvalue() == clicks.getvalue()
    assert "watch" in ours.getvalue()


def test_every_command_name_is_a_word_that_may_name_a_command():
    """A first argument that cannot be a command name skips importing the other modules; that is
    exact only while no command is named like a path or an option."""
    _register()
    names = cli.list_commands(None)
    assert {"emit", "check", "explain", "golden", "diff", "status"} <= set(names)
    assert all(_may_name_a_command(name) for name in names)
    assert not any(_may_name_a_command(arg) for arg in ("x.yaml", "dir/", "-", "--jobs", "a\\b"))


def test_a_word_that_is_no_command_is_still_a_file_for_emit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["nosuchfile"])
    assert result.exit_code == 3
    assert "nosuchfile:1:1: error[E006]" in result.stderr
