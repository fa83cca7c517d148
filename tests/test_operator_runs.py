"""Issue 13, "runs as meant": what each operator's output makes the framework and the controller
do. The expected values come from the upstream sources cited in each docstring, read at the
pinned versions (KubeRay v1.7.0, JobSet v0.12.0, Kueue v0.19.2, torch's torchrun), and are
computed here from the emitted objects, never from the emitter's code.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest
from example_support import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

JS = "jobset.sigs.k8s.io/"


def compile_text(tmp_path: Path, text: str, *args: str):
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = run_cli("-o", "json", *args, str(path))
    objects = json.loads(result.stdout)["items"] if result.exit_code == 0 else []
    return result, {o["kind"]: o for o in objects}


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def field_of(entry: dict) -> str:
    return entry["valueFrom"]["fieldRef"]["fieldPath"]


PYTORCH_WORKER_FIRST = """\
    name: ddp
    spec:
      operator: pytorch
      image: trainer
      command: torchrun --nproc_per_node 8 main.py
      restartPolicy: {backoffLimit: 3}
      types:
        Worker: {count: 3, resources: {cpus: 4, ramRatio: 2}}
        Master: {count: 1, resources: {cpus: 4, ramRatio: 2}}
"""


def _global_index(jobset: dict, rjob: str, job_index: int) -> int:
    """JobSet's job-global-index: replicas of the earlier replicated jobs + the job index
    (jobset pkg/controllers/jobset_controller.go globalJobIndex)."""
    names = [r["name"] for r in jobset["spec"]["replicatedJobs"]]
    earlier = jobset["spec"]["replicatedJobs"][: names.index(rjob)]
    return sum(r["replicas"] for r in earlier) + job_index


# ---------------------------------------------------------------------------------------------
# 1, 2: pytorch


def test_pytorch_master_is_rank_0_when_the_file_writes_worker_first(tmp_path):
    """The pod MASTER_ADDR names must be RANK 0: its RANK is JobSet's global index, so Master
    must be the first replicated job whatever the file's order (SPEC 5)."""
    result, objects = compile_text(tmp_path, PYTORCH_WORKER_FIRST)
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    master_rjob = next(r for r in jobset["spec"]["replicatedJobs"] if r["name"] == "master")
    container = master_rjob["template"]["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["MASTER_ADDR"]["value"].startswith("ddp-master-0-0.")
    assert field_of(env["RANK"]) == f"metadata.annotations['{JS}job-global-index']"
    assert _global_index(jobset, "master", 0) == 0


def test_pytorch_sets_what_torchrun_reads_without_flags(tmp_path):
    """torchrun's --nnodes, --node-rank, --master-addr and --master-port default to the
    environment variables PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT
    (pytorch torch/distributed/run.py: arguments declared with ``action=env``, whose env name is
    ``PET_`` + the upper-cased flag, torch/distributed/argparse_util.py); Kubeflow's PyTorchJob
    (>= v1.7) sets them the same way. Without them `torchrun --nproc_per_node 8 main.py` trains
    each pod alone."""
    _, objects = compile_text(tmp_path, PYTORCH_WORKER_FIRST)
    jobset = objects["JobSet"]
    for rjob in jobset["spec"]["replicatedJobs"]:
        env = env_of(rjob["template"]["spec"]["template"]["spec"]["containers"][0])
        assert env["PET_NNODES"]["value"] == "4"
        assert env["PET_MASTER_ADDR"]["value"] == env["MASTER_ADDR"]["value"]
        assert env["PET_MASTER_PORT"]["value"] == env["MASTER_PORT"]["value"] == "23456"
        assert field_of(env["PET_NODE_RANK"]) == field_of(env["RANK"])
        assert env["PYTHONUNBUFFERED"]["value"] == "1"


def test_a_manifest_may_not_set_the_pet_variables(tmp_path):
    text = PYTORCH_WORKER_FIRST.replace(
        "      types:", "      env: {PET_NNODES: '1'}\n      types:"
    )
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E140" in result.stderr and "PET_NNODES" in result.stderr


def test_xgboost_master_is_rank_0_when_the_file_writes_worker_first(tmp_path):
    text = PYTORCH_WORKER_FIRST.replace("pytorch", "xgboost")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    assert jobset["spec"]["replicatedJobs"][0]["name"] == "master"
    assert _global_index(jobset, "master", 0) == 0


# ---------------------------------------------------------------------------------------------
# 8: gangs restart as gangs


@pytest.mark.parametrize("operator", ["pytorch", "xgboost", "jax", "tf"])
def test_a_gang_restarts_whole(tmp_path, operator):
    """One failed pod of a static group cannot rejoin it: each Job gets backoffLimit 0 (its
    failure fails the Job at once) and the JobSet's failurePolicy.maxRestarts recreates every
    Job (jobset api/jobset/v1alpha2/jobset_types.go FailurePolicy; "If no matching rule is
    found, the RestartJobSet action is applied")."""
    types = (
        "Master: {count: 1, resources: {cpus: 1, ramRatio: 1}}\n"
        "        Worker: {count: 2, resources: {cpus: 1, ramRatio: 1}}"
        if operator in ("pytorch", "xgboost")
        else "worker: {count: 3, resources: {cpus: 1, ramRatio: 1}}"
    )
    text = f"""\
    name: gang
    spec:
      operator: {operator}
      image: img
      command: run
      restartPolicy: {{backoffLimit: 3}}
      types:
        {types}
    """
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    # maxRestarts counts the program's failures; the rules (issue 22, tests/test_restart.py)
    # keep a disruption from counting and a timeout from restarting
    assert jobset["spec"]["failurePolicy"]["maxRestarts"] == 3
    assert {r["template"]["spec"]["backoffLimit"] for r in jobset["spec"]["replicatedJobs"]} == {0}


def test_jobset_operator_keeps_one_failure_fails_the_jobset(tmp_path):
    """AIchor's jobset semantics: no failurePolicy, so one failed Job fails the JobSet (jobset
    pkg/constants/constants.go FailedJobs); the Job retries each failed pod (the pod scope,
    issue 22: backoffLimitPerIndex)."""
    text = """\
    name: js
    spec:
      operator: jobset
      image: img
      command: run
      restartPolicy: {backoffLimit: 3}
      types:
        worker: {count: 3, resources: {cpus: 1, ramRatio: 1}}
    """
    _, objects = compile_text(tmp_path, text)
    jobset = objects["JobSet"]
    assert "failurePolicy" not in jobset["spec"]
    assert jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["backoffLimitPerIndex"] == 3


# ---------------------------------------------------------------------------------------------
# 3, 4, 5, 6, 7, 9: KubeRay

RAY = """\
    name: tune
    spec:
      operator: kuberay
      image: ray-img
      command: cd src && python train.py > out.log
      ttlSecondsAfterFinished: 604800
      ports:
        my-port: {container: 8222, external: 30222}
      types:
        Head:
          resources: {cpus: 4, ramRatio: 2, cpuLimitRatio: 2}
        Workers:
          - name: cpu
            count: 2
            resources: {cpus: 8, ramRatio: 2, cpuLimitRatio: 2}
          - name: gpu
            count: 1
            rayStartParams: {num-cpus: "3"}
            resources:
              cpus: 8
              ramRatio: 2
              accelerators: {gpu: {count: 2, product: NVIDIA-A100}}
"""

# kuberay ray-operator/controllers/ray/utils/constant.go (v1.7.0)
RAY_PORTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "metrics": 8080}


def test_ray_head_keeps_rays_ports_beside_the_users(tmp_path):
    """KubeRay's head Service takes its ports from the head container and falls back to Ray's
    defaults only when the container declares none (common/service.go getServicePorts); the
    submitter then needs the `dashboard` port ("dashboard port is not found" otherwise)."""
    result, objects = compile_text(tmp_path, RAY)
    assert result.exit_code == 0, result.stderr
    head = objects["RayJob"]["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in head["containers"][0]["ports"]}
    assert RAY_PORTS.items() <= ports.items()
    assert ports["my-port"] == 8222


def test_ray_user_port_that_takes_a_ray_port_is_refused(tmp_path):
    text = RAY.replace("{container: 8222, external: 30222}", "{container: 8265, external: 30222}")
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E306" in result.stderr


def test_rayjob_cluster_goes_away_when_the_job_ends(tmp_path):
    """With shutdownAfterJobFinishes, ttlSecondsAfterFinished is how long the RayCluster lives
    after the job (kuberay rayjob_controller.go handleShutdownAfterJobFinishes: shutdownTime =
    endTime + ttl, then deleteClusterResources; same in v1.6.0). The manifest's 7 days must not
    keep the head and workers up."""
    result, objects = compile_text(tmp_path, RAY)
    spec = objects["RayJob"]["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec.get("ttlSecondsAfterFinished", 0) == 0
    assert "W111" in result.stderr, "the manifest's TTL is not the RayJob's: said, not silent"


def _request_cpus(template: dict) -> float:
    text = template["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_ray_num_cpus_follows_the_request_not_the_limit(tmp_path):
    """KubeRay sets --num-cpus from the CPU *limit* when rayStartParams has none (common/pod.go
    generateRayStartCommand); the request is what the pod is guaranteed."""
    _, objects = compile_text(tmp_path, RAY)
    cluster = objects["RayJob"]["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == str(math.ceil(_request_cpus(head["template"])))
    cpu, gpu = cluster["workerGroupSpecs"]
    assert cpu["rayStartParams"]["num-cpus"] == "8"
    assert gpu["rayStartParams"]["num-cpus"] == "3", "the manifest's own value wins"
    assert gpu["rayStartParams"]["num-gpus"] == "2"
    assert all(isinstance(v, str) for v in cpu["rayStartParams"].values())


def _kuberay_submitter_line(entrypoint: str) -> str:
    """The shell line KubeRay's submitter runs (common/job.go GetK8sJobCommand: words joined by
    spaces, the entrypoint pasted raw after `--`), with `ray job submit` replaced by a stand-in
    that does what Ray's CLI does with its words (ray/dashboard/modules/job/cli.py:
    ``entrypoint=list2cmdline(entrypoint)``) and what its job manager then does with the
    string (run it with ``shell=True``, i.e. ``/bin/sh -c``)."""
    stand_in = (
        "import subprocess, sys; "
        "sys.exit(subprocess.run(subprocess.list2cmdline(sys.argv[1:]), shell=True).returncode)"
    )
    python = shlex.quote(os.environ.get("PYTHON", "python3"))
    # click drops the `--` before ENTRYPOINT...; python -c passes the words on as they are
    return f"if true ; then {python} -c {shlex.quote(stand_in)} {entrypoint.strip()} ; fi"


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_rayjob_entrypoint_runs_whole_on_the_cluster(tmp_path):
    """`cd src && python train.py > out.log` must run all on the cluster, through /bin/sh -c;
    pasted raw, the submitter's shell would run the `&&` and the redirection itself."""
    work = tmp_path / "w"
    (work / "src").mkdir(parents=True)
    text = RAY.replace("python train.py > out.log", "printf done > out.log")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    done = _run(
        ["bash", "-c", _kuberay_submitter_line(objects["RayJob"]["spec"]["entrypoint"])], work
    )
    assert done.returncode == 0, done.stderr
    assert (work / "src" / "out.log").read_text() == "done"
    assert not (work / "out.log").exists()


_SHELL_TEXT = st.text(
    alphabet=st.sampled_from(list("ab $`\\\"'\t;&|<>(){}*?~#!=%\n-")), min_size=0, max_size=24
)


@settings(max_examples=30, deadline=None)
@given(value=_SHELL_TEXT)
def test_rayjob_entrypoint_passes_any_command_text_unchanged(tmp_path_factory, value):
    """Over generated text with every shell-special character: the command Ray's shell runs
    prints exactly what the same command prints run directly with /bin/sh -c."""
    from compiler.emit.rayjob import entrypoint

    command = f"printf '%s' {shlex.quote(value)}"
    work = tmp_path_factory.mktemp("e")
    direct = _run(["/bin/sh", "-c", command], work)
    through = _run(["bash", "-c", _kuberay_submitter_line(entrypoint(command))], work)
    assert through.stdout == direct.stdout == value


def test_kuberay_multi_host_tpu_group_has_num_of_hosts(tmp_path):
    """A 4x4 slice with 4 chips a pod is 4 hosts: KubeRay's workerGroupSpecs[].numOfHosts
    (raycluster_types.go), each replica being one slice."""
    text = """\
    name: tpu
    spec:
      operator: kuberay
      image: img
      command: python run.py
      types:
        Head: {resources: {cpus: 2, ramRatio: 2}}
        Workers:
          - name: tpu
            count: 2
            resources:
              cpus: 8
              ramRatio: 2
              accelerators: {tpu: {type: tpu-v5-lite-podslice, topology: 4x4, tpuChipsCount: 4}}
    """
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    [group] = objects["RayJob"]["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert (group["replicas"], group["numOfHosts"]) == (2, 4)


def test_ray_ports_service_selects_the_head_only(tmp_path):
    """KubeRay labels the head pod ray.io/node-type=head (its workers `worker`; the submitter
    pod has no such label): the ports Service must select the head alone."""
    _, objects = compile_text(tmp_path, RAY)
    selector = objects["Service"]["spec"]["selector"]
    rayjob = objects["RayJob"]["spec"]
    cluster = rayjob["rayClusterSpec"]
    head_labels = {**cluster["headGroupSpec"]["template"]["metadata"]["labels"]}
    head_labels["ray.io/node-type"] = "head"
    assert selector.items() <= head_labels.items()
    for group in cluster["workerGroupSpecs"]:
        labels = {**group["template"]["metadata"]["labels"], "ray.io/node-type": "worker"}
        assert not selector.items() <= labels.items()
        assert "ports" not in group["template"]["spec"]["containers"][0]


def test_ports_external_is_said_to_be_cluster_internal(tmp_path):
    result, objects = compile_text(tmp_path, RAY)
    assert objects["Service"]["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert "W110" in result.stderr and "port-forward" in result.stderr


def test_a_team_a_kuberay_job_keeps_the_dashboard_port(tmp_path):
    """examples/policies force admin-port-a on team-a: the head must still declare Ray's
    `dashboard` port, or KubeRay's submitter never finds the dashboard."""
    text = (
        RAY.replace("    name: tune\n", "    name: tune\n    project: team-a\n")
        .replace("      ports:\n        my-port: {container: 8222, external: 30222}\n", "")
        .replace("image: ray-img", "image: registry.example.com/team-a/ray")
    )
    result, objects = compile_text(tmp_path, text, "-p", "examples/policies")
    assert result.exit_code == 0, result.stderr
    head = objects["RayJob"]["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    names = {p["name"] for p in head["containers"][0]["ports"]}
    assert {"dashboard", "gcs-server", "client", "metrics", "admin-port-a"} <= names
    assert "W110" not in result.stderr, "a policy's admin port is the administrator's to know"
