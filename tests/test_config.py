"""`.compile.yaml`: default policies, templates and project, found from the current directory upward."""

from __future__ import annotations

import shutil
import textwrap

from example_support import REPO, run_cli

from compiler.config import CONFIG_NAME, Config, find_config, parse_config

POLICY = textwrap.dedent("""\
    apiVersion: manifest-compiler/v1
    kind: Policy
    metadata: {name: small, project: team-a}
    spec:
      defaults: {spec: {timeout: 1d}}
      rules:
        spec.types.*.resources.cpus: {max: 4}
    """)
WORKLOAD = textwrap.dedent("""\
    kind: AIchorManifest
    name: train
    spec:
      operator: jobset
      image: trainer:1
      command: python train.py
      types:
        worker: {count: 1, resources: {cpus: 8, memory: 8}}
    """)


def test_paths_are_relative_to_the_config_file():
    config, problems = parse_config(
        "policies: [policies, /abs/p]\ntemplates: templates\nproject: team-a\n", "../.compile.yaml"
    )
    assert problems == []
    assert config == Config(
        "../.compile.yaml", ("../policies", "/abs/p"), ("../templates",), "team-a"
    )


def test_unknown_keys_and_wrong_types_are_diagnosed():
    _, problems = parse_config("policy: p\ntemplates: [3]\nproject: [a]\n", ".compile.yaml")
    assert [(p.code, p.location.line) for p in problems] == [("E101", 1), ("E102", 2), ("E102", 3)]
    assert "did you mean 'policies'?" in problems[0].message


def test_an_empty_config_is_no_config():
    assert parse_config("", CONFIG_NAME) == (Config(CONFIG_NAME), [])


def test_broken_yaml_is_a_diagnostic():
    _, problems = parse_config("policies: [\n", CONFIG_NAME)
    assert [p.code for p in problems] == ["E001"]


def test_found_from_a_subdirectory(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / CONFIG_NAME).write_text("project: x\n")
    assert find_config(str(tmp_path / "a" / "b")) == str(tmp_path / CONFIG_NAME)
    assert find_config(str(tmp_path)) == str(tmp_path / CONFIG_NAME)


def test_not_found(tmp_path):
    assert find_config(str(tmp_path)) is None


def _repository(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "small.yaml").write_text(POLICY)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "train.yaml").write_text(WORKLOAD)
    (tmp_path / CONFIG_NAME).write_text("policies: policies\nproject: team-a\n")
    return tmp_path


def test_the_config_supplies_policies_and_project(tmp_path):
    repo = _repository(tmp_path)
    result = run_cli("check", "train.yaml", cwd=repo / "jobs")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "train.yaml:8:42: error[E401] spec.types.worker.resources.cpus: 8 is above the maximum 4 "
        "(policy small at ../policies/small.yaml:7:5;"
    )


def test_the_project_flag_overrides_the_config(tmp_path):
    repo = _repository(tmp_path)
    assert run_cli("check", "--project", "team-b", "jobs/train.yaml", cwd=repo).exit_code == 0


def test_the_manifest_project_wins_over_the_config_default(tmp_path):
    repo = _repository(tmp_path)
    (repo / "jobs" / "train.yaml").write_text(
        WORKLOAD.replace("name: train\n", "name: train\nproject: team-b\n")
    )
    assert run_cli("check", "jobs/train.yaml", cwd=repo).exit_code == 0


def test_policy_flags_add_to_the_config(tmp_path):
    repo = _repository(tmp_path)
    (repo / "extra.yaml").write_text(
        POLICY.replace("small", "extra")
        .replace("max: 4", "max: 2")
        .replace("timeout: 1d", "timeout: 1d")
    )
    result = run_cli("check", "-p", "extra.yaml", "jobs/train.yaml", cwd=repo)
    assert "policy small" in result.stdout and "policy extra" in result.stdout


def test_the_config_defaults_reach_the_output(tmp_path):
    repo = _repository(tmp_path)
    (repo / "jobs" / "train.yaml").write_text(WORKLOAD.replace("cpus: 8", "cpus: 2"))
    result = run_cli("train.yaml", "-o", "json", cwd=repo / "jobs")
    assert result.exit_code == 0, result.stderr
    assert (
        '"namespace": "team-a"' in result.stdout
        and '"activeDeadlineSeconds": 86400' in result.stdout
    )


def test_a_broken_config_is_reported(tmp_path):
    shutil.copy(REPO / "examples" / "jobset-heavy-and-workers.yaml", tmp_path / "w.yaml")
    (tmp_path / CONFIG_NAME).write_text("polices: x\n")
    result = run_cli("check", "w.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert ".compile.yaml:1:1: error[E101]" in result.stdout
