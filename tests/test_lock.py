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


@pytest.mark.parametrize("lock", ["dev.lock", "frameworks.lock", "bootstrap.lock"])
def test_every_pin_has_hashes(lock):
    text = (REPO / "requirements" / lock).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    pinned = [b for b in blocks if PIN.match(b)]
    assert pinned
    assert all(HASH.search(block) for block in pinned)


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
