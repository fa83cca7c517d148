"""`compile golden [DIR] [--update]`: golden files are the exact output; differences are explained."""

from __future__ import annotations

import contextlib
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli.app import cli

REPO = Path(__file__).resolve().parents[1]

HEAVY = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.1
    name: train
    spec:
      operator: jobset
      image: team/train:1
      command: python -u train.py
      types:
        worker-heavy: {count: 1, resources: {cpus: 8, ramRatio: 2}}
        worker: {count: 7, resources: {cpus: 2, ramRatio: 2}}
""")
SMALL = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.1
    name: small
    spec:
      operator: batchjob
      image: team/prep:1
      command: python prep.py
      types:
        worker: {count: 2, resources: {cpus: 1, ramRatio: 2}}
""")
TEMPLATE = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.1
    usage: Template
    name: base
    spec:
      operator: jobset
      image: team/train:1
      command: python -u train.py
      types:
        worker: {count: 1, resources: {cpus: 2, ramRatio: 2}}
""")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path):
    """A repository-like directory: examples/ with two workloads, golden/ written by --update."""
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "heavy.yaml").write_text(HEAVY)
    (examples / "small.yaml").write_text(SMALL)
    with contextlib.chdir(tmp_path):
        result = invoke("golden", "--update")
        assert result.exit_code == 0, result.output
        yield tmp_path


def golden_file(project: Path, stem: str) -> Path:
    return project / "golden" / f"{stem}.yaml"


# ---------------------------------------------------------------------------------------------
# the convention: golden/<stem>.yaml == stdout of `compile -p DIR/policies -t DIR/templates DIR/<stem>.yaml`


def test_update_writes_exactly_what_compile_prints(project):
    for stem in ("heavy", "small"):
        printed = invoke(f"examples/{stem}.yaml").stdout
        assert golden_file(project, stem).read_bytes() == printed.encode("utf-8")
    assert sorted(p.name for p in (project / "golden").iterdir()) == ["heavy.yaml", "small.yaml"]


def test_repository_examples_reproduce_the_committed_golden_files(tmp_path):
    """Run in a copy: `compile golden --update` over the repository's examples gives golden/ byte for byte."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    with contextlib.chdir(tmp_path):
        result = invoke("golden", "--update")
        assert result.exit_code == 0, result.output
    committed = {p.name: p.read_bytes() for p in (REPO / "golden").glob("*.yaml")}
    written = {p.name: p.read_bytes() for p in (tmp_path / "golden").glob("*.yaml")}
    assert written == committed


def test_repository_golden_files_match(tmp_path):
    with contextlib.chdir(REPO):
        result = invoke("golden")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("golden: ") and "differ" not in result.output


def test_unchanged_examples_pass_quietly(project):
    result = invoke("golden")
    assert (result.exit_code, result.output) == (0, "golden: 2 files: 2 match\n")


def test_template_only_files_are_not_examples(project):
    (project / "examples" / "base.yaml").write_text(TEMPLATE)
    result = invoke("golden")
    assert (result.exit_code, result.output) == (0, "golden: 2 files: 2 match\n")


def test_policies_and_templates_subdirectories_are_used(project):
    (project / "examples" / "templates").mkdir()
    (project / "examples" / "templates" / "base.yaml").write_text(TEMPLATE)
    (project / "examples" / "from-base.yaml").write_text(
        "kind: AIchorManifest\napiVersion: 0.2.1\nname: derived\nbaseWorkload: base\n"
        "spec:\n  types:\n    worker: {count: 3}\n"
    )
    assert invoke("golden", "--update").exit_code == 0
    printed = invoke("-t", "examples/templates", "examples/from-base.yaml")
    assert printed.exit_code == 0, printed.output
    assert golden_file(project, "from-base").read_text() == printed.stdout


def test_golden_dir_defaults_to_golden_beside_the_examples(tmp_path):
    (tmp_path / "sub" / "examples").mkdir(parents=True)
    (tmp_path / "sub" / "examples" / "small.yaml").write_text(SMALL)
    with contextlib.chdir(tmp_path):
        assert invoke("golden", "sub/examples", "--update").exit_code == 0
    assert (tmp_path / "sub" / "golden" / "small.yaml").is_file()


# ---------------------------------------------------------------------------------------------
# differences: exit 1, explained per object and per field


def test_a_changed_value_is_shown_by_object_and_field(project):
    (project / "examples" / "heavy.yaml").write_text(HEAVY.replace("count: 7", "count: 8"))
    result = invoke("golden")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "golden/heavy.yaml: differs from the output of examples/heavy.yaml"
    assert "  JobSet/train spec.replicatedJobs[worker].replicas: 7 → 8" in lines
    assert any(
        line.startswith('  JobSet/train metadata.annotations["manifest-compiler/digest"]: ')
        for line in lines
    )
    assert lines[-1] == "golden: 2 files: 1 match, 1 differ"


def test_added_and_removed_fields_and_objects(project):
    changed = HEAVY.replace("  types:", "  ttlSecondsAfterFinished: 600\n  types:").replace(
        "worker-heavy", "chief"
    )
    (project / "examples" / "heavy.yaml").write_text(changed)
    result = invoke("golden")
    assert result.exit_code == 1
    assert "  JobSet/train spec.ttlSecondsAfterFinished: added 600" in result.output
    assert "  JobSet/train spec.replicatedJobs[worker-heavy]: removed (was " in result.output
    assert "  JobSet/train spec.replicatedJobs[chief]: added {" in result.output


def test_a_formatting_only_difference_still_fails(project):
    path = golden_file(project, "small")
    path.write_text(path.read_text().replace("apiVersion: batch/v1", "apiVersion: 'batch/v1'"))
    result = invoke("golden")
    assert result.exit_code == 1
    assert "golden/small.yaml: differs from the output of examples/small.yaml" in result.output
    assert "the bytes differ but the objects are equal" in result.output


def test_a_golden_file_that_is_not_yaml_fails_with_a_reason(project):
    golden_file(project, "small").write_text("kind: [unclosed\n")
    result = invoke("golden")
    assert result.exit_code == 1
    assert "the golden file is not readable as YAML" in result.output


def test_missing_and_extra_golden_files_are_reported(project):
    golden_file(project, "small").unlink()
    golden_file(project, "stale").write_text("---\nkind: Job\n")
    result = invoke("golden")
    assert result.exit_code == 1
    assert "golden/small.yaml: missing" in result.output
    assert "golden/stale.yaml: no example stale.yaml holds a workload for it" in result.output
    assert (
        result.output.splitlines()[-1]
        == "golden: 3 files: 1 match, 1 missing golden file, 1 golden file without example"
    )


def test_an_example_that_does_not_compile_fails(project):
    before = golden_file(project, "small").read_bytes()
    (project / "examples" / "small.yaml").write_text(SMALL.replace("  command:", "  comand:"))
    for args in (["golden"], ["golden", "--update"]):
        result = invoke(*args)
        assert result.exit_code == 1
        assert "examples/small.yaml: does not compile" in result.output
        assert "error[E101]" in result.output
    assert golden_file(project, "small").read_bytes() == before


# ---------------------------------------------------------------------------------------------
# --update


def test_update_rewrites_differing_writes_missing_removes_extra(project):
    (project / "examples" / "heavy.yaml").write_text(HEAVY.replace("count: 7", "count: 8"))
    golden_file(project, "small").unlink()
    golden_file(project, "stale").write_text("---\nkind: Job\n")
    result = invoke("golden", "--update")
    assert result.exit_code == 0, result.output
    assert "updated golden/heavy.yaml" in result.output
    assert "wrote golden/small.yaml" in result.output
    assert "removed golden/stale.yaml" in result.output
    assert (
        result.output.splitlines()[-1]
        == "golden: 3 files: 0 match, 1 updated, 1 written, 1 removed"
    )
    assert invoke("golden").exit_code == 0
    assert golden_file(project, "heavy").read_text() == invoke("examples/heavy.yaml").stdout


def test_update_keeps_the_file_mode(project):
    path = golden_file(project, "heavy")
    os.chmod(path, 0o640)
    (project / "examples" / "heavy.yaml").write_text(HEAVY.replace("count: 7", "count: 8"))
    assert invoke("golden", "--update").exit_code == 0
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_an_interrupted_update_leaves_each_file_old_or_new(project, monkeypatch):
    old = {stem: golden_file(project, stem).read_bytes() for stem in ("heavy", "small")}
    (project / "examples" / "heavy.yaml").write_text(HEAVY.replace("count: 7", "count: 8"))
    (project / "examples" / "small.yaml").write_text(SMALL.replace("count: 2", "count: 3"))
    new = {stem: invoke(f"examples/{stem}.yaml").stdout.encode() for stem in ("heavy", "small")}

    real_replace = os.replace
    calls = []

    def replace_failing_the_second_time(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace_failing_the_second_time)
    result = invoke("golden", "--update")
    assert result.exit_code == 3
    assert "cannot write golden/small.yaml: No space left on device" in result.stderr
    assert golden_file(project, "heavy").read_bytes() == new["heavy"]
    assert golden_file(project, "small").read_bytes() == old["small"]
    assert sorted(p.name for p in (project / "golden").iterdir()) == [
        "heavy.yaml",
        "small.yaml",
    ]  # no temp file left

    monkeypatch.setattr(os, "replace", real_replace)
    assert invoke("golden", "--update").exit_code == 0
    assert golden_file(project, "small").read_bytes() == new["small"]


def test_an_interrupted_write_leaves_the_old_file(project, monkeypatch):
    old = golden_file(project, "small").read_bytes()
    (project / "examples" / "small.yaml").write_text(SMALL.replace("count: 2", "count: 3"))

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    assert invoke("golden", "--update").exit_code == 3
    assert golden_file(project, "small").read_bytes() == old
    assert sorted(p.name for p in (project / "golden").iterdir()) == ["heavy.yaml", "small.yaml"]


def test_golden_output_is_deterministic(project):
    (project / "examples" / "heavy.yaml").write_text(
        HEAVY.replace("count: 7", "count: 8").replace("cpus: 8", "cpus: 4")
    )
    outputs = {invoke("golden").output for _ in range(3)}
    assert len(outputs) == 1


@pytest.mark.parametrize(
    "content, code",
    [
        (b"kind: [unclosed\n", "E001"),
        (b"kind: AIchorManifest\nname: caf\xe9\n", "E004"),
    ],
)
def test_an_example_that_cannot_be_parsed_fails_and_is_never_skipped(project, content, code):
    (project / "examples" / "broken.yaml").write_bytes(content)
    result = invoke("golden")
    assert result.exit_code == 1
    assert "examples/broken.yaml: does not compile" in result.output
    assert f"error[{code}]" in result.output


def test_a_golden_file_that_is_not_utf8_fails_with_a_reason(project):
    golden_file(project, "small").write_bytes(b"kind: Job\nname: caf\xe9\n")
    result = invoke("golden")
    assert result.exit_code == 1
    assert "the golden file is not UTF-8" in result.output


def test_a_missing_directory_is_a_usage_error(project):
    result = invoke("golden", "no-such-examples")
    assert result.exit_code == 2
    assert "no-such-examples is not a directory" in result.output
