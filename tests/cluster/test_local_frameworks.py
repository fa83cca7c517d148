"""The framework examples that run on the testbed's node agent (test_frameworks.py), run by
``compile local`` instead: no cluster, every pod a process on this machine, the framework's own
proof read from the run's `pod | ` prefixed output.

No control plane is started; these live beside the cluster tests because they need what those
need: the frameworks' Python environment (``make frameworks``; MC_FRAMEWORKS_VENV) first on PATH,
as a user's activated environment would be, and a network namespace of their own
(``testbed/isolated``: torchrun, xgboost and Ray bind wildcard addresses). ``make cluster`` runs
them. Each test prints how long its run took (measured, not asserted)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from cluster_support import REPO

DATA = REPO / "tests" / "data" / "frameworks"
VENV = Path(os.environ.get("MC_FRAMEWORKS_VENV") or REPO / ".venv-frameworks")
PROOF = re.compile(r"^(?P<pod>\S+) \| proof: (?P<rest>.*)$", re.M)


@pytest.fixture
def run_dir():
    """A short TMPDIR for the run (Ray's socket paths must stay under 108 bytes): the runner's
    own directory lands in it, so every process of the run carries it in its environment."""
    path = Path(tempfile.mkdtemp(prefix="mclf-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_environment() -> None:
    if os.environ.get("MC_ISOLATED") != "1":
        pytest.fail(
            "the framework tests bind wildcard addresses: run them in a network namespace of "
            "their own, `testbed/isolated .venv/bin/pytest tests/cluster`"
        )
    if not (VENV / "bin" / "python").exists():
        pytest.fail(
            f"no frameworks environment at {VENV}: run `make frameworks`, or point "
            "MC_FRAMEWORKS_VENV at one"
        )


def processes_with(marker: str) -> list[int]:
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


def compile_local(example: str, image: str, run_dir: Path, *args: str):
    """`compile local tests/data/frameworks/<example>.yaml` in the image's stand-in directory,
    with the frameworks' environment first on PATH; (result, seconds)."""
    check_environment()
    env = dict(
        os.environ,
        PATH=f"{VENV / 'bin'}:{os.environ['PATH']}",
        PYTHONPATH=str(REPO),
        TMPDIR=str(run_dir),
    )
    argv = [sys.executable, "-m", "compiler", "local", str(DATA / f"{example}.yaml"), *args]
    t0 = time.monotonic()
    result = subprocess.run(
        argv, cwd=DATA / "images" / image, env=env, capture_output=True, text=True, timeout=600
    )
    seconds = time.monotonic() - t0
    print(f"\n{example}: compile local took {seconds:.1f}s", file=sys.stderr)
    assert processes_with(f"TMPDIR={run_dir}/") == [], "processes of the run still alive"
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result, seconds


def proofs(output: str) -> list[dict]:
    found = []
    for match in PROOF.finditer(output):
        fields = dict(kv.split("=", 1) for kv in match.group("rest").split() if "=" in kv)
        fields["pod"] = match.group("pod")
        found.append(fields)
    return found


def test_jobset_heavy_and_workers_sees_every_global_index_once(run_dir, tmp_path):
    secrets = tmp_path / "secrets"
    (secrets / "wandb").mkdir(parents=True)
    (secrets / "wandb" / "api-key").write_text("k-123")
    result, _ = compile_local("jobset", "fw-jobset", run_dir, "--secrets", str(secrets))
    seen = proofs(result.stdout)
    assert sorted(int(p["JOB_GLOBAL_INDEX"]) for p in seen) == list(range(8)), seen
    assert {p["GLOBAL_REPLICAS"] for p in seen} == {"8"}
    assert {p["WANDB_API_KEY"] for p in seen} == {"set"}
    assert [p["JOB_GLOBAL_INDEX"] for p in seen if p["REPLICATED_JOB_NAME"] == "worker-heavy"] == [
        "0"
    ]
    # each pod runs under its JobSet hostname, and its output carries its pod's name
    assert {p["host"] for p in seen} == {f"heavy-and-workers-worker-{i}-0" for i in range(7)} | {
        "heavy-and-workers-worker-heavy-0-0"
    }
    assert all(p["pod"] == p["host"] for p in seen)


def test_batchjob_pods_print_each_completion_index(run_dir):
    result, _ = compile_local("batchjob", "fw-batch", run_dir)
    seen = proofs(result.stdout)
    assert sorted(int(p["JOB_COMPLETION_INDEX"]) for p in seen) == [0, 1, 2, 3], seen


def test_jax_processes_form_one_group(run_dir):
    result, _ = compile_local("jax", "fw-jax", run_dir)
    seen = proofs(result.stdout)
    assert sorted(int(p["process_index"]) for p in seen) == [0, 1, 2], seen
    assert {p["process_count"] for p in seen} == {"3"}


def test_torchrun_without_flags_forms_one_gloo_group(run_dir):
    result, _ = compile_local("pytorch", "fw-torch", run_dir)
    seen = proofs(result.stdout)
    assert sorted(int(p["rank"]) for p in seen) == [0, 1, 2], seen
    assert {p["world_size"] for p in seen} == {"3"}
    assert {p["all_reduce"] for p in seen} == {"3"}
    master = [p for p in seen if p["rank"] == "0"]
    assert [p["pod"] for p in master] == ["ddp-proof-master-0-0"]  # the master is rank 0


def test_xgboost_workers_join_the_masters_tracker(run_dir):
    result, _ = compile_local("xgboost", "fw-xgboost", run_dir)
    seen = proofs(result.stdout)
    assert sorted(int(p["rank"]) for p in seen) == [0, 1, 2], seen
    assert {p["world_size"] for p in seen} == {"3"}
    assert {p["allreduce"] for p in seen} == {"3"}
    assert {p["trees"] for p in seen} == {"3"}


def test_kuberay_runs_the_job_on_a_local_ray_cluster(run_dir):
    result, _ = compile_local("kuberay", "fw-ray", run_dir)
    seen = proofs(result.stdout)
    assert seen, "no driver output"
    assert {p["alive_nodes"] for p in seen} == {"2"}  # the head and the one worker
    assert {p["task_nodes"] for p in seen} == {"2"}


def test_rayjob_runtime_env_with_dollars_reaches_the_driver_as_written(run_dir):
    written = yaml.safe_load((DATA / "kuberay-dollar.yaml").read_text())["spec"]["runtimeEnv"]
    expected = written["env_vars"]["PROOF_VALUE"]
    result, _ = compile_local("kuberay-dollar", "fw-ray", run_dir)
    found = re.findall(r"env-proof: (\{.*\})$", result.stdout, re.M)
    assert found, result.stdout[-3000:]
    seen = json.loads(found[-1])
    assert seen["received"] == expected, (seen, expected)
    applied = expected.replace("$HOME", seen["home"])
    assert seen["driver"] == seen["task"] == applied, (seen, applied)
