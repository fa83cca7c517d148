"""Team quotas on the real Kueue (v0.19.2, webhooks on) of the testbed's `operator_plane`.

`compile queues` output is applied with server-side apply and must be accepted (ClusterQueues
become Active); then, with a team quota of 8 GPUs on kwok nodes that advertise nvidia.com/gpu:
three 4-GPU jobs → two admitted, the third Pending with Kueue's reason and its place shown by
`compile status`; when one ends the next in line is admitted (StrictFIFO order held); a second
team of the same cohort borrows idle quota and gives it back when it is reclaimed; `compile
cancel` of a pending job removes it from the queue. Commands run as the user runs them.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from cluster_support import COMPILE, REPO, env_for
from cluster_support import compile_ as run

OUTCOME = "testbed.manifest-compiler/outcome"
RUN_FOR = "testbed.manifest-compiler/run-for"


def new_namespace(plane) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    plane.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 60
    while plane.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode:
        assert time.monotonic() < deadline, f"no default ServiceAccount in {name} after 60s"
        time.sleep(0.3)
    return name


def quota_policy(directory: Path, project: str, cohort: str, gpus: int = 8) -> Path:
    path = directory / f"quota-{project}.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            apiVersion: manifest-compiler/v1
            kind: Policy
            metadata: {{name: {project}-quota, project: {project}}}
            spec:
              quota:
                cpus: 64
                memoryGB: 256
                gpus: {gpus}
                cohort: {cohort}
                queueing: StrictFIFO
            """)
    )
    return path


def gpu_job(
    directory: Path,
    name: str,
    project: str,
    outcome="run",
    run_for="1s",
    accelerators="{gpu: {count: 4, type: gpu}}",
) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            kind: AIchorManifest
            apiVersion: 0.2.3
            name: {name}
            project: {project}
            spec:
              operator: batchjob
              image: registry.example.com/train:1.0
              command: "python -u train.py"
              annotations:
                {OUTCOME}: {outcome}
                {RUN_FOR}: {run_for}
              types:
                worker:
                  count: 1
                  resources:
                    cpus: 1
                    memory: 2
                    accelerators: {accelerators}
            """)
    )
    return path


def apply_queues(plane, *policies: Path) -> list[dict]:
    """`compile queues -p …` through server-side apply; waits until its ClusterQueues are Active."""
    args = [arg for policy in policies for arg in ("-p", str(policy))]
    result = run(plane, "queues", *args)
    assert result.returncode == 0, result.stderr
    applied = plane.kubectl(
        "apply",
        "--server-side",
        "--field-manager=manifest-compiler",
        "-f",
        "-",
        input=result.stdout,
    )
    assert applied.returncode == 0, applied.stderr
    objects = json.loads(run(plane, "queues", *args, "-o", "json").stdout)["items"]
    for obj in objects:
        if obj["kind"] == "ClusterQueue":
            name = obj["metadata"]["name"]
            wait_until(lambda n=name: cluster_queue_active(plane, n), 60, f"{name} Active")
    return objects


def cluster_queue_active(plane, name: str) -> bool:
    queue = plane.kubectl_json("get", "clusterqueue", name)
    return any(
        c["type"] == "Active" and c["status"] == "True"
        for c in queue.get("status", {}).get("conditions", [])
    )


def wait_until(check, timeout: float, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s {what}"
        time.sleep(0.5)


def submit(plane, directory: Path, policy: Path, name: str, project: str, **kwargs) -> None:
    path = gpu_job(directory, name, project, **kwargs)
    result = run(plane, "submit", "-p", str(policy), str(path), "--allow-dirty")
    assert result.returncode == 0, result.stderr
    time.sleep(1.1)  # Kueue orders equal priorities by creation time, which has 1 s resolution


def status(plane, namespace: str, name: str) -> dict:
    result = run(plane, "status", name, "-n", namespace)
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        label, _, value = line.partition(":")
        rows[label.strip()] = value.strip()
    return rows


def admitted(plane, namespace: str, name: str) -> bool:
    return status(plane, namespace, name)["state"] != "Pending"


class Watching:
    """`compile watch NAME` in the background; its stdout collected line by line."""

    def __init__(self, plane, namespace: str, name: str):
        self.process = subprocess.Popen(
            [*COMPILE, "watch", name, "-n", namespace],
            env=env_for(plane),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> None:
        wait_until(lambda: any(text in line for line in self.lines), timeout, repr(text))

    def finish(self, timeout: float = 120) -> tuple[int, list[str]]:
        code = self.process.wait(timeout=timeout)
        self.thread.join(5)
        return code, self.lines


def workload_names(plane, namespace: str) -> list[str]:
    listed = plane.kubectl_json("get", "workloads.kueue.x-k8s.io", "-n", namespace)
    return [w["metadata"]["name"] for w in listed["items"]]


# ---------------------------------------------------------------------------------------------


def test_example_queue_objects_are_accepted_by_kueue(operator_plane):
    """golden/kueue/queues.yaml through server-side apply with Kueue's webhooks on."""
    text = (REPO / "golden" / "kueue" / "queues.yaml").read_text()
    for name in ("team-a", "team-b"):  # each LocalQueue lives in its project's namespace
        operator_plane.kubectl("create", "namespace", name, check=False)
    applied = operator_plane.kubectl(
        "apply", "--server-side", "--field-manager=manifest-compiler", "-f", "-", input=text
    )
    assert applied.returncode == 0, applied.stderr
    try:
        for name in ("team-a", "team-b"):
            wait_until(lambda n=name: cluster_queue_active(operator_plane, n), 60, name)
            local = operator_plane.kubectl_json("get", "localqueue", name, "-n", name)
            assert local["spec"]["clusterQueue"] == name
    finally:
        operator_plane.kubectl(
            "delete", "namespace", "team-a", "team-b", "--wait=false", check=False
        )


def test_team_quota_fifo_reason_position_and_cancel(operator_plane, operator_namespace, tmp_path):
    ns = operator_namespace
    policy = quota_policy(tmp_path, ns, cohort=f"c-{ns}")
    apply_queues(operator_plane, policy)
    submit(operator_plane, tmp_path, policy, "first", ns, outcome="succeed", run_for="25s")
    submit(operator_plane, tmp_path, policy, "second", ns, outcome="run")
    submit(operator_plane, tmp_path, policy, "third", ns, outcome="run")
    submit(operator_plane, tmp_path, policy, "fourth", ns, outcome="run")

    wait_until(lambda: admitted(operator_plane, ns, "first"), 60, "first admitted")
    wait_until(lambda: admitted(operator_plane, ns, "second"), 60, "second admitted")

    def third_waits_for_quota() -> bool:
        rows = status(operator_plane, ns, "third")
        return rows["state"] == "Pending" and "insufficient unused quota" in rows["reason"]

    wait_until(third_waits_for_quota, 60, "third waiting with Kueue's message")
    rows = status(operator_plane, ns, "third")
    assert rows["reason"].startswith(f"waiting in queue {ns}, 1st in line: "), rows
    assert "for nvidia.com/gpu in flavor default, 4 more needed" in rows["reason"], rows
    assert rows["queue"] == f"{ns} 1/2", rows
    fourth = status(operator_plane, ns, "fourth")
    assert fourth["state"] == "Pending"
    assert fourth["reason"].startswith(f"waiting in queue {ns}, 2nd in line, 1 job ahead"), fourth

    watching = Watching(operator_plane, ns, "fourth")
    watching.wait_for(f"Pending    waiting in queue {ns}, 2nd in line, 1 job ahead", 60)

    listed = run(operator_plane, "list", "-n", ns)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == [
        "NAME",
        "KIND",
        "STATE",
        "AGE",
        "QUEUE",
        "REASON",
    ]
    third_line = next(line for line in listed.stdout.splitlines() if line.startswith("third "))
    assert f"{ns} 1/2" in third_line and "insufficient unused quota" in third_line

    # the first ends after 25 s: the third (first in line) is admitted, the fourth still waits
    wait_until(lambda: admitted(operator_plane, ns, "third"), 120, "third admitted")
    assert status(operator_plane, ns, "first")["state"] == "Succeeded"
    fourth = status(operator_plane, ns, "fourth")
    assert fourth["state"] == "Pending" and fourth["reason"].startswith(
        f"waiting in queue {ns}, 1st in line"
    ), fourth

    # the watch looked again while the job waited, and told its new place
    watching.wait_for(f"Pending    waiting in queue {ns}, 1st in line", 60)

    # cancelling a pending job removes it from the queue
    before = workload_names(operator_plane, ns)
    assert any("fourth" in name for name in before), before
    cancelled = run(operator_plane, "cancel", "fourth", "-n", ns)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled (was Pending)" in cancelled.stdout
    wait_until(
        lambda: not any("fourth" in n for n in workload_names(operator_plane, ns)),
        60,
        "the fourth job's Workload gone",
    )
    code, lines = watching.finish()
    assert code == 1 and "Cancelled" in lines[-1], lines
    local = operator_plane.kubectl_json("get", "localqueue", ns, "-n", ns)
    wait_until(
        lambda: (
            operator_plane.kubectl_json("get", "localqueue", ns, "-n", ns)
            .get("status", {})
            .get("pendingWorkloads")
            == 0
        ),
        60,
        f"no pending workload left in LocalQueue {ns}: {local.get('status')}",
    )


def test_a_team_borrows_idle_quota_and_gives_it_back(operator_plane, operator_namespace, tmp_path):
    lender, borrower = operator_namespace, new_namespace(operator_plane)
    cohort = f"c-{lender}"
    lender_policy = quota_policy(tmp_path, lender, cohort)
    borrower_policy = quota_policy(tmp_path, borrower, cohort)
    try:
        apply_queues(operator_plane, lender_policy, borrower_policy)
        # the borrower runs 12 GPUs on a quota of 8: 4 borrowed from the idle lender
        for name in ("b-1", "b-2", "b-3"):
            submit(operator_plane, tmp_path, borrower_policy, name, borrower)
        for name in ("b-1", "b-2", "b-3"):
            wait_until(lambda n=name: admitted(operator_plane, borrower, n), 90, f"{name} admitted")
        # the lender needs its quota back: Kueue reclaims what it lent (preempts the borrower)
        for name in ("l-1", "l-2"):
            submit(operator_plane, tmp_path, lender_policy, name, lender)
        for name in ("l-1", "l-2"):
            wait_until(lambda n=name: admitted(operator_plane, lender, n), 120, f"{name} admitted")

        def borrower_back_in_line() -> list[dict]:
            rows = [status(operator_plane, borrower, n) for n in ("b-1", "b-2", "b-3")]
            return [r for r in rows if r["state"] == "Pending"]

        def one_evicted_and_queued_again() -> bool:
            pending = borrower_back_in_line()
            return len(pending) == 1 and f"waiting in queue {borrower}" in pending[0]["reason"]

        wait_until(one_evicted_and_queued_again, 90, "one borrower job evicted and queued again")
        [evicted] = borrower_back_in_line()
        assert evicted["reason"].startswith("evicted by Kueue ("), evicted
        assert "reclamation within the cohort" in evicted["reason"], evicted
        running = [
            n
            for n in ("b-1", "b-2", "b-3")
            if status(operator_plane, borrower, n)["state"] != "Pending"
        ]
        assert len(running) == 2  # its own quota of 8 GPUs: two 4-GPU jobs
    finally:
        operator_plane.kubectl("delete", "namespace", borrower, "--wait=false", check=False)


@pytest.fixture(autouse=True)
def _no_leftover_cluster_queues(operator_plane):
    """ClusterQueues are cluster-scoped: each test removes the ones named after its namespaces."""
    before = {
        q["metadata"]["name"] for q in operator_plane.kubectl_json("get", "clusterqueues")["items"]
    }
    yield
    after = {
        q["metadata"]["name"] for q in operator_plane.kubectl_json("get", "clusterqueues")["items"]
    }
    for name in sorted(after - before):
        operator_plane.kubectl("delete", "clusterqueue", name, "--wait=false", check=False)


# ---------------------------------------------------------------------------------------------
# issue 21 item 1: TPU quota (quota.tpus), admitted by the real Kueue, and the team's queue flows

TPU_TYPE = "tpu-v5-lite-podslice"


def tpu_policy(directory: Path, project: str, tpus: int | None) -> Path:
    path = directory / f"quota-{project}-tpu.yaml"
    stated = f"    tpus: {{{TPU_TYPE}: {tpus}}}\n" if tpus is not None else ""
    path.write_text(
        "apiVersion: manifest-compiler/v1\nkind: Policy\n"
        f"metadata: {{name: {project}-quota, project: {project}}}\n"
        "spec:\n  quota:\n    cpus: 64\n    memoryGB: 256\n    gpus: 8\n"
        + stated
        + "    queueing: StrictFIFO\n"
    )
    return path


def tpu_job(directory: Path, name: str, project: str) -> Path:
    """A job of one pod on a single-host v5e 2x2 slice (4 chips)."""
    tpu = f"{{tpu: {{type: {TPU_TYPE}, topology: 2x2, tpuChipsCount: 4}}}}"
    return gpu_job(directory, name, project, accelerators=tpu)


def tpu_node(plane, name: str) -> None:
    """A kwok node as GKE labels a single-host v5e 2x2 slice: 4 google.com/tpu."""
    from testbed.controlplane.kwok import node_manifest

    node = node_manifest(0, {"cpu": "32", "memory": "256Gi", "pods": "110", "google.com/tpu": "4"})
    labels = node["metadata"]["labels"]
    del labels["nvidia.com/gpu.present"]
    labels["kubernetes.io/hostname"] = node["metadata"]["name"] = name
    labels["cloud.google.com/gke-tpu-accelerator"] = TPU_TYPE
    labels["cloud.google.com/gke-tpu-topology"] = "2x2"
    created = plane.kubectl("create", "-f", "-", input=json.dumps(node))
    assert created.returncode == 0, created.stderr
    status = json.dumps({"status": node["status"]})
    plane.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", status)


def workload_flavors(plane, namespace: str, job: str) -> dict:
    """resource -> flavor Kueue assigned to the Workload of ``job``."""
    for item in plane.kubectl_json("get", "workloads.kueue.x-k8s.io", "-n", namespace)["items"]:
        if job in item["metadata"]["name"]:
            admission = item.get("status", {}).get("admission") or {}
            return {
                resource: flavor
                for podset in admission.get("podSetAssignments", [])
                for resource, flavor in (podset.get("flavors") or {}).items()
            }
    return {}


def test_tpu_job_is_admitted_and_the_gpu_job_behind_it_is_not_blocked(
    operator_plane, operator_namespace, tmp_path
):
    ns = operator_namespace
    # without quota.tpus the queue would not cover google.com/tpu: compile refuses the job
    uncovered = tpu_policy(tmp_path, ns, None)
    refused = run(operator_plane, "check", "-p", str(uncovered), str(tpu_job(tmp_path, "tpu", ns)))
    said = refused.stdout + refused.stderr  # check reports on stdout
    assert refused.returncode == 1 and "error[E322]" in said, said

    policy = tpu_policy(tmp_path, ns, 4)
    objects = apply_queues(operator_plane, policy)
    assert any(o["kind"] == "ResourceFlavor" and o["metadata"]["name"] == TPU_TYPE for o in objects)
    node = f"kwok-tpu-{ns}"
    tpu_node(operator_plane, node)
    try:
        submitted = run(
            operator_plane,
            "submit",
            "-p",
            str(policy),
            str(tpu_job(tmp_path, "tpu", ns)),
            "--allow-dirty",
        )
        assert submitted.returncode == 0, submitted.stderr
        time.sleep(1.1)  # Kueue orders equal priorities by creation time (1 s resolution)
        submit(operator_plane, tmp_path, policy, "gpu-behind", ns, outcome="run")

        wait_until(lambda: admitted(operator_plane, ns, "tpu"), 60, "the TPU job admitted")
        wait_until(lambda: admitted(operator_plane, ns, "gpu-behind"), 60, "the GPU job admitted")
        flavors = workload_flavors(operator_plane, ns, "tpu")
        assert flavors.get("google.com/tpu") == TPU_TYPE, flavors
        assert workload_flavors(operator_plane, ns, "gpu-behind").get("nvidia.com/gpu") == (
            "default"
        )

        def tpu_pod_running() -> bool:
            pods = operator_plane.kubectl_json("get", "pods", "-n", ns)["items"]
            return any(
                p["metadata"]["name"].startswith("tpu-")
                and p["spec"].get("nodeName") == node
                and p["status"].get("phase") == "Running"
                for p in pods
            )

        wait_until(tpu_pod_running, 60, f"the TPU pod running on {node}")
    finally:
        operator_plane.kubectl("delete", "node", node, "--wait=false", check=False)


def test_queues_apply_with_kubectl_on_a_cluster_without_the_namespaces(operator_plane, tmp_path):
    """Issue 24: `compile queues | kubectl apply -f -` failed with `namespaces "team-a" not
    found`; the output now holds each LocalQueue's Namespace first."""
    project = f"q-{uuid.uuid4().hex[:8]}"
    policy = quota_policy(tmp_path, project, cohort=f"c-{project}")
    result = run(operator_plane, "queues", "-p", str(policy))
    assert result.returncode == 0, result.stderr
    assert operator_plane.kubectl("get", "namespace", project, check=False).returncode != 0
    try:
        applied = operator_plane.kubectl("apply", "-f", "-", input=result.stdout, check=False)
        assert applied.returncode == 0, applied.stderr
        assert f"namespace/{project} created" in applied.stdout
        queue = operator_plane.kubectl_json("get", "localqueue", project, "-n", project)
        assert queue["spec"]["clusterQueue"] == project
    finally:
        operator_plane.kubectl("delete", "clusterqueue", project, "--wait=false", check=False)
        operator_plane.kubectl("delete", "namespace", project, "--wait=false", check=False)
