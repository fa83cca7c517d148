"""The pre-commit hook, run by the real pre-commit framework against a temporary repository.

The hook repository is a snapshot of this working tree (pyproject, compiler/, .pre-commit-hooks.yaml)
committed into a temporary git repository, so the test checks the files as they are now, committed
or not. pre-commit installs it into its own virtualenv with pip (PyPI must be reachable), under a
PRE_COMMIT_HOME inside the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
HOOK_REPO_FILES = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml")

GOOD = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: good
    spec:
      operator: jobset
      image: team/train:1
      command: python train.py
      types:
        worker: {count: 2, resources: {cpus: 4, ramRatio: 2}}
""")
TYPO = GOOD.replace("name: good", "name: typo").replace("  command:", "  comand:")
TOO_BIG = GOOD.replace("name: good", "name: too-big").replace("cpus: 4", "cpus: 32")
POLICY = textwrap.dedent("""\
    apiVersion: manifest-compiler/v1
    kind: Policy
    metadata:
      name: limits
    spec:
      rules:
        spec.types.*.resources.cpus: {max: 16}
""")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    snapshot = tmp_path_factory.mktemp("hook-repo")
    for name in HOOK_REPO_FILES:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, snapshot / name)
    shutil.copytree(
        REPO / "compiler",
        snapshot / "compiler",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    git(snapshot, "init", "-q", ".")
    git(snapshot, "add", "-A")
    git(snapshot, "commit", "-qm", "snapshot")
    return snapshot


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def user_repo(tmp_path) -> Path:
    """A repository that uses the hook: manifests, a policy, and a .compile.yaml pointing at it."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "limits.yaml").write_text(POLICY)
    (tmp_path / ".compile.yaml").write_text("policies: [policies/]\n")
    for name, text in {"good.yaml": GOOD, "typo.yaml": TYPO, "too-big.yaml": TOO_BIG}.items():
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q", ".")
    git(tmp_path, "add", "-A")
    return tmp_path


def try_repo(
    hook_repo: Path, user_repo: Path, home: Path, *files: str
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(hook_repo),
            "compile-check",
            "--verbose",
            "--files",
            *files,
        ],
        cwd=user_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_definition():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "compile-check"
    assert hook["entry"] == "compile check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True


def test_good_manifest_passes_and_bad_ones_fail_with_their_diagnostics(
    hook_repo, user_repo, pre_commit_home
):
    passed = try_repo(
        hook_repo, user_repo, pre_commit_home, "good.yaml", ".compile.yaml", "policies/limits.yaml"
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "compile check" in passed.stdout and "Passed" in passed.stdout

    failed = try_repo(
        hook_repo, user_repo, pre_commit_home, "good.yaml", "typo.yaml", "too-big.yaml"
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert "typo.yaml:7:3: error[E101] spec.comand: unknown key 'comand'" in failed.stdout
    # the policy reached the hook through .compile.yaml, with no argument
    assert (
        "too-big.yaml:9:42: error[E401] spec.types.worker.resources.cpus: 32 is above the maximum 16 (policy limits at policies/limits.yaml:"
        in failed.stdout
    )
    assert "good.yaml" not in failed.stdout.replace("too-big.yaml", "")
