"""`compile admit` (SPEC §6, §2.5): Kueue's accounting of compiled objects (pod sets, requests,
flavors, quota, cohort) and the verdicts, offline from the policies and live from Workloads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from example_support import run_cli

from compiler.admit.assign import mismatch
from compiler.admit.podsets import PodSet, pod_requests, pod_sets
from compiler.admit.queues import cluster_of
from compiler.admit.report import verdicts
from compiler.admit.verdict import Held, Waiting, live_verdict, offline_verdict

POLICIES = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-a, project: team-a}
spec:
  quota:
    cpus: 64
    memoryGB: 256
    gpus: 16
    cohort: research
    borrowingLimit: {gpus: 4}
---
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-b, project: team-b}
spec:
  quota:
    cpus: 64
    memoryGB: 256
    gpus: 8
    cohort: research
---
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-c, project: team-c}
spec:
  quota:
    cpus: 64
    memoryGB: 256
    gpus: {GPU-ALPHA: 4, GPU-BETA: 8}
    queueing: BestEffortFIFO
"""


def manifest(name: str, project: str, workers: int, gpus: int, product=None, operator="jobset"):
    product_text = f", product: {product}" if product else ""
    accelerators = (
        f", accelerators: {{gpu: {{count: {gpus}, type: gpu{product_text}}}}}" if gpus else ""
    )
    resources = f"{{cpus: 1, memory: 2{accelerators}}}"
    if operator == "kuberay":
        types = [
            "  types:",
            "    Head:",
            "      resources: {cpus: 1, memory: 2}",
            "    Workers:",
            "      - name: workers",
            f"        count: {workers}",
            f"        resources: {resources}",
        ]
    else:
        types = [
            "  types:",
            "    worker:",
            f"      count: {workers}",
            f"      resources: {resources}",
        ]
    header = [
        "kind: AIchorManifest",
        "apiVersion: 0.2.3",
        f"name: {name}",
        f"project: {project}",
        "spec:",
        f"  operator: {operator}",
        "  image: registry.example.com/train:1.0",
        '  command: "python -u train.py"',
    ]
    return "\n".join(header + types) + "\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "policies.yaml").write_text(POLICIES)

    def write(name, *args, **kwargs) -> str:
        path = tmp_path / f"{name}.yaml"
        path.write_text(manifest(name, *args, **kwargs))
        return str(path)

    write.policies = str(tmp_path / "policies.yaml")  # type: ignore[attr-defined]
    return write


def admit(files, *paths, output="json"):
    result = run_cli("admit", "-p", files.policies, *paths, "-o", output)
    return result, (json.loads(result.stdout) if output == "json" and result.stdout else None)


# ---------------------------------------------------------------------------------------------
# offline verdicts through the command


def test_fits_within_nominal_quota(files):
    result, found = admit(files, files("small", "team-a", 2, 4))
    assert result.exit_code == 0, result.stderr
    assert found[0]["verdict"] == "fits"
    assert found[0]["podSets"] == [
        {
            "name": "worker",
            "count": 2,
            "requests": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "4"},
            "flavors": {"cpu": "default", "memory": "default", "nvidia.com/gpu": "default"},
        }
    ]


def test_fits_by_borrowing_from_the_cohort(files):
    result, found = admit(files, files("borrow", "team-a", 5, 4))
    assert result.exit_code == 0
    assert found[0]["verdict"] == "fits by borrowing"
    assert "20 nvidia.com/gpu in flavor default" in found[0]["reason"]


def test_never_with_the_numbers(files):
    result, _ = admit(files, files("huge", "team-a", 6, 4), output="text")
    assert result.exit_code == 1
    assert (
        "never: needs 24 nvidia.com/gpu; team-a can reach at most 20 in flavor default "
        "(nominal 16, borrowing 4 from cohort research)" in result.stdout
    )


def test_never_without_a_cohort_counts_the_nominal_quota_alone(files):
    _, found = admit(files, files("beta", "team-c", 3, 4, "GPU-BETA"))
    assert found[0]["verdict"] == "never"
    assert (
        "needs 12 nvidia.com/gpu; team-c can reach at most 8 in flavor gpu-beta"
        in (found[0]["reason"])
    )


def test_no_flavor_for_a_product_the_quota_does_not_list(files):
    result, found = admit(files, files("gamma", "team-c", 1, 1, "GPU-GAMMA"))
    assert result.exit_code == 1
    assert found[0]["verdict"] == "no flavor"
    assert (
        "flavor gpu-alpha doesn't match node selector nvidia.com/gpu.product=GPU-GAMMA"
        in (found[0]["reason"])
    )


def test_a_pod_of_no_product_takes_the_first_flavor_that_fits(files):
    """Flavors in the order `compile queues` emits them: gpu-alpha (4) before gpu-beta (8)."""
    _, found = admit(files, files("any2", "team-c", 1, 2), files("any6", "team-c", 1, 6))
    assert found[0]["podSets"][0]["flavors"]["nvidia.com/gpu"] == "gpu-alpha"
    assert found[1]["podSets"][0]["flavors"]["nvidia.com/gpu"] == "gpu-beta"
    assert [v["verdict"] for v in found] == ["fits", "fits"]


def test_a_rayjob_counts_its_head_workers_and_submitter(files):
    _, found = admit(files, files("ray", "team-a", 3, 2, operator="kuberay"))
    assert [(p["name"], p["count"]) for p in found[0]["podSets"]] == [
        ("head", 1),
        ("workers", 3),
        ("submitter", 1),
    ]
    assert found[0]["podSets"][2]["requests"] == {"cpu": "0.5", "memory": "200Mi"}


def test_the_output_is_the_same_bytes_every_time(files):
    paths = [files("one", "team-a", 2, 4), files("two", "team-c", 1, 2, "GPU-BETA")]
    first = run_cli("admit", "-p", files.policies, *paths).stdout
    assert first and run_cli("admit", "-p", files.policies, *paths).stdout == first


def test_invalid_input_is_a_diagnostic_and_exit_1(files, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: AIchorManifest\napiVersion: 0.2.3\nspec: {operator: nope}\n")
    result = run_cli("admit", "-p", files.policies, str(broken))
    assert result.exit_code == 1
    assert "broken.yaml:" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Kueue's accounting of one object


def test_pod_requests_count_init_containers_sidecars_overhead_and_limits():
    pod = {
        "containers": [
            {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
            {"resources": {"limits": {"cpu": "500m", "nvidia.com/gpu": "2"}}},
        ],
        "initContainers": [
            {"restartPolicy": "Always", "resources": {"requests": {"cpu": "250m"}}},
            {"resources": {"requests": {"cpu": "4", "memory": "512Mi"}}},
        ],
        "overhead": {"cpu": "100m"},
    }
    # containers 1.5 + sidecar 0.25 = 1.75 < init peak 4 + 0.25; memory 1Gi > 512Mi; + overhead
    assert pod_requests(pod) == {"cpu": 4350, "memory": 1 << 30, "nvidia.com/gpu": 2}


def test_job_and_jobset_counts_as_kueue_builds_them():
    template = {"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}
    job = {"kind": "Job", "spec": {"parallelism": 4, "completions": 3, "template": template}}
    assert [(p.name, p.count) for p in pod_sets(job)[0]] == [("main", 3)]
    jobset = {
        "kind": "JobSet",
        "spec": {
            "replicatedJobs": [
                {
                    "name": "w",
                    "replicas": 3,
                    "template": {"spec": {"parallelism": 2, "template": template}},
                }
            ]
        },
    }
    assert [(p.name, p.count) for p in pod_sets(jobset)[0]] == [("w", 6)]


def test_partial_admission_is_outside_the_model():
    job = {
        "kind": "Job",
        "metadata": {"annotations": {"kueue.x-k8s.io/job-min-parallelism": "2"}},
        "spec": {"parallelism": 4},
    }
    assert "partial admission" in pod_sets(job)[1][0]


def test_an_untolerated_flavor_taint_is_no_flavor():
    from compiler.admit.queues import Flavor

    tainted = Flavor("spot", {}, ({"key": "spot", "value": "true", "effect": "NoSchedule"},))
    assert "untolerated taint spot" in mismatch(PodSet("w", 1, {}), tainted)
    tolerant = PodSet("w", 1, {}, tolerations=({"key": "spot", "operator": "Exists"},))
    assert mismatch(tolerant, tainted) is None


# ---------------------------------------------------------------------------------------------
# quota arithmetic: Kueue's resource nodes


def _queue(name, gpus, cohort=None, borrowing=None, lending=None, strategy="StrictFIFO", **spec):
    resource = {"name": "nvidia.com/gpu", "nominalQuota": str(gpus)}
    if borrowing is not None:
        resource["borrowingLimit"] = str(borrowing)
    if lending is not None:
        resource["lendingLimit"] = str(lending)
    body = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}},
        "queueingStrategy": strategy,
        "preemption": {"withinClusterQueue": "LowerPriority", "reclaimWithinCohort": "Any"},
        "resourceGroups": [
            {
                "coveredResources": ["nvidia.com/gpu"],
                "flavors": [{"name": "default", "resources": [resource]}],
            }
        ],
        **spec,
    }
    if cohort:
        body["cohortName"] = cohort
    return [
        {"kind": "ClusterQueue", "metadata": {"name": name}, "spec": body},
        {
            "kind": "LocalQueue",
            "metadata": {"name": name, "namespace": name},
            "spec": {"clusterQueue": name},
        },
    ]


def _job(name, namespace, gpus, pods=1, priority_class=None):
    labels = {"kueue.x-k8s.io/queue-name": namespace}
    if priority_class:
        labels["kueue.x-k8s.io/priority-class"] = priority_class
    container = {"resources": {"requests": {"nvidia.com/gpu": str(gpus)}}}
    return {
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"parallelism": pods, "template": {"spec": {"containers": [container]}}},
    }


FLAVOR = [{"kind": "ResourceFlavor", "metadata": {"name": "default"}, "spec": {}}]


def test_a_lending_limit_keeps_the_rest_to_its_queue():
    objects = FLAVOR + _queue("a", 10, "c", lending=4) + _queue("b", 6, "c", borrowing=2)
    cluster = cluster_of(objects)
    fr = ("default", "nvidia.com/gpu")
    assert cluster.potential(cluster.queues["a"], fr) == 6 + 4 + 6  # kept 6 + cohort 4 + 6
    assert cluster.potential(cluster.queues["b"], fr) == 8  # nominal 6 + borrowing 2
    cluster.usage = {"a": {fr: 8}}  # a uses its 6 kept and 2 of the cohort's
    assert cluster.available(cluster.queues["b"], fr) == 8  # 10 in the cohort, 2 used; limit 8
    assert cluster.available(cluster.queues["a"], fr) == 8  # nothing kept left; the cohort's 8


def test_offline_capacity_agrees_with_the_w120_accounting():
    """The ClusterQueues `compile queues` emits, read as Kueue reads them, hold what
    compiler.validate.quota.capacity says (the W120 numbers), for random cohorts."""
    from compiler.parse.yaml12 import load_documents
    from compiler.queues.kueue import load_policies, queue_objects
    from compiler.validate.quota import capacity

    rng = random.Random(7)
    for _ in range(40):
        texts = []
        for name in ("p1", "p2", "p3"):
            lines = [
                "apiVersion: manifest-compiler/v1",
                "kind: Policy",
                f"metadata: {{name: {name}, project: {name}}}",
                "spec:",
                "  quota:",
                f"    cpus: {rng.choice((8, 16))}",
                f"    memoryGB: {rng.choice((32, 64))}",
                f"    gpus: {rng.choice((0, 4, 8))}",
            ]
            if rng.random() < 0.7:
                lines.append("    cohort: shared")
                if rng.random() < 0.5:
                    lines.append(f"    borrowingLimit: {{gpus: {rng.choice((0, 2, 6))}, cpus: 4}}")
            texts.append("\n".join(lines) + "\n")
        documents, _ = load_documents("---\n".join(texts), "p.yaml")
        policies, problems = load_policies(documents)
        assert not problems
        cluster = cluster_of(queue_objects(policies))
        for policy in policies:
            queue = cluster.queues[policy.project]
            most = capacity(policy, policies)
            assert cluster.potential(queue, ("default", "nvidia.com/gpu")) == most["gpus"]
            assert cluster.potential(queue, ("default", "cpu")) == most["cpus"] * 1000


# ---------------------------------------------------------------------------------------------
# live verdicts


def _held(name, queue, gpus, priority=0):
    return Held(
        name, queue, priority, "2026-01-01T00:00:00Z", {("default", "nvidia.com/gpu"): gpus}
    )


def test_live_admitted_at_once_when_it_fits_now():
    cluster = cluster_of(FLAVOR + _queue("a", 8))
    cluster.usage = {"a": {("default", "nvidia.com/gpu"): 4}}
    found = live_verdict(_job("w", "a", 4), cluster, [_held("a/x", "a", 4)], [])
    assert found.verdict == "admitted at once"
    assert "4 nvidia.com/gpu of 4 free in flavor default" in found.reason


def test_live_a_limit_range_with_container_defaults_is_unknown():
    """A LimitRange's defaults are added to the pods at creation and Kueue counts them: not
    modelled, so never a verdict; one without defaults (only min/max) changes nothing."""
    bounds = {
        "kind": "LimitRange",
        "metadata": {"name": "bounds", "namespace": "a"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "64"}}]},
    }
    defaults = {
        "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": "a"},
        "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "1"}}]},
    }
    cluster = cluster_of(FLAVOR + _queue("a", 8) + [bounds])
    assert live_verdict(_job("w", "a", 4), cluster, [], []).verdict == "admitted at once"
    cluster = cluster_of(FLAVOR + _queue("a", 8) + [bounds, defaults])
    found = live_verdict(_job("w", "a", 4), cluster, [], [])
    assert found.verdict == "unknown"
    assert "LimitRange defaults in namespace a" in found.reason


def test_live_a_priority_from_the_pods_priority_class_is_unknown():
    """Without Kueue's priority label, Kueue takes the priority from the pods' PriorityClass,
    which compile admit does not read: unknown rather than priority 0."""
    job = _job("w", "a", 4)
    job["spec"]["template"]["spec"]["priorityClassName"] = "urgent"
    cluster = cluster_of(FLAVOR + _queue("a", 8))
    found = live_verdict(job, cluster, [], [])
    assert found.verdict == "unknown"
    assert "PriorityClass urgent" in found.reason
    job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] = "high"
    cluster = cluster_of(
        FLAVOR
        + _queue("a", 8)
        + [{"kind": "WorkloadPriorityClass", "metadata": {"name": "high"}, "value": 100}]
    )
    assert live_verdict(job, cluster, [], []).verdict == "admitted at once"


def test_live_strict_fifo_waits_behind_the_pending_workloads():
    cluster = cluster_of(FLAVOR + _queue("a", 8))
    cluster.usage = {"a": {("default", "nvidia.com/gpu"): 6}}
    waiting = [
        Waiting("a/p1", "a", 0, "2026-01-01T00:00:01Z", {"nvidia.com/gpu": 16}),
        Waiting("a/p2", "a", 0, "2026-01-01T00:00:02Z", {"nvidia.com/gpu": 4}),
    ]
    found = live_verdict(_job("w", "a", 2), cluster, [_held("a/x", "a", 6)], waiting)
    assert found.verdict == "waits"
    assert found.behind == ["a/p1", "a/p2"]
    assert found.reason.startswith("waits behind 2 workloads needing 20 nvidia.com/gpu")
    assert found.outcome == "quota"


def test_live_best_effort_fifo_passes_workloads_that_do_not_fit():
    cluster = cluster_of(FLAVOR + _queue("a", 8, strategy="BestEffortFIFO"))
    waiting = [Waiting("a/p1", "a", 0, "2026-01-01T00:00:01Z", {"nvidia.com/gpu": 16})]
    found = live_verdict(_job("w", "a", 2), cluster, [], waiting)
    assert found.verdict == "admitted at once"


def test_live_waits_for_quota_with_nothing_to_preempt():
    cluster = cluster_of(FLAVOR + _queue("a", 8, strategy="BestEffortFIFO"))
    cluster.usage = {"a": {("default", "nvidia.com/gpu"): 6}}
    found = live_verdict(_job("w", "a", 4), cluster, [_held("a/x", "a", 6)], [])
    assert found.verdict == "waits"
    assert "4 nvidia.com/gpu asked, 2 free in flavor default" in found.reason


HIGH = [{"kind": "WorkloadPriorityClass", "metadata": {"name": "high"}, "value": 100}]


def _held_at(name, gpus, priority, admitted_at):
    return Held(f"a/{name}", "a", priority, admitted_at, {("default", "nvidia.com/gpu"): gpus})


@pytest.mark.parametrize(
    "asked, preempted",
    [(4, ["a/y"]), (6, ["a/y", "a/x"]), (8, ["a/y", "a/x", "a/z"]), (9, None)],
)
def test_live_needs_preemption_of_lower_priority_workloads(asked, preempted):
    """Kueue's classical preemption: lower priority first, then the most recently admitted,
    until it fits; then what is not needed is put back."""
    cluster = cluster_of(FLAVOR + _queue("a", 8) + HIGH)
    held = [
        _held_at("x", 2, 0, "2026-01-01T00:00:01Z"),
        _held_at("y", 4, 0, "2026-01-01T00:00:02Z"),
        _held_at("z", 2, 50, "2026-01-01T00:00:00Z"),
    ]
    cluster.usage = {"a": {("default", "nvidia.com/gpu"): 8}}
    found = live_verdict(_job("w", "a", asked, priority_class="high"), cluster, held, [])
    if preempted is None:
        assert found.verdict == "never"
        return
    assert found.verdict == "needs preemption" and found.preempts == preempted
    assert found.outcome == "admitted"
    assert cluster.usage == {"a": {("default", "nvidia.com/gpu"): 8}}  # left as it was


def test_live_preemption_in_a_cohort_is_unknown():
    cluster = cluster_of(FLAVOR + _queue("a", 8, "c") + _queue("b", 0, "c") + HIGH)
    cluster.usage = {"a": {("default", "nvidia.com/gpu"): 8}}
    held = [_held("a/x", "a", 8)]
    found = live_verdict(_job("w", "a", 4, priority_class="high"), cluster, held, [])
    assert found.verdict == "unknown" and "a/x" in found.reason
    assert found.outcome is None


def test_live_unknown_while_kueue_has_not_settled():
    cluster = cluster_of(FLAVOR + _queue("a", 8, strategy="BestEffortFIFO"))
    waiting = [Waiting("a/p1", "a", 0, "2026-01-01T00:00:01Z", {"nvidia.com/gpu": 2})]
    found = live_verdict(_job("w", "a", 2), cluster, [], waiting)
    assert found.verdict == "unknown" and "a/p1" in found.reason


def test_live_a_workload_blocked_in_a_strict_fifo_queue_is_not_about_to_be_admitted():
    """Only the head of a StrictFIFO queue can be admitted: one behind it that would fit waits."""
    cluster = cluster_of(FLAVOR + _queue("b", 8))
    cluster.usage = {"b": {("default", "nvidia.com/gpu"): 6}}
    waiting = [
        Waiting("b/head", "b", 0, "2026-01-01T00:00:01Z", {"nvidia.com/gpu": 4}),
        Waiting("b/next", "b", 0, "2026-01-01T00:00:02Z", {"nvidia.com/gpu": 2}),
    ]
    found = live_verdict(_job("w", "b", 2), cluster, [], waiting)
    assert found.verdict == "waits" and found.behind == ["b/head", "b/next"]


@pytest.mark.parametrize(
    "spec, why",
    [
        ({"fairSharing": {"weight": "1"}}, "fair sharing"),
        ({"admissionChecks": ["prov"]}, "admission checks"),
        ({"preemption": {"withinClusterQueue": "LowerOrNewerEqualPriority"}}, "withinClusterQueue"),
    ],
)
def test_unknown_outside_the_model(spec, why):
    cluster = cluster_of(FLAVOR + _queue("a", 8, **spec))
    found = offline_verdict(_job("w", "a", 2), cluster)
    assert found.verdict == "unknown" and why in found.reason


def test_live_reads_workloads_usage_and_order():
    cluster_objects = FLAVOR + _queue("a", 8)
    admitted = {
        "metadata": {"name": "x", "namespace": "a"},
        "spec": {"queueName": "a", "priority": 0},
        "status": {
            "conditions": [{"type": "QuotaReserved", "status": "True", "lastTransitionTime": "t"}],
            "admission": {
                "clusterQueue": "a",
                "podSetAssignments": [
                    {
                        "flavors": {"nvidia.com/gpu": "default"},
                        "resourceUsage": {"nvidia.com/gpu": "6"},
                    }
                ],
            },
        },
    }
    found = verdicts([_job("w", "a", 4)], cluster_objects, [admitted])
    assert found[0].verdict == "waits" and "2 free" in found[0].reason


def test_the_command_is_listed(compile_cli):
    assert "admit" in compile_cli("--help").stdout


def test_readme_documents_the_exit_codes():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "compile admit" in text and "4: an answer is unknown" in text
