"""The locks are what `make` installs, so they must satisfy what pyproject.toml asks (issue 10).

A change to pyproject.toml's dependencies without `make lock` fails here, not on a fresh machine.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def pins(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def entries(lock: str) -> list[str]:
    """The lock's pins, each with its hash lines (the two header lines left out)."""
    text = (REPO / "requirements" / lock).read_text()
    return [e for e in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]) if PIN.match(e)]


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def wanted() -> list[Requirement]:
    meta = project()
    extras = meta["optional-dependencies"]
    return [Requirement(r) for r in meta["dependencies"] + extras["test"] + extras["dev"]]


@pytest.mark.parametrize("requirement", wanted(), ids=str)
def test_the_dev_lock_satisfies_pyproject(requirement):
    locked = pins("dev.lock")
    name = canonicalize_name(requirement.name)
    assert name in locked, f"{requirement} is not in requirements/dev.lock: run make lock"
    assert requirement.specifier.contains(locked[name], prereleases=True), (
        f"requirements/dev.lock pins {name}=={locked[name]}, outside {requirement}: run make lock"
    )


@pytest.mark.parametrize("lock", ["dev.lock", "runtime.lock", "frameworks.lock", "bootstrap.lock"])
def test_every_pin_has_hashes(lock):
    pinned = entries(lock)
    assert pinned
    assert all(HASH.search(entry) for entry in pinned)


def test_the_environment_is_the_lock():
    """What the tests run with is what the lock says (make installs with uv pip sync)."""
    locked = pins("dev.lock")
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"] != "manifest-compiler"
    }
    differing = {n: (v, locked.get(n)) for n, v in installed.items() if locked.get(n) != v}
    assert not differing, f"installed (version, locked): {differing}; run make install"


def hashes(lock: str) -> dict[str, list[str]]:
    """Each pin's hashes, by package name."""
    return {
        canonicalize_name(PIN.match(entry).group(1)): sorted(HASH.findall(entry))  # type: ignore[union-attr]
        for entry in entries(lock)
    }


def test_the_runtime_lock_is_part_of_the_dev_lock():
    """The installed-wheel test syncs runtime.lock from the files `make install` fetched for
    dev.lock: every runtime pin must be the same version with the same hashes (issue 19)."""
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    assert runtime
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}, "run make lock"
    runtime_hashes, dev_hashes = hashes("runtime.lock"), hashes("dev.lock")
    assert {n for n, h in runtime_hashes.items() if dev_hashes[n] != h} == set()


@pytest.mark.parametrize(
    "requirement", [Requirement(r) for r in project()["dependencies"]], ids=str
)
def test_the_runtime_lock_satisfies_the_dependencies(requirement):
    locked = pins("runtime.lock")
    name = canonicalize_name(requirement.name)
    assert name in locked, f"{requirement} is not in requirements/runtime.lock: run make lock"
    assert requirement.specifier.contains(locked[name], prereleases=True)
