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


def _created(obj: dict) -> float:
    stamp = obj["metadata"]["creationTimestamp"]
    return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def _pods_by_rjob(control_plane, namespace) -> dict:
    listed = control_plane.kubectl_json("get", "pods", "-n", namespace)["items"]
    out: dict = {}
    for pod in listed:
        rjob = pod["metadata"]["labels"].get("jobset.sigs.k8s.io/replicatedjob-name")
        out.setdefault(rjob, []).append(pod)
    return out


def test_xgboost_workers_wait_for_a_master_started_late(control_plane, agent, namespace, tmp_path):
    """issue 21 item 2: the master's pod starts 20 s late (a slow image pull, simulated by the
    agent) and every pod tries the tracker only xgboost's default 3 times (6 s): the workers are
    created once the master is Ready (JobSet dependsOn, readiness probe on the tracker's port),
    so the group still forms and the job succeeds."""
    result, seconds = submit_and_watch(control_plane, "xgboost-late-master", namespace, tmp_path)
    assert succeeded(result), result.stdout + result.stderr + debug(control_plane, namespace, agent)
    assert seconds >= 20, seconds  # the master's pull alone takes 20 s
    seen = proofs(control_plane, "xgb-late", namespace, tmp_path)
    assert sorted(int(p["rank"]) for p in seen) == [0, 1, 2], seen
    assert {p["allreduce"] for p in seen} == {"3"}
    pods = _pods_by_rjob(control_plane, namespace)
    [master] = pods["master"]
    workers = pods["worker"]
    assert len(workers) == 2
    # creation stamps have 1 s resolution: the workers came at least the pull's 20 s later
    assert all(_created(w) - _created(master) >= 19 for w in workers), (
        _created(master),
        [_created(w) for w in workers],
    )


def test_xgboost_without_depends_on_fails_when_the_master_starts_late(
    control_plane, agent, namespace, tmp_path
):
    """The same workload with dependsOn taken out of the emitted JobSet (today's output before
    item 2): the workers start beside the late master, give up after 3 tries and the JobSet
    fails before the master has even started. This is what the test above guards against."""
    import yaml

    manifest = tmp_path / "xgboost-late-master.yaml"
    shutil.copy(DATA / "xgboost-late-master.yaml", manifest)
    compiled = compile_(control_plane, str(manifest), "--namespace", namespace, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    [jobset] = [o for o in yaml.safe_load_all(compiled.stdout) if o]
    for rjob in jobset["spec"]["replicatedJobs"]:
        rjob.pop("dependsOn", None)
    applied = control_plane.kubectl("apply", "-f", "-", input=json.dumps(jobset))
    assert applied.returncode == 0, applied.stderr
    t0 = time.monotonic()

    def failed() -> dict | None:
        got = control_plane.kubectl_json("get", "jobset", "xgb-late", "-n", namespace)
        conditions = got.get("status", {}).get("conditions", [])
        return next(
            (c for c in conditions if c["type"] == "Failed" and c["status"] == "True"), None
        )

    deadline = time.monotonic() + 90
    condition = None
    worker_failed = False
    while condition is None:
        assert time.monotonic() < deadline, debug(control_plane, namespace, agent)
        pods = _pods_by_rjob(control_plane, namespace)
        worker_failed = worker_failed or any(
            p["status"].get("phase") == "Failed" for p in pods.get("worker", [])
        )
        condition = failed()
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    print(f"\nwithout dependsOn: JobSet Failed after {elapsed:.1f}s", file=sys.stderr)
    assert worker_failed, "the JobSet failed, but no worker pod was seen Failed"
    assert elapsed < 20, elapsed  # before the master's 20 s pull was over


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


def test_rayjob_runtime_env_with_dollars_reaches_the_driver_as_written(
    operator_plane, operator_agent, agent_namespace, tmp_path
):
    """issue 21 item 5 on the real KubeRay: a runtime env value with `$`, `${...}`, `$(...)`,
    `$(RAY_JOB_SUBMISSION_ID)` (a variable of the submitter container, which the kubelet would
    expand in its args), `$$` and backquotes is what Ray receives, printed by the driver
    through `compile logs`."""
    import yaml

    ns = agent_namespace
    written = yaml.safe_load((DATA / "kuberay-dollar.yaml").read_text())["spec"]["runtimeEnv"]
    expected = written["env_vars"]["PROOF_VALUE"]
    result, _ = submit_and_watch(operator_plane, "kuberay-dollar", ns, tmp_path, timeout=400)
    assert succeeded(result), (
        result.stdout + result.stderr + debug(operator_plane, ns, operator_agent)
    )
    logs = compile_(operator_plane, "logs", "ray-dollar", "-n", ns, "--all", cwd=tmp_path)
    assert logs.returncode == 0, logs.stderr
    found = re.findall(r"env-proof: (\{.*\})$", logs.stdout, re.M)
    assert found, f"no env-proof line in the RayJob's logs:\n{logs.stdout[-3000:]}"
    seen = json.loads(found[-1])
    print(f"\nray received PROOF_VALUE={seen['received']!r}", file=sys.stderr)
    print(f"ray driver saw PROOF_VALUE={seen['driver']!r}", file=sys.stderr)
    # Ray received the value exactly as written: no shell, no kubelet on the way
    assert seen["received"] == expected, (seen, expected)
    # and then applied its own documented rule in the driver's and tasks' environment
    # (ray/_private/utils.py update_envs: os.path.expandvars, so $HOME, the only variable the
    # value names that is set there, becomes the driver's home); nothing else changed
    assert "$HOME" in expected
    applied = expected.replace("$HOME", seen["home"])
    assert seen["driver"] == seen["task"] == applied, (seen, applied)


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
