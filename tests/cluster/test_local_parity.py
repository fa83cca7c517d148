"""`compile local`'s plan gives every pod exactly the environment the cluster gives it.

Every example (examples/*.yaml with the examples' policies and templates) is compiled once; the
same objects go to the real controllers (JobSet, the Job controller, KubeRay) with the testbed's
node agent running their pods, and to ``compiler.local.plan``. The agent records each container's
environment as the kubelet built it (``<pod dir>/env/<container>-<restart>.json``); the test
compares it, entry by entry and in order, with the plan's, after normalising what only the
cluster chooses: pod IPs, the API server's generated name suffixes and uids.

The objects are made runnable on the agent's node first, the same way for both sides: the agent's
node selector and toleration, no resource requests (the examples ask for GPUs the node has not),
PersistentVolumeClaims as emptyDirs (nothing binds them here), Kueue's labels dropped, one fresh
namespace, and each command a no-op that succeeds (every pod of every Job must start, whatever
the program would do). Ray nodes keep their resources and run the `ray start` KubeRay writes, one
worker per group (the agent's node holds that much), one RayJob at a time. None of these changes what the environment is
built from; the parity of command lines is checked through the same records.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cluster_support import REPO, poll

from compiler.local.plan import Node, plan
from compiler.local.pods import LocalPod, Plan

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
RAY_KINDS = ("RayJob",)
#: what the local folder of Secrets and ConfigMaps holds (the examples' own references)
SECRETS = {
    "huggingface": {"token": "hf-token-for-parity"},
    "s3-credentials": {"access-key": "AK", "secret-key": "SK"},
    "wandb": {"api-key": "wandb-key-for-parity"},
    "gcs-service-account": {"key.json": "{}"},
}
NO_OP = ["/bin/sh", "-c", "exit 0"]
EXCLUSIVE_DOMAIN = "cloud.google.com/gke-nodepool"


def compiled(example: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "compiler", str(example), "-p", "examples/policies"]
        + ["-t", "examples/templates"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def pod_templates(obj: dict) -> Iterator[dict]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "JobSet":
        for rjob in spec.get("replicatedJobs") or []:
            yield rjob["template"]["spec"]["template"]
    elif obj["kind"] == "Job":
        yield spec["template"]
    elif obj["kind"] == "RayJob":
        cluster = spec["rayClusterSpec"]
        yield cluster["headGroupSpec"]["template"]
        for group in cluster.get("workerGroupSpecs") or []:
            yield group["template"]
        if spec.get("submitterPodTemplate"):
            yield spec["submitterPodTemplate"]


def runnable(objects: list[dict], namespace: str) -> list[dict]:
    """The objects, placeable on the agent's node and quick to run (see the module's doc)."""
    from testbed.agent.launch import NODE_SELECTOR, TOLERATION

    out = []
    for obj in copy.deepcopy(objects):
        if obj["kind"] == "PersistentVolumeClaim":
            continue
        meta = obj["metadata"]
        meta["namespace"] = namespace
        if obj["kind"] == "JobSet":  # its claims would never bind here: their mounts go too
            claims = {
                t["metadata"]["name"]
                for policy in obj["spec"].pop("volumeClaimPolicies", None) or []
                for t in policy["templates"]
            }
            for template in pod_templates(obj):
                for container in template["spec"].get("containers") or []:
                    container["volumeMounts"] = [
                        m for m in container.get("volumeMounts") or [] if m["name"] not in claims
                    ]
        labels = meta.get("labels") or {}
        for key in [k for k in labels if k.startswith("kueue.x-k8s.io/")]:
            del labels[key]
        for template in pod_templates(obj):
            spec = template.setdefault("spec", {})
            spec["nodeSelector"] = dict(NODE_SELECTOR)
            spec["tolerations"] = [dict(TOLERATION)]
            spec.pop("affinity", None)
            for volume in spec.get("volumes") or []:
                if "persistentVolumeClaim" in volume:
                    del volume["persistentVolumeClaim"]
                    volume["emptyDir"] = {}
            is_ray_node = obj["kind"] == "RayJob" and template is not obj["spec"].get(
                "submitterPodTemplate"
            )
            for container in [*(spec.get("initContainers") or []), *spec.get("containers", [])]:
                if is_ray_node:  # `ray start` runs (KubeRay writes it), sized by the limits
                    continue
                container.pop("resources", None)
                container["command"] = list(NO_OP)
                container.pop("args", None)
        out.append(obj)
    return out


# ------------------------------------------------------------------------ comparison


def planned_env(pod: LocalPod) -> dict[str, list[list[str]]]:
    return {c.name: [list(kv) for kv in c.env] for c in (*pod.init_containers, *pod.containers)}


def normalise(value: str, replacements: dict[str, str]) -> str:
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        value = value.replace(old, new)
    return value


def differences(planned: Plan, observed: dict[str, dict]) -> list[str]:
    """Each pod's environment, planned vs observed (pod name → container → [[k, v]...]), after
    the cluster's own choices are replaced by the plan's: observed names carry the planned pod's
    IP, name and uid; what differs is listed, nothing when they agree."""
    found: list[str] = (
        [f"pods the plan does not have: {sorted(observed['<unplanned>']['containers'])}"]
        if "<unplanned>" in observed
        else []
    )
    for pod in planned.pods:
        seen = observed.get(pod.name)
        if seen is None:
            found.append(f"{pod.name}: never ran in the cluster")
            continue
        want = planned_env(pod)
        got = seen["containers"]
        for container in sorted(set(want) | set(got)):
            a, b = want.get(container), got.get(container)
            if a != b:
                found.append(f"{pod.name}/{container}: plan {a!r}\n  cluster {b!r}")
    return found


# ------------------------------------------------------------------------ the cluster's side


def records(agent_dir: Path, namespace: str) -> list[dict]:
    found = []
    for path in sorted(agent_dir.glob("p*/env/*-0.json")):
        record = json.loads(path.read_text())
        if record["namespace"] == namespace:
            found.append(record)
    return found


def first_attempt(record: dict) -> bool:
    return record["labels"].get("jobset.sigs.k8s.io/restart-attempt", "0") == "0"


def match_pods(planned: Plan, found: list[dict]) -> dict[str, dict]:
    """Observed records by planned pod name, each value normalised: the cluster's random parts
    (the API server's generateName suffix, KubeRay's RayCluster name and job id) become the
    plan's, the pod's own name and IP the planned pod's. Ray workers have no index: the
    observed pods of a group are matched with the planned ones in name order."""
    rayjobs = [w.name for w in planned.workloads if w.kind == "RayJob"]
    planned_names = {p.name for p in planned.pods}
    by_name = {p.name: p for p in planned.pods}
    workers: dict[tuple[str, str], list[str]] = {}
    for record in found:
        labels = record["labels"]
        if labels.get("ray.io/node-type") == "worker":
            key = (normalise_ray(labels["ray.io/cluster"], rayjobs), labels["ray.io/group"])
            workers.setdefault(key, [])
            if record["pod"] not in workers[key]:
                workers[key].append(record["pod"])
    observed: dict[str, dict] = {}
    for record in found:
        labels = record["labels"]
        if labels.get("ray.io/node-type") == "worker":
            key = (normalise_ray(labels["ray.io/cluster"], rayjobs), labels["ray.io/group"])
            index = sorted(workers[key]).index(record["pod"])
            name = f"{key[0]}-{key[1]}-worker-{index}"
        else:
            name = normalise_ray(re.sub(r"-[a-z0-9]{5}$", "", record["pod"]), rayjobs)
        if name not in planned_names:
            observed.setdefault("<unplanned>", {"containers": {}})["containers"][record["pod"]] = []
            continue
        entry = observed.setdefault(name, {"pod": record["pod"], "containers": {}})
        if entry["pod"] != record["pod"]:
            continue  # a replacement pod for one planned one: the first counts
        replacements = {record["pod"]: name, record["ip"]: by_name[name].ip}
        entry["containers"][record["container"]] = [
            [k, normalise_ray(normalise(v, replacements), rayjobs)] for k, v in record["env"]
        ]
    return observed


def normalise_ray(text: str, rayjobs: list[str]) -> str:
    """KubeRay's random RayCluster names and job ids (``<rayjob>-<5 random>``) as the plan's."""
    for name in rayjobs:
        text = re.sub(
            rf"(?<![a-z0-9-]){re.escape(name)}-[a-z0-9]{{5}}(?![a-z0-9])", f"{name}-local", text
        )
    return text


@pytest.fixture(scope="module")
def agent(control_plane):
    from testbed.agent.launch import AgentProcess

    node = AgentProcess(control_plane, max_pod_seconds=120).start()
    # a topology domain for the examples that ask for exclusive placement (jax's TPU slices)
    control_plane.kubectl("label", "node", "agent-0", f"{EXCLUSIVE_DOMAIN}=agent", "--overwrite")
    try:
        yield node
    finally:
        node.stop()


def apply(plane, objects: list[dict], namespace: str) -> None:
    for name, data in SECRETS.items():
        plane.kubectl(
            "create", "secret", "generic", name, "-n", namespace,
            *[f"--from-literal={k}={v}" for k, v in data.items()],
        )  # fmt: skip
    plane.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )


def agent_node() -> Node:
    return Node(
        name="agent-0",
        host_ip="127.0.0.1",
        allocatable={"cpu": "64", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"},
    )


def expected_containers(planned: Plan) -> int:
    return sum(len(p.init_containers) + len(p.containers) for p in planned.pods)


def observe(
    agent, planned: Plan, namespace: str, timeout: float, pods: list[LocalPod] | None = None
) -> dict[str, dict]:
    """The records of `pods` (default: every planned pod), once each of their containers has
    started, matched with the plan."""
    pods = list(planned.pods) if pods is None else pods
    wanted = {p.name: len(p.init_containers) + len(p.containers) for p in pods}

    def complete():
        found = [r for r in records(agent.workdir, namespace) if first_attempt(r)]
        matched = match_pods(planned, found)
        started = {n: len(matched.get(n, {}).get("containers", {})) for n in wanted}
        return matched if all(started[n] >= wanted[n] for n in wanted) else None

    try:
        return poll(f"{len(pods)} planned pods to start in {namespace}", complete, timeout=timeout)
    except pytest.fail.Exception:
        print(cluster_state(agent, namespace), file=sys.stderr)
        raise


def cluster_state(agent, namespace: str) -> str:
    """What to look at when pods did not all run: the pods not on the agent, the JobSets."""
    plane = agent.cp
    pods = plane.kubectl("get", "pods", "-n", namespace, "-o", "wide", check=False).stdout
    jobsets = plane.kubectl("get", "jobsets,jobs", "-n", namespace, check=False).stdout
    events = plane.kubectl("get", "events", "-n", namespace, check=False).stdout
    return f"{jobsets}\n{pods[-6000:]}\n{events[-6000:]}"


@pytest.fixture(scope="module")
def jobs_parity(control_plane, agent):
    """The examples that compile to JobSets and Jobs, applied together in one namespace."""
    from conftest import _new_namespace

    namespace = _new_namespace(control_plane)
    objects: list[dict] = []
    for example in EXAMPLES:
        compiled_objects = compiled(example)
        if not any(o["kind"] in RAY_KINDS for o in compiled_objects):
            objects += runnable(compiled_objects, namespace)
    planned = plan(objects, SECRETS, agent_node())
    assert not planned.diagnostics
    apply(control_plane, objects, namespace)
    observed = observe(agent, planned, namespace, timeout=240)
    yield planned, observed
    control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_every_pod_of_every_jobset_and_job_example_gets_the_planned_environment(jobs_parity):
    planned, observed = jobs_parity
    assert planned.pods, "the examples plan no pods"
    kinds = {w.kind for w in planned.workloads}
    assert kinds == {"JobSet", "Job"}
    assert differences(planned, observed) == []


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_dropped_variable_is_noticed(jobs_parity, where):
    """A plan that forgot one variable of one container no longer matches the cluster."""
    planned, observed = jobs_parity
    pods = [p for p in planned.pods if any(c.env for c in p.containers)]
    pod = {"first": pods[0], "middle": pods[len(pods) // 2], "last": pods[-1]}[where]
    container = next(c for c in pod.containers if c.env)
    dropped = container.env[len(container.env) // 2]
    thinner = dataclasses.replace(container, env=tuple(kv for kv in container.env if kv != dropped))
    mutated_pod = dataclasses.replace(
        pod, containers=tuple(thinner if c is container else c for c in pod.containers)
    )
    mutated = dataclasses.replace(
        planned, pods=tuple(mutated_pod if p is pod else p for p in planned.pods)
    )
    found = differences(mutated, observed)
    assert len(found) == 1 and found[0].startswith(f"{pod.name}/{container.name}:")


# ------------------------------------------------------------------------ KubeRay

#: every pod of the namespace goes to the agent node, including KubeRay's submitter (made without
#: a selector): kube-apiserver's PodNodeSelector and PodTolerationRestriction admission plugins
AGENT_NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "testbed.manifest-compiler/agent=true",
    "scheduler.alpha.kubernetes.io/defaultTolerations": (
        '[{"key": "testbed.manifest-compiler/agent", "operator": "Equal", "value": "true",'
        ' "effect": "NoSchedule"}]'
    ),
}
FRAMEWORKS = Path(os.environ.get("MC_FRAMEWORKS_VENV") or REPO / ".venv-frameworks")


def one_worker_per_group(objects: list[dict]) -> list[dict]:
    """A smaller copy of the same shape (every worker group, one pod each): Ray nodes really
    start here, and the machine has two cores."""
    for obj in objects:
        if obj["kind"] == "RayJob":
            for group in obj["spec"]["rayClusterSpec"].get("workerGroupSpecs") or []:
                group["replicas"] = group["minReplicas"] = group["maxReplicas"] = 1
    return objects


@pytest.fixture(scope="module")
def ray_parity(operator_plane):
    """The RayJob examples on the real KubeRay, Ray nodes running `ray start` on the agent."""
    from conftest import _new_namespace

    from testbed.agent.launch import AgentProcess

    if os.environ.get("MC_ISOLATED") != "1" or not (FRAMEWORKS / "bin" / "ray").exists():
        pytest.fail(
            "Ray's nodes bind wildcard addresses and need the frameworks environment: "
            "`testbed/isolated`, MC_FRAMEWORKS_VENV"
        )
    node = AgentProcess(
        operator_plane, venv=FRAMEWORKS, max_pod_seconds=300, pod_range="127.64.224.0/20"
    ).start()
    runs: list[tuple[Plan, dict[str, dict]]] = []
    try:
        # one RayJob at a time, each in a namespace of its own: every Ray head binds the same
        # GCS and dashboard ports, and all pods share the agent's network namespace
        for example in EXAMPLES:
            compiled_objects = compiled(example)
            if not any(o["kind"] in RAY_KINDS for o in compiled_objects):
                continue
            namespace = _new_namespace(operator_plane)
            for key, value in AGENT_NAMESPACE_ANNOTATIONS.items():
                operator_plane.kubectl("annotate", "namespace", namespace, f"{key}={value}")
            objects = runnable(one_worker_per_group(compiled_objects), namespace)
            planned = plan(objects, SECRETS, agent_node())
            assert not planned.diagnostics
            apply(operator_plane, objects, namespace)
            nodes = [p for p in planned.pods if p.group in ray_groups(planned)]
            observed = observe(node, planned, namespace, 300, nodes)
            try:  # the submitter comes once every Ray node is Ready
                observed = observe(node, planned, namespace, 600)
            except pytest.fail.Exception as e:
                print(f"{planned.workloads[0].name}: {e}", file=sys.stderr)
            runs.append((planned, observed))
            operator_plane.kubectl("delete", "namespace", namespace, "--wait=false")
            gone = functools.partial(no_pods_left, operator_plane, namespace)
            poll("the RayJob's pods gone", gone, 180)
        yield runs
    finally:
        node.stop()


def no_pods_left(plane, namespace: str) -> bool:
    found = plane.kubectl("get", "pods", "-n", namespace, "-o", "name", check=False)
    return found.returncode == 0 and not found.stdout.split()


def ray_groups(planned: Plan) -> set[str]:
    return {g.name for g in planned.groups if g.service}


def test_every_ray_node_of_every_rayjob_example_gets_the_planned_environment(ray_parity):
    """The head and the workers (and their wait-gcs-ready init containers), as KubeRay builds
    them."""
    assert len(ray_parity) == 2
    for planned, observed in ray_parity:
        nodes = [p for p in planned.pods if p.group in ray_groups(planned)]
        assert {w.kind for w in planned.workloads} == {"RayJob"}
        assert differences(dataclasses.replace(planned, pods=tuple(nodes)), observed) == []


def test_every_rayjob_examples_submitter_gets_the_planned_environment(ray_parity):
    """The submitter Job's `ray job submit` (KubeRay creates it once the cluster is Ready)."""
    for planned, observed in ray_parity:
        submitters = [p for p in planned.pods if p.group not in ray_groups(planned)]
        assert len(submitters) == 1
        assert differences(dataclasses.replace(planned, pods=tuple(submitters)), observed) == []
