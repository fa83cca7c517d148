"""Our input limits do not depend on the YAML library underneath (issue 10).

libyaml, bundled with PyYAML's wheels, gained a nesting limit of its own (depth 1000, PyYAML
6.0.3+) that trips while it scans ahead, before the parser hands over the event at our limit.
Whatever libyaml does, the diagnostic is ours: the same code, message and position as PyYAML's
pure-Python parser gives, which has no limit of its own. `make compat` runs this file under the
lowest and the newest PyYAML that pyproject.toml allows.
"""

from __future__ import annotations

import pytest
import yaml

from compiler.parse import yaml12

DEEP_BLOCK = "".join(" " * d + f"k{d}:\n" for d in range(1500)) + " " * 1500 + "leaf\n"
ALIASES = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'] + [
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)
]

HOSTILE = {
    "open flow, past libyaml's 1000": "[" * 5000,
    "closed flow, past libyaml's 1000": "[" * 5000 + "]" * 5000 + "\n",
    "open flow, below libyaml's 1000": "[" * 999,
    "flow mappings": "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "block nesting": DEEP_BLOCK,
    "deep after a valid document": "a: 1\n---\nb: " + "[" * 2000 + "\n",
    "deep in a later key": "ok: [1, 2]\nnext: " + "[" * 4000 + "]" * 4000 + "\n",
    "alias bomb": "\n".join(ALIASES) + "\n",
}


def diagnostics_with(monkeypatch, libyaml: bool, text: str):
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    _, diagnostics = yaml12.load_documents(text.encode(), "deep.yaml")
    return [(d.code, d.message, d.location) for d in diagnostics]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_same_diagnostic_with_and_without_libyaml(monkeypatch, name):
    pure = diagnostics_with(monkeypatch, False, HOSTILE[name])
    assert [code for code, _, _ in pure] == ["E003"], pure
    if yaml.__with_libyaml__:
        assert diagnostics_with(monkeypatch, True, HOSTILE[name]) == pure


def test_the_diagnostic_stands_on_the_first_collection_past_the_limit(monkeypatch):
    ((code, message, location),) = diagnostics_with(monkeypatch, yaml.__with_libyaml__, "[" * 5000)
    assert code == "E003"
    assert f"deeper than {yaml12.MAX_DEPTH} levels" in message
    assert (location.line, location.column) == (1, yaml12.MAX_DEPTH + 1)


def test_nesting_at_the_limit_is_read(monkeypatch):
    text = "[" * yaml12.MAX_DEPTH + "]" * yaml12.MAX_DEPTH + "\n"
    documents, diagnostics = yaml12.load_documents(text.encode(), "ok.yaml")
    assert diagnostics == []
    depth, value = 0, documents[0].data
    while isinstance(value, list):
        depth, value = depth + 1, value[0] if value else None
    assert depth == yaml12.MAX_DEPTH
