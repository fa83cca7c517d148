"""The distribution as users install it (issue 10): a wheel built from this tree, installed into a
clean virtual environment with its dependencies only (no extras, no repository on the path).

The dependencies come from `requirements/runtime.lock` (the part of the lock that the wheel needs),
synced by hash without resolving, then the wheel without dependencies, both ``--offline``: the files
are the ones `make install` downloaded into the package cache, so the test reaches no network and
needs nothing that a new machine's empty cache would lack after `make install` (issue 19).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
EXAMPLE = REPO / "examples" / "jobset-heavy-and-workers.yaml"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("installed")


@pytest.fixture(scope="module")
def installed(work) -> Path:
    """The bin directory of a fresh environment holding the wheel and its dependencies."""
    source = work / "source"
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".venv*", ".git", "__pycache__", "build", "*.egg-info"),
    )
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(work / "dist"), str(source)],
        cwd=work,
    )
    (wheel,) = (work / "dist").glob("manifest_compiler-*.whl")
    venv = work / "venv"
    python = str(venv / "bin" / "python")
    run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=work)
    # The runtime part of the lock, by hash and without resolving: `make install` synced a superset
    # of these exact files (dev.lock), so the cache it filled holds them, even on a new machine.
    run(
        [str(UV), "pip", "sync", "--quiet", "--offline", "--require-hashes", "--python", python]
        + [str(REPO / "requirements" / "runtime.lock")],
        cwd=work,
    )
    run(
        [str(UV), "pip", "install", "--quiet", "--offline", "--no-deps", "--python", python]
        + [str(wheel)],
        cwd=work,
    )
    return venv / "bin"


def run(argv: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def clean_env(**extra: str) -> dict:
    """No PYTHONPATH, no virtualenv of the tests, no cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def compile_(bin_dir: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin_dir / "compile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=120,
    )


def test_the_package_comes_from_the_environment_not_the_repository(installed, tmp_path):
    result = run(
        [str(installed / "python"), "-c", "import compiler; print(compiler.__file__)"],
        cwd=tmp_path,
        env=clean_env(),
    )
    location = Path(result.stdout.strip())
    assert installed.parent in location.parents
    assert REPO not in location.parents


def test_the_runtime_lock_satisfies_the_wheel(installed, tmp_path):
    """Nothing the wheel requires is missing or at a version it refuses."""
    result = run([str(UV), "pip", "check", "--python", str(installed / "python")], cwd=tmp_path)
    assert "compatible" in result.stdout + result.stderr


def test_compile_an_example(installed, work):
    # from a copy of the tree, so the source annotation reads as in the golden file, under the
    # examples' policies and templates, whose digest the golden file records
    example = EXAMPLE.relative_to(REPO)
    rules = ["-p", "examples/policies", "-t", "examples/templates"]
    result = compile_(installed, str(example), *rules, cwd=work / "source")
    assert result.returncode == 0, result.stderr
    assert "kind: JobSet" in result.stdout
    golden = (REPO / "golden" / EXAMPLE.name).read_text()
    assert result.stdout == golden  # the installed product writes the same bytes


def test_check(installed, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: AIchorManifest\nspec: {operator: jobset, imagee: x}\n")
    result = compile_(installed, "check", str(EXAMPLE), str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.yaml:2:" in result.stdout and "error[E101]" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_help(installed, tmp_path):
    result = compile_(installed, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "submit" in result.stdout and "check" in result.stdout


def test_a_cluster_command_without_a_cluster_is_one_line_and_exit_3(installed, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"
        "clusters: [{name: nowhere, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]\n"
        "users: [{name: nobody, user: {token: t}}]\n"
    )
    result = compile_(installed, "status", "x", cwd=tmp_path, KUBECONFIG=str(kubeconfig))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
