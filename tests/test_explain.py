"""`compile explain`: the resolved manifest with the source of every value and item (SPEC 3.3)."""

from __future__ import annotations

import json

from example_support import run_cli
from policy_support import run
from test_templates import MY_PORTS, RUNAI_POLICY, TEAM_A

from compiler.resolve.explain import entries, explain_data, explain_text, find, scalar

EXAMPLE = (
    "explain",
    "-p",
    "examples/policies",
    "-t",
    "examples/templates",
    "examples/team-a-my-ports.yaml",
)


def _leaves(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, path + (index,))
    else:
        yield path, data


def resolved_example():
    return run(MY_PORTS, policies=[RUNAI_POLICY], templates=[TEAM_A]).units[0].resolved


def test_every_value_has_an_entry_with_its_layer():
    resolved = resolved_example()
    by_path = {e.data_path: e for e in entries(resolved)}
    for path, value in _leaves(resolved.data):
        entry = by_path[path]
        assert entry.value == value
        assert entry.source == resolved.layer_of(path).name
        assert (entry.location is None) == (entry.role == "built-in")


def test_the_text_names_layer_and_position_of_each_value():
    text = explain_text(resolved_example(), "workload.yaml")
    lines = text.splitlines()
    assert lines[0] == "# workload.yaml"
    assert "#   1 policy team-a-limits  policy-0.yaml" in lines
    assert "#   2 template team-a  template-0.yaml" in lines

    def source_of(fragment):
        (line,) = [line for line in lines if line.split("#")[0].strip() == fragment]
        return line.split("# ", 1)[1]

    assert source_of("container: 30222") == "the workload  workload.yaml:10:26"
    assert source_of("admin-port-a:") == "template team-a  template-0.yaml:13:5"
    assert source_of("cpuLimitRatio: 2") == "built-in defaults"
    assert "#   spec.ports.admin-port-b  by the workload at workload.yaml:9:5" in lines


def test_a_path_narrows_the_output():
    resolved = resolved_example()
    root = find(resolved, ("spec", "ports", "team-a-port"))
    text = explain_text(resolved, "w", root)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert [line.split("#")[0].rstrip() for line in body] == [
        "spec.ports.team-a-port:",
        "  container: 30111",
        "  external: 8111",
    ]
    assert find(resolved, ("spec", "ports", "nope")) is None


def test_json_lists_every_value():
    data = explain_data(resolved_example(), "w")
    values = {v["path"]: v for v in data["values"]}
    assert values["spec.ports.my-port.container"] == {
        "path": "spec.ports.my-port.container",
        "layer": "the workload",
        "role": "workload",
        "location": "workload.yaml:10:26",
        "value": 30222,
    }
    assert values["spec.ports.admin-port-a"]["layer"] == "template team-a"
    assert [d["path"] for d in data["deleted"]] == ["spec.ports.admin-port-b"]
    assert [layer["role"] for layer in data["layers"]] == [
        "built-in",
        "project-policy",
        "base",
        "workload",
    ]


def test_scalars_read_back_as_written():
    assert [scalar(v) for v in ("plain", "1d", "0.2.3", "yes", "", "a: b", None, True, 3)] == [
        "plain",
        '"1d"',
        '"0.2.3"',
        "yes",
        '""',
        '"a: b"',
        "null",
        "true",
        "3",
    ]


def test_the_command_on_the_example():
    result = run_cli(*EXAMPLE)
    assert result.exit_code == 0, result.stderr
    assert "# examples/team-a-my-ports.yaml" in result.stdout
    line = next(
        line for line in result.stdout.splitlines() if line.strip().startswith("HTTP_PROXY:")
    )
    assert "# policy team-a-limits  examples/policies/team-a.yaml:" in line


def test_the_command_with_path_and_json():
    result = run_cli(*EXAMPLE, "--path", "spec.types.worker.count", "-o", "json")
    assert result.exit_code == 0, result.stderr
    (document,) = json.loads(result.stdout)
    assert document["values"] == [
        {
            "path": "spec.types.worker.count",
            "layer": "the workload",
            "role": "workload",
            "location": "examples/team-a-my-ports.yaml:15:14",
            "value": 4,
        }
    ]


def test_the_command_with_a_missing_path():
    result = run_cli(*EXAMPLE, "--path", "spec.ports.admin-port-b")
    assert result.exit_code == 1
    assert "spec.ports.admin-port-b has no value in the resolved manifest" in result.stderr


def test_the_command_reports_resolution_errors(tmp_path):
    (tmp_path / "w.yaml").write_text(MY_PORTS.replace("baseWorkload: team-a", "baseWorkload: nope"))
    result = run_cli("explain", "w.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "error[E201]" in result.stderr
    assert result.stdout == ""


def test_the_command_still_explains_a_policy_violation():
    result = run_cli(*EXAMPLE, "--set", "spec.types.worker.count=100")
    assert result.exit_code == 1
    assert "error[E401]" in result.stderr
    assert "count: 100" in result.stdout and "# --set spec.types.worker.count" in result.stdout


def test_the_text_reads_back_as_the_resolved_manifest():
    import yaml
    from test_policy import KUBERAY

    for resolved in (resolved_example(), run(KUBERAY).units[0].resolved):
        assert yaml.safe_load(explain_text(resolved, "w")) == resolved.data
