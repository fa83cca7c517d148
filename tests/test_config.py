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
    (tmp_path / CONFIG_NAME).chmod(0o644)  # whatever the umask: a group-writable one is refused
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
    (tmp_path / CONFIG_NAME).chmod(0o644)
    result = run_cli("check", "w.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert ".compile.yaml:1:1: error[E101]" in result.stdout


# ---------------------------------------------------------------------------------------------
# where the search stops, whose config is trusted, and which one is used (issue 11, item 10)


def test_the_search_stops_at_the_repository_root(tmp_path):
    (tmp_path / CONFIG_NAME).write_text("project: planted\n")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "jobs").mkdir()
    assert find_config(str(tmp_path / "repo" / "jobs")) is None
    (tmp_path / "repo" / CONFIG_NAME).write_text("project: mine\n")
    assert find_config(str(tmp_path / "repo" / "jobs")) == str(tmp_path / "repo" / CONFIG_NAME)


def test_the_search_stops_at_home(tmp_path, monkeypatch):
    (tmp_path / CONFIG_NAME).write_text("project: planted\n")
    (tmp_path / "home" / "jobs").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_config(str(tmp_path / "home" / "jobs")) is None


def test_a_config_writable_by_others_is_refused(tmp_path):
    repo = _repository(tmp_path)
    (repo / CONFIG_NAME).chmod(0o666)
    result = run_cli("check", "train.yaml", cwd=repo / "jobs")
    assert result.exit_code == 3
    assert "error[E216]" in result.stdout and "writable by group or others" in result.stdout
    assert "policy small" not in result.stdout  # its policies were not loaded


def test_a_config_writable_by_the_group_is_refused_by_compile_too(tmp_path):
    repo = _repository(tmp_path)
    (repo / CONFIG_NAME).chmod(0o664)
    result = run_cli("train.yaml", cwd=repo / "jobs")
    assert result.exit_code == 3
    assert "error[E216]" in result.stderr and not result.stdout


def test_a_config_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    import os

    repo = _repository(tmp_path)
    (repo / CONFIG_NAME).chmod(0o644)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(repo / CONFIG_NAME).st_uid + 1)
    result = run_cli("check", "train.yaml", cwd=repo / "jobs")
    assert result.exit_code == 3
    assert "error[E216]" in result.stdout and "owned by uid" in result.stdout


def test_compile_names_the_config_it_used(tmp_path):
    repo = _repository(tmp_path)
    (repo / "jobs" / "train.yaml").write_text(WORKLOAD.replace("cpus: 8", "cpus: 2"))
    result = run_cli("train.yaml", cwd=repo / "jobs")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "note: using ../.compile.yaml\n"


def test_check_names_the_config_in_its_text_report_only(tmp_path):
    import json

    repo = _repository(tmp_path)
    result = run_cli("check", "train.yaml", cwd=repo / "jobs")
    assert result.stdout.endswith("\nnote: using ../.compile.yaml\n")
    as_json = run_cli("check", "--format", "json", "train.yaml", cwd=repo / "jobs")
    assert json.loads(as_json.stdout)["summary"]["errors"] == 1  # still one JSON document
    sarif = run_cli("check", "--format", "sarif", "train.yaml", cwd=repo / "jobs")
    json.loads(sarif.stdout)


def test_no_config_no_note(tmp_path):
    shutil.copy(REPO / "examples" / "jobset-heavy-and-workers.yaml", tmp_path / "w.yaml")
    (tmp_path / ".git").mkdir()
    result = run_cli("w.yaml", cwd=tmp_path)
    assert result.exit_code == 0 and "note:" not in result.stderr
