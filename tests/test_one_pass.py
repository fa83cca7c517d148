"""A manifest fixed in one pass (issue 24): every structural problem of a file at once, each
reported once, in the file its author owns; a template's warnings for the template's owner."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from example_support import EXAMPLES, run_cli

HEADER = """\
kind: AIchorManifest
apiVersion: 0.2.3
project: team-a
"""


def _repository(tmp_path: Path) -> Path:
    """A user's repository: the examples' policies and templates under platform/, a config."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(EXAMPLES / "policies", tmp_path / "platform" / "policies")
    shutil.copytree(EXAMPLES / "templates", tmp_path / "platform" / "templates")
    (tmp_path / ".compile.yaml").write_text(
        "policies: [platform/policies]\ntemplates: [platform/templates]\n"
    )
    (tmp_path / "exps").mkdir()
    return tmp_path


def _check(repo: Path, name: str, body: str) -> list[str]:
    (repo / "exps" / name).write_text(HEADER + f"name: {name[:-5]}\n" + textwrap.dedent(body))
    result = run_cli("check", f"exps/{name}", cwd=repo)
    return [line for line in result.stdout.splitlines() if not line.startswith("note:")]


def test_four_typos_at_four_depths_are_four_diagnostics_in_that_file(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(
        repo,
        "typos.yaml",
        """\
        spec:
          opertor: jobset
          image: registry.example.com/team-a/trainer:1.4
          command: python train.py
          types:
            worker:
              count: 2
              resouces:
                cpu: 8
                memroy: 32
        """,
    )
    assert lines == [
        "exps/typos.yaml:6:3: error[E101] spec.opertor: unknown key 'opertor'; did you mean 'operator'?",
        "exps/typos.yaml:12:7: error[E101] spec.types.worker.resouces: unknown key 'resouces'; did you mean 'resources'?",
        "exps/typos.yaml:13:9: error[E101] spec.types.worker.resouces.cpu: unknown key 'cpu'; did you mean 'cpus'?",
        "exps/typos.yaml:14:9: error[E101] spec.types.worker.resouces.memroy: unknown key 'memroy'; did you mean 'memory'?",
    ]


def test_a_missing_operator_hides_no_unknown_key_of_the_types(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(
        repo,
        "noop.yaml",
        """\
        spec:
          image: registry.example.com/team-a/trainer:1.4
          command: python train.py
          types:
            Master: {count: 1, resources: {cpus: 2, memory: 8}}
            Worker: {count: 2, resources: {cpus: 2, memroy: 8}}
        """,
    )
    codes = [line.split("error[")[1][:4] for line in lines]
    assert codes == ["E103", "E101"], lines
    assert "spec.types.Worker.resources.memroy" in lines[1]


def test_a_misspelt_key_is_not_reported_again_as_the_field_it_leaves_out(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(
        repo,
        "memroy.yaml",
        """\
        spec:
          operator: jobset
          image: registry.example.com/team-a/trainer:1.4
          command: python train.py
          types:
            worker: {count: 2, resources: {cpus: 2, memroy: 8}}
        """,
    )
    assert len(lines) == 1 and "error[E101]" in lines[0], lines  # no E120 "memory is not set"


def test_a_kubernetes_style_env_list_is_one_structural_error_only(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(
        repo,
        "envlist.yaml",
        """\
        baseWorkload: team-a
        spec:
          env:
            - name: FOO
              value: bar
        """,
    )
    assert lines == ["exps/envlist.yaml:8:5: error[E102] spec.env: expected a mapping, got a list"]


def test_a_problem_of_a_policy_default_is_placed_in_the_workload(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(
        repo,
        "nomemory.yaml",
        """\
        spec:
          operator: jobset
          image: registry.example.com/team-a/trainer:1.4
          command: python train.py
          types:
            worker:
              count: 2
        """,
    )
    assert lines == [
        "exps/nomemory.yaml:10:5: error[E120] spec.types.worker.resources: neither ramRatio nor "
        "memory is set; set exactly one (memory = cpus x ramRatio GB) "
        "(from policy team-a-limits at platform/policies/team-a.yaml:21:26)"
    ]


def test_a_templates_warning_is_for_its_owner_not_every_workload(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(repo, "fromtemplate.yaml", "baseWorkload: team-a\n")
    assert lines == []
    owner = run_cli("check", "platform/templates/team-a.yaml", cwd=repo).stdout.splitlines()
    assert [line.split(": ")[0] + ": " + line.split(": ")[1] for line in owner[:1]] == [
        "platform/templates/team-a.yaml:21:19: warning[W110] spec.ports.admin-port-a"
    ]


def test_a_workloads_own_port_still_gets_its_warning(tmp_path):
    repo = _repository(tmp_path)
    lines = _check(
        repo,
        "myport.yaml",
        """\
        baseWorkload: team-a
        spec:
          ports:
            mine: {container: 30222, external: 8222}
        """,
    )
    assert len(lines) == 1 and "warning[W110] spec.ports.mine" in lines[0], lines
    assert lines[0].startswith("exps/myport.yaml:8:11:")


# ---------------------------------------------------------------------------------------------
# compile check DIR: what is not a manifest


def test_checking_a_repository_skips_its_configuration_files(tmp_path):
    repo = _repository(tmp_path)
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yaml").write_text("on: push\njobs: {}\n")
    _check(repo, "fromtemplate.yaml", "baseWorkload: team-a\n")
    result = run_cli("check", ".", cwd=repo)
    assert result.exit_code == 0, result.stdout
    assert "E010" not in result.stdout and "E208" not in result.stdout, result.stdout


def test_policies_in_a_checked_directory_are_checked_as_policies(tmp_path):
    repo = _repository(tmp_path)
    policy = repo / "platform" / "policies" / "team-a.yaml"
    policy.write_text(
        policy.read_text().replace("spec.timeout:", "spec.timeout: {maxx: 1}\n    spec.x:")
    )
    (repo / ".compile.yaml").write_text("templates: [platform/templates]\n")
    result = run_cli("check", "platform/", cwd=repo)
    assert "E208" not in result.stdout, result.stdout
    assert "platform/policies/team-a.yaml:" in result.stdout and "maxx" in result.stdout


def test_a_policy_inside_a_workload_file_is_still_refused_by_check(tmp_path):
    repo = _repository(tmp_path)
    policy = (repo / "platform" / "policies" / "team-a.yaml").read_text()
    (repo / "exps" / "both.yaml").write_text(
        HEADER + "name: both\nbaseWorkload: team-a\n---\n" + policy
    )
    result = run_cli("check", "exps/", cwd=repo)
    assert "error[E208]" in result.stdout, result.stdout


def test_a_problem_of_a_set_value_stays_at_the_set(tmp_path):
    repo = _repository(tmp_path)
    (repo / "exps" / "small.yaml").write_text(HEADER + "name: small\nbaseWorkload: team-a\n")
    result = run_cli(
        "check", "exps/small.yaml", "--set", "spec.types.worker.resources.cpus=100", cwd=repo
    )
    errors = [line for line in result.stdout.splitlines() if "error[E401]" in line]
    assert errors and all(line.startswith("--set spec.types") for line in errors), result.stdout
