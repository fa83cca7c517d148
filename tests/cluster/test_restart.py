"""Issue 22 on the testbed: the restart vocabulary with pods that really run and really fail.

A pytorch gang (a JobSet of the workload scope: Master and one Worker, restarted whole) and a
batchjob (a batch/v1 Job of the pod scope, two indexes) are compiled and submitted by ``compile``;
the real JobSet and Job controllers run them, and the node agent (testbed/agent) runs their pods
as processes. Each pod's shell command decides its fate from marker files in a directory of the
machine that every pod of the agent sees (the agent's pods share the machine's file system
outside their volumes): so "rank 1 fails on its first attempt only" holds across attempts.

- a crash on the first attempt only: exactly one restart (JobSet ``status.restarts`` 1, counted;
  the Job's ``status.failed`` 1), then success;
- exit 42 with ``failOnExitCodes: [42]``: Failed at once, no restart, and ``compile status``
  names the pod and the exit code;
- a pod evicted through the eviction API (which sets ``DisruptionTarget``) with ``backoffLimit:
  0``: restarted (JobSet) or replaced (Job) without counting, then success;
- a timeout: Failed with ``DeadlineExceeded``, no new attempt.

A RayJob gets what KubeRay honours, proven on the KubeRay plane with real Ray: a failed attempt
is retried once on a new RayCluster (``backoffLimit: 1``: ``status.failed`` 1, then Complete),
and a deadline fails it with ``DeadlineExceeded`` and no retry although ``backoffLimit: 2``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
import test_frameworks
from cluster_support import compile_, poll

AGENT_SELECTOR = """\
        extraSelectors:
          testbed.manifest-compiler/agent: "true"
        extraTolerations:
          - key: testbed.manifest-compiler/agent
            operator: Equal
            value: "true"
            effect: NoSchedule
"""


@pytest.fixture(scope="module")
def agent(control_plane):
    from testbed.agent.launch import AgentProcess

    node = AgentProcess(control_plane, max_pod_seconds=300).start()
    print(f"\nagent node Ready in {node.seconds:.1f}s", file=sys.stderr)
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(node.workdir, ignore_errors=True)


def manifest(operator: str, name: str, script: str, restart: str, markers: Path, extra="") -> str:
    if operator == "pytorch":
        types = ["Master", "Worker"]
        count = 1
    else:
        types = ["shard"]
        count = 2
    body = "".join(
        f"    {t}:\n      count: {count}\n      resources:\n        cpus: 0.1\n        memory: 1\n"
        + AGENT_SELECTOR
        for t in types
    )
    command = json.dumps(f"R=${{RANK:-$JOB_COMPLETION_INDEX}}; M={markers}; {script}")
    return (
        f"name: {name}\n"
        "spec:\n"
        f"  operator: {operator}\n"
        "  image: restart-test\n"
        f"  command: {command}\n"
        f"  restartPolicy: {restart}\n"
        f"{extra}"
        "  types:\n" + body
    )


def submit(control_plane, tmp_path, namespace, text: str, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    result = compile_(control_plane, "submit", str(path), "-n", namespace, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def start(control_plane, tmp_path, namespace, operator, prefix, script, restart, extra=""):
    """Submit a job of ``operator`` named ``<prefix>-<operator>``; (its name, the markers dir)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    name = f"{prefix}-{operator[:5]}"
    text = manifest(operator, name, script, restart, markers, extra)
    submit(control_plane, tmp_path, namespace, text, name)
    return name, markers


def kind_of(operator: str) -> str:
    return "jobset" if operator == "pytorch" else "job"


def finished(control_plane, operator, name, namespace, timeout=150) -> dict:
    """The JobSet or Job once it has a true Completed/Complete or Failed condition."""
    kind = kind_of(operator)

    def done():
        obj = control_plane.kubectl_json("get", kind, name, "-n", namespace)
        for condition in obj.get("status", {}).get("conditions") or []:
            if condition["status"] == "True" and condition["type"] in (
                "Completed",
                "Complete",
                "Failed",
            ):
                return obj
        return None

    return poll(f"{kind} {name} to finish", done, timeout=timeout, interval=1)


def condition(obj: dict, kind: str) -> dict:
    [found] = [
        c for c in obj["status"]["conditions"] if c["type"] == kind and c["status"] == "True"
    ]
    return found


def child_jobs(control_plane, name, namespace) -> list[dict]:
    listed = control_plane.kubectl_json(
        "get", "jobs", "-n", namespace, "-l", f"jobset.sigs.k8s.io/jobset-name={name}"
    )
    return listed["items"]


def pods_of(control_plane, operator, name, namespace) -> list[dict]:
    label = (
        f"jobset.sigs.k8s.io/jobset-name={name}"
        if operator == "pytorch"
        else f"batch.kubernetes.io/job-name={name}"
    )
    return control_plane.kubectl_json("get", "pods", "-n", namespace, "-l", label)["items"]


OPERATORS = ["pytorch", "batchjob"]


@pytest.mark.parametrize("operator", OPERATORS)
def test_a_crash_on_the_first_attempt_only_restarts_exactly_once(
    control_plane, agent, namespace, tmp_path, operator
):
    script = 'if [ "$R" = 1 ] && [ ! -e $M/crashed ]; then touch $M/crashed; exit 1; fi; sleep 2'
    name, markers = start(
        control_plane, tmp_path, namespace, operator, "crash", script, "{backoffLimit: 1}"
    )
    obj = finished(control_plane, operator, name, namespace)
    if operator == "pytorch":
        assert condition(obj, "Completed")
        assert obj["status"].get("restarts") == 1
        assert obj["status"].get("restartsCountTowardsMax") == 1
    else:
        assert condition(obj, "Complete")
        assert obj["status"].get("failed") == 1
        assert obj["status"].get("succeeded") == 2
    assert (markers / "crashed").exists()


@pytest.mark.parametrize("operator", OPERATORS)
def test_a_fatal_exit_code_fails_at_once_and_status_names_pod_and_code(
    control_plane, agent, namespace, tmp_path, operator
):
    script = 'echo x >> $M/attempts-$R; if [ "$R" = 1 ]; then exit 42; fi; sleep 60'
    name, markers = start(
        control_plane,
        tmp_path,
        namespace,
        operator,
        "fatal",
        script,
        "{backoffLimit: 3, failOnExitCodes: [42]}",
    )
    t0 = time.monotonic()
    obj = finished(control_plane, operator, name, namespace, timeout=60)
    assert time.monotonic() - t0 < 50, "failed at once, not after the other pods' 60 s"
    assert condition(obj, "Failed")
    if operator == "pytorch":
        assert obj["status"].get("restarts", 0) == 0
        [failed] = [j for j in child_jobs(control_plane, name, namespace) if _failed(j)]
        job_condition = condition(failed, "Failed")
    else:
        job_condition = condition(obj, "Failed")
    assert job_condition["reason"] == "PodFailurePolicy"
    assert "failed with exit code 42" in job_condition["message"]
    status = compile_(control_plane, "status", name, "-n", namespace, cwd=tmp_path)
    assert status.returncode == 0 or "Failed" in status.stdout, status.stderr
    pods = [p["metadata"]["name"] for p in pods_of(control_plane, operator, name, namespace)]
    rank1 = [p for p in pods if _exit_code(control_plane, namespace, p) == 42]
    assert len(rank1) == 1, pods
    assert rank1[0] in status.stdout, status.stdout
    assert "exit code 42" in status.stdout, status.stdout
    # issue 24: the failing pod, its container, exit code and reason, as the agent reports them
    assert re.search(
        rf"pod {rank1[0]} container \S+ exited with code 42 \(Error\)", status.stdout
    ), status.stdout
    time.sleep(5)  # a retry, were there one, would start new pods within this
    for rank in (0, 1):
        assert (markers / f"attempts-{rank}").read_text() == "x\n", "one attempt per rank"


def _failed(job: dict) -> bool:
    return any(
        c["type"] == "Failed" and c["status"] == "True"
        for c in job.get("status", {}).get("conditions") or []
    )


def _exit_code(control_plane, namespace, pod: str) -> int | None:
    obj = control_plane.kubectl_json("get", "pod", pod, "-n", namespace)
    for status in obj["status"].get("containerStatuses") or []:
        terminated = status.get("state", {}).get("terminated")
        if terminated:
            return terminated.get("exitCode")
    return None


@pytest.mark.parametrize("operator", OPERATORS)
def test_an_evicted_pod_restarts_without_using_up_the_backoff_limit(
    control_plane, agent, namespace, tmp_path, operator
):
    # the first attempt of every rank marks itself and waits (to be evicted); a later one succeeds
    script = "if [ -e $M/ran-$R ]; then exit 0; fi; touch $M/ran-$R; sleep 120"
    name, markers = start(
        control_plane, tmp_path, namespace, operator, "evict", script, "{backoffLimit: 0}"
    )
    poll(
        "every rank's first attempt running",
        lambda: all((markers / f"ran-{r}").exists() for r in (0, 1)),
        timeout=90,
    )

    def rank1_pod():
        for pod in pods_of(control_plane, operator, name, namespace):
            meta = pod["metadata"]
            index = meta.get("annotations", {}).get(
                "jobset.sigs.k8s.io/job-global-index"
                if operator == "pytorch"
                else "batch.kubernetes.io/job-completion-index"
            )
            if index == "1" and pod["status"].get("phase") == "Running":
                return meta["name"]
        return None

    victim = poll("rank 1's pod running", rank1_pod, timeout=60)
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": victim, "namespace": namespace},
    }
    control_plane.kubectl(
        "create",
        "--raw",
        f"/api/v1/namespaces/{namespace}/pods/{victim}/eviction",
        "-f",
        "-",
        input=json.dumps(eviction),
    )
    obj = finished(control_plane, operator, name, namespace, timeout=180)
    if operator == "pytorch":
        assert condition(obj, "Completed"), obj["status"]
        assert obj["status"].get("restarts") == 1
        assert obj["status"].get("restartsCountTowardsMax", 0) == 0
    else:
        assert condition(obj, "Complete"), obj["status"]
        assert obj["status"].get("succeeded") == 2
        assert obj["status"].get("failed", 0) == 0, "an ignored disruption is not counted"


@pytest.mark.parametrize("operator", OPERATORS)
def test_a_timeout_fails_with_deadline_exceeded_and_no_new_attempt(
    control_plane, agent, namespace, tmp_path, operator
):
    script = "echo x >> $M/attempts-$R; sleep 120"
    name, markers = start(
        control_plane,
        tmp_path,
        namespace,
        operator,
        "late",
        script,
        "{backoffLimit: 2}",
        "  timeout: 10s\n",
    )
    obj = finished(control_plane, operator, name, namespace, timeout=90)
    assert condition(obj, "Failed")
    if operator == "pytorch":
        assert obj["status"].get("restarts", 0) == 0
        reasons = {
            condition(j, "Failed")["reason"]
            for j in child_jobs(control_plane, name, namespace)
            if _failed(j)
        }
        assert "DeadlineExceeded" in reasons, reasons
    else:
        assert condition(obj, "Failed")["reason"] == "DeadlineExceeded"
    time.sleep(5)  # a restart, were there one, would start new pods within this
    for rank in (0, 1):
        assert (markers / f"attempts-{rank}").read_text() == "x\n", "one attempt per rank"


# ---------------------------------------------------------------------------------------------
# RayJob: what KubeRay honours (backoffLimit retries on a new RayCluster; a deadline is final)

# the KubeRay plane's agent (with Ray) and namespace, as the framework tests set them up
operator_agent = test_frameworks.operator_agent
agent_namespace = test_frameworks.agent_namespace

RAY_TYPES = """\
  types:
    Head:
      resources: {cpus: 1, memory: 2}
    Workers:
      - name: cpu
        count: 1
        resources: {cpus: 1, memory: 2}
"""


def ray_manifest(name: str, command: str, restart: str, extra: str = "") -> str:
    return (
        f"name: {name}\n"
        "spec:\n"
        "  operator: kuberay\n"
        "  image: fw-ray\n"
        f"  command: {json.dumps(command)}\n"
        f"  restartPolicy: {restart}\n"
        f"{extra}" + RAY_TYPES
    )


def ray_finished(plane, name, namespace, timeout) -> dict:
    def done():
        obj = plane.kubectl_json("get", "rayjob", name, "-n", namespace)
        status = obj.get("status") or {}
        return obj if status.get("jobDeploymentStatus") in ("Complete", "Failed") else None

    return poll(f"rayjob {name} to finish", done, timeout=timeout, interval=2)


def test_a_rayjob_retries_a_failed_attempt_once_on_a_new_cluster(
    operator_plane, operator_agent, agent_namespace, tmp_path
):
    markers = tmp_path / "markers"
    markers.mkdir()
    name = "ray-retry"
    command = (
        f"echo x >> {markers}/attempts; [ -e {markers}/ran ] && exit 0; touch {markers}/ran; exit 1"
    )
    submit(
        operator_plane,
        tmp_path,
        agent_namespace,
        ray_manifest(name, command, "{backoffLimit: 1}"),
        name,
    )
    status = ray_finished(operator_plane, name, agent_namespace, timeout=420)["status"]
    assert status["jobDeploymentStatus"] == "Complete", status
    assert status.get("jobStatus") == "SUCCEEDED", status
    assert status.get("failed") == 1 and status.get("succeeded") == 1, status
    assert (markers / "attempts").read_text() == "x\nx\n"


def test_a_rayjob_deadline_is_never_retried(
    operator_plane, operator_agent, agent_namespace, tmp_path
):
    markers = tmp_path / "markers"
    markers.mkdir()
    name = "ray-late"
    command = f"echo x >> {markers}/attempts; sleep 240"
    submit(
        operator_plane,
        tmp_path,
        agent_namespace,
        ray_manifest(name, command, "{backoffLimit: 2}", extra="  timeout: 100s\n"),
        name,
    )
    status = ray_finished(operator_plane, name, agent_namespace, timeout=300)["status"]
    assert status["jobDeploymentStatus"] == "Failed", status
    assert status.get("reason") == "DeadlineExceeded", status
    time.sleep(10)  # a retry would set Retrying, then New
    status = operator_plane.kubectl_json("get", "rayjob", name, "-n", agent_namespace)["status"]
    assert status["jobDeploymentStatus"] == "Failed", status
    assert status.get("failed") == 1, status
