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

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "frameworks"
COMPILE = [sys.executable, "-m", "compiler"]
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


def env_for(control_plane) -> dict:
    env = dict(os.environ, KUBECONFIG=str(control_plane.kubeconfig), PYTHONPATH=str(REPO))
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return env


def compile_(control_plane, *args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMPILE, *args],
        cwd=cwd,
        env=env_for(control_plane),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
