"""Quotas in policies (SPEC 2.5) and `compile queues`: validation, the Kueue objects, workloads
finding their queue, review of quota changes.

Kueue objects are checked against the v1beta2 CRDs in ../shared/crds (strict: unknown fields
fail), and the CRDs' CEL rules plus Kueue's webhook rules for ClusterQueues are restated here
by hand; the quantities are read back with a parser of this file's own.
"""

from __future__ import annotations

import functools
import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from example_support import GOLDEN, REPO, SHARED, run_cli
from test_upstream_schemas import strict_schema

from compiler.queues import quota_changes

KUEUE_CRDS = {
    "ResourceFlavor": "kueue.x-k8s.io_resourceflavors.yaml",
    "ClusterQueue": "kueue.x-k8s.io_clusterqueues.yaml",
    "LocalQueue": "kueue.x-k8s.io_localqueues.yaml",
    "WorkloadPriorityClass": "kueue.x-k8s.io_workloadpriorityclasses.yaml",
}

TEAM_A = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-a-quota, project: team-a}
spec:
  quota:
    cpus: 64
    memoryGB: 256
    gpus: 8
    cohort: research
    borrowingLimit: {gpus: 4}
"""

TEAM_B = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-b-quota, project: team-b}
spec:
  priorities: {high: 1000, low: 10}
  quota:
    cpus: 32.5
    memoryGB: 128
    gpus: {NVIDIA-H100-80GB-HBM3: 8, NVIDIA-A100-SXM4-80GB: 4}
    cohort: research
    borrowingLimit: {cpus: 16, gpus: {NVIDIA-H100-80GB-HBM3: 4}}
    queueing: BestEffortFIFO
"""

WORKLOAD = """\
project: team-a
spec:
  operator: jobset
  image: registry.example.com/team-a/train:1
  command: python train.py
  types:
    worker:
      count: {count}
      resources: {{cpus: 4, memory: 16, accelerators: {{gpu: {{count: 4, type: gpu{product}}}}}}}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def queues(tmp_path: Path, *texts: str):
    paths = [write(tmp_path, f"policy-{i}.yaml", text) for i, text in enumerate(texts)]
    args = ["queues"] + [arg for path in paths for arg in ("-p", path)]
    return run_cli(*args)


def objects_of(text: str) -> list[dict]:
    return [obj for obj in yaml.safe_load_all(text) if obj is not None]


# ---------------------------------------------------------------------------------------------
# the CRDs, and the rules they state in CEL or Kueue's webhook checks


@functools.cache
def kueue_validator(kind: str) -> jsonschema.Draft202012Validator:
    crd = yaml.safe_load((SHARED / "crds" / KUEUE_CRDS[kind]).read_text())
    assert crd["spec"]["names"]["kind"] == kind
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta2"]
    schema = strict_schema(served["schema"]["openAPIV3Schema"])
    return jsonschema.Draft202012Validator(schema)


def kueue_errors(obj: dict) -> list[str]:
    if (obj["apiVersion"], obj["kind"]) == ("v1", "Namespace"):  # for the LocalQueue, not Kueue's
        return []
    assert obj["apiVersion"] == "kueue.x-k8s.io/v1beta2"
    if obj["kind"] == "Topology":  # its CRD is not among ../shared/crds: restated below
        return topology_errors(obj)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in kueue_validator(obj["kind"]).iter_errors(obj)
    ]
    spec = obj.get("spec", {})
    if obj["kind"] == "ResourceFlavor" and "topologyName" in spec and not spec.get("nodeLabels"):
        errors.append("at least one nodeLabel is required when topology is set")  # CEL rule
    if obj["kind"] != "ClusterQueue":
        return errors
    spec = obj["spec"]
    groups = spec.get("resourceGroups", [])
    if "cohortName" not in spec and any(
        "borrowingLimit" in r for g in groups for f in g["flavors"] for r in f["resources"]
    ):
        errors.append("borrowingLimit must be nil when cohort is empty")
    covered = [r for g in groups for r in g["coveredResources"]]
    if len(covered) != len(set(covered)):
        errors.append(f"a resource is covered by two resource groups: {covered}")
    flavors = [f["name"] for g in groups for f in g["flavors"]]
    if len(flavors) != len(set(flavors)):
        errors.append(f"a flavor is in two resource groups: {flavors}")
    for group in groups:
        for flavor in group["flavors"]:
            names = [r["name"] for r in flavor["resources"]]
            if names != group["coveredResources"]:
                errors.append(f"flavor {flavor['name']} resources {names} != covered")
    preemption = spec.get("preemption", {})
    if (
        preemption.get("reclaimWithinCohort", "Never") == "Never"
        and preemption.get("borrowWithinCohort", {}).get("policy", "Never") != "Never"
    ):
        errors.append("reclaimWithinCohort=Never and borrowWithinCohort.Policy!=Never")
    return errors


# Kueue v0.19.2 config/components/crd/bases/kueue.x-k8s.io_topologies.yaml (v1beta2): the
# schema's fields and its CEL rules, restated.
LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)


def topology_errors(obj: dict) -> list[str]:
    errors = []
    if set(obj) != {"apiVersion", "kind", "metadata", "spec"} or set(obj["spec"]) != {"levels"}:
        errors.append(f"unknown fields in {sorted(obj)} / {sorted(obj.get('spec', {}))}")
    levels = obj["spec"].get("levels", [])
    if not 1 <= len(levels) <= 16:
        errors.append(f"levels: {len(levels)} items, 1 to 16 allowed")
    labels = [level.get("nodeLabel") for level in levels]
    for level in levels:
        if set(level) != {"nodeLabel"}:
            errors.append(f"level fields {sorted(level)}")
        label = level.get("nodeLabel", "")
        if not 1 <= len(label) <= 316 or not LABEL_KEY.match(label):
            errors.append(f"nodeLabel {label!r} is no label key")
    if len(labels) != len(set(labels)):
        errors.append("must be unique")
    if "kubernetes.io/hostname" in labels[:-1]:
        errors.append("the kubernetes.io/hostname label can only be used at the lowest level")
    return errors


def amount(text) -> float:
    """A Kubernetes quantity as a number (bytes for Gi/Mi, cores for m): this file's own parser."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?", str(text))
    assert match, text
    value = float(match.group(1))
    return (
        value
        * {None: 1, "m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[match.group(2)]
    )


# ---------------------------------------------------------------------------------------------
# compile queues


def test_queue_objects_validate_against_the_kueue_crds(tmp_path):
    result = queues(tmp_path, TEAM_A, TEAM_B)
    assert result.exit_code == 0, result.stderr
    objects = objects_of(result.stdout)
    kinds = [obj["kind"] for obj in objects]
    assert kinds == (
        ["Namespace"] * 2
        + ["ResourceFlavor"] * 3
        + ["WorkloadPriorityClass"] * 2
        + ["ClusterQueue"] * 2
        + ["LocalQueue"] * 2
    )
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert kueue_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_the_example_policies_give_valid_queue_objects():
    result = run_cli("queues", "-p", "examples/policies")
    assert result.exit_code == 0, result.stderr
    for obj in objects_of(result.stdout):
        if obj["kind"] != "Namespace":
            assert kueue_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_every_local_queue_has_its_namespace_before_it(tmp_path):
    """`compile queues | kubectl apply -f -` on a cluster without the projects' namespaces
    (issue 24): each LocalQueue's Namespace comes first in the output."""
    result = queues(tmp_path, TEAM_A, TEAM_B)
    objects = objects_of(result.stdout)
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    queues_at = [
        (i, o["metadata"]["namespace"]) for i, o in enumerate(objects) if o["kind"] == "LocalQueue"
    ]
    assert queues_at and sorted(n for _, n in queues_at) == sorted(namespaces)
    for index, namespace in queues_at:
        created_at = next(
            i
            for i, o in enumerate(objects)
            if o["kind"] == "Namespace" and o["metadata"]["name"] == namespace
        )
        assert created_at < index
        assert objects[created_at]["apiVersion"] == "v1"


#: cohort members that lend team-a GPUs in the default flavor and team-b H100s (item 9: Kueue
#: lends per flavor, so a borrowing limit applies only where a peer holds the same flavor)
LENDERS = (
    TEAM_A.replace("team-a", "team-c").replace("    borrowingLimit: {gpus: 4}\n", ""),
    TEAM_A.replace("team-a", "team-d")
    .replace("gpus: 8", "gpus: {NVIDIA-H100-80GB-HBM3: 4}")
    .replace("    borrowingLimit: {gpus: 4}\n", ""),
)


def test_cluster_queue_holds_the_quota(tmp_path):
    result = queues(tmp_path, TEAM_A, TEAM_B, *LENDERS)
    assert "W122" not in result.stderr, result.stderr
    objects = objects_of(result.stdout)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    team_a = by_name[("ClusterQueue", "team-a")]["spec"]
    assert team_a["cohortName"] == "research"
    assert team_a["queueingStrategy"] == "StrictFIFO"  # the default, PrimeHub's group FIFO
    assert team_a["preemption"]["reclaimWithinCohort"] == "Any"
    assert team_a["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}
    quota = {
        (flavor["name"], r["name"]): (amount(r["nominalQuota"]), r.get("borrowingLimit"))
        for group in team_a["resourceGroups"]
        for flavor in group["flavors"]
        for r in flavor["resources"]
    }
    assert quota == {
        ("default", "cpu"): (64, None),
        ("default", "memory"): (256 * 2**30, None),
        ("default", "nvidia.com/gpu"): (8, "4"),
    }
    team_b = by_name[("ClusterQueue", "team-b")]["spec"]
    assert team_b["queueingStrategy"] == "BestEffortFIFO"
    quota = {
        (flavor["name"], r["name"]): (amount(r["nominalQuota"]), r.get("borrowingLimit"))
        for group in team_b["resourceGroups"]
        for flavor in group["flavors"]
        for r in flavor["resources"]
    }
    assert quota == {
        ("default", "cpu"): (32.5, "16"),
        ("default", "memory"): (128 * 2**30, None),
        ("nvidia-h100-80gb-hbm3", "nvidia.com/gpu"): (8, "4"),
        ("nvidia-a100-sxm4-80gb", "nvidia.com/gpu"): (4, None),
    }
    flavor = by_name[("ResourceFlavor", "nvidia-h100-80gb-hbm3")]
    assert flavor["spec"]["nodeLabels"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    local = by_name[("LocalQueue", "team-b")]
    assert local["metadata"]["namespace"] == "team-b"
    assert local["spec"] == {"clusterQueue": "team-b"}
    assert by_name[("WorkloadPriorityClass", "high")]["value"] == 1000


def test_gpu_product_label_comes_from_the_cluster_policy():
    """A global policy's spec.cluster.gpuProductLabel (SPEC 2.6) labels the product flavors."""
    from types import SimpleNamespace

    from compiler.parse import load_documents
    from compiler.queues.kueue import load_policies, queue_objects

    documents, _ = load_documents(TEAM_B, "team-b.yaml")
    [team_b], problems = load_policies(documents)
    assert problems == []
    cluster = SimpleNamespace(
        project=None,
        priorities=None,
        quota=None,
        document=SimpleNamespace(
            data={"spec": {"cluster": {"gpuProductLabel": "cloud.google.com/gke-accelerator"}}}
        ),
    )
    flavors = [o for o in queue_objects([team_b, cluster]) if o["kind"] == "ResourceFlavor"]
    assert [o["spec"].get("nodeLabels") for o in flavors] == [
        None,
        {"cloud.google.com/gke-accelerator": "NVIDIA-A100-SXM4-80GB"},
        {"cloud.google.com/gke-accelerator": "NVIDIA-H100-80GB-HBM3"},
    ]


def test_output_is_deterministic_and_independent_of_policy_order(tmp_path):
    first = queues(tmp_path, TEAM_A, TEAM_B).stdout
    again = queues(tmp_path, TEAM_A, TEAM_B).stdout
    swapped = queues(tmp_path, TEAM_B, TEAM_A).stdout
    assert first == again == swapped


def test_no_quota_no_objects(tmp_path):
    result = queues(
        tmp_path,
        "apiVersion: manifest-compiler/v1\nkind: Policy\n"
        "metadata: {name: g}\nspec: {limits: {gpus: 8}}\n",
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no policy gives a project a quota" in result.stderr


def test_queues_golden_file_is_the_output_for_the_examples():
    result = run_cli("queues", "-p", "examples/policies")
    assert result.stdout == (GOLDEN / "kueue" / "queues.yaml").read_text(), (
        "golden/kueue/queues.yaml is stale: `compile golden --update` rewrites it"
    )


def test_json_output(tmp_path):
    write(tmp_path, "a.yaml", TEAM_A)
    result = run_cli("queues", "-p", str(tmp_path / "a.yaml"), "-o", "json")
    listed = json.loads(result.stdout)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert [o["kind"] for o in listed["items"]] == [
        "Namespace",
        "ResourceFlavor",
        "ClusterQueue",
        "LocalQueue",
    ]


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "quota, code, where",
    [
        ("cpus: 8\nmemoryGB: 8\nborrowingLimit: {gpus: 2}", "E502", ":8:5"),
        ("cpus: 8\nmemoryGB: 8\ngpus: 4\ncohort: c\nborrowingLimit: {gpus: {H100: 2}}", "E503", ""),
        (
            "cpus: 8\nmemoryGB: 8\ngpus: {H100: 4}\ncohort: c\nborrowingLimit: {gpus: {A100: 2}}",
            "E503",
            "",
        ),
        ("cpus: 8\nmemoryGB: 8\nqueueing: FIFO", "E104", ""),
        ("cpus: 8\nmemoryGB: 8\ngpu: 4", "E101", ""),
        ("cpus: 8", "E103", ""),
        ("cpus: -1\nmemoryGB: 8", "E104", ""),
        ("cpus: 8\nmemoryGB: 8\ngpus: {H100: -1}", "E104", ""),
        ("cpus: 8\nmemoryGB: yes", "E102", ""),
        ("cpus: 8\nmemoryGB: 8\ncohort: Research_1", "E508", ":8:13"),
    ],
)
def test_malformed_quota_is_reported_with_its_place(tmp_path, quota, code, where):
    text = (
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: q, project: team-a}\n"
        "spec:\n  quota:\n" + textwrap.indent(quota, "    ") + "\n"
    )
    result = queues(tmp_path, text)
    assert result.exit_code == 1
    assert f"error[{code}]" in result.stderr, result.stderr
    assert "policy-0.yaml:" + (where.lstrip(":") if where else "") in result.stderr
    assert "spec.quota" in result.stderr


def test_quota_in_a_global_policy_is_an_error(tmp_path):
    text = TEAM_A.replace(", project: team-a", "")
    result = queues(tmp_path, text)
    assert "policy-0.yaml:5:3: error[E501]" in result.stderr, result.stderr


def test_project_must_name_a_queue(tmp_path):
    result = queues(tmp_path, TEAM_A.replace("project: team-a", "project: Team_A"))
    assert "error[E504]" in result.stderr


def test_two_quotas_for_one_project(tmp_path):
    result = queues(tmp_path, TEAM_A, TEAM_A.replace("name: team-a-quota", "name: other"))
    assert "policy-1.yaml:5:3: error[E506]" in result.stderr, result.stderr
    assert "policy-0.yaml" in result.stderr  # the first one, as related


def test_priority_with_two_values(tmp_path):
    other = TEAM_B.replace("high: 1000", "high: 500").replace("team-b", "team-c")
    result = queues(tmp_path, TEAM_B, other)
    assert "error[E507]" in result.stderr, result.stderr
    bad = TEAM_B.replace("high: 1000", "High_1: 1000")
    assert "error[E505]" in queues(tmp_path, bad).stderr


def test_policy_schema_has_the_quota():
    schema = json.loads((REPO / "schemas" / "policy.schema.json").read_text())
    assert "quota" in schema["$defs"]["PolicySpec"]["properties"]
    quota = schema["$defs"]["Quota"]
    assert set(quota["properties"]) >= {
        "cpus",
        "memoryGB",
        "gpus",
        "cohort",
        "borrowingLimit",
        "queueing",
    }
    assert quota["properties"]["queueing"]["anyOf"][0]["enum"] == ["StrictFIFO", "BestEffortFIFO"]


# ---------------------------------------------------------------------------------------------
# workloads find their queue


def compile_workload(tmp_path, workload: str, *policies: str):
    paths = [write(tmp_path, f"policy-{i}.yaml", text) for i, text in enumerate(policies)]
    manifest = write(tmp_path, "workload.yaml", workload)
    args = [arg for path in paths for arg in ("-p", path)]
    return run_cli(*args, manifest)


def test_workload_of_a_project_with_a_quota_is_queued_on_its_local_queue(tmp_path):
    result = compile_workload(tmp_path, WORKLOAD.format(count=1, product=""), TEAM_A)
    assert result.exit_code == 0, result.stderr
    [jobset] = objects_of(result.stdout)
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    assert "W120" not in result.stderr


def test_workload_naming_another_queue_keeps_it(tmp_path):
    """Another queue the policies define (team-b's LocalQueue, in namespace team-b)."""
    workload = WORKLOAD.format(count=1, product="") + "  queue: team-b\n"
    paths = [write(tmp_path, f"p{i}.yaml", text) for i, text in enumerate((TEAM_A, TEAM_B))]
    manifest = write(tmp_path, "workload.yaml", workload)
    result = run_cli("-p", paths[0], "-p", paths[1], "--namespace", "team-b", manifest)
    [jobset] = objects_of(result.stdout)
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-b"


def test_a_policy_may_forbid_naming_another_queue(tmp_path):
    locked = TEAM_A + "  rules:\n    spec.queue: {canEdit: false}\n"
    workload = WORKLOAD.format(count=1, product="") + "  queue: experiments\n"
    result = compile_workload(tmp_path, workload, locked)
    assert result.exit_code == 1
    assert "error[E407]" in result.stderr, result.stderr


def test_workload_without_a_quota_is_not_queued(tmp_path):
    result = compile_workload(tmp_path, WORKLOAD.format(count=1, product=""))
    [jobset] = objects_of(result.stdout)
    assert "kueue.x-k8s.io/queue-name" not in jobset["metadata"]["labels"]


def test_warning_when_the_queue_can_never_admit_the_workload(tmp_path):
    # 4 pods x 4 GPUs = 16 > 8 nominal + 4 borrowable
    result = compile_workload(tmp_path, WORKLOAD.format(count=4, product=""), TEAM_A)
    assert result.exit_code == 0
    assert "workload.yaml:6:3: warning[W120]" in result.stderr, result.stderr
    assert "16 GPUs" in result.stderr and "(8, borrowing from cohort research" in result.stderr
    # 3 x 4 = 12 fits when borrowing: team-c of the cohort lends its 8 GPUs, the limit is 4
    team_c = TEAM_A.replace("team-a", "team-c").replace("borrowingLimit: {gpus: 4}\n", "")
    fits = compile_workload(tmp_path, WORKLOAD.format(count=3, product=""), TEAM_A, team_c)
    assert "W120" not in fits.stderr, fits.stderr
    # team-b's GPUs are per product, other flavors: they are not lent to the default flavor
    other = compile_workload(tmp_path, WORKLOAD.format(count=3, product=""), TEAM_A, TEAM_B)
    assert "W120" in other.stderr, other.stderr
    # without the cohort's other quota there is nothing to borrow
    alone = compile_workload(tmp_path, WORKLOAD.format(count=3, product=""), TEAM_A)
    assert "W120" in alone.stderr


def test_warning_for_a_gpu_product_the_quota_does_not_list(tmp_path):
    workload = WORKLOAD.format(count=1, product=", product: NVIDIA-L4").replace("team-a", "team-b")
    result = compile_workload(tmp_path, workload, TEAM_B)
    assert "warning[W121]" in result.stderr, result.stderr
    per_product = WORKLOAD.format(count=4, product=", product: NVIDIA-A100-SXM4-80GB")
    result = compile_workload(tmp_path, per_product.replace("team-a", "team-b"), TEAM_B)
    assert "warning[W120]" in result.stderr and "16 GPUs" in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# review


def test_quota_changes_read_as_a_reviewer_reads_them():
    before = {"team-a": {"cpus": "256", "gpus": "16", "cohort": "research"}}
    after = {"team-a": {"cpus": "256", "gpus": "8", "cohort": "research"}, "team-c": {"cpus": "8"}}
    assert quota_changes(before, after) == ["team-a: gpus 16 → 8", "team-c: new quota cpus 8"]
    assert quota_changes(after, before)[-1] == "team-c: quota removed (was cpus 8)"


def test_compile_diff_shows_a_quota_change(tmp_path):
    for side, gpus in (("old", 16), ("new", 8)):
        (tmp_path / side / "policies").mkdir(parents=True)
        (tmp_path / side / "policies" / "q.yaml").write_text(
            TEAM_A.replace("gpus: 8", f"gpus: {gpus}")
        )
    manifest = write(tmp_path, "workload.yaml", WORKLOAD.format(count=1, product=""))
    result = run_cli(
        "diff",
        "--before",
        str(tmp_path / "old"),
        "--after",
        str(tmp_path / "new"),
        manifest,
        "--exit-code",
    )
    assert "quotas (compile queues):\n  team-a: gpus 16 → 8\n" in result.stdout, result.stdout
    assert result.exit_code == 1


def test_compile_golden_covers_the_queue_objects(tmp_path):
    examples = tmp_path / "examples"
    (examples / "policies").mkdir(parents=True)
    (examples / "policies" / "q.yaml").write_text(TEAM_A)
    write(examples, "w.yaml", WORKLOAD.format(count=1, product=""))
    assert run_cli("golden", str(examples), "--update").exit_code == 0
    golden = tmp_path / "golden" / "kueue" / "queues.yaml"
    assert golden.read_text() == queues(tmp_path, TEAM_A).stdout
    (examples / "policies" / "q.yaml").write_text(TEAM_A.replace("gpus: 8", "gpus: 16"))
    result = run_cli("golden", str(examples))
    assert result.exit_code == 1
    assert "golden/kueue/queues.yaml: differs" in result.stdout
    assert (
        'ClusterQueue/team-a spec.resourceGroups[0].flavors[default].resources[nvidia.com/gpu].nominalQuota: "8" → "16"'
        in result.stdout
    ), result.stdout


def test_error_for_a_priority_no_policy_declares(tmp_path):
    """SPEC 2.5: where the policies declare quotas or priorities, a priority class no policy
    defines is an error (Kueue finds no WorkloadPriorityClass and never queues the job)."""
    declared = TEAM_A + "  priorities: {high: 1000, low: 10}\n"
    workload = WORKLOAD.format(count=1, product="") + "  priority: urgent\n"
    result = compile_workload(tmp_path, workload, declared)
    assert "workload.yaml:10:13: error[E321] spec.priority: priority 'urgent'" in result.stderr, (
        result.stderr
    )
    assert "(high, low)" in result.stderr
    assert result.exit_code != 0 and result.stdout == ""
    fine = WORKLOAD.format(count=1, product="") + "  priority: high\n"
    result = compile_workload(tmp_path, fine, declared)
    assert "E321" not in result.stderr
    [jobset] = objects_of(result.stdout)
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "high"
    # a quota but no priorities: no WorkloadPriorityClass of any name
    result = compile_workload(tmp_path, workload, TEAM_A)
    assert "error[E321]" in result.stderr and "(they declare none)" in result.stderr


def test_error_for_a_queue_no_policy_defines(tmp_path):
    """The LocalQueues `compile queues` makes are one per project with a quota."""
    workload = WORKLOAD.format(count=1, product="") + "  queue: gpu-queue\n"
    result = compile_workload(tmp_path, workload, TEAM_A)
    assert "workload.yaml:10:10: error[E320] spec.queue: queue 'gpu-queue'" in result.stderr, (
        result.stderr
    )
    assert "team-a" in result.stderr and result.exit_code != 0
    own = WORKLOAD.format(count=1, product="") + "  queue: team-a\n"
    assert "E320" not in compile_workload(tmp_path, own, TEAM_A).stderr


def test_unknown_queue_and_priority_are_errors_without_a_project(tmp_path):
    """`compile check` of a workload without a project still holds its queue and priority to
    the policies (it returned early before, and examples/kuberay-cpu-gpu.yaml passed)."""
    workload = (
        WORKLOAD.format(count=1, product="").replace("project: team-a\n", "")
        + "  queue: gpu-queue\n  priority: interactive\n"
    )
    policy = write(tmp_path, "policy.yaml", TEAM_B)
    path = write(tmp_path, "workload.yaml", workload)
    result = run_cli("check", "-p", policy, path)
    assert result.exit_code != 0
    assert "error[E320] spec.queue" in result.stdout, result.stdout  # check's report
    assert "error[E321] spec.priority" in result.stdout


def test_product_flavors_use_the_cluster_policys_label_from_the_command_line(tmp_path):
    cluster = (
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: cluster}\n"
        "spec:\n  cluster: {gpuProductLabel: cloud.google.com/gke-accelerator}\n"
    )
    result = queues(tmp_path, TEAM_B, cluster)
    assert result.exit_code == 0, result.stderr
    flavors = [o for o in objects_of(result.stdout) if o["kind"] == "ResourceFlavor"]
    assert [o["spec"].get("nodeLabels") for o in flavors] == [
        None,
        {"cloud.google.com/gke-accelerator": "NVIDIA-A100-SXM4-80GB"},
        {"cloud.google.com/gke-accelerator": "NVIDIA-H100-80GB-HBM3"},
    ]


def test_a_product_workload_selects_the_nodes_its_flavor_labels(tmp_path):
    """Kueue admits a pod on a flavor whose nodeLabels its node selector matches."""
    cluster = (
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: cluster}\n"
        "spec:\n  cluster: {gpuProductLabel: cloud.google.com/gke-accelerator}\n"
    )
    product = "NVIDIA-H100-80GB-HBM3"
    workload = WORKLOAD.format(count=1, product=f", product: {product}").replace("team-a", "team-b")
    result = compile_workload(tmp_path, workload, TEAM_B, cluster)
    assert result.exit_code == 0, result.stderr
    [jobset] = objects_of(result.stdout)
    pod = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    flavors = {
        o["metadata"]["name"]: o["spec"].get("nodeLabels", {})
        for o in objects_of(queues(tmp_path, TEAM_B, cluster).stdout)
        if o["kind"] == "ResourceFlavor"
    }
    matching = [
        name
        for name, labels in flavors.items()
        if labels and all(pod["nodeSelector"].get(k) == v for k, v in labels.items())
    ]
    assert matching == ["nvidia-h100-80gb-hbm3"]
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-b"


def test_warning_when_the_namespace_has_no_local_queue(tmp_path):
    paths = [write(tmp_path, "policy.yaml", TEAM_A)]
    manifest = write(tmp_path, "workload.yaml", WORKLOAD.format(count=1, product=""))
    result = run_cli("-p", paths[0], "--namespace", "sandbox", manifest)
    assert result.exit_code == 0
    assert "warning[W123] spec.queue: the workload goes to namespace sandbox" in result.stderr, (
        result.stderr
    )
    assert "W123" not in run_cli("-p", paths[0], manifest).stderr


def test_compile_diff_json_lists_quota_changes(tmp_path):
    for side, quota in (
        ("old", TEAM_A),
        ("new", TEAM_A.replace("cohort: research", "cohort: labs")),
    ):
        (tmp_path / side / "policies").mkdir(parents=True)
        (tmp_path / side / "policies" / "q.yaml").write_text(quota)
    manifest = write(tmp_path, "workload.yaml", WORKLOAD.format(count=1, product=""))
    result = run_cli(
        "diff",
        "--before",
        str(tmp_path / "old"),
        "--after",
        str(tmp_path / "new"),
        manifest,
        "--format",
        "json",
    )
    assert json.loads(result.stdout)["quotas"] == ["team-a: cohort research → labs"]


def test_exit_codes_without_policies_and_with_an_unreadable_file(tmp_path):
    assert run_cli("queues", cwd=tmp_path).exit_code == 2  # no -p and no .compile.yaml
    missing = run_cli("queues", "-p", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 3
    assert "error[E006]" in missing.stderr


def test_policies_of_compile_yaml_are_the_default(tmp_path):
    write(tmp_path, "quota.yaml", TEAM_A)
    (tmp_path / ".compile.yaml").write_text("policies: [quota.yaml]\n")
    result = run_cli("queues", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert [o["kind"] for o in objects_of(result.stdout)] == [
        "Namespace",
        "ResourceFlavor",
        "ClusterQueue",
        "LocalQueue",
    ]


# ---------------------------------------------------------------------------------------------
# issue 21 item 1: every resource a queued workload requests is covered by its ClusterQueue

TPU_WORKLOAD = WORKLOAD.replace(
    "{{gpu: {{count: 4, type: gpu{product}}}}}",
    "{{tpu: {{type: {tpu_type}, topology: 2x2, tpuChipsCount: 4}}}}",
)
assert "tpu_type" in TPU_WORKLOAD

TEAM_A_TPUS = TEAM_A + "    tpus: {tpu-v5-lite-podslice: 16}\n"


def test_tpu_quota_gets_a_flavor_per_type_covering_google_tpu(tmp_path):
    result = queues(tmp_path, TEAM_A_TPUS, TEAM_B)
    assert result.exit_code == 0, result.stderr
    objects = objects_of(result.stdout)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    flavor = by_name[("ResourceFlavor", "tpu-v5-lite-podslice")]
    assert flavor["spec"] == {
        "nodeLabels": {"cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice"}
    }
    team_a = by_name[("ClusterQueue", "team-a")]["spec"]
    assert team_a["resourceGroups"][-1] == {
        "coveredResources": ["google.com/tpu"],
        "flavors": [
            {
                "name": "tpu-v5-lite-podslice",
                "resources": [{"name": "google.com/tpu", "nominalQuota": "16"}],
            }
        ],
    }
    team_b = by_name[("ClusterQueue", "team-b")]["spec"]
    assert all("google.com/tpu" not in g["coveredResources"] for g in team_b["resourceGroups"])
    for obj in objects:
        assert kueue_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_tpu_workload_in_a_queue_without_tpu_quota_is_an_error(tmp_path):
    workload = TPU_WORKLOAD.format(count=1, tpu_type="tpu-v5-lite-podslice")
    result = compile_workload(tmp_path, workload, TEAM_A)
    assert result.exit_code == 1, result.stderr
    assert "workload.yaml:6:3: error[E322]" in result.stderr, result.stderr
    assert "google.com/tpu" in result.stderr and "queue team-a" in result.stderr
    assert result.stdout == ""


def test_tpu_workload_with_tpu_quota_of_its_type_compiles(tmp_path):
    workload = TPU_WORKLOAD.format(count=1, tpu_type="tpu-v5-lite-podslice")
    result = compile_workload(tmp_path, workload, TEAM_A_TPUS)
    assert result.exit_code == 0, result.stderr
    assert "E322" not in result.stderr and "W120" not in result.stderr
    [jobset] = objects_of(result.stdout)
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    # 5 pods x 4 chips = 20 > 16: the queue can never hold it
    big = compile_workload(
        tmp_path, TPU_WORKLOAD.format(count=5, tpu_type="tpu-v5-lite-podslice"), TEAM_A_TPUS
    )
    assert "warning[W120]" in big.stderr and "20 TPU chips" in big.stderr, big.stderr


def test_tpu_type_the_quota_does_not_list_is_an_error(tmp_path):
    workload = TPU_WORKLOAD.format(count=1, tpu_type="tpu-v6e-slice")
    result = compile_workload(tmp_path, workload, TEAM_A_TPUS)
    assert result.exit_code == 1
    assert "error[E322]" in result.stderr and "tpu-v6e-slice" in result.stderr, result.stderr


def test_tpu_workload_naming_a_queue_without_tpu_quota_is_an_error_without_a_project(tmp_path):
    workload = (
        TPU_WORKLOAD.format(count=1, tpu_type="tpu-v5-lite-podslice").replace(
            "project: team-a\n", ""
        )
        + "  queue: team-a\n"
    )
    result = compile_workload(tmp_path, workload, TEAM_A)
    assert result.exit_code == 1
    assert "error[E322]" in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# issue 21 item 9: a cohort that can never lend GPUs between its members


def test_cohort_of_numeric_and_per_product_gpus_warns_and_drops_the_gpu_borrowing_limits(
    tmp_path,
):
    """team-a's GPUs are one number (flavor default), team-b's per product: Kueue lends per
    flavor, so neither lends GPUs to the other and their GPU borrowing limits never apply."""
    result = queues(tmp_path, TEAM_A, TEAM_B)
    assert result.exit_code == 0, result.stderr
    assert re.search(
        r"policy-0\.yaml:\d+:\d+: warning\[W122\] spec\.quota\.gpus: project team-a", result.stderr
    )
    assert re.search(
        r"policy-1\.yaml:\d+:\d+: warning\[W122\] spec\.quota\.gpus: project team-b", result.stderr
    )
    assert "borrowingLimit.gpus can never apply" in result.stderr
    objects = objects_of(result.stdout)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    limits = {
        (cq, flavor["name"], r["name"]): r.get("borrowingLimit")
        for cq in ("team-a", "team-b")
        for group in by_name[("ClusterQueue", cq)]["spec"]["resourceGroups"]
        for flavor in group["flavors"]
        for r in flavor["resources"]
    }
    assert limits[("team-a", "default", "nvidia.com/gpu")] is None
    assert limits[("team-b", "nvidia-h100-80gb-hbm3", "nvidia.com/gpu")] is None
    assert limits[("team-b", "default", "cpu")] == "16"  # CPU and memory are still lent
    for obj in objects:
        assert kueue_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_the_example_cohort_lends_gpus_between_its_members():
    """examples/policies/quotas.yaml says team-a and team-b borrow from each other: they do."""
    result = run_cli("queues", "-p", "examples/policies")
    assert "W122" not in result.stderr, result.stderr
    objects = objects_of(result.stdout)
    gpu_flavors = {
        cq["metadata"]["name"]: {
            flavor["name"]
            for group in cq["spec"]["resourceGroups"]
            if "nvidia.com/gpu" in group["coveredResources"]
            for flavor in group["flavors"]
        }
        for cq in objects
        if cq["kind"] == "ClusterQueue"
    }
    assert gpu_flavors["team-a"] & gpu_flavors["team-b"], gpu_flavors
