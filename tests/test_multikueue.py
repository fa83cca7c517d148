"""Many clusters (SPEC 2.9, Kueue MultiKueue): `compile queues` for a manager and its workers,
the errors of spec.clusters, and engineName pinning a workload to one worker.

The goldens in tests/data/multikueue/golden are `compile queues -p tests/data/multikueue/policies`
(manager.yaml) and the same with `--cluster worker-a` / `--cluster worker-b`; regenerate them with
those commands and review the diff. Kueue's ClusterQueue, LocalQueue, ResourceFlavor and
WorkloadPriorityClass are checked against the v1beta2 CRDs in ../shared/crds; the MultiKueue kinds
(absent there) against the fields of Kueue v0.19.2's apis/kueue/v1beta2 Go types, restated here.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from example_support import REPO, run_cli
from test_queues import kueue_errors

DATA = REPO / "tests" / "data" / "multikueue"
POLICIES = DATA / "policies"
GOLDEN = DATA / "golden"
MULTIKUEUE_KINDS = {"MultiKueueCluster", "MultiKueueConfig", "AdmissionCheck"}

TEAM_A = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-a-quota, project: team-a}
spec:
  quota: {cpus: 8, memoryGB: 16, gpus: 4}
"""

TEAM_B = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-b-quota, project: team-b}
spec:
  quota: {cpus: 4, memoryGB: 8}
"""


def fleet(clusters: str) -> str:
    return (
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: fleet}\nspec:\n"
        "  clusters:\n" + textwrap.indent(textwrap.dedent(clusters), "    ")
    )


TWO_WORKERS = fleet("""\
- {name: worker-a, kubeconfigSecret: worker-a-kubeconfig}
- {name: worker-b, kubeconfigSecret: worker-b-kubeconfig}
""")


def write_policies(tmp_path: Path, *texts: str) -> list[str]:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"policy-{index}.yaml"
        path.write_text(text)
        paths.append(str(path))
    return paths


def queues(tmp_path: Path, *texts: str, cluster: str | None = None):
    args = ["queues"]
    for path in write_policies(tmp_path, *texts):
        args += ["-p", path]
    if cluster:
        args += ["--cluster", cluster]
    return run_cli(*args)


def objects_of(text: str) -> list[dict]:
    return [obj for obj in yaml.safe_load_all(text) if obj is not None]


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# ---------------------------------------------------------------------------------------------
# the goldens


@pytest.mark.parametrize(
    "golden, cluster", [("manager", None), ("worker-a", "worker-a"), ("worker-b", "worker-b")]
)
def test_compile_queues_output_is_the_golden_file(golden, cluster):
    args = ["queues", "-p", str(POLICIES.relative_to(REPO))]
    result = run_cli(*args, *(["--cluster", cluster] if cluster else []))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (GOLDEN / f"{golden}.yaml").read_text(), (
        f"tests/data/multikueue/golden/{golden}.yaml is stale"
    )


# ---------------------------------------------------------------------------------------------
# the manager's objects


def multikueue_shape_errors(obj: dict) -> list[str]:
    """The v1beta2 MultiKueue kinds' fields (Kueue v0.19.2 apis/kueue/v1beta2)."""
    spec = obj["spec"]
    errors = []
    if obj["kind"] == "MultiKueueCluster":
        source = spec["clusterSource"]
        if set(source) != {"kubeConfig"} or set(source["kubeConfig"]) != {
            "location",
            "locationType",
        }:
            errors.append(f"clusterSource {source}")
        if source["kubeConfig"]["locationType"] not in ("Secret", "Path"):
            errors.append("locationType")
    elif obj["kind"] == "MultiKueueConfig":
        clusters = spec["clusters"]
        if set(spec) != {"clusters"} or not 1 <= len(clusters) <= 20:
            errors.append(f"spec {spec}")
        if len(set(clusters)) != len(clusters):
            errors.append("clusters must be unique")
    elif obj["kind"] == "AdmissionCheck":
        if set(spec) != {"controllerName", "parameters"}:
            errors.append(f"spec {spec}")
        if set(spec["parameters"]) != {"apiGroup", "kind", "name"}:
            errors.append(f"parameters {spec['parameters']}")
        name = spec["parameters"]["name"]
        if len(name) > 63 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
            errors.append(f"parameters.name {name!r} is not a DNS-1123 label")
    return errors


def test_manager_objects_are_valid_kueue_objects():
    objects = objects_of((GOLDEN / "manager.yaml").read_text())
    for obj in objects:
        assert obj["apiVersion"] in ("v1", "kueue.x-k8s.io/v1beta2")
        if obj["kind"] in MULTIKUEUE_KINDS:
            assert multikueue_shape_errors(obj) == [], obj
        else:
            assert kueue_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_manager_reaches_each_worker_through_its_kubeconfig_secret(tmp_path):
    objects = objects_of(queues(tmp_path, TWO_WORKERS, TEAM_A).stdout)
    clusters = by_kind(objects, "MultiKueueCluster")
    assert sorted(clusters) == ["worker-a", "worker-b"]
    assert clusters["worker-b"]["spec"]["clusterSource"]["kubeConfig"] == {
        "locationType": "Secret",
        "location": "worker-b-kubeconfig",
    }
    configs = by_kind(objects, "MultiKueueConfig")
    assert configs["multikueue"]["spec"]["clusters"] == ["worker-a", "worker-b"]
    assert configs["multikueue-worker-b"]["spec"]["clusters"] == ["worker-b"]
    checks = by_kind(objects, "AdmissionCheck")
    for name, check in checks.items():
        assert check["spec"]["controllerName"] == "kueue.x-k8s.io/multikueue"
        assert check["spec"]["parameters"] == {
            "apiGroup": "kueue.x-k8s.io",
            "kind": "MultiKueueConfig",
            "name": name,
        }
    assert sorted(checks) == sorted(configs)


def test_every_manager_cluster_queue_dispatches_through_a_multikueue_check(tmp_path):
    objects = objects_of(queues(tmp_path, TWO_WORKERS, TEAM_A).stdout)
    cluster_queues = by_kind(objects, "ClusterQueue")
    checks = {
        name: q["spec"]["admissionChecksStrategy"]["admissionChecks"]
        for name, q in cluster_queues.items()
    }
    assert checks == {
        "team-a": [{"name": "multikueue"}],
        "team-a-worker-a": [{"name": "multikueue-worker-a"}],
        "team-a-worker-b": [{"name": "multikueue-worker-b"}],
    }
    local_queues = by_kind(objects, "LocalQueue")
    assert {n: q["spec"]["clusterQueue"] for n, q in local_queues.items()} == {
        "team-a": "team-a",
        "team-a-worker-a": "team-a-worker-a",
        "team-a-worker-b": "team-a-worker-b",
    }


def test_objects_come_in_the_order_kubectl_apply_needs(tmp_path):
    kinds = [o["kind"] for o in objects_of(queues(tmp_path, TWO_WORKERS, TEAM_A).stdout)]
    order = [
        "Namespace",
        "ResourceFlavor",
        "MultiKueueCluster",
        "MultiKueueConfig",
        "AdmissionCheck",
        "ClusterQueue",
        "LocalQueue",
    ]
    assert list(dict.fromkeys(kinds)) == order


def test_a_pinned_queue_holds_the_workers_share_outside_any_cohort(tmp_path):
    cohort = TEAM_A.replace("gpus: 4}", "gpus: 4, cohort: research, borrowingLimit: {cpus: 2}}")
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 3, memoryGB: 4, gpus: 1}}
- {name: worker-b, kubeconfigSecret: worker-b}
""")
    objects = objects_of(queues(tmp_path, clusters, cohort).stdout)
    cluster_queues = by_kind(objects, "ClusterQueue")
    assert cluster_queues["team-a"]["spec"]["cohortName"] == "research"
    pinned = cluster_queues["team-a-worker-a"]["spec"]
    assert "cohortName" not in pinned
    resources = pinned["resourceGroups"][0]["flavors"][0]["resources"]
    assert [(r["name"], r["nominalQuota"]) for r in resources] == [
        ("cpu", "3"),
        ("memory", "4Gi"),
        ("nvidia.com/gpu", "1"),
    ]
    assert all("borrowingLimit" not in r for r in resources)
    for obj in objects:
        if obj["kind"] not in MULTIKUEUE_KINDS:
            assert kueue_errors(obj) == [], obj


def test_without_worker_clusters_compile_queues_emits_no_multikueue_object(tmp_path):
    objects = objects_of(queues(tmp_path, TEAM_A).stdout)
    assert not [o for o in objects if o["kind"] in MULTIKUEUE_KINDS]
    assert "admissionChecksStrategy" not in by_kind(objects, "ClusterQueue")["team-a"]["spec"]


# ---------------------------------------------------------------------------------------------
# a worker's objects


def test_a_worker_gets_no_multikueue_object_and_its_share_as_quota(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 3, memoryGB: 4, gpus: 1}, team-b: {cpus: 4, memoryGB: 8}}
- {name: worker-b, kubeconfigSecret: worker-b}
""")
    result = queues(tmp_path, clusters, TEAM_A, TEAM_B, cluster="worker-a")
    assert result.exit_code == 0, result.stderr
    objects = objects_of(result.stdout)
    assert not [o for o in objects if o["kind"] in MULTIKUEUE_KINDS]
    queue = by_kind(objects, "ClusterQueue")["team-a"]["spec"]
    assert "admissionChecksStrategy" not in queue
    resources = queue["resourceGroups"][0]["flavors"][0]["resources"]
    assert [r["nominalQuota"] for r in resources] == ["3", "4Gi", "1"]
    for obj in objects:
        assert kueue_errors(obj) == [], obj


@pytest.mark.parametrize("worker", ["worker-a", "worker-b"])
def test_each_worker_holds_every_queue_the_manager_dispatches_to_it(worker):
    """MultiKueue creates the job on the worker with the manager's labels: every LocalQueue of
    the manager whose check lists this worker must exist on it, in the same namespace."""
    manager = objects_of((GOLDEN / "manager.yaml").read_text())
    configs = {n: c["spec"]["clusters"] for n, c in by_kind(manager, "MultiKueueConfig").items()}
    checks = {
        n: c["spec"]["parameters"]["name"] for n, c in by_kind(manager, "AdmissionCheck").items()
    }
    cluster_queues = by_kind(manager, "ClusterQueue")
    dispatched = set()
    for local in by_kind(manager, "LocalQueue").values():
        strategy = cluster_queues[local["spec"]["clusterQueue"]]["spec"]["admissionChecksStrategy"]
        [check] = strategy["admissionChecks"]
        if worker in configs[checks[check["name"]]]:
            dispatched.add((local["metadata"]["namespace"], local["metadata"]["name"]))
    objects = objects_of((GOLDEN / f"{worker}.yaml").read_text())
    held = {
        (q["metadata"]["namespace"], q["metadata"]["name"])
        for q in by_kind(objects, "LocalQueue").values()
    }
    namespaces = set(by_kind(objects, "Namespace"))
    assert dispatched and dispatched <= held
    assert {namespace for namespace, _ in dispatched} <= namespaces
    worker_queues = by_kind(objects, "ClusterQueue")
    for local in by_kind(objects, "LocalQueue").values():
        assert local["spec"]["clusterQueue"] in worker_queues


# ---------------------------------------------------------------------------------------------
# errors of spec.clusters and compile queues, each with its place


def located(result, code: str) -> list[str]:
    """The file:line:col of every diagnostic ``code`` on stderr."""
    return re.findall(rf"^(\S+:\d+:\d+): error\[{code}\]", result.stderr, re.M)


def assert_error_at(result, code: str, path: str, line: int, column: int):
    assert result.exit_code == 1, result.stderr
    assert f"{path}:{line}:{column}" in located(result, code), result.stderr
    assert result.stdout == ""


def test_clusters_in_a_project_policy_is_E510(tmp_path):
    text = TEAM_A + "  clusters: [{name: worker-a, kubeconfigSecret: worker-a}]\n"
    result = queues(tmp_path, text)
    assert_error_at(result, "E510", str(tmp_path / "policy-0.yaml"), 6, 3)


def test_duplicate_cluster_names_are_E511_with_the_first_one_related(tmp_path):
    clusters = fleet("""\
- {name: worker-a, kubeconfigSecret: a}
- {name: worker-a, kubeconfigSecret: b}
""")
    result = queues(tmp_path, clusters, TEAM_A)
    assert_error_at(result, "E511", str(tmp_path / "policy-0.yaml"), 7, 14)


def test_a_duplicate_cluster_name_in_a_second_global_policy_is_E511(tmp_path):
    other = TWO_WORKERS.replace("name: fleet", "name: more")
    result = queues(tmp_path, TWO_WORKERS, other, TEAM_A)
    assert_error_at(result, "E511", str(tmp_path / "policy-1.yaml"), 6, 14)


@pytest.mark.parametrize(
    "entry, column",
    [
        ("{name: Worker_A, kubeconfigSecret: ok}", 14),
        ("{name: worker-a, kubeconfigSecret: Not.A.Name}", 42),
        ("{name: " + "w" * 53 + ", kubeconfigSecret: ok}", 14),
    ],
)
def test_a_name_or_secret_that_is_not_a_dns_label_is_E512(tmp_path, entry, column):
    result = queues(tmp_path, fleet(f"- {entry}\n"), TEAM_A)
    assert_error_at(result, "E512", str(tmp_path / "policy-0.yaml"), 6, column)


def test_more_clusters_than_a_multikueue_config_lists_is_E513(tmp_path):
    entries = "".join(f"- {{name: w{i}, kubeconfigSecret: w{i}}}\n" for i in range(21))
    result = queues(tmp_path, fleet(entries), TEAM_A)
    assert_error_at(result, "E513", str(tmp_path / "policy-0.yaml"), 5, 3)


def test_a_worker_quota_leaving_out_a_project_is_E514(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 8, memoryGB: 16, gpus: 4}}
- {name: worker-b, kubeconfigSecret: worker-b}
""")
    result = queues(tmp_path, clusters, TEAM_A, TEAM_B)
    assert_error_at(result, "E514", str(tmp_path / "policy-0.yaml"), 8, 7)
    assert "project team-b" in result.stderr


def test_a_manager_quota_above_what_the_workers_hold_is_E515_with_the_numbers(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 4, memoryGB: 16, gpus: 1}}
- name: worker-b
  kubeconfigSecret: worker-b
  quota: {team-a: {cpus: 2, memoryGB: 0, gpus: 2}}
""")
    result = queues(tmp_path, clusters, TEAM_A)
    assert_error_at(result, "E515", str(tmp_path / "policy-1.yaml"), 5, 3)
    assert "cpus 8 > 6, gpus 4 > 3" in result.stderr


def test_workers_holding_the_quota_together_compile(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 4, memoryGB: 8, gpus: 2}}
- name: worker-b
  kubeconfigSecret: worker-b
  quota: {team-a: {cpus: 4, memoryGB: 8, gpus: 2}}
""")
    result = queues(tmp_path, clusters, TEAM_A)
    assert result.exit_code == 0, result.stderr


def test_a_share_of_a_project_without_a_quota_is_E516(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 8, memoryGB: 16, gpus: 4}, team-z: {cpus: 1, memoryGB: 1}}
""")
    result = queues(tmp_path, clusters, TEAM_A)
    assert_error_at(result, "E516", str(tmp_path / "policy-0.yaml"), 8, 57)


def test_a_share_giving_gpus_another_way_than_the_quota_is_E517(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 8, memoryGB: 16, gpus: {NVIDIA-H100: 4}}}
""")
    result = queues(tmp_path, clusters, TEAM_A)
    assert_error_at(result, "E517", str(tmp_path / "policy-0.yaml"), 8, 15)


@pytest.mark.parametrize(
    "worker, project, why",
    [("w" * 52, "team-a-eleven", "longer than 63"), ("b", "team-a", "is project team-a-b's queue")],
)
def test_a_pinned_queue_name_too_long_or_taken_is_E518(tmp_path, worker, project, why):
    clusters = fleet(f"- {{name: {worker}, kubeconfigSecret: s}}\n")
    team_a_b = TEAM_B.replace("team-b", "team-a-b")
    result = queues(tmp_path, clusters, TEAM_A.replace("team-a", project), team_a_b)
    assert_error_at(result, "E518", str(tmp_path / "policy-0.yaml"), 6, 8)
    assert why in result.stderr


def test_an_unknown_cluster_is_E519_naming_the_known_ones(tmp_path):
    result = queues(tmp_path, TWO_WORKERS, TEAM_A, cluster="worker-c")
    assert_error_at(result, "E519", str(tmp_path / "policy-0.yaml"), 5, 3)
    assert "worker-a, worker-b" in result.stderr


def test_a_cluster_where_no_policy_names_clusters_is_E519(tmp_path):
    result = queues(tmp_path, TEAM_A, cluster="worker-a")
    assert_error_at(result, "E519", "<--cluster>", 1, 1)


def test_check_reports_spec_clusters_errors_too(tmp_path):
    """The policy's own errors (not the dispatch checks) hold for every command that reads it."""
    clusters = fleet("- {name: Bad, kubeconfigSecret: ok}\n")
    [policy] = write_policies(tmp_path, clusters)
    workload = tmp_path / "w.yaml"
    workload.write_text(
        "spec: {operator: jobset, image: i, command: c, types: {w: {count: 1, resources: "
        "{cpus: 1, memory: 1}}}}\n"
    )
    result = run_cli("check", "-p", policy, str(workload))
    assert result.exit_code == 1
    assert f"{policy}:6:14: error[E512]" in result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# engineName: a workload pinned to one worker

WORKLOAD = """\
project: {project}
{engine}spec:
  operator: jobset
  image: registry.example.com/train:1
  command: python train.py
  types:
    worker:
      count: 1
      resources: {{cpus: 1, memory: 1}}
"""


def compile_workload(tmp_path: Path, *policies: str, engine: str = "", project: str = "team-a"):
    paths = write_policies(tmp_path, *policies)
    workload = tmp_path / "w.yaml"
    workload.write_text(WORKLOAD.format(project=project, engine=engine))
    args = [arg for path in paths for arg in ("-p", path)]
    return run_cli(*args, str(workload)), str(workload)


def queue_label(result) -> str | None:
    [job] = [o for o in objects_of(result.stdout) if o["kind"] == "JobSet"]
    return job["metadata"]["labels"].get("kueue.x-k8s.io/queue-name")


def test_engine_name_queues_the_workload_on_its_workers_pinned_queue(tmp_path):
    result, _ = compile_workload(tmp_path, TWO_WORKERS, TEAM_A, engine="engineName: worker-b\n")
    assert result.exit_code == 0, result.stderr
    assert queue_label(result) == "team-a-worker-b"
    assert "W101" not in result.stderr
    manager = by_kind(objects_of(queues(tmp_path, TWO_WORKERS, TEAM_A).stdout), "LocalQueue")
    assert manager["team-a-worker-b"]["metadata"]["namespace"] == "team-a"


def test_spec_engine_name_pins_too(tmp_path):
    engine = "engineName: worker-a\n"
    result, _ = compile_workload(tmp_path, TWO_WORKERS, TEAM_A)
    assert queue_label(result) == "team-a"
    workload = tmp_path / "w.yaml"
    workload.write_text(workload.read_text().replace("spec:\n", "spec:\n  " + engine))
    paths = write_policies(tmp_path, TWO_WORKERS, TEAM_A)
    pinned = run_cli("-p", paths[0], "-p", paths[1], str(workload))
    assert pinned.exit_code == 0, pinned.stderr
    assert queue_label(pinned) == "team-a-worker-a"


def test_without_worker_clusters_engine_name_has_no_effect_as_before(tmp_path):
    result, path = compile_workload(tmp_path, TEAM_A, engine="engineName: worker-b\n")
    assert result.exit_code == 0, result.stderr
    assert queue_label(result) == "team-a"
    assert f"{path}:2:13: warning[W101] engineName" in result.stderr


def test_an_unknown_engine_name_is_E324_at_the_field(tmp_path):
    result, path = compile_workload(tmp_path, TWO_WORKERS, TEAM_A, engine="engineName: worker-c\n")
    assert result.exit_code == 1
    assert f"{path}:2:13: error[E324] engineName" in result.stderr
    assert "worker-a, worker-b" in result.stderr


def test_engine_name_for_a_workload_without_a_queue_is_E325(tmp_path):
    result, path = compile_workload(
        tmp_path, TWO_WORKERS, TEAM_A, engine="engineName: worker-a\n", project="team-z"
    )
    assert result.exit_code == 1
    assert f"{path}:2:13: error[E325]" in result.stderr
    assert "no queue" in result.stderr


def test_engine_name_on_a_worker_whose_quota_leaves_the_project_out_is_E325(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-b: {cpus: 4, memoryGB: 8}}
- {name: worker-b, kubeconfigSecret: worker-b}
""")
    result, path = compile_workload(
        tmp_path, clusters, TEAM_A, TEAM_B, engine="engineName: worker-a\n"
    )
    assert result.exit_code == 1
    assert f"{path}:2:13: error[E325]" in result.stderr
    assert "gives queue team-a no share" in result.stderr


def test_a_share_no_kubernetes_quantity_holds_is_E509_not_a_traceback(tmp_path):
    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 1e308, memoryGB: 16, gpus: 4}}
""")
    result = queues(tmp_path, clusters, TEAM_A, cluster="worker-a")
    assert_error_at(result, "E509", str(tmp_path / "policy-0.yaml"), 8, 30)
    assert "spec.clusters[0].quota.team-a.cpus" in result.stderr


def test_a_change_of_a_workers_share_is_a_quota_change_for_review(tmp_path):
    from compiler.queues import quota_changes
    from compiler.queues.kueue import summary_of
    from compiler.sources import read_all

    clusters = fleet("""\
- name: worker-a
  kubeconfigSecret: worker-a
  quota: {team-a: {cpus: 4, memoryGB: 8, gpus: 2}}
- {name: worker-b, kubeconfigSecret: worker-b}
""")
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    before = write_policies(tmp_path / "before", clusters, TEAM_A)
    after = write_policies(tmp_path / "after", clusters.replace("gpus: 2", "gpus: 1"), TEAM_A)
    summaries = [summary_of(read_all(paths)[0]) for paths in (before, after)]
    assert summaries[0]["team-a"]["on worker-b"] == "whole quota"
    assert quota_changes(*summaries) == ["team-a: on worker-a gpus 2 → 1"]


def test_a_workload_leaves_managed_by_to_kueues_webhook(tmp_path):
    """Kueue v0.19.2's webhook (jobframework.ApplyDefaultForManagedBy) sets spec.managedBy to
    kueue.x-k8s.io/multikueue only where the job names none (or its own controller's)."""
    result, _ = compile_workload(tmp_path, TWO_WORKERS, TEAM_A, engine="engineName: worker-a\n")
    assert result.exit_code == 0, result.stderr
    for obj in objects_of(result.stdout):
        assert "managedBy" not in (obj.get("spec") or {}), obj["kind"]


def test_two_pinned_queues_of_one_name_are_E518(tmp_path):
    clusters = fleet("""\
- {name: b-c, kubeconfigSecret: s1}
- {name: c, kubeconfigSecret: s2}
""")
    team_a = TEAM_A.replace("team-a", "a")
    team_a_b = TEAM_B.replace("team-b", "a-b")
    result = queues(tmp_path, clusters, team_a, team_a_b)
    assert_error_at(result, "E518", str(tmp_path / "policy-0.yaml"), 7, 8)
    assert "a-b-c, is the queue pinning project a to b-c" in result.stderr


def test_an_admission_policy_on_the_queue_lets_the_pinned_queues_in(tmp_path):
    """`spec.queue: {options: [team-a]}` holds at compile time on spec.queue; on the API
    server it reads the label, which engineName makes team-a-WORKER."""
    rule = TEAM_A + "  rules:\n    spec.queue: {options: [team-a]}\n"
    with_workers = run_cli(
        "admission", *(f"-p{p}" for p in write_policies(tmp_path, TWO_WORKERS, rule))
    )
    assert with_workers.exit_code == 0, with_workers.stderr
    allowed = '["team-a", "team-a-worker-a", "team-a-worker-b"]'
    assert allowed in with_workers.stdout
    alone = run_cli("admission", *(f"-p{p}" for p in write_policies(tmp_path, rule)))
    assert '["team-a"]' in alone.stdout and "team-a-worker" not in alone.stdout
