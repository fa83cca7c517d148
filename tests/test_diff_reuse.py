"""`compile diff` reads each side's policies and templates once and each manifest once (issue 25):
its results are exactly those of compiling every manifest from scratch on both sides."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.config import Config
from compiler.review.compiled import Compiled
from compiler.review.diff import compare
from compiler.review.outputs import compile_file
from compiler.review.revisions import Side
from compiler.review.runs import diff_all

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "aichor"


def from_scratch(manifests, before: Side, after: Side, project, config):
    """The comparison as `compile diff` made it before issue 25: each file compiled twice, each
    time reading its policies and templates again."""
    results, environment = [], []
    for path in manifests:
        old, holds = compile_file(path, before.policies, before.templates, project, config)
        if not holds:
            continue
        new, _ = compile_file(path, after.policies, after.templates, project, config)
        environment += [d for d in old.diagnostics + new.diagnostics if d.code == "E006"]
        old = Compiled(old.file, old.text, before.relabel(old.diagnostics))
        new = Compiled(new.file, new.text, after.relabel(new.diagnostics))
        results.append(compare(old, new))
    return results, environment


@pytest.fixture
def sides(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    for side in (before, after):
        shutil.copytree(REPO / "examples" / "policies", side / "policies")
        shutil.copytree(REPO / "examples" / "templates", side / "templates")
    rules = after / "policies" / "global.yaml"
    rules.write_text(rules.read_text().replace("{max: 14d}", "{max: 7d}"))
    team = after / "policies" / "team-a.yaml"
    team.write_text(team.read_text().replace("timeout: 1d", "timeout: 2d"))
    return tuple(
        Side(str(side), [str(side / "policies")], [str(side / "templates")])
        for side in (before, after)
    )


def manifests(tmp_path) -> list[str]:
    files = sorted(str(p) for p in (REPO / "examples").glob("*.yaml"))
    files += sorted(str(p) for p in CORPUS.glob("*.yaml"))[::7]
    files.append(str(REPO / "examples" / "templates" / "team-a.yaml"))  # a template as input
    files.append(str(REPO / "examples" / "policies" / "global.yaml"))  # a policy as input
    files.append(str(tmp_path / "missing.yaml"))  # cannot be read: E006
    return files


@pytest.mark.parametrize("project", [None, "team-a"])
def test_diff_results_equal_compiling_every_file_from_scratch(tmp_path, sides, project):
    before, after = sides
    paths = manifests(tmp_path)
    config = Config(None)
    expected = from_scratch(paths, before, after, project, config)
    assert diff_all(paths, before, after, project, config) == expected
    assert len(expected[0]) > 50
    statuses = {r.status for r in expected[0]}
    assert "output-changed" in statuses and len(statuses) >= 3, statuses


def test_a_side_that_cannot_be_read_whole_gives_the_same_results(tmp_path, sides):
    before, after = sides
    (Path(after.policies[0]) / "zz-broken.yaml").write_text("kind: [broken\n")
    paths = manifests(tmp_path)[:12]
    expected = from_scratch(paths, before, after, None, Config(None))
    assert diff_all(paths, before, after, None, Config(None)) == expected
    assert {r.status for r in expected[0]} == {"became-invalid"}
