"""Issue 20 on the testbed's kube-apiserver: the pod is the door.

Every object the issue lists as admitted around a policy is sent here, by a researcher as a
cluster would have one (a user with the `edit` ClusterRole in the project's namespace, the CRDs
aggregated into it, impersonated with `kubectl --as`), created for real where a controller has
to act (a JobSet's child Job, a running pod to debug). Each must be denied, and the objects a
compiled example makes (JobSet, Job and bare pods, and the pods their controllers make) admitted.

The example policies are bound to namespaces this module makes (project policies by name,
global ones by a namespace label), except in the test of the system namespaces, which applies
the global example policy as `compile admission` prints it and removes it again.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_support import poll  # noqa: E402

from compiler.admission import admission_objects  # noqa: E402
from compiler.catalog import build_catalog  # noqa: E402
from compiler.parse import load_documents  # noqa: E402
from compiler.render import to_yaml  # noqa: E402
from compiler.validate.policy import loaded_policy  # noqa: E402
from testbed.controlplane.controller_manager import wait_default_service_account  # noqa: E402

RESEARCHER = "researcher@example.com"
IMAGE = "registry.example.com/team-a/trainer:1.0"
EVIL = "evil.example.net/miner:latest"
QUEUE = "kueue.x-k8s.io/queue-name"
SET_LABEL = "admission.test/set"
# a second project policy of team A: what the example's does not bound
EXTRA_RULES = {
    "spec.types.*.resources.memory": {"max": 64},
    "spec.types.*.resources.accelerators.gpu.product": {"options": ["NVIDIA-H100-80GB-HBM3"]},
}


def policy_objects(texts: list[str], global_selector=None) -> list[dict]:
    documents = []
    for index, text in enumerate(texts):
        parsed, problems = load_documents(text, f"policy-{index}.yaml")
        assert not problems, problems
        documents += parsed
    catalog = build_catalog([], policy_documents=documents)
    assert not catalog.diagnostics, catalog.diagnostics
    policies = [loaded_policy(d) for d in catalog.policies]
    result = admission_objects(policies, global_selector=global_selector)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.objects


def make_namespace(control_plane, name: str, labels: dict | None = None) -> str:
    control_plane.kubectl("create", "namespace", name)
    if labels:
        control_plane.kubectl("label", "namespace", name, *[f"{k}={v}" for k, v in labels.items()])
    return name


def apply_objects(control_plane, objects: list[dict]) -> None:
    control_plane.kubectl("apply", "-f", "-", input=to_yaml(objects))


def delete_objects(control_plane, objects: list[dict]) -> None:
    for obj in objects:
        kind, name = obj["kind"].lower(), obj["metadata"]["name"]
        control_plane.kubectl("delete", kind, name, "--wait=false", check=False)


def _examples(team: str, quota_team: str) -> list[str]:
    texts = []
    for path in sorted((REPO / "examples" / "policies").glob("*.yaml")):
        text = path.read_text()
        text = text.replace("project: team-a", f"project: {team}")
        text = text.replace("project: team-b", f"project: {quota_team}")
        texts.append(text)
    extra = {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": {"name": f"extra-{team}", "project": team},
        "spec": {"rules": EXTRA_RULES},
    }
    allowing = {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": {"name": f"bare-{team}", "project": f"{team}-bare"},
        "spec": {
            "admission": {"allowKinds": ["Pod"]},
            "rules": {"spec.image": {"pattern": "^registry\\.example\\.com/"}},
        },
    }
    return texts + [yaml.safe_dump(extra), yaml.safe_dump(allowing)]


def _researcher_rbac(control_plane, tag: str, namespaces: list[str]) -> list[tuple[str, str]]:
    """`edit` in each namespace, with the JobSet and KubeRay kinds aggregated into it (as their
    charts do)."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": f"door-crds-{tag}",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
        },
        "rules": [
            {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets"], "verbs": ["*"]},
            # `edit` does not grant `kubectl debug`; a cluster that lets researchers debug does
            {"apiGroups": [""], "resources": ["pods/ephemeralcontainers"], "verbs": ["patch"]},
            {
                "apiGroups": ["ray.io"],
                "resources": ["rayjobs", "rayclusters", "rayservices"],
                "verbs": ["*"],
            },
        ],
    }
    objects: list[dict] = [role]
    for namespace in namespaces:
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "researcher-edit", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "edit",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RESEARCHER}
                ],
            }
        )
    control_plane.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )
    # the aggregation controller adds the CRDs' rules to `edit`
    poll(
        "the researcher may create JobSets",
        lambda: (
            control_plane.kubectl(
                "auth",
                "can-i",
                "create",
                "jobsets.jobset.x-k8s.io",
                "-n",
                namespaces[0],
                "--as",
                RESEARCHER,
                check=False,
            ).stdout.strip()
            == "yes"
        ),
    )
    return [("clusterrole", role["metadata"]["name"])]


def send(control_plane, obj: dict, namespace: str, *, dry_run: bool = True, user: str = RESEARCHER):
    """(admitted, message) of a create by ``user`` (None: the administrator)."""
    body = copy.deepcopy(obj)
    body["metadata"]["namespace"] = namespace
    args = ["create", "-n", namespace, "-f", "-", "-o", "json"]
    if dry_run:
        args.append("--dry-run=server")
    if user:
        args += ["--as", user]
    done = control_plane.kubectl(*args, input=json.dumps(body), check=False)
    if done.returncode == 0:
        return True, done.stdout
    assert "ValidatingAdmissionPolicy" in done.stderr, done.stderr  # no other refusal counts
    return False, done.stderr


def _container(name="main", image=IMAGE, cpu="1", memory="1Gi", **extra) -> dict:
    resources = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    return {"name": name, "image": image, "resources": resources, **extra}


def _pod_spec() -> dict:
    return {"restartPolicy": "Never", "containers": [_container()]}


def _labels() -> dict:
    return {QUEUE: "team-a"}


def jobset(name="door-js") -> dict:
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": name, "labels": _labels()},
        "spec": {
            "replicatedJobs": [
                {
                    "name": "worker",
                    "replicas": 1,
                    "template": {
                        "spec": {
                            "backoffLimit": 0,
                            "activeDeadlineSeconds": 3600,
                            "template": {"spec": _pod_spec()},
                        }
                    },
                }
            ]
        },
    }


def rayjob(name="door-ray") -> dict:
    head = {"spec": {"containers": [_container("ray-head")]}}
    worker = {"spec": {"containers": [_container("ray-worker")]}}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "labels": _labels()},
        "spec": {
            "entrypoint": "python x.py",
            "activeDeadlineSeconds": 3600,
            "submitterPodTemplate": {"spec": _pod_spec()},
            "rayClusterSpec": {
                "headGroupSpec": {"rayStartParams": {}, "template": head},
                "workerGroupSpecs": [
                    {"groupName": "w", "replicas": 1, "rayStartParams": {}, "template": worker}
                ],
            },
        },
    }


def job(name="door-job", labels=None) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": _labels() if labels is None else labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 3600,
            "template": {"spec": _pod_spec()},
        },
    }


def pod(name="door-pod", spec=None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": spec or _pod_spec(),
    }


def _template(obj: dict) -> dict:
    """The (first) pod spec of a JobSet, RayJob head, Job or Pod."""
    if obj["kind"] == "JobSet":
        return obj["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    if obj["kind"] == "RayJob":
        return obj["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    if obj["kind"] == "Job":
        return obj["spec"]["template"]["spec"]
    return obj["spec"]


@pytest.fixture(scope="module")
def door(control_plane):
    tag = uuid.uuid4().hex[:6]
    team = make_namespace(control_plane, f"door-a-{tag}", {SET_LABEL: tag})
    quota_team = make_namespace(control_plane, f"door-b-{tag}", {SET_LABEL: tag})
    bare = make_namespace(control_plane, f"{team}-bare", {SET_LABEL: tag})
    for namespace in (team, quota_team, bare):
        wait_default_service_account(control_plane, namespace, 120)
    cleanup = _researcher_rbac(control_plane, tag, [team, quota_team, bare])
    priority = f"vip-{tag}"
    control_plane.kubectl("create", "priorityclass", priority, "--value", "1000000")
    objects = policy_objects(_examples(team, quota_team), global_selector={SET_LABEL: tag})
    apply_objects(control_plane, objects)
    # enforced once a Deployment (a kind the door refuses) is denied in every namespace
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [_container()]},
            },
        },
    }
    for namespace in (team, quota_team):
        poll(
            f"the door of {namespace}",
            lambda ns=namespace: not send(control_plane, deployment, ns)[0],
            timeout=120,
            interval=0.5,
        )
    # and a pod rule holds on pods: a foreign image, made by a controller (the administrator)
    poll(
        "the pod rules",
        lambda: (
            not send(
                control_plane, pod(spec={"containers": [_container(image=EVIL)]}), bare, user=""
            )[0]
        ),
        timeout=120,
        interval=0.5,
    )
    yield {"team": team, "quota": quota_team, "bare": bare, "priority": priority, "tag": tag}
    delete_objects(control_plane, objects)
    for kind, name in cleanup:
        control_plane.kubectl("delete", kind, name, "--wait=false", check=False)
    control_plane.kubectl("delete", "priorityclass", priority, "--wait=false", check=False)
    for namespace in (team, quota_team, bare):
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _denied(control_plane, obj, namespace, expected: str, **kw) -> None:
    """Denied, with one of the ``|``-separated texts (the API server names one broken rule)."""
    admitted, message = send(control_plane, obj, namespace, **kw)
    assert not admitted, f"{obj['kind']} admitted"
    assert any(text in message for text in expected.split("|")), message


# ---------------------------------------------------------------------------------------------
# the compliant objects are admitted (each test's control)


@pytest.mark.parametrize("make", [jobset, rayjob], ids=["jobset", "rayjob"])
def test_a_compliant_workload_is_admitted(control_plane, door, make):
    admitted, message = send(control_plane, make(), door["team"])
    assert admitted, message


# ---------------------------------------------------------------------------------------------
# kinds compile never emits


def _deployment(kind: str) -> dict:
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [_container(image=EVIL, cpu="30")]},
    }
    spec: dict = {"selector": {"matchLabels": {"app": "x"}}, "template": template}
    if kind == "StatefulSet":
        spec["serviceName"] = "x"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": kind.lower()}, "spec": spec}


def _cronjob() -> dict:
    bad = job()
    del bad["spec"]["activeDeadlineSeconds"]
    _template(bad)["containers"] = [_container(image=EVIL, cpu="30")]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "cron"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": bad["spec"]}},
    }


def _raycluster() -> dict:
    cluster = rayjob()["spec"]["rayClusterSpec"]
    cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = EVIL
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc"},
        "spec": cluster,
    }


def _bare_pod() -> dict:
    return pod(spec={"containers": [_container(image=EVIL, cpu="30")]})


@pytest.mark.parametrize(
    "make",
    [
        _bare_pod,
        lambda: pod("compliant"),
        lambda: _deployment("Deployment"),
        lambda: _deployment("StatefulSet"),
        _raycluster,
        _cronjob,
    ],
    ids=["pod", "compliant-pod", "deployment", "statefulset", "raycluster", "cronjob"],
)
def test_a_kind_compile_never_emits_is_refused_in_a_project_namespace(control_plane, door, make):
    # a bare Pod breaks the pod rules too: either refusal holds it
    _denied(control_plane, make(), door["team"], "is not admitted|does not match", dry_run=False)


def test_a_bare_pod_is_admitted_where_a_policy_allows_it_and_still_meets_the_pod_rules(
    control_plane, door
):
    admitted, message = send(control_plane, pod("fine"), door["bare"], dry_run=False)
    assert admitted, message
    _denied(control_plane, _bare_pod(), door["bare"], "does not match the pattern")


# ---------------------------------------------------------------------------------------------
# owned Jobs: created beside a real JobSet, patched


def _running_jobset(control_plane, door) -> tuple[dict, dict]:
    """A compliant JobSet the researcher creates for real, and its child Job once made."""
    name = f"real-{uuid.uuid4().hex[:5]}"
    admitted, out = send(control_plane, jobset(name), door["team"], dry_run=False)
    assert admitted, out
    owner = json.loads(out)
    child = poll(
        "the JobSet's child Job",
        lambda: (
            control_plane.kubectl_json(
                "get", "jobs", "-n", door["team"], "-l", f"jobset.sigs.k8s.io/jobset-name={name}"
            )["items"]
            or [None]
        )[0],
        timeout=90,
    )
    return owner, child


def test_a_job_owned_by_a_real_jobset_meets_the_job_rules(control_plane, door):
    owner, _ = _running_jobset(control_plane, door)
    forged = job("forged")
    forged["metadata"]["labels"] = {}  # no queue: only an exemption would admit it
    _template(forged)["containers"] = [_container(image=EVIL, cpu="90")]
    forged["spec"]["parallelism"] = forged["spec"]["completions"] = 40
    forged["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "jobset.x-k8s.io/v1alpha2",
            "kind": "JobSet",
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
        }
    ]
    _denied(control_plane, forged, door["team"], "policy ", dry_run=False)


def test_a_jobsets_child_job_cannot_be_patched_past_its_owner(control_plane, door):
    _, child = _running_jobset(control_plane, door)
    done = control_plane.kubectl(
        "patch",
        "job",
        child["metadata"]["name"],
        "-n",
        door["team"],
        "--as",
        RESEARCHER,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"parallelism": 40}}),
        check=False,
    )
    assert done.returncode != 0, done.stdout
    assert "ValidatingAdmissionPolicy" in done.stderr, done.stderr


def test_the_pods_a_jobsets_job_makes_are_admitted_and_cannot_be_debugged_with_a_foreign_image(
    control_plane, door
):
    owner, _ = _running_jobset(control_plane, door)
    name = owner["metadata"]["name"]
    running = poll(
        "a pod of the JobSet",
        lambda: (
            control_plane.kubectl_json(
                "get", "pods", "-n", door["team"], "-l", f"jobset.sigs.k8s.io/jobset-name={name}"
            )["items"]
            or [None]
        )[0],
        timeout=90,
    )
    debug = control_plane.kubectl(
        "debug",
        running["metadata"]["name"],
        "-n",
        door["team"],
        "--as",
        RESEARCHER,
        "--image",
        EVIL,
        "--container",
        "dbg",
        "--",
        "true",
        check=False,
    )
    assert debug.returncode != 0, debug.stdout
    assert "does not match the pattern" in debug.stderr, debug.stderr


# ---------------------------------------------------------------------------------------------
# RayJob: the autoscaler, minReplicas


def test_a_rayjobs_autoscaler_is_judged(control_plane, door):
    obj = rayjob()
    cluster = obj["spec"]["rayClusterSpec"]
    cluster["enableInTreeAutoscaling"] = True
    # bounded: KubeRay's CRD defaults maxReplicas to 2^31-1, past every pod total
    cluster["workerGroupSpecs"][0]["maxReplicas"] = 1
    cluster["autoscalerOptions"] = {"image": EVIL}
    _denied(control_plane, obj, door["team"], "does not match the pattern")
    cluster["autoscalerOptions"] = {
        "resources": {"requests": {"cpu": "100"}, "limits": {"cpu": "100", "nvidia.com/gpu": "8"}}
    }
    _denied(control_plane, obj, door["team"], "above the maximum")


def test_autoscaling_without_max_replicas_counts_kuberays_default(control_plane, door):
    obj = rayjob()
    obj["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] = True  # maxReplicas: 2^31-1
    # the totals or the count rule: the API server names one
    _denied(control_plane, obj, door["team"], "total |replicas above the maximum")


def test_a_rayjobs_min_replicas_count(control_plane, door):
    obj = rayjob()
    group = obj["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    group.update(replicas=0, minReplicas=50, maxReplicas=50)
    _set_gpus(group["template"]["spec"]["containers"][0], "1")
    group["template"]["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    _denied(control_plane, obj, door["team"], "total gpus")


# ---------------------------------------------------------------------------------------------
# what one pod runs: on a JobSet the researcher sends, and on a Pod a controller makes


def _set_gpus(container: dict, count: str, resource: str = "nvidia.com/gpu") -> None:
    for where in ("requests", "limits"):
        container["resources"][where][resource] = count


def _pod_level(spec):
    spec["resources"] = {"requests": {"cpu": "500"}, "limits": {"cpu": "500"}}


def _sidecars(spec):
    spec["initContainers"] = [
        _container(f"side{i}", cpu="60", restartPolicy="Always") for i in range(2)
    ]


def _image_volume(spec):
    spec["volumes"] = [{"name": "weights", "image": {"reference": EVIL}}]


def _mig(spec):
    _set_gpus(spec["containers"][0], "16", "nvidia.com/mig-1g.5gb")


def _dra(spec):
    spec["resourceClaims"] = [{"name": "gpu", "resourceClaimTemplateName": "eight-gpus"}]


def _affinity(spec):
    _set_gpus(spec["containers"][0], "1")
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "nvidia.com/gpu.product",
                                "operator": "In",
                                "values": ["Tesla-T4"],
                            }
                        ]
                    }
                ]
            }
        }
    }


def _memory_limit(spec):
    spec["containers"][0]["resources"]["limits"]["memory"] = "500Gi"


POD_BYPASSES = [
    (_pod_level, "CPUs above the maximum"),
    (_sidecars, "CPUs above the maximum"),
    (_image_volume, "does not match the pattern"),
    (_mig, "GPUs above the maximum"),
    (_dra, "DRA"),
    (_affinity, "GPU product that is not one of"),
    (_memory_limit, "GB of memory above the maximum"),
]


@pytest.mark.parametrize(
    "change,expected", POD_BYPASSES, ids=[c.__name__.strip("_") for c, _ in POD_BYPASSES]
)
def test_what_one_pod_runs_is_judged_on_the_workload_and_on_the_pod(
    control_plane, door, change, expected
):
    workload = jobset()
    change(_template(workload))
    _denied(control_plane, workload, door["team"], expected)
    made = pod()
    change(_template(made))
    # the administrator stands for the controller that makes the pod
    _denied(control_plane, made, door["team"], expected, user="")


def test_a_pod_may_name_no_priority_class_the_policies_do_not_allow(control_plane, door):
    made = pod()
    made["spec"]["priorityClassName"] = door["priority"]
    _denied(control_plane, made, door["team"], "PriorityClass", user="")


# ---------------------------------------------------------------------------------------------
# a quota requires the queue label


def test_a_project_with_a_quota_and_no_rules_requires_the_queue_label(control_plane, door):
    admitted, message = send(control_plane, job(), door["quota"], dry_run=False)
    assert admitted, message
    _denied(control_plane, job("no-queue", labels={}), door["quota"], "has a quota")
    # and the pods the Job controller makes for the admitted Job come in
    poll(
        "a pod of the Job",
        lambda: control_plane.kubectl_json(
            "get", "pods", "-n", door["quota"], "-l", "job-name=door-job"
        )["items"],
        timeout=90,
    )


# ---------------------------------------------------------------------------------------------
# system namespaces


def test_global_policies_leave_the_system_namespaces_alone(control_plane):
    text = (REPO / "examples" / "policies" / "global.yaml").read_text()
    tag = uuid.uuid4().hex[:6]
    text = text.replace("name: cluster-guardrails", f"name: guardrails-{tag}")
    objects = policy_objects([text])
    other = make_namespace(control_plane, f"door-plain-{tag}")
    plain = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "plain"},
        "spec": {"template": {"spec": _pod_spec()}},  # retries 6 times: above the example's 5
    }
    apply_objects(control_plane, objects)
    try:
        poll(
            "the global policy",
            lambda: not send(control_plane, plain, other, user="")[0],
            timeout=120,
            interval=0.5,
        )
        admitted, message = send(control_plane, plain, "kube-system", user="")
        assert admitted, message
    finally:
        delete_objects(control_plane, objects)
        control_plane.kubectl("delete", "namespace", other, "--wait=false", check=False)


# ---------------------------------------------------------------------------------------------
# the pods KubeRay makes


def test_the_pods_kuberay_makes_for_an_admitted_rayjob_are_admitted(operator_plane):
    """KubeRay makes the RayCluster (a kind the door refuses a researcher), its head and worker
    pods, and the submitter Job whose pod the Job controller makes: all admitted."""
    plane = operator_plane
    tag = uuid.uuid4().hex[:6]
    team = f"door-r-{tag}"
    project = make_namespace(plane, f"{team}-bare", {SET_LABEL: tag})
    wait_default_service_account(plane, project, 120)
    _researcher_rbac(plane, tag, [project])
    objects = policy_objects(_examples(team, f"{team}-b"), global_selector={SET_LABEL: tag})
    apply_objects(plane, objects)
    try:
        poll(
            "the door",
            lambda: not send(plane, _raycluster(), project)[0],
            timeout=120,
            interval=0.5,
        )
        obj = rayjob("kuberay-made")
        obj["metadata"]["labels"] = {}  # no quota here: Kueue leaves it alone
        admitted, message = send(plane, obj, project, dry_run=False)
        assert admitted, message
        for what, selector in (
            ("head", "ray.io/node-type=head"),
            ("worker", "ray.io/node-type=worker"),
            ("submitter", "job-name=kuberay-made"),
        ):
            poll(
                f"KubeRay's {what} pod",
                lambda sel=selector: plane.kubectl_json("get", "pods", "-n", project, "-l", sel)[
                    "items"
                ],
                timeout=180,
            )
    finally:
        delete_objects(plane, objects)
        plane.kubectl("delete", "namespace", project, "--wait=false", check=False)
