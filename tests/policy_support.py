"""Compile in-memory documents through the pure pipeline, with policies, templates and --set.

Used by tests/test_policy*.py and tests/test_templates.py: every case is a handful of YAML strings,
so the assertion and the input it is about stand side by side.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from compiler.catalog import build_catalog
from compiler.cli.render import text_line
from compiler.inputs import parse_sets
from compiler.parse import load_documents
from compiler.pipeline import Options, compile_documents

WORKLOAD = """\
kind: AIchorManifest
apiVersion: 0.2.3
name: train
project: team-a
spec:
  operator: jobset
  image: registry.example.com/team-a/trainer:1.0
  command: python train.py
  types:
    worker:
      count: 2
      resources:
        cpus: 8
        memory: 32
"""


def policy(
    rules: str = "",
    defaults: str = "",
    limits: str = "",
    name: str = "team-a-limits",
    project: str | None = "team-a",
) -> str:
    """A Policy document; ``rules``, ``defaults`` and ``limits`` are YAML blocks (any indentation)."""
    text = f"apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata:\n  name: {name}\n"
    if project:
        text += f"  project: {project}\n"
    text += "spec:\n"
    for key, block in (("defaults", defaults), ("rules", rules), ("limits", limits)):
        if block.strip():
            text += (
                f"  {key}:\n" + textwrap.indent(textwrap.dedent(block).strip("\n"), "    ") + "\n"
            )
    return text


@dataclass
class Outcome:
    units: list
    diagnostics: list

    @property
    def codes(self) -> list[str]:
        return sorted(d.code for d in self.diagnostics if d.is_error)

    @property
    def lines(self) -> list[str]:
        return [text_line(d) for d in self.diagnostics]

    @property
    def data(self) -> dict:
        (unit,) = self.units
        return unit.resolved.data

    @property
    def objects(self) -> list:
        return [obj for unit in self.units for obj in unit.objects]

    def only(self, code: str):
        found = [d for d in self.diagnostics if d.code == code]
        assert len(found) == 1, f"expected one {code}, got:\n" + "\n".join(self.lines)
        return found[0]


def run(
    workload: str = WORKLOAD,
    policies=(),
    templates=(),
    sets=(),
    project=None,
    workloads=(),
    namespace=None,
) -> Outcome:
    """Compile ``workload`` (file workload.yaml) with policies (policy-N.yaml) and templates
    (template-N.yaml); ``workloads`` are further input files (other-N.yaml)."""
    inputs = _parse(workload, "workload.yaml")
    for index, text in enumerate(workloads):
        inputs += _parse(text, f"other-{index}.yaml")
    policy_documents, template_documents = [], []
    for index, text in enumerate(policies):
        policy_documents += _parse(text, f"policy-{index}.yaml")
    for index, text in enumerate(templates):
        template_documents += _parse(text, f"template-{index}.yaml")
    catalog = build_catalog(
        inputs, policy_documents=policy_documents, template_documents=template_documents
    )
    set_layers, problems = parse_sets(sets)
    assert not problems, problems
    options = Options(project=project, sets=tuple(set_layers), namespace=namespace)
    units = compile_documents(inputs, catalog, options)
    diagnostics = list(catalog.diagnostics) + [d for unit in units for d in unit.diagnostics]
    return Outcome(units, sorted(dict.fromkeys(diagnostics), key=lambda d: d.sort_key()))


def _parse(text: str, name: str) -> list:
    documents, problems = load_documents(textwrap.dedent(text), name)
    assert not problems, problems
    return documents


def with_spec(extra: str, workload: str = WORKLOAD) -> str:
    """``workload`` with ``extra`` (YAML at the indentation of spec's keys) appended to spec."""
    return workload + textwrap.indent(textwrap.dedent(extra).strip("\n"), "  ") + "\n"
