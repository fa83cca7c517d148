"""The modules of testbed/controlplane import each other without a cycle, counting the imports
made only for the type checker (under `if TYPE_CHECKING:`): the components get the control plane
through the Protocol in plane.py, never by importing cluster.py, which imports them all."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "testbed.controlplane"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "testbed" / "controlplane"


def module_names() -> set[str]:
    return {path.stem for path in PACKAGE_DIR.glob("*.py")}


def imported_modules(tree: ast.AST, modules: set[str]) -> set[str]:
    """The package's modules that `tree` imports anywhere (top level, functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found |= _from_import_targets(node, modules)
        elif isinstance(node, ast.Import):
            found |= {_module_in_package(alias.name) for alias in node.names}
    return found & modules


def _from_import_targets(node: ast.ImportFrom, modules: set[str]) -> set[str]:
    if node.level > 1:
        return set()  # above the package
    base = node.module or ""
    if node.level == 0:
        if base != PACKAGE and not base.startswith(PACKAGE + "."):
            return set()
        base = base.removeprefix(PACKAGE).lstrip(".")
    if base:
        return {base.split(".")[0]}
    # `from . import a, b`: each name a submodule, or a name from __init__
    return {alias.name if alias.name in modules else "__init__" for alias in node.names}


def _module_in_package(dotted: str) -> str:
    return dotted.removeprefix(PACKAGE + ".").split(".")[0] if dotted.startswith(PACKAGE) else ""


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {
        path.stem: imported_modules(ast.parse(path.read_text(), str(path)), modules) - {path.stem}
        for path in sorted(PACKAGE_DIR.glob("*.py"))
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that ends where it starts, or None (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_imports_are_read_wherever_they_stand():
    source = """
from typing import TYPE_CHECKING
from . import etcd, main
from .common import wait_for
import testbed.controlplane.process
from testbed.controlplane.pki import PKI
if TYPE_CHECKING:
    from .cluster import ControlPlane
def later():
    from .kwok import start
"""
    modules = {"__init__", "etcd", "common", "process", "pki", "cluster", "kwok", "cli"}
    found = imported_modules(ast.parse(source), modules)
    assert found == {"__init__", "etcd", "common", "process", "pki", "cluster", "kwok"}


def test_the_package_graph_has_the_imports_of_cluster_py():
    assert {"apiserver", "kwok", "pki", "common", "process"} <= import_graph()["cluster"]


def test_find_cycle_reports_the_modules_on_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_controlplane_modules_import_each_other_without_a_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in testbed/controlplane: " + " -> ".join(cycle or [])
