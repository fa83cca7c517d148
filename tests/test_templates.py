"""Templates and inheritance (SPEC 3.1, 3.2): the Run:ai ports table, base lookup by scope, and
the errors of resolution (E201-E204)."""

from __future__ import annotations

from example_support import run_cli
from policy_support import policy, run

RUNAI_POLICY = policy(
    defaults="""\
    spec:
      ports:
        admin-port-a: {container: 30100, external: 8080}
        admin-port-b: {container: 30101, external: 8081}
"""
)
TEAM_A = """\
kind: AIchorManifest
usage: Template
name: team-a
project: team-a
spec:
  operator: jobset
  image: trainer:1
  command: python train.py
  types:
    worker:
      resources: {cpus: 4, memory: 16}
  ports:
    admin-port-a: {container: 30100, external: 8100}
    team-a-port: {container: 30111, external: 8111}
"""
MY_PORTS = """\
kind: AIchorManifest
name: my-ports
project: team-a
baseWorkload: team-a
spec:
  types:
    worker: {count: 3}
  ports:
    admin-port-b: {deleted: true}
    my-port: {container: 30222, external: 8222}
"""


def test_the_runai_ports_table():
    outcome = run(MY_PORTS, policies=[RUNAI_POLICY], templates=[TEAM_A])
    assert outcome.codes == []
    ports = outcome.data["spec"]["ports"]
    assert {label: f"{p['container']}:{p['external']}" for label, p in ports.items()} == {
        "admin-port-a": "30100:8100",
        "team-a-port": "30111:8111",
        "my-port": "30222:8222",
    }
    assert list(ports) == ["my-port", "admin-port-a", "team-a-port"]  # highest layer's order first
    resolved = outcome.units[0].resolved
    setters = {label: resolved.layer_of(("spec", "ports", label)).name for label in ports}
    assert setters == {
        "admin-port-a": "template team-a",
        "team-a-port": "template team-a",
        "my-port": "the workload",
    }
    assert [
        (path, resolved.layers[origin.layer].name) for path, origin in resolved.events.deletions
    ] == [(("spec", "ports", "admin-port-b"), "the workload")]


def test_the_runai_ports_table_from_the_example_files():
    result = run_cli(
        "-p",
        "examples/policies",
        "-t",
        "examples/templates",
        "examples/team-a-my-ports.yaml",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    import json

    (service,) = [o for o in json.loads(result.stdout)["items"] if o["kind"] == "Service"]
    assert [(p["name"], p["targetPort"], p["port"]) for p in service["spec"]["ports"]] == [
        ("my-port", 30222, 8222),
        ("admin-port-a", 30100, 8100),
        ("team-a-port", 30111, 8111),
    ]


def test_the_example_golden_file_is_current(golden_dir):
    result = run_cli(
        "-p", "examples/policies", "-t", "examples/templates", "examples/team-a-my-ports.yaml"
    )
    assert result.stdout == (golden_dir / "team-a-my-ports.yaml").read_text()


def test_the_template_presets_a_type_and_the_workload_sets_its_count():
    outcome = run(MY_PORTS, templates=[TEAM_A])
    worker = outcome.data["spec"]["types"]["worker"]
    assert (worker["count"], worker["resources"]["cpus"], worker["resources"]["memory"]) == (
        3,
        4,
        16,
    )


def test_the_workload_may_delete_a_type_of_the_template():
    template = TEAM_A.replace(
        "  types:\n", "  types:\n    evaluator: {resources: {cpus: 1, memory: 1}}\n"
    )
    workload = MY_PORTS.replace(
        "    worker: {count: 3}\n", "    worker: {count: 3}\n    evaluator: {deleted: true}\n"
    )
    outcome = run(workload, templates=[template])
    assert list(outcome.data["spec"]["types"]) == ["worker"]


def test_template_metadata_is_not_inherited():
    workload = MY_PORTS.replace("name: my-ports\n", "")
    outcome = run(workload, templates=[TEAM_A])
    assert outcome.codes == []
    assert "usage" not in outcome.data and "name" not in outcome.data
    assert (
        outcome.objects[0]["metadata"]["name"] == "workload"
    )  # from the file name, not the template


def test_a_template_alone_emits_nothing():
    outcome = run(TEAM_A)
    assert [unit.objects for unit in outcome.units] == [[]] and outcome.codes == []


def test_a_project_template_wins_over_a_global_one():
    global_base = TEAM_A.replace("project: team-a\n", "").replace("trainer:1", "global:1")
    for project, image in (("team-a", "trainer:1"), ("team-b", "global:1")):
        outcome = run(
            MY_PORTS.replace("project: team-a", f"project: {project}"),
            templates=[global_base, TEAM_A],
        )
        assert outcome.data["spec"]["image"] == image


def test_a_template_of_another_project_is_not_visible():
    outcome = run(MY_PORTS.replace("project: team-a", "project: team-b"), templates=[TEAM_A])
    found = outcome.only("E201")
    assert found.path == "baseWorkload"


def test_unknown_base_names_the_closest():
    outcome = run(
        MY_PORTS.replace("baseWorkload: team-a", "baseWorkload: team-aa"), templates=[TEAM_A]
    )
    found = outcome.only("E201")
    assert found.message.endswith("did you mean 'team-a'?")
    assert (found.location.file, found.location.line) == ("workload.yaml", 4)


def test_a_template_may_not_name_a_base():
    template = TEAM_A.replace("usage: Template\n", "usage: Template\nbaseWorkload: other\n")
    outcome = run(MY_PORTS, templates=[template])
    found = outcome.only("E202")
    assert found.location.file == "template-0.yaml"


def test_a_named_workload_may_serve_as_base_but_only_one_level_deep():
    first = MY_PORTS.replace("name: my-ports", "name: second").replace(
        "baseWorkload: team-a", "baseWorkload: my-ports"
    )
    base = MY_PORTS.replace("baseWorkload: team-a\n", "").replace(
        "{count: 3}", "{count: 3, resources: {cpus: 1, memory: 1}}"
    )
    outcome = run(first, workloads=[base + "  operator: jobset\n  image: i\n  command: c\n"])
    assert outcome.codes == []
    chained = run(first, workloads=[MY_PORTS], templates=[TEAM_A])
    assert "E202" in chained.codes
    assert "only one level" in chained.only("E202").message


def test_two_templates_of_one_scope_with_one_name():
    outcome = run(MY_PORTS, templates=[TEAM_A, TEAM_A.replace("trainer:1", "other:1")])
    found = outcome.only("E203")
    assert (found.location.file, found.related[0].location.file) == (
        "template-1.yaml",
        "template-0.yaml",
    )
    assert run(MY_PORTS, templates=[TEAM_A, TEAM_A.replace("project: team-a\n", "")]).codes == []


def test_a_template_given_as_input_and_under_templates_counts_once():
    result = run_cli(
        "check",
        "-t",
        "examples/templates",
        "examples/templates/team-a.yaml",
        "examples/team-a-my-ports.yaml",
    )
    assert "E203" not in result.stdout, result.stdout


def test_an_item_override_must_give_every_member():
    workload = MY_PORTS.replace(
        "my-port: {container: 30222, external: 8222}", "admin-port-a: {container: 30100}"
    )
    outcome = run(workload, policies=[RUNAI_POLICY], templates=[TEAM_A])
    found = outcome.only("E204")
    assert found.path == "spec.ports.admin-port-a"
    assert "'external'" in found.message and "template team-a" in found.message
    assert (found.location.file, found.location.line) == ("workload.yaml", 10)
    assert outcome.codes == ["E204"]  # not also "external is required"


def test_an_item_override_of_a_policy_item_names_the_policy():
    workload = (
        MY_PORTS.replace("baseWorkload: team-a\n", "")
        .replace("my-port: {container: 30222, external: 8222}", "admin-port-b: {external: 9000}")
        .replace("    admin-port-b: {deleted: true}\n", "")
        + "  operator: jobset\n  image: i\n  command: c\n"
    )
    workload = workload.replace(
        "worker: {count: 3}", "worker: {count: 3, resources: {cpus: 1, memory: 1}}"
    )
    outcome = run(workload, policies=[RUNAI_POLICY])
    found = outcome.only("E204")
    assert "'container'" in found.message and "policy team-a-limits" in found.message


def test_a_new_item_missing_a_member_is_a_plain_structure_error():
    workload = MY_PORTS.replace(
        "my-port: {container: 30222, external: 8222}", "my-port: {container: 30222}"
    )
    assert run(workload, templates=[TEAM_A]).codes == ["E103"]
