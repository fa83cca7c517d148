"""Exit codes (SPEC §6): 0 success, 1 invalid input, 2 usage error, 3 environment error."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from compiler.cli.app import cli

VALID = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: train
    spec:
      operator: jobset
      image: team/train:1
      command: python train.py
      types:
        worker: {count: 2, resources: {cpus: 4, ramRatio: 2}}
""")
UNKNOWN_KEY = VALID.replace("  command:", "  comand:")
WARNING_ONLY = VALID.replace("  types:", "  tensorboard: {enabled: true}\n  types:")


@pytest.fixture
def files(tmp_path):
    for name, text in {
        "valid.yaml": VALID,
        "invalid.yaml": UNKNOWN_KEY,
        "warning.yaml": WARNING_ONLY,
        "syntax.yaml": "kind: [unclosed\n",
        "a-file": "x",
    }.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "latin1.yaml").write_bytes(b"kind: AIchorManifest\nname: caf\xe9\n")
    with contextlib.chdir(tmp_path):
        yield tmp_path


def invoke(*args) -> int:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False).exit_code


FORMATS = ("text", "json", "github", "sarif")


# ---------------------------------------------------------------------------------------------
# check: every code, in every format


@pytest.mark.parametrize("format_", FORMATS)
@pytest.mark.parametrize(
    "args, expected",
    [
        (["valid.yaml"], 0),
        (["warning.yaml"], 0),
        (["invalid.yaml"], 1),
        (["syntax.yaml"], 1),
        (["latin1.yaml"], 1),
        (["valid.yaml", "invalid.yaml"], 1),
        (["--strict", "warning.yaml"], 1),
        (["missing.yaml"], 3),
        (["a-file/inside.yaml"], 3),  # a path through a regular file: ENOTDIR
        (["-p", "no-such-policies", "valid.yaml"], 3),
        (["-t", "no-such-templates.yaml", "valid.yaml"], 3),
        (["invalid.yaml", "missing.yaml"], 3),  # the environment error wins: the run was incomplete
    ],
)
def test_check_exit_codes(files, format_, args, expected):
    assert invoke("check", "--format", format_, *args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["check"],  # no FILE
        ["check", "--format", "xml", "valid.yaml"],
        ["check", "--no-such-option", "valid.yaml"],
        ["check", "-p"],  # option without its value
        ["schema", "workload"],
        ["no-such-command-or-file.yaml", "--bogus"],
    ],
)
def test_usage_errors_exit_2(files, args):
    assert invoke(*args) == 2


@pytest.mark.parametrize(
    "args, expected",
    [
        (["valid.yaml"], 0),
        (["emit", "invalid.yaml"], 1),
        (["emit"], 2),
        (["emit", "missing.yaml"], 3),
    ],
)
def test_emit_exit_codes(files, args, expected):
    assert invoke(*args) == expected


@pytest.mark.parametrize(
    "args, expected",
    [
        (["check", "valid.yaml"], 0),
        (["check", "invalid.yaml"], 1),
        (["check", "--format", "yaml", "valid.yaml"], 2),
        (["check", "missing.yaml"], 3),
    ],
)
def test_exit_codes_of_the_real_process(files, args, expected):
    done = subprocess.run(
        [sys.executable, "-m", "compiler", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == expected, done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------
# golden and diff


@pytest.fixture
def example_repo(tmp_path):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "train.yaml").write_text(VALID)
    with contextlib.chdir(tmp_path):
        assert invoke("golden", "--update") == 0
        yield tmp_path


def test_golden_exit_codes(example_repo):
    assert invoke("golden") == 0
    (example_repo / "golden" / "train.yaml").write_text("changed\n")
    assert invoke("golden") == 1
    assert invoke("golden", "examples/train.yaml") == 2  # not a directory
    assert invoke("golden", "--no-such-option") == 2


def test_golden_update_where_a_file_blocks_the_directory_exits_3(example_repo):
    (example_repo / "blocked").write_text("a file, not a directory\n")
    assert invoke("golden", "--update", "--golden-dir", "blocked/golden") == 3


def test_golden_with_an_unreadable_golden_file_exits_3(example_repo):
    golden = example_repo / "golden" / "train.yaml"
    golden.unlink()
    golden.mkdir()  # reading a directory as a file fails: an environment problem, not a difference
    assert invoke("golden") == 3


def test_diff_exit_codes(example_repo):
    (example_repo / "old").mkdir()
    (example_repo / "new").mkdir()
    (example_repo / "new" / "p.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: manifest-compiler/v1
        kind: Policy
        metadata: {name: p}
        spec:
          defaults: {spec: {ttlSecondsAfterFinished: 60}}
    """)
    )
    assert invoke("diff", "--before", "old", "--after", "old", "--exit-code") == 0
    assert invoke("diff", "--before", "old", "--after", "new") == 0  # a report, not a gate
    assert invoke("diff", "--before", "old", "--after", "new", "--exit-code") == 1
    assert invoke("diff") == 2  # no before/after given
    assert invoke("diff", "--before", "old") == 2
    assert invoke("diff", "--before", "old", "--after", "new", "--git", "HEAD~1..HEAD") == 2
    assert invoke("diff", "--git", "HEAD") == 3  # not a git repository


def test_diff_of_an_unknown_revision_is_a_usage_error(example_repo):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "."], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    assert invoke("diff", "--git", "HEAD..HEAD", "--exit-code") == 0
    assert invoke("diff", "--git", "no-such-rev..HEAD") == 2
    assert invoke("diff", "--base", "no-such-rev") == 2
    assert invoke("diff", "--git", "HEAD") == 2  # not a range
