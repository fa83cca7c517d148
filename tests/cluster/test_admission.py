"""`compile admission` on the testbed's real kube-apiserver (issue 16).

The generated ValidatingAdmissionPolicies are accepted and type-check against the CRD schemas,
deny hand-written objects that break a rule (the bypass), admit every golden output, and agree
with `compile` over seeded generated policy × manifest cases (the parity test).

Every policy is bound to namespaces this module creates (project policies by name, global ones
by a namespace label), so no other test's objects are ever judged by them. Objects are sent as
server-side dry runs, which admission judges like real requests.
"""

from __future__ import annotations

import copy
import json
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from admission_cases import PROBE_LABELS, draw_set, visible  # noqa: E402

from compiler.admission import admission_objects  # noqa: E402
from compiler.catalog import build_catalog  # noqa: E402
from compiler.parse import load_documents  # noqa: E402
from compiler.render import to_yaml  # noqa: E402
from compiler.validate.policy import loaded_policy  # noqa: E402

JOB_KINDS = {
    "JobSet": "/apis/jobset.x-k8s.io/v1alpha2/namespaces/{ns}/jobsets",
    "RayJob": "/apis/ray.io/v1/namespaces/{ns}/rayjobs",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
}
SET_LABEL = "admission.test/set"
PARITY_SETS = 12
CASES_PER_SET = 25
IMAGE = "registry.example.com/team-a/trainer:1.0"


# ---------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def api(control_plane):
    """The cluster commands' own client, on the testbed."""
    import os

    from compiler.cluster.client import connect

    before = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(control_plane.kubeconfig)
    try:
        yield connect(timeout=60)
    finally:
        if before is None:
            del os.environ["KUBECONFIG"]
        else:
            os.environ["KUBECONFIG"] = before


def dry_run(api, obj: dict, namespace: str) -> tuple[bool, str]:
    """(admitted, the API server's message) of a server-side dry-run create."""
    from compiler.cluster.errors import ApiError

    body = copy.deepcopy(obj)
    body["metadata"]["namespace"] = namespace
    path = JOB_KINDS[body["kind"]].format(ns=namespace)
    try:
        api.request("POST", path, {"dryRun": "All"}, body=body)
    except ApiError as exc:
        # only an admission policy's denial counts: any other refusal is a broken test object
        assert "ValidatingAdmissionPolicy" in exc.message, f"{exc.status}: {exc.message}"
        return False, f"{exc.status}: {exc.message}"
    return True, ""


def policy_objects(texts: list[str], global_selector=None, audit=False):
    documents = []
    for index, text in enumerate(texts):
        parsed, problems = load_documents(text, f"policy-{index}.yaml")
        assert not problems, problems
        documents += parsed
    catalog = build_catalog([], policy_documents=documents)
    assert not catalog.diagnostics, catalog.diagnostics
    policies = [loaded_policy(d) for d in catalog.policies]
    result = admission_objects(policies, audit=audit, global_selector=global_selector)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result


def make_namespace(control_plane, name: str, labels: dict | None = None) -> str:
    control_plane.kubectl("create", "namespace", name)
    if labels:
        control_plane.kubectl("label", "namespace", name, *[f"{k}={v}" for k, v in labels.items()])
    return name


def apply_objects(control_plane, objects: list[dict]) -> None:
    # every policy now has a Pod object and every project a door: many objects at once
    control_plane.kubectl("apply", "-f", "-", input=to_yaml(objects), timeout=600)


def delete_objects(control_plane, objects: list[dict]) -> None:
    names = {
        (o["kind"].lower(), o["metadata"]["name"])
        for o in objects
        if o["kind"].startswith("ValidatingAdmissionPolicy")
    }
    for kind, name in sorted(names):
        control_plane.kubectl("delete", kind, name, "--wait=false", check=False)


def type_checking_warnings(control_plane, objects: list[dict], timeout: float = 240) -> dict:
    """{policy name: the expression warnings of status.typeChecking}, once every policy has one."""
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    deadline = time.monotonic() + timeout
    found: dict = {}
    while True:
        for name in names:
            if name in found:
                continue
            status = control_plane.kubectl_json("get", "validatingadmissionpolicy", name).get(
                "status", {}
            )
            if "typeChecking" in status or status.get("observedGeneration"):
                found[name] = status.get("typeChecking", {}).get("expressionWarnings", [])
        if len(found) == len(names):
            return found
        assert time.monotonic() < deadline, f"no type checking status for {set(names) - set(found)}"
        time.sleep(0.5)


def probe_object(kind: str, labels: dict, image: str = IMAGE) -> dict:
    """A small object of ``kind`` carrying ``labels``."""
    container = {
        "name": "main",
        "image": image,
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    pod = {"spec": {"restartPolicy": "Never", "containers": [container]}}
    metadata = {"name": f"probe-{kind.lower()}", "labels": dict(labels)}
    if kind == "JobSet":
        spec = {
            "replicatedJobs": [
                {
                    "name": "w",
                    "replicas": 1,
                    "template": {"spec": {"backoffLimit": 0, "template": pod}},
                }
            ]
        }
        return {
            "apiVersion": "jobset.x-k8s.io/v1alpha2",
            "kind": kind,
            "metadata": metadata,
            "spec": spec,
        }
    if kind == "RayJob":
        head = {"spec": {"containers": [dict(container, name="ray-head")]}}
        spec = {
            "entrypoint": "python x.py",
            "rayClusterSpec": {"headGroupSpec": {"rayStartParams": {}, "template": head}},
        }
        return {"apiVersion": "ray.io/v1", "kind": kind, "metadata": metadata, "spec": spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        # no retries: a Job's default backoffLimit (6) is above the example guardrails' 5
        "spec": {"backoffLimit": 0, "template": pod},
    }


def wait_active(
    api, namespace: str, label: str, timeout: float = 90, image: str = IMAGE, labels=PROBE_LABELS
) -> None:
    """Poll until a probe of every kind in ``namespace`` is denied with a message naming
    ``label``: a new ValidatingAdmissionPolicy takes a few seconds to be enforced."""
    deadline = time.monotonic() + timeout
    for kind in JOB_KINDS:
        probe = probe_object(kind, dict.fromkeys(labels, "x"), image)
        while True:
            admitted, message = dry_run(api, probe, namespace)
            if not admitted and label in message:
                break
            assert time.monotonic() < deadline, f"{kind} probe: {message or 'admitted'}"
            time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# the example policies: accepted, type-checked, golden outputs admitted, bypasses denied


@pytest.fixture(scope="module")
def examples(control_plane, api):
    """The example policies, bound to two fresh namespaces: one for team-a (the project policy,
    renamed from team-a in the binding), one labelled for the global policies only."""
    tag = uuid.uuid4().hex[:6]
    team = make_namespace(control_plane, f"adm-team-a-{tag}", {SET_LABEL: tag})
    other = make_namespace(control_plane, f"adm-other-{tag}", {SET_LABEL: tag})
    texts = [p.read_text() for p in sorted((REPO / "examples" / "policies").glob("*.yaml"))]
    result = policy_objects(texts, global_selector={SET_LABEL: tag})
    objects = copy.deepcopy(result.objects)
    for obj in objects:
        selector = obj["spec"].get("matchResources", {}).get("namespaceSelector", {})
        for expression in selector.get("matchExpressions", []):
            expression["values"] = [team if v == "team-a" else v for v in expression["values"]]
    probe = {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": {"name": f"probe-{tag}"},
        "spec": {"rules": {f'spec.labels["{PROBE_LABELS[0]}"]': {"forbidden": True}}},
    }
    objects += policy_objects([yaml.safe_dump(probe)], global_selector={SET_LABEL: tag}).objects
    apply_objects(control_plane, objects)
    # the global policies in `other` (the probe label), then team-a's in `team`: an image
    # only team-a's pattern refuses, or, for a Job, its operators
    wait_active(api, other, PROBE_LABELS[0])
    wait_active(api, team, "team-a-limits", image="docker.io/library/python:3.11", labels=())
    yield {"team": team, "other": other, "objects": objects, "result": result}
    delete_objects(control_plane, objects)
    for namespace in (team, other):
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_example_policies_type_check_against_the_schemas(control_plane, examples):
    warnings = type_checking_warnings(control_plane, examples["objects"])
    assert warnings, "no ValidatingAdmissionPolicy was created"
    assert {name: w for name, w in warnings.items() if w} == {}


def golden_job_objects() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((REPO / "golden").glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj and obj.get("kind") in JOB_KINDS:
                out.append((path.name, obj))
    return out


def test_every_golden_output_is_admitted(api, examples):
    objects = golden_job_objects()
    assert len(objects) >= 10
    refused = []
    for name, obj in objects:
        namespace = (
            examples["team"] if obj["metadata"].get("namespace") == "team-a" else examples["other"]
        )
        admitted, message = dry_run(api, obj, namespace)
        if not admitted:
            refused.append(f"{name}: {message}")
    assert refused == []


def _golden(name: str) -> dict:
    for file, obj in golden_job_objects():
        if file == name:
            return copy.deepcopy(obj)
    raise AssertionError(name)


def _pod_specs(obj: dict) -> list[dict]:
    if obj["kind"] == "JobSet":
        return [r["template"]["spec"]["template"]["spec"] for r in obj["spec"]["replicatedJobs"]]
    if obj["kind"] == "RayJob":
        cluster = obj["spec"]["rayClusterSpec"]
        return [cluster["headGroupSpec"]["template"]["spec"]] + [
            g["template"]["spec"] for g in cluster.get("workerGroupSpecs", [])
        ]
    return [obj["spec"]["template"]["spec"]]


def _bypass_forbidden_image(obj):
    _pod_specs(obj)[0]["containers"][0]["image"] = "evil.example.net/miner:latest"


def _set(container: dict, resource: str, value) -> None:
    """Requests and limits alike (Kubernetes wants them equal for GPUs, ordered for CPUs)."""
    for where in ("requests", "limits"):
        container.setdefault("resources", {}).setdefault(where, {})[resource] = value


def _bypass_gpus(obj):
    _set(_pod_specs(obj)[0]["containers"][0], "nvidia.com/gpu", 16)


def _bypass_gpus_split_over_containers(obj):
    pod = _pod_specs(obj)[0]
    first = pod["containers"][0]
    _set(first, "nvidia.com/gpu", "8")
    second = copy.deepcopy(first)
    second["name"] = "sidecar"
    pod["containers"].append(second)


def _bypass_gpus_in_init_container(obj):
    pod = _pod_specs(obj)[0]
    init = copy.deepcopy(pod["containers"][0])
    init["name"] = "warmup"
    _set(init, "nvidia.com/gpu", "64")
    pod["initContainers"] = [init]


def _bypass_cpus(obj):
    _set(_pod_specs(obj)[0]["containers"][0], "cpu", "500")


def _bypass_deadline(obj):
    if obj["kind"] == "JobSet":
        for job in obj["spec"]["replicatedJobs"]:
            job["template"]["spec"]["activeDeadlineSeconds"] = 30 * 86400
    else:
        obj["spec"]["activeDeadlineSeconds"] = 30 * 86400


def _bypass_no_deadline(obj):
    if obj["kind"] == "JobSet":
        for job in obj["spec"]["replicatedJobs"]:
            job["template"]["spec"].pop("activeDeadlineSeconds", None)
    else:
        obj["spec"].pop("activeDeadlineSeconds", None)


def _bypass_too_many_pods(obj):
    obj["spec"]["replicatedJobs"][-1]["replicas"] = 300_000  # the global limit is 250000 pods


def _bypass_autoscaling(obj):
    cluster = obj["spec"]["rayClusterSpec"]
    cluster["enableInTreeAutoscaling"] = True
    for group in cluster["workerGroupSpecs"]:
        group["maxReplicas"] = 1000


def _bypass_restarts(obj):
    """Issue 22: more retries than spec.restartPolicy.backoffLimit {max: 5} allows."""
    if obj["kind"] == "JobSet":
        obj["spec"].setdefault("failurePolicy", {})["maxRestarts"] = 50
    elif obj["kind"] == "RayJob":
        obj["spec"]["backoffLimit"] = 50
    else:
        obj["spec"]["backoffLimitPerIndex"] = 50


def _bypass_child_job_retries(obj):
    for job in obj["spec"]["replicatedJobs"]:
        spec = job["template"]["spec"]
        spec.pop("backoffLimitPerIndex", None)
        spec.pop("maxFailedIndexes", None)
        spec["backoffLimit"] = 50


def _bypass_default_retries(obj):
    """A Job with neither limit retries 6 times (batch/v1 JobSpec.backoffLimit's default)."""
    obj["spec"].pop("backoffLimitPerIndex", None)
    obj["spec"].pop("maxFailedIndexes", None)
    obj["spec"].pop("backoffLimit", None)


BYPASSES = [
    ("team-a-my-ports.yaml", "team", _bypass_forbidden_image, "does not match the pattern"),
    ("team-a-my-ports.yaml", "team", _bypass_gpus, "GPUs above the maximum|total gpus"),
    (
        "team-a-my-ports.yaml",
        "team",
        _bypass_gpus_split_over_containers,
        "GPUs above the maximum|total gpus",
    ),
    (
        "team-a-my-ports.yaml",
        "team",
        _bypass_gpus_in_init_container,
        "GPUs above the maximum|total gpus",
    ),
    ("team-a-my-ports.yaml", "team", _bypass_cpus, "CPUs above the maximum"),
    ("team-a-my-ports.yaml", "team", _bypass_deadline, "activeDeadlineSeconds above the maximum"),
    ("team-a-my-ports.yaml", "team", _bypass_no_deadline, "activeDeadlineSeconds is required"),
    ("jobset-ten-workers.yaml", "other", _bypass_gpus, "GPUs above the maximum 8|total gpus"),
    ("jobset-ten-workers.yaml", "other", _bypass_too_many_pods, "total pods"),
    ("kuberay-cpu-gpu.yaml", "other", _bypass_gpus, "GPUs above the maximum 8|total gpus"),
    ("kuberay-cpu-gpu.yaml", "other", _bypass_autoscaling, "total gpus"),
    ("batchjob-indexed.yaml", "other", _bypass_deadline, "activeDeadlineSeconds above the maximum"),
    ("batchjob-indexed.yaml", "other", _bypass_cpus, "CPUs above the maximum 192"),
    ("pytorch-gpu-rdma.yaml", "other", _bypass_restarts, "retries above the maximum 5"),
    ("jobset-ten-workers.yaml", "other", _bypass_child_job_retries, "retries above the maximum 5"),
    ("kuberay-cpu-gpu.yaml", "other", _bypass_restarts, "retries above the maximum 5"),
    ("batchjob-indexed.yaml", "other", _bypass_restarts, "retries above the maximum 5"),
    ("batchjob-indexed.yaml", "other", _bypass_default_retries, "retries above the maximum 5"),
]


@pytest.mark.parametrize(
    "golden,where,change,expected",
    BYPASSES,
    ids=[f"{g[:-5]}-{c.__name__[len('_bypass_') :]}" for g, _, c, _ in BYPASSES],
)
def test_a_hand_written_bypass_is_denied(api, examples, golden, where, change, expected):
    obj = _golden(golden)
    admitted, _ = dry_run(api, obj, examples[where])
    assert admitted, "the unchanged golden output must be admitted"
    change(obj)
    admitted, message = dry_run(api, obj, examples[where])
    assert not admitted
    # the API server shows the first rule broken: a bypass may break more than the one it aims at
    assert any(text in message for text in expected.split("|")), message
    assert "policy " in message  # the message names the policy and the rule


def test_a_team_a_policy_does_not_bind_other_namespaces(api, examples):
    obj = _golden("team-a-my-ports.yaml")
    _bypass_forbidden_image(obj)
    admitted, message = dry_run(api, obj, examples["other"])
    assert admitted, message


def test_a_job_a_jobset_controls_is_not_judged_again(api, examples):
    """The JobSet controller creates the child Jobs of an admitted JobSet; they are exempt."""
    job = probe_object("Job", {PROBE_LABELS[0]: "x"})
    admitted, _ = dry_run(api, job, examples["other"])
    assert not admitted
    job["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "jobset.x-k8s.io/v1alpha2",
            "kind": "JobSet",
            "name": "owner",
            "uid": str(uuid.uuid4()),
            "controller": True,
        }
    ]
    admitted, message = dry_run(api, job, examples["other"])
    assert admitted, message


def test_audit_binds_with_audit_and_warn(control_plane, api):
    """--audit: the request is admitted, and the client is warned."""
    tag = uuid.uuid4().hex[:6]
    namespace = make_namespace(control_plane, f"adm-audit-{tag}", {SET_LABEL: tag})
    probe = {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": {"name": f"audit-{tag}"},
        "spec": {"rules": {f'spec.labels["{PROBE_LABELS[1]}"]': {"forbidden": True}}},
    }
    objects = policy_objects([yaml.safe_dump(probe)], {SET_LABEL: tag}, audit=True).objects
    assert {
        tuple(o["spec"]["validationActions"]) for o in objects if "validationActions" in o["spec"]
    } == {("Audit", "Warn")}
    apply_objects(control_plane, objects)
    try:
        job = probe_object("Job", {PROBE_LABELS[1]: "x"})
        deadline = time.monotonic() + 60
        while True:
            done = control_plane.kubectl(
                "create",
                "--dry-run=server",
                "-n",
                namespace,
                "-f",
                "-",
                input=json.dumps(job),
                check=False,
            )
            assert done.returncode == 0, done.stderr
            if PROBE_LABELS[1] in done.stderr:
                break
            assert time.monotonic() < deadline, "no warning after 60 s"
            time.sleep(0.5)
    finally:
        delete_objects(control_plane, objects)
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


# ---------------------------------------------------------------------------------------------
# parity: generated cases, `compile` and the API server side by side


def _apply_set(control_plane, api, policy_set, tag: str, other: str) -> list[dict]:
    """Apply the set's project policy, wait until it holds, then its global policy, and wait
    until that holds in ``other`` (a labelled namespace no project policy binds). The API server
    shows only the first rule broken, so each probe must meet one new policy at a time."""
    global_text, project_text = policy_set.policies
    project = policy_objects([project_text]).objects
    apply_objects(control_plane, project)
    wait_active(api, policy_set.project, PROBE_LABELS[1])
    everywhere = policy_objects([global_text], global_selector={SET_LABEL: tag}).objects
    apply_objects(control_plane, everywhere)
    wait_active(api, other, PROBE_LABELS[0])
    return project + everywhere


def test_parity_with_compile_over_generated_cases(control_plane, api):
    totals = {
        "sets": 0,
        "cases": 0,
        "objects": 0,
        "emitted-admitted": 0,
        "rejected-denied": 0,
        "rejected-invisible-admitted": 0,
    }
    mismatches = []
    for seed in range(PARITY_SETS):
        tag = f"s{seed}-{uuid.uuid4().hex[:5]}"
        namespace = make_namespace(control_plane, f"adm-{tag}", {SET_LABEL: tag})
        other = make_namespace(control_plane, f"adm-{tag}-other", {SET_LABEL: tag})
        policy_set = draw_set(seed, namespace, CASES_PER_SET)
        objects = []
        try:
            objects = _apply_set(control_plane, api, policy_set, tag, other)
            totals["sets"] += 1
            for case in policy_set.cases:
                totals["cases"] += 1
                seen = [d for d in case.errors if visible(d, case)]
                for obj in case.kind_objects:
                    totals["objects"] += 1
                    admitted, message = dry_run(api, obj, namespace)
                    expected = case.emitted is not None or not seen
                    if admitted != expected:
                        mismatches.append(
                            {
                                "seed": seed,
                                "policies": policy_set.policies,
                                "manifest": json.loads(case.manifest),
                                "compile": [f"{d.code} {d.path}: {d.message}" for d in case.errors],
                                "visible": [f"{d.code} {d.path}" for d in seen],
                                "api server": message or "admitted",
                            }
                        )
                    elif case.emitted is not None:
                        totals["emitted-admitted"] += 1
                    elif seen:
                        totals["rejected-denied"] += 1
                    else:
                        totals["rejected-invisible-admitted"] += 1
        finally:
            delete_objects(control_plane, objects)
            for name in (namespace, other):
                control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
    print(f"\nadmission parity: {json.dumps(totals)}")
    assert mismatches == [], json.dumps(mismatches[:5], indent=1)
    assert totals["emitted-admitted"] > 20 and totals["rejected-denied"] > 20, totals


# ---------------------------------------------------------------------------------------------
# parity on the policy oracle's cases (tests/policy_oracle.py): its generator and its judge

ORACLE_SEED = 16
ORACLE_CASES = 40
COMPILER_WRITTEN = (QUEUE, PRIORITY) = (
    "kueue.x-k8s.io/queue-name",
    "kueue.x-k8s.io/priority-class",
)
HELD = {  # rule path shape -> the rule keys the admission policies hold (README table)
    "image": {"pattern", "options", "required"},
    "count": {"min", "max"},
    "amount": {"min", "max"},
    "product": {"options", "pattern", "required"},
    "deadline": {"min", "max", "required"},
    "label": {"required", "options", "pattern", "forbidden"},
}


def _shape(path: list[str]) -> str | None:
    if path == ["spec", "image"]:
        return "image"
    if path in (["spec", "timeout"], ["spec", "activeDeadlineSeconds"]):
        return "deadline"
    if path in (["spec", "queue"], ["spec", "priority"]) or (
        len(path) == 3 and path[:2] == ["spec", "labels"]
    ):
        return "label"
    if len(path) >= 4 and path[:2] == ["spec", "types"]:
        rest = path[3:] if path[2] != "Workers" else path[4:]
        if rest == ["count"]:
            return "count"
        if rest in (["resources", "cpus"], ["resources", "memory"]) or rest == [
            "resources",
            "accelerators",
            "gpu",
            "count",
        ]:
            return "amount"
        if rest == ["resources", "accelerators", "gpu", "product"]:
            return "product"
    return None


def held_policies(policies: list[dict]) -> list[dict]:
    """The policies reduced to what the cluster holds: rules and keys of the README's table;
    `forbidden` on a label only when neither the compiler nor a policy default writes it."""
    from policy_oracle import split_path

    defaulted = set()
    for policy in policies:
        spec = ((policy.get("spec") or {}).get("defaults") or {}).get("spec") or {}
        defaulted |= set(spec.get("labels") or {})
        if spec.get("queue"):
            defaulted.add(QUEUE)
        if spec.get("priority"):
            defaulted.add(PRIORITY)
    out = []
    for policy in policies:
        spec = policy.get("spec") or {}
        rules = {}
        for text, rule in (spec.get("rules") or {}).items():
            path = split_path(text)
            shape = _shape(path)
            if shape is None:
                continue
            kept = {k: v for k, v in rule.items() if k in HELD[shape]}
            if shape == "label" and kept.get("forbidden"):
                label = {"queue": QUEUE, "priority": PRIORITY}.get(path[1], path[-1])
                written = path[1] == "labels" and label in COMPILER_WRITTEN
                if written or label in defaulted:
                    kept.pop("forbidden")
            if kept:
                rules[text] = kept
        reduced = copy.deepcopy(policy)
        reduced["spec"] = {"rules": rules, "limits": spec.get("limits") or {}}
        out.append(reduced)
    return out


def _without_rules(policies: list[dict]) -> list[dict]:
    out = copy.deepcopy(policies)
    for policy in out:
        policy["spec"] = {
            k: v for k, v in (policy.get("spec") or {}).items() if k not in ("rules", "limits")
        }
    return out


def _rename(case, index: int, tag: str):
    """The case with its projects made namespaces of this test (team-a -> A, team-b -> B) and
    its policies named per case, so that all cases' policies can be applied at once."""
    case = copy.deepcopy(case)
    projects = {"team-a": f"orc-{tag}-{index}-a", "team-b": f"orc-{tag}-{index}-b"}
    for policy in case.policies:
        metadata = policy["metadata"]
        metadata["name"] = f"o{index}-{tag}-{metadata['name']}"
        if metadata.get("project"):
            metadata["project"] = projects[metadata["project"]]
    for document in [case.workload, *case.templates]:
        if document.get("project") in projects:
            document["project"] = projects[document["project"]]
    return case, projects


def _with_probe(policy: dict, label: str) -> dict:
    """The policy with a first rule forbidding ``label``, to see when it holds."""
    probed = copy.deepcopy(policy)
    spec = probed.setdefault("spec", {})
    spec["rules"] = {f'spec.labels["{label}"]': {"forbidden": True}, **(spec.get("rules") or {})}
    return probed


def test_parity_on_the_policy_oracle_cases(control_plane, api):
    from policy_oracle import compile_case, generate_cases, violations

    tag = uuid.uuid4().hex[:5]
    prepared, project_objects, global_objects = [], [], []
    totals = {
        "cases": 0,
        "objects": 0,
        "emitted-admitted": 0,
        "bypass-denied": 0,
        "bypass-admitted": 0,
        "not-compilable-without-rules": 0,
    }
    for index, original in enumerate(generate_cases(ORACLE_SEED, ORACLE_CASES)):
        case, projects = _rename(original, index, tag)
        label = f"{tag}-{index}"
        for namespace in projects.values():
            make_namespace(control_plane, namespace, {SET_LABEL: label})
        # one `compile admission` over the case's policies (what one policy allows, another's
        # default may write), split in two for applying
        texts = [
            yaml.safe_dump(
                _with_probe(
                    p, PROBE_LABELS[1] if p["metadata"].get("project") else PROBE_LABELS[0]
                ),
                sort_keys=False,
            )
            for p in case.policies
        ]
        scoped = {p["metadata"]["name"] for p in case.policies if p["metadata"].get("project")}
        for obj in policy_objects(texts, global_selector={SET_LABEL: label}).objects:
            owner = obj["metadata"]["annotations"]["manifest-compiler/policy"]
            (project_objects if owner in scoped else global_objects).append(obj)
        prepared.append((index, case, projects))
    mismatches = []
    try:
        # project policies first (each alone in its namespace A), then the global ones, seen in
        # namespace B, which only they bind: the API server names only the first rule broken
        apply_objects(control_plane, project_objects)
        for _, case, projects in prepared:
            if any(p["metadata"].get("project") for p in case.policies):
                wait_active(api, projects["team-a"], PROBE_LABELS[1])
        apply_objects(control_plane, global_objects)
        for _, case, projects in prepared:
            if any(not p["metadata"].get("project") for p in case.policies):
                wait_active(api, projects["team-b"], PROBE_LABELS[0])
        for index, case, _ in prepared:
            totals["cases"] += 1
            ok, emitted, diagnostics = compile_case(case)
            if ok:
                judged, expected = emitted, True
            else:
                bypass = copy.deepcopy(case)
                bypass.policies = _without_rules(case.policies)
                fine, judged, _ = compile_case(bypass)
                if not fine:
                    totals["not-compilable-without-rules"] += 1
                    continue
                broken = set(violations(held_policies(case.policies), judged)) - set(
                    violations([], judged)
                )
                expected = not broken
            for obj in judged:
                if obj.get("kind") not in JOB_KINDS:
                    continue
                totals["objects"] += 1
                admitted, message = dry_run(api, obj, obj["metadata"]["namespace"])
                if admitted != expected:
                    mismatches.append(
                        {
                            "case": index,
                            "policies": case.policies,
                            "workload": case.workload,
                            "sets": case.sets,
                            "compile": [
                                f"{d.code} {d.path}: {d.message}" for d in diagnostics if d.is_error
                            ],
                            "api server": message or "admitted",
                        }
                    )
                elif ok:
                    totals["emitted-admitted"] += 1
                else:
                    totals["bypass-admitted" if admitted else "bypass-denied"] += 1
    finally:
        delete_objects(control_plane, project_objects + global_objects)
        for _, _, projects in prepared:
            for namespace in projects.values():
                control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    print(f"\nadmission parity on the oracle's cases: {json.dumps(totals)}")
    assert mismatches == [], json.dumps(mismatches[:4], indent=1, default=str)
    assert totals["emitted-admitted"] > 5 and totals["bypass-denied"] > 5, totals


def test_a_large_workload_stays_within_the_cel_cost_budget(api, examples):
    """18 replicated jobs (Kueue's most pod sets), each pod with 60 variables: the CEL of every
    policy evaluates within the API server's cost limits, so the workload is admitted."""
    from admission_cases import compile_case

    types = {
        f"t{index}": {"count": 2, "resources": {"cpus": 2, "memory": 8}} for index in range(18)
    }
    manifest = {
        "kind": "AIchorManifest",
        "apiVersion": "0.2.3",
        "name": "large",
        "spec": {
            "operator": "jobset",
            "image": IMAGE,
            "command": "python train.py",
            "types": types,
            "env": {f"VAR_{index}": "x" * 40 for index in range(60)},
        },
    }
    policies = [p.read_text() for p in sorted((REPO / "examples" / "policies").glob("*.yaml"))]
    emitted, errors = compile_case(json.dumps(manifest), policies)
    assert errors == [], errors
    (jobset,) = [o for o in emitted if o["kind"] == "JobSet"]
    admitted, message = dry_run(api, jobset, examples["other"])
    assert admitted, message
