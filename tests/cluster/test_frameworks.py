"""Real frameworks forming their groups on the testbed's node agent (testbed/agent).

Each example in tests/data/frameworks/ is compiled and submitted by the ``compile`` program
(``compile submit --watch``), the real JobSet/Job controllers and kube-scheduler place its pods on
the agent's node, and the agent runs them as processes with the environment the kubelet would
give them. A test passes only on the framework's own proof, read back through ``compile logs``.

Needs the frameworks' Python environment (``make frameworks``; MC_FRAMEWORKS_VENV, default
<repo>/.venv-frameworks) and a network namespace of its own (``testbed/isolated``): torchrun,
xgboost and Ray bind wildcard addresses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster_support import REPO
from cluster_support import compile_ as run_compile

DATA = REPO / "tests" / "data" / "frameworks"
VENV = Path(os.environ.get("MC_FRAMEWORKS_VENV") or REPO / ".venv-frameworks")
PROOF = re.compile(r"^(?:(?P<pod>\S+) \| )?proof: (?P<rest>.*)$", re.M)


def check_environment() -> None:
    if os.environ.get("MC_ISOLATED") != "1":
        pytest.fail(
            "the framework tests bind wildcard addresses: run them in a network namespace of "
            "their own, `testbed/isolated .venv/bin/pytest tests/cluster`"
        )
    if not (VENV / "bin" / "python").exists():
        pytest.fail(
            f"no frameworks environment at {VENV} (torch, jax[cpu], xgboost-cpu, ray[default]): "
            "run `make frameworks`, or point MC_FRAMEWORKS_VENV at one"
        )


def stop_agent(node) -> None:
    node.stop()
    leftover = processes_with(f"TMPDIR={node.workdir}")
    shutil.rmtree(node.workdir, ignore_errors=True)
    assert not leftover, f"processes of the agent's pods still running: {leftover}"


@pytest.fixture(scope="module")
def agent(control_plane):
    from testbed.agent.launch import AgentProcess

    check_environment()
    node = AgentProcess(
        control_plane, venv=VENV, image_root=DATA / "images", max_pod_seconds=300
    ).start()
    print(f"\nagent node Ready in {node.seconds:.1f}s", file=sys.stderr)
    try:
        yield node
    finally:
        stop_agent(node)


def processes_with(marker: str) -> list[int]:
    """PIDs whose environment has `marker` (every pod process has its pod's TMPDIR)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def compile_(control_plane, *args, cwd, timeout=300) -> subprocess.CompletedProcess:
    """`compile ARGS`, given the time a real framework takes to start."""
    return run_compile(control_plane, *args, cwd=cwd, timeout=timeout)


def submit_and_watch(control_plane, example, namespace, tmp_path, timeout=300):
    """`compile submit --watch` of tests/data/frameworks/<example>.yaml; (result, seconds)."""
    manifest = tmp_path / f"{example}.yaml"
    shutil.copy(DATA / f"{example}.yaml", manifest)  # outside the repository: no git record
    t0 = time.monotonic()
    result = compile_(
        control_plane,
        "submit",
        str(manifest),
        "-n",
        namespace,
        "--watch",
        cwd=tmp_path,
        timeout=timeout,
    )
    seconds = time.monotonic() - t0
    print(f"\n{example}: submit --watch took {seconds:.1f}s", file=sys.stderr)
    return result, seconds


def proofs(control_plane, name, namespace, tmp_path) -> list[dict]:
    """Every pod's `proof:` line, via `compile logs --all` (the kubelet log endpoint)."""
    result = compile_(control_plane, "logs", name, "-n", namespace, "--all", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = []
    for match in PROOF.finditer(result.stdout):
        fields = dict(kv.split("=", 1) for kv in match.group("rest").split() if "=" in kv)
        fields["pod"] = match.group("pod") or ""
        found.append(fields)
    return found


def debug(control_plane, namespace, agent) -> str:
    """The pods, the output of those that did not succeed, and the agent's log."""
    pods = control_plane.kubectl("get", "pods", "-n", namespace, "-o", "wide", check=False)
    out = f"{pods.stdout}{pods.stderr}"
    listed = control_plane.kubectl("get", "pods", "-n", namespace, "-o", "json", check=False)
    for pod in json.loads(listed.stdout or '{"items": []}')["items"]:
        if pod["status"].get("phase") == "Succeeded":
            continue
        name = pod["metadata"]["name"]
        logs = control_plane.kubectl("logs", name, "-n", namespace, "--tail=30", check=False)
        states = [c.get("state") for c in pod["status"].get("containerStatuses") or []]
        out += f"\n--- {name} {states}\n{logs.stdout}{logs.stderr}"
    return f"{out}\nagent log:\n{agent.tail()}"


def succeeded(result) -> bool:
    lines = result.stdout.strip().splitlines()
    return result.returncode == 0 and bool(lines) and " Succeeded " in f" {lines[-1]} "


# ---------------------------------------------------------------------------------------------


def test_jobset_heavy_and_workers_sees_every_global_index_once(
    control_plane, agent, namespace, tmp_path
):
    control_plane.kubectl(
        "create", "secret", "generic", "wandb", "--from-literal=api-key=k-123", "-n", namespace
    )
    result, _ = submit_and_watch(control_plane, "jobset", namespace, tmp_path)
    assert succeeded(result), result.stdout + result.stderr + debug(control_plane, namespace, agent)
    seen = proofs(control_plane, "heavy-and-workers", namespace, tmp_path)
    assert sorted(int(p["JOB_GLOBAL_INDEX"]) for p in seen) == list(range(8)), seen
    assert {p["GLOBAL_REPLICAS"] for p in seen} == {"8"}
    assert {p["WANDB_API_KEY"] for p in seen} == {"set"}  # secretKeyRef read from the API
    heavy = [p for p in seen if p["REPLICATED_JOB_NAME"] == "worker-heavy"]
    assert [p["JOB_GLOBAL_INDEX"] for p in heavy] == ["0"]
    # each pod runs under its JobSet hostname
    assert {p["host"] for p in seen} == {f"heavy-and-workers-worker-{i}-0" for i in range(7)} | {
        "heavy-and-workers-worker-heavy-0-0"
    }


def test_batchjob_pods_print_each_completion_index(control_plane, agent, namespace, tmp_path):
    result, _ = submit_and_watch(control_plane, "batchjob", namespace, tmp_path)
    assert succeeded(result), result.stdout + result.stderr + debug(control_plane, namespace, agent)
    seen = proofs(control_plane, "shards-proof", namespace, tmp_path)
    assert sorted(int(p["JOB_COMPLETION_INDEX"]) for p in seen) == [0, 1, 2, 3], seen


def test_jax_processes_form_one_group(control_plane, agent, namespace, tmp_path):
    result, _ = submit_and_watch(control_plane, "jax", namespace, tmp_path)
    assert succeeded(result), result.stdout + result.stderr + debug(control_plane, namespace, agent)
    seen = proofs(control_plane, "jax-proof", namespace, tmp_path)
    assert sorted(int(p["process_index"]) for p in seen) == [0, 1, 2], seen
    assert {p["process_count"] for p in seen} == {"3"}


def test_torchrun_without_flags_forms_one_gloo_group(control_plane, agent, namespace, tmp_path):
    result, _ = submit_and_watch(control_plane, "pytorch", namespace, tmp_path)
    assert succeeded(result), result.stdout + result.stderr + debug(control_plane, namespace, agent)
    seen = proofs(control_plane, "ddp-proof", namespace, tmp_path)
    assert sorted(int(p["rank"]) for p in seen) == [0, 1, 2], seen
    assert {p["world_size"] for p in seen} == {"3"}
    assert {p["all_reduce"] for p in seen} == {"3"}  # the sum over the group: its size


def test_xgboost_workers_join_the_masters_tracker(control_plane, agent, namespace, tmp_path):
    result, _ = submit_and_watch(control_plane, "xgboost", namespace, tmp_path)
    assert succeeded(result), result.stdout + result.stderr + debug(control_plane, namespace, agent)
    seen = proofs(control_plane, "xgb-proof", namespace, tmp_path)
    assert sorted(int(p["rank"]) for p in seen) == [0, 1, 2], seen
    assert {p["world_size"] for p in seen} == {"3"}
    assert {p["allreduce"] for p in seen} == {"3"}
    assert {p["trees"] for p in seen} == {"3"}


# ---------------------------------------------------------------------------------------------
# KubeRay and Kueue: the control plane that runs their controllers (conftest `operator_plane`)

#: every pod of such a namespace goes to the agent node, including the ones an operator makes
#: without a selector (KubeRay's submitter): kube-apiserver's PodNodeSelector and
#: PodTolerationRestriction admission plugins read these namespace annotations
AGENT_NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "testbed.manifest-compiler/agent=true",
    "scheduler.alpha.kubernetes.io/defaultTolerations": (
        '[{"key": "testbed.manifest-compiler/agent", "operator": "Equal", "value": "true",'
        ' "effect": "NoSchedule"}]'
    ),
}


@pytest.fixture(scope="module")
def operator_agent(operator_plane):
    from testbed.agent.launch import AgentProcess

    check_environment()
    node = AgentProcess(
        operator_plane,
        venv=VENV,
        image_root=DATA / "images",
        max_pod_seconds=300,
        pod_range="127.64.224.0/20",  # beside the other plane's agent
    ).start()
    try:
        yield node
    finally:
        stop_agent(node)


@pytest.fixture
def agent_namespace(operator_plane, operator_namespace):
    for key, value in AGENT_NAMESPACE_ANNOTATIONS.items():
        operator_plane.kubectl("annotate", "namespace", operator_namespace, f"{key}={value}")
    return operator_namespace


def test_kuberay_runs_the_job_on_a_real_ray_cluster(
    operator_plane, operator_agent, agent_namespace, tmp_path
):
    ns = agent_namespace
    result, _ = submit_and_watch(operator_plane, "kuberay", ns, tmp_path, timeout=400)
    assert succeeded(result), (
        result.stdout + result.stderr + debug(operator_plane, ns, operator_agent)
    )
    rayjob = operator_plane.kubectl_json("get", "rayjob", "ray-proof", "-n", ns)
    assert rayjob["status"]["jobStatus"] == "SUCCEEDED", rayjob["status"]
    seen = proofs(operator_plane, "ray-proof", ns, tmp_path)
    assert seen, "no driver output in the RayJob's logs"
    assert {p["alive_nodes"] for p in seen} == {"2"}  # the head and the one worker
    assert {p["task_nodes"] for p in seen} == {"2"}


KUEUE_OBJECTS = """
apiVersion: kueue.x-k8s.io/v1beta2
kind: ResourceFlavor
metadata: {{name: agent-{ns}}}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata: {{name: cq-{ns}}}
spec:
  namespaceSelector:
    matchLabels: {{kubernetes.io/metadata.name: {ns}}}
  resourceGroups:
  - coveredResources: [cpu, memory]
    flavors:
    - name: agent-{ns}
      resources:
      - {{name: cpu, nominalQuota: 8}}
      - {{name: memory, nominalQuota: 64Gi}}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata: {{name: lq, namespace: {ns}}}
spec: {{clusterQueue: cq-{ns}}}
"""


def test_kueue_runs_one_6_cpu_jobset_at_a_time_in_an_8_cpu_queue(
    operator_plane, operator_agent, agent_namespace, tmp_path
):
    ns = agent_namespace
    operator_plane.kubectl("apply", "-f", "-", input=KUEUE_OBJECTS.format(ns=ns))
    manifest = tmp_path / "kueue.yaml"
    shutil.copy(DATA / "kueue.yaml", manifest)
    first = compile_(
        operator_plane, "submit", str(manifest), "-n", ns, "--name", "q-one", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    wait_for_state(operator_plane, "q-one", ns, tmp_path, "Running")
    second = compile_(
        operator_plane, "submit", str(manifest), "-n", ns, "--name", "q-two", cwd=tmp_path
    )
    assert second.returncode == 0, second.stderr
    status = wait_for_state(operator_plane, "q-two", ns, tmp_path, "Pending")
    assert "queue" in status.lower(), status  # compile status says why it waits
    assert current_state(operator_plane, "q-one", ns, tmp_path) == "Running"

    watched = compile_(operator_plane, "watch", "q-two", "-n", ns, cwd=tmp_path, timeout=300)
    assert succeeded(watched), (
        watched.stdout + watched.stderr + debug(operator_plane, ns, operator_agent)
    )
    assert current_state(operator_plane, "q-one", ns, tmp_path) == "Succeeded"
    one = proofs(operator_plane, "q-one", ns, tmp_path)
    two = proofs(operator_plane, "q-two", ns, tmp_path)
    assert len(one) == len(two) == 2, (one, two)
    # the second started only after the first released its quota
    assert min(float(p["start"]) for p in two) >= max(float(p["end"]) for p in one), (one, two)


def current_state(plane, name, ns, tmp_path) -> str:
    result = compile_(plane, "status", name, "-n", ns, cwd=tmp_path)
    match = re.search(r"^state:\s+(\w+)", result.stdout, re.M)
    return match.group(1) if match else ""


def wait_for_state(plane, name, ns, tmp_path, state, timeout=120.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        result = compile_(plane, "status", name, "-n", ns, cwd=tmp_path)
        if re.search(rf"^state:\s+{state}\b", result.stdout, re.M):
            return result.stdout
        if time.monotonic() > deadline:
            pytest.fail(f"{name} never {state} in {timeout}s:\n{result.stdout}{result.stderr}")
        time.sleep(1)
