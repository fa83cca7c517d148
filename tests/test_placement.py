"""Placement (SPEC 2.7, issue 26): the cluster's topology in a global policy, a workload's
``placement``, Kueue's podset topology annotations on the pod templates, the Topology and the
topology flavor of ``compile queues``, and the compile-time errors E370-E376.

What Kueue v0.19.2's webhook accepts (pkg/controller/jobframework/tas_validation.go:
ValidateTASPodSetRequest, ValidateSliceSizeAnnotationUpperBound, ValidatePodSetGroupingTopology)
is restated in ``webhook_errors`` and every emitted object is checked against it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from example_support import run_cli
from test_queues import kueue_errors
from test_upstream_schemas import core_errors, crd_errors, is_crd_object

K = "kueue.x-k8s.io/"
REQUIRED = K + "podset-required-topology"
PREFERRED = K + "podset-preferred-topology"
UNCONSTRAINED = K + "podset-unconstrained-topology"
SLICE = K + "podset-slice-required-topology"
SLICE_SIZE = K + "podset-slice-size"
GROUP = K + "podset-group-name"
TOPOLOGY_KEYS = (REQUIRED, PREFERRED, UNCONSTRAINED, SLICE, SLICE_SIZE, GROUP)

BLOCK, RACK, HOST = "example.com/block", "example.com/rack", "kubernetes.io/hostname"

CLUSTER = f"""\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {{name: cluster}}
spec:
  cluster:
    topology:
      - {{name: block, nodeLabel: {BLOCK}}}
      - {{name: rack, nodeLabel: {RACK}, capacity: {{pods: 4, gpus: 32}}}}
      - {{name: host, nodeLabel: {HOST}, capacity: {{gpus: 8, cpus: 64, memoryGB: 512}}}}
"""

QUOTA = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-c, project: team-c}
spec:
  quota: {cpus: 512, memoryGB: 4096, gpus: 64}
"""

PER_PRODUCT = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-p, project: team-p}
spec:
  quota: {cpus: 512, memoryGB: 4096, gpus: {NVIDIA-H100-80GB-HBM3: 16}}
"""

TPU_QUOTA = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-t, project: team-t}
spec:
  quota: {cpus: 512, memoryGB: 4096, tpus: {tpu-v5-lite-podslice: 16}}
"""

POD = "{cpus: 4, memory: 16, accelerators: {gpu: {count: 8}}}"
SMALL = "{cpus: 1, memory: 2}"


def pytorch(placement: str = "{within: rack}", workers: int = 3, worker_extra: str = "") -> str:
    return f"""\
name: ddp
project: team-c
spec:
  operator: pytorch
  image: registry.example.com/ddp:1
  command: python train.py
  placement: {placement}
  types:
    Master: {{count: 1, resources: {POD}}}
    Worker: {{count: {workers}, resources: {POD}{worker_extra}}}
"""


def jobset(types: str, placement: str | None = None) -> str:
    spec_placement = f"  placement: {placement}\n" if placement else ""
    return (
        "name: sliced\nproject: team-c\nspec:\n  operator: jobset\n"
        "  image: registry.example.com/js:1\n  command: python run.py\n"
        f"{spec_placement}  types:\n" + textwrap.indent(textwrap.dedent(types), "    ")
    )


def kuberay(head: str = "", groups: str = "", placement: str | None = None) -> str:
    spec_placement = f"  placement: {placement}\n" if placement else ""
    groups = groups or f"- {{name: gpu, count: 2, resources: {SMALL}}}"
    return (
        "name: ray\nproject: team-c\nspec:\n  operator: kuberay\n"
        "  image: registry.example.com/ray:2\n  command: python main.py\n"
        f"{spec_placement}  types:\n    Head: {{resources: {SMALL}{head}}}\n    Workers:\n"
        + textwrap.indent(textwrap.dedent(groups), "      ")
    )


def batchjob(placement: str) -> str:
    return f"""\
name: batch
project: team-c
spec:
  operator: batchjob
  image: registry.example.com/b:1
  command: python b.py
  placement: {placement}
  types:
    task: {{count: 3, parallelisms: 2, completions: 2, resources: {SMALL}}}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def compile_(tmp_path: Path, workload: str, *policies: str, command: tuple = ()):
    args: list[str] = list(command)
    for i, text in enumerate(policies):
        args += ["-p", write(tmp_path, f"policy-{i}.yaml", text)]
    return run_cli(*args, write(tmp_path, "workload.yaml", workload))


def compiled(tmp_path: Path, workload: str, *policies: str) -> dict:
    result = compile_(tmp_path, workload, *(policies or (CLUSTER, QUOTA)))
    assert result.exit_code == 0, result.stderr
    [job] = [o for o in yaml.safe_load_all(result.stdout) if o and o["kind"] != "Service"]
    assert webhook_errors(job) == []
    assert not crd_errors(job) if is_crd_object(job) else not core_errors(job)
    assert not set(TOPOLOGY_KEYS) & set(job["metadata"].get("annotations", {}))
    return job


def codes(result) -> list[str]:
    return re.findall(r"error\[(E\d{3})\]", result.stderr)


def failing(tmp_path: Path, workload: str, *policies: str) -> str:
    result = compile_(tmp_path, workload, *(policies or (CLUSTER, QUOTA)))
    assert result.exit_code != 0, result.stdout
    return result.stderr


# ---------------------------------------------------------------------------------------------
# pod sets as Kueue v0.19.2 makes them, and its webhook's rules


def pod_sets(job: dict) -> list[tuple[str, int, dict]]:
    """(pod set name, Kueue's count, template annotations) of each pod set of the job."""
    spec = job["spec"]
    if job["kind"] == "JobSet":  # jobset_controller.go podsCount
        out = []
        for rjob in spec["replicatedJobs"]:
            inner = rjob["template"]["spec"]
            per_job = min(inner.get("parallelism", 1), inner.get("completions", 1))
            meta = inner["template"].get("metadata", {})
            out.append((rjob["name"], rjob["replicas"] * per_job, meta.get("annotations", {})))
        return out
    if job["kind"] == "RayJob":  # raycluster/common.go BuildPodSets
        cluster = spec["rayClusterSpec"]
        head = cluster["headGroupSpec"]["template"].get("metadata", {})
        out = [("head", 1, head.get("annotations", {}))]
        for group in cluster.get("workerGroupSpecs", []):
            meta = group["template"].get("metadata", {})
            count = group["replicas"] * group.get("numOfHosts", 1)
            out.append((group["groupName"], count, meta.get("annotations", {})))
        return out
    meta = spec["template"].get("metadata", {})  # job_controller.go podsCount
    count = min(spec["parallelism"], spec.get("completions", spec["parallelism"]))
    return [("main", count, meta.get("annotations", {}))]


LABEL_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def webhook_errors(job: dict) -> list[str]:
    errors = []
    groups: dict = {}
    for name, count, notes in pod_sets(job):
        found = [key for key in (REQUIRED, PREFERRED, UNCONSTRAINED) if key in notes]
        if len(found) > 1:
            errors.append(f"{name}: more than one topology annotation")
        for key in (REQUIRED, PREFERRED, SLICE):
            if key in notes and not LABEL_NAME.match(notes[key]):
                errors.append(f"{name}: {key} {notes[key]!r} is no label name")
        if GROUP in notes:
            if notes[GROUP].isdigit():
                errors.append(f"{name}: group name is a number")
            if SLICE in notes or SLICE_SIZE in notes:
                errors.append(f"{name}: group name with a slice")
            if REQUIRED not in notes and PREFERRED not in notes:
                errors.append(f"{name}: group name without required or preferred")
            request = (notes.get(REQUIRED), notes.get(PREFERRED))
            groups.setdefault(notes[GROUP], []).append((name, count, request))
        if (SLICE in notes) != (SLICE_SIZE in notes):
            errors.append(f"{name}: a slice annotation without the other")
        if SLICE_SIZE in notes:
            size = notes[SLICE_SIZE]
            if not size.isdigit() or not 1 <= int(size) <= count:
                errors.append(f"{name}: slice size {size} not in 1..{count}")
    for group, members in groups.items():
        if len(members) != 2:
            errors.append(f"group {group}: {len(members)} pod sets, exactly 2 allowed")
        elif members[0][1] != 1 and members[1][1] != 1:
            errors.append(f"group {group}: neither pod set has 1 replica")
        elif members[0][2] != members[1][2]:
            errors.append(f"group {group}: different topology requests")
    return errors


def annotations_by_pod_set(job: dict) -> dict:
    return {name: notes for name, _, notes in pod_sets(job)}


def topology_notes(notes: dict) -> dict:
    return {k: v for k, v in notes.items() if k in TOPOLOGY_KEYS}


# ---------------------------------------------------------------------------------------------
# what compile writes


def test_within_rack_puts_master_and_workers_in_one_rack(tmp_path):
    job = compiled(tmp_path, pytorch())
    notes = annotations_by_pod_set(job)
    assert topology_notes(notes["master"]) == {REQUIRED: RACK, GROUP: "ddp"}
    assert topology_notes(notes["worker"]) == {REQUIRED: RACK, GROUP: "ddp"}


def test_preferred_mode_writes_the_preferred_annotation(tmp_path):
    job = compiled(tmp_path, pytorch("{within: block, mode: preferred}"))
    for notes in annotations_by_pod_set(job).values():
        assert topology_notes(notes) == {PREFERRED: BLOCK, GROUP: "ddp"}


def test_each_type_places_each_type_on_its_own(tmp_path):
    job = compiled(tmp_path, pytorch("{within: rack, each: type}"))
    for notes in annotations_by_pod_set(job).values():
        assert topology_notes(notes) == {REQUIRED: RACK}


def test_a_single_type_needs_no_group(tmp_path):
    job = compiled(tmp_path, jobset(f"trainer: {{count: 4, resources: {SMALL}}}", "{within: rack}"))
    assert topology_notes(annotations_by_pod_set(job)["trainer"]) == {REQUIRED: RACK}


def test_each_job_slices_the_pod_set_by_the_pods_of_one_job(tmp_path):
    types = f"trainer: {{count: 3, completions: 4, parallelisms: 2, resources: {SMALL}}}"
    job = compiled(tmp_path, jobset(types, "{within: rack, each: job}"))
    [(_, count, notes)] = pod_sets(job)
    assert count == 6  # 3 Jobs of 2 pods at once
    assert topology_notes(notes) == {SLICE: RACK, SLICE_SIZE: "2"}


def test_a_types_own_placement_wins_over_the_workloads(tmp_path):
    types = f"""\
    leader: {{count: 1, resources: {SMALL}}}
    workers:
      count: 2
      completions: 2
      parallelisms: 2
      resources: {SMALL}
      placement: {{within: host, each: job}}
    """
    job = compiled(tmp_path, jobset(types, "{within: block}"))
    notes = annotations_by_pod_set(job)
    assert topology_notes(notes["leader"]) == {REQUIRED: BLOCK}
    assert topology_notes(notes["workers"]) == {SLICE: HOST, SLICE_SIZE: "2"}


def test_a_type_without_placement_gets_no_annotation(tmp_path):
    types = f"""\
    leader: {{count: 1, resources: {SMALL}}}
    workers: {{count: 2, resources: {SMALL}, placement: {{within: rack, each: type}}}}
    """
    job = compiled(tmp_path, jobset(types))
    notes = annotations_by_pod_set(job)
    assert topology_notes(notes["leader"]) == {}
    assert topology_notes(notes["workers"]) == {REQUIRED: RACK}


def test_a_rayjob_head_and_its_worker_group_share_one_domain(tmp_path):
    job = compiled(tmp_path, kuberay(placement="{within: rack}"))
    notes = annotations_by_pod_set(job)
    assert topology_notes(notes["head"]) == {REQUIRED: RACK, GROUP: "ray"}
    assert topology_notes(notes["gpu"]) == {REQUIRED: RACK, GROUP: "ray"}


def test_each_ray_group_on_its_own(tmp_path):
    groups = f"""\
    - {{name: a, count: 2, resources: {SMALL}}}
    - {{name: b, count: 2, resources: {SMALL}, placement: {{within: host, mode: preferred}}}}
    """
    job = compiled(tmp_path, kuberay(groups=groups, placement="{within: rack, each: type}"))
    notes = annotations_by_pod_set(job)
    assert topology_notes(notes["head"]) == {REQUIRED: RACK}
    assert topology_notes(notes["a"]) == {REQUIRED: RACK}
    assert topology_notes(notes["b"]) == {PREFERRED: HOST}


@pytest.mark.parametrize("each", ["workload", "type", "job"])
def test_a_batch_job_is_one_pod_set_and_one_job(tmp_path, each):
    job = compiled(tmp_path, batchjob(f"{{within: block, each: {each}}}"))
    assert topology_notes(annotations_by_pod_set(job)["main"]) == {REQUIRED: BLOCK}


def test_without_placement_no_topology_annotation_anywhere(tmp_path):
    text = pytorch().replace("  placement: {within: rack}\n", "")
    job = compiled(tmp_path, text)
    assert all(topology_notes(n) == {} for n in annotations_by_pod_set(job).values())
    assert not any(key in yaml.safe_dump(job) for key in TOPOLOGY_KEYS)


def test_the_annotations_never_land_on_the_job_itself(tmp_path):
    for workload in (pytorch(), kuberay(placement="{within: rack}"), batchjob("{within: block}")):
        job = compiled(tmp_path, workload)
        assert not set(TOPOLOGY_KEYS) & set(job["metadata"]["annotations"])
        assert not set(TOPOLOGY_KEYS) & set(job["metadata"].get("labels", {}))


def test_placement_output_is_deterministic(tmp_path):
    first = compile_(tmp_path, pytorch(), CLUSTER, QUOTA)
    second = compile_(tmp_path, pytorch(), CLUSTER, QUOTA)
    assert first.exit_code == 0 and first.stdout == second.stdout


def test_a_policy_default_gives_the_placement_and_explain_says_so(tmp_path):
    default = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-c-defaults, project: team-c}
spec:
  defaults: {spec: {placement: {within: block, mode: preferred}}}
"""
    text = pytorch().replace("  placement: {within: rack}\n", "")
    job = compiled(tmp_path, text, CLUSTER, QUOTA, default)
    assert topology_notes(annotations_by_pod_set(job)["worker"])[PREFERRED] == BLOCK
    result = compile_(tmp_path, text, CLUSTER, QUOTA, default, command=("explain",))
    assert result.exit_code == 0, result.stderr
    assert re.search(r"within: block +# policy team-c-defaults +\S+policy-2.yaml:5:", result.stdout)


# ---------------------------------------------------------------------------------------------
# policies require or forbid a placement with the rules of every other field

RULES = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {{name: team-c-rules, project: team-c}}
spec:
  rules:
    {rules}
"""


@pytest.mark.parametrize(
    ("rules", "workload", "code"),
    [
        ("spec.placement.within: {options: [rack]}", pytorch("{within: block}"), "E404"),
        ("spec.placement: {required: true}", pytorch().replace("  placement: {within: rack}\n", ""), "E406"),
        ("spec.placement: {forbidden: true}", pytorch(), "E408"),
        ("spec.types.*.placement: {forbidden: true}", pytorch("{within: rack, each: type}", worker_extra=", placement: {within: host, each: type}"), "E408"),
        ("spec.placement.mode: {options: [required]}", pytorch("{within: rack, mode: preferred}"), "E404"),
    ],
)  # fmt: skip
def test_a_policy_rule_binds_placement(tmp_path, rules, workload, code):
    assert f"error[{code}]" in failing(
        tmp_path, workload, CLUSTER, QUOTA, RULES.format(rules=rules)
    )


# ---------------------------------------------------------------------------------------------
# errors, each at the placement that causes it


def test_placement_without_a_topology_is_E370(tmp_path):
    stderr = failing(tmp_path, pytorch(), QUOTA)
    assert re.search(r"workload.yaml:7:\d+: error\[E370\] spec.placement", stderr)


def test_an_unknown_level_is_E371_with_a_suggestion(tmp_path):
    stderr = failing(tmp_path, pytorch("{within: rak}"))
    assert re.search(r"workload.yaml:7:\d+: error\[E371\] spec.placement.within", stderr)
    assert "block, rack, host" in stderr and "did you mean 'rack'" in stderr


def test_an_unknown_level_in_a_ray_worker_group_is_E371_at_that_group(tmp_path):
    groups = f"""\
    - {{name: cpu, count: 2, resources: {SMALL}}}
    - {{name: gpu, count: 2, resources: {SMALL}, placement: {{within: pod}}}}
    """
    stderr = failing(tmp_path, kuberay(groups=groups))
    assert re.search(
        r"workload.yaml:11:\d+: error\[E371\] spec.types.Workers.gpu.placement", stderr
    )


def test_a_queue_without_a_quota_has_no_topology_E372(tmp_path):
    stderr = failing(tmp_path, pytorch(), CLUSTER)
    assert "error[E372]" in stderr and "no topology" in stderr


@pytest.mark.parametrize(
    ("quota", "project", "kinds"),
    [(PER_PRODUCT, "team-p", "GPU products"), (TPU_QUOTA, "team-t", "TPU types")],
)
def test_a_quota_kueue_cannot_place_is_E372(tmp_path, quota, project, kinds):
    stderr = failing(tmp_path, pytorch().replace("team-c", project), CLUSTER, quota)
    assert "error[E372]" in stderr and kinds in stderr  # fmt: skip


def test_more_pods_than_a_rack_holds_is_E373(tmp_path):
    stderr = failing(tmp_path, pytorch(workers=4))
    assert re.search(r"workload.yaml:7:\d+: error\[E373\] spec.placement.within", stderr)
    assert "needs 5 pods in one rack, and one rack holds 4" in stderr


def test_a_type_that_cannot_fit_one_host_is_E373(tmp_path):
    types = f"trainer: {{count: 2, resources: {POD}, placement: {{within: host, each: type}}}}"
    stderr = failing(tmp_path, jobset(types))
    assert "error[E373] spec.types.trainer.placement.within" in stderr
    assert "needs 16 GPUs in one host, and one host holds 8" in stderr


def test_one_job_larger_than_a_domain_is_E373_and_a_job_that_fits_is_not(tmp_path):
    too_big = f"t: {{count: 2, completions: 5, parallelisms: 5, resources: {SMALL}}}"
    stderr = failing(tmp_path, jobset(too_big, "{within: rack, each: job}"))
    assert "one Job of t needs 5 pods in one rack" in stderr
    fits = f"t: {{count: 4, completions: 4, parallelisms: 4, resources: {SMALL}}}"
    compiled(tmp_path, jobset(fits, "{within: rack, each: job}"))  # 16 pods, 4 per rack


def test_a_preferred_placement_is_never_refused_for_size(tmp_path):
    compiled(tmp_path, pytorch("{within: rack, mode: preferred}", workers=7))


def test_a_preferred_slice_is_E374(tmp_path):
    types = f"t: {{count: 2, resources: {SMALL}}}"
    stderr = failing(tmp_path, jobset(types, "{within: rack, each: job, mode: preferred}"))
    assert re.search(r"error\[E374\] spec.placement.mode: each: job with mode: preferred", stderr)


def test_three_pod_sets_in_one_domain_is_E374(tmp_path):
    types = f"""\
    a: {{count: 1, resources: {SMALL}}}
    b: {{count: 1, resources: {SMALL}}}
    c: {{count: 1, resources: {SMALL}}}
    """
    stderr = failing(tmp_path, jobset(types, "{within: rack}"))
    assert "error[E374]" in stderr and "groups exactly two pod sets" in stderr


def test_two_pod_sets_of_several_pods_in_one_domain_is_E374(tmp_path):
    types = f"""\
    a: {{count: 2, resources: {SMALL}}}
    b: {{count: 2, resources: {SMALL}}}
    """
    stderr = failing(tmp_path, jobset(types, "{within: rack}"))
    assert "error[E374]" in stderr and "one of them is a single pod" in stderr


def test_a_ray_head_with_two_worker_groups_in_one_domain_is_E374(tmp_path):
    groups = f"""\
    - {{name: a, count: 1, resources: {SMALL}}}
    - {{name: b, count: 1, resources: {SMALL}}}
    """
    assert "error[E374]" in failing(tmp_path, kuberay(groups=groups, placement="{within: rack}"))


def test_types_placed_together_at_different_levels_is_E374(tmp_path):
    text = pytorch(worker_extra=", placement: {within: block}")
    stderr = failing(tmp_path, text)
    assert "error[E374]" in stderr and "their placements differ" in stderr


def test_each_job_on_a_rayjob_is_E375(tmp_path):
    stderr = failing(tmp_path, kuberay(placement="{within: rack, each: job}"))
    assert re.search(r"error\[E375\] spec.placement.each: each: job .* RayJob has no child", stderr)


def test_every_error_is_refused_not_emitted(tmp_path):
    result = compile_(tmp_path, kuberay(placement="{within: rack, each: job}"), CLUSTER, QUOTA)
    assert result.exit_code != 0 and "RayJob" not in result.stdout


def topology_policy(levels: str, name: str = "cluster") -> str:
    return (
        f"apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {{name: {name}}}\n"
        f"spec:\n  cluster:\n    topology:\n" + textwrap.indent(textwrap.dedent(levels), "      ")
    )


@pytest.mark.parametrize(
    ("levels", "code", "words"),
    [
        (f"- {{name: host, nodeLabel: {HOST}}}\n- {{name: rack, nodeLabel: {RACK}}}\n", "E376", "lowest (last) level"),
        (f"- {{name: rack, nodeLabel: {BLOCK}}}\n- {{name: rack, nodeLabel: {RACK}}}\n", "E376", "named twice"),
        (f"- {{name: block, nodeLabel: {RACK}}}\n- {{name: rack, nodeLabel: {RACK}}}\n", "E376", "names two levels"),
        ("- {name: rack, nodeLabel: 'not a label'}\n", "E310", "nodeLabel 'not a label'"),
    ],
)  # fmt: skip
def test_a_topology_kueue_refuses_is_an_error_of_the_policy(tmp_path, levels, code, words):
    policy = topology_policy(levels)
    stderr = failing(tmp_path, pytorch(), policy, QUOTA)
    assert re.search(
        rf"policy-0.yaml:\d+:\d+: error\[{code}\] spec.cluster.topology\[1?\d?\]", stderr
    )
    assert words in stderr
    result = run_cli("queues", "-p", write(tmp_path, "p.yaml", policy))
    assert result.exit_code != 0 and f"error[{code}]" in result.stderr


def test_two_global_policies_with_different_topologies_is_E316(tmp_path):
    other = topology_policy(f"- {{name: rack, nodeLabel: {RACK}}}\n", name="other")
    stderr = failing(tmp_path, pytorch(), CLUSTER, other, QUOTA)
    assert "error[E316] spec.cluster.topology" in stderr


def test_the_topology_is_a_global_policys(tmp_path):
    project = CLUSTER.replace("{name: cluster}", "{name: cluster, project: team-c}")
    assert "error[E" in failing(tmp_path, pytorch(), project, QUOTA)


# ---------------------------------------------------------------------------------------------
# compile queues


def queue_objects(tmp_path: Path, *policies: str) -> list[dict]:
    args = ["queues"]
    for i, text in enumerate(policies):
        args += ["-p", write(tmp_path, f"q-{i}.yaml", text)]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert kueue_errors(obj) == [], obj
    return objects


def test_compile_queues_emits_the_topology_and_a_topology_flavor(tmp_path):
    objects = queue_objects(tmp_path, CLUSTER, QUOTA, PER_PRODUCT)
    by_kind: dict = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    [topology] = by_kind["Topology"]
    assert topology["apiVersion"] == "kueue.x-k8s.io/v1beta2"
    assert topology["metadata"]["name"] == "default"
    assert topology["spec"]["levels"] == [{"nodeLabel": x} for x in (BLOCK, RACK, HOST)]
    flavors = {f["metadata"]["name"]: f["spec"] for f in by_kind["ResourceFlavor"]}
    assert flavors["default-topology"] == {
        "nodeLabels": {"kubernetes.io/os": "linux"},
        "topologyName": "default",
    }
    assert "topologyName" not in flavors["default"]  # team-p: two flavors per GPU pod
    queues = {q["metadata"]["name"]: q["spec"]["resourceGroups"] for q in by_kind["ClusterQueue"]}
    assert [f["name"] for f in queues["team-c"][0]["flavors"]] == ["default-topology"]
    assert [f["name"] for f in queues["team-p"][0]["flavors"]] == ["default"]


def test_without_a_topology_compile_queues_is_unchanged(tmp_path):
    objects = queue_objects(tmp_path, QUOTA)
    assert "Topology" not in [o["kind"] for o in objects]
    flavors = [o for o in objects if o["kind"] == "ResourceFlavor"]
    assert [f["metadata"]["name"] for f in flavors] == ["default"] and flavors[0]["spec"] == {}


def test_a_workload_placement_every_type_overrides_is_still_checked(tmp_path):
    types = f"t: {{count: 1, resources: {SMALL}, placement: {{within: rack}}}}"
    stderr = failing(tmp_path, jobset(types, "{within: shelf}"))
    assert "error[E371] spec.placement.within: unknown topology level 'shelf'" in stderr


def test_a_batch_job_may_prefer_one_domain_for_its_one_job(tmp_path):
    job = compiled(tmp_path, batchjob("{within: block, each: job, mode: preferred}"))
    assert topology_notes(annotations_by_pod_set(job)["main"]) == {PREFERRED: BLOCK}
