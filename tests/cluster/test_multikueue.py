"""Many clusters on the real Kueue MultiKueue (v0.19.2): a manager control plane that queues and
two workers that run, from `multikueue_planes` (conftest; testbed/controlplane/multikueue.py).

`compile queues` output is applied to the manager and, with `--cluster NAME`, to each worker;
every MultiKueueCluster must become Active. A JobSet submitted to the manager with `engineName:
worker-a` runs there — with the node agent, a real torch group — the manager's copy reaches
Completed and `compile logs -f` on the manager shows the worker's pods' output; a RayJob the same
way on worker-a's KubeRay; `engineName: worker-b` lands on worker-b every time.

Needs what the framework tests need (`testbed/isolated`, the frameworks venv).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from cluster_support import COMPILE, env_for, poll
from cluster_support import compile_ as run_compile
from test_frameworks import (
    AGENT_NAMESPACE_ANNOTATIONS,
    DATA,
    PROOF,
    VENV,
    check_environment,
    stop_agent,
)

WORKERS = ("worker-a", "worker-b")
AGENT_WORKER = "worker-a"
AGENT_POD_RANGE = "127.64.208.0/20"  # beside the other planes' agents


def write_policies(directory: Path, project: str) -> Path:
    """A fleet policy naming both workers (each holding the project's whole quota) and the
    project's quota; the namespace and queues are the project's."""
    directory.mkdir(parents=True, exist_ok=True)
    clusters = "".join(f"    - {{name: {w}, kubeconfigSecret: {w}}}\n" for w in WORKERS)
    (directory / "fleet.yaml").write_text(
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: fleet}\n"
        f"spec:\n  clusters:\n{clusters}"
    )
    (directory / "quota.yaml").write_text(
        textwrap.dedent(f"""\
            apiVersion: manifest-compiler/v1
            kind: Policy
            metadata: {{name: {project}-quota, project: {project}}}
            spec:
              quota: {{cpus: 16, memoryGB: 64, gpus: 0}}
            """)
    )
    return directory


def apply(plane, text: str) -> None:
    plane.kubectl(
        "apply", "--server-side", "--field-manager=manifest-compiler", "-f", "-", input=text
    )


def active(plane, kind: str, name: str) -> bool:
    got = plane.kubectl_json("get", kind, name)
    return any(
        c["type"] == "Active" and c["status"] == "True"
        for c in got.get("status", {}).get("conditions", [])
    )


class Fleet:
    """The planes, the test namespace (the same on all three) and what setting it up measured."""

    def __init__(self, planes, ns: str, policies: Path):
        self.planes = planes
        self.ns = ns
        self.policies = policies
        self.seconds_to_active = 0.0
        self.manager_objects: list[dict] = []

    @property
    def manager(self):
        return self.planes.manager

    def worker(self, name: str):
        return self.planes.workers[name]

    def compile(self, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        return run_compile(self.manager, *args, cwd=cwd, timeout=timeout)

    def submit(self, manifest: Path) -> None:
        """`compile submit` to the manager, with the policies (the project's queue)."""
        submitted = self.compile(
            "submit", str(manifest), "-p", str(self.policies), "--allow-dirty", cwd=manifest.parent
        )
        assert submitted.returncode == 0, submitted.stderr

    def workload_of(self, kind: str, name: str) -> dict | None:
        """The manager's Workload of the job `kind/name` (its owner), if Kueue made it yet."""
        listed = self.manager.kubectl_json("get", "workloads.kueue.x-k8s.io", "-n", self.ns)
        for workload in listed["items"]:
            owners = workload["metadata"].get("ownerReferences", [])
            if any(o["kind"] == kind and o["name"] == name for o in owners):
                return workload
        return None

    def cluster_of(self, kind: str, name: str) -> str | None:
        workload = self.workload_of(kind, name)
        return (workload or {}).get("status", {}).get("clusterName")

    def debug(self) -> str:
        """Each plane's jobs, workloads and pods, and the output of the pods that did not end."""
        out = []
        for plane in self.planes.planes:
            got = plane.kubectl(
                "get", "jobsets,rayjobs,workloads,pods", "-n", self.ns, "-o", "wide", check=False
            )
            out.append(f"--- {plane.name}\n{got.stdout}{got.stderr}")
            listed = plane.kubectl("get", "pods", "-n", self.ns, "-o", "json", check=False)
            for pod in json.loads(listed.stdout or '{"items": []}')["items"]:
                if pod["status"].get("phase") == "Succeeded":
                    continue
                name = pod["metadata"]["name"]
                for previous in ("--previous=false", "--previous=true"):
                    logs = plane.kubectl(
                        "logs", name, "-n", self.ns, "--tail=40", previous, check=False
                    )
                    out.append(f"--- {plane.name} {name} {previous}\n{logs.stdout}{logs.stderr}")
        return "\n".join(out)


def apply_queues(plane, policies: Path, *args: str) -> list[dict]:
    """`compile queues -p POLICIES ARGS` through server-side apply; the objects applied."""
    emitted = run_compile(plane, "queues", "-p", str(policies), *args, "-o", "json")
    assert emitted.returncode == 0, emitted.stderr
    plane.kubectl(
        "apply",
        "--server-side",
        "--field-manager=manifest-compiler",
        "-f",
        "-",
        input=emitted.stdout,
    )
    return json.loads(emitted.stdout)["items"]


@pytest.fixture(scope="module")
def fleet(multikueue_planes, tmp_path_factory):
    ns = f"mk-{uuid.uuid4().hex[:6]}"
    policies = write_policies(tmp_path_factory.mktemp("policies"), ns)
    for name, worker in multikueue_planes.workers.items():
        apply_queues(worker, policies, "--cluster", name)
        if name == AGENT_WORKER:  # every pod of the namespace, KubeRay's too, on the agent
            for key, value in AGENT_NAMESPACE_ANNOTATIONS.items():
                worker.kubectl("annotate", "namespace", ns, f"{key}={value}")
    fleet = Fleet(multikueue_planes, ns, policies)
    t0 = time.monotonic()
    objects = apply_queues(fleet.manager, policies)
    poll(
        "every MultiKueueCluster Active",
        lambda: all(active(fleet.manager, "multikueuecluster", w) for w in WORKERS),
        timeout=120,
    )
    fleet.seconds_to_active = time.monotonic() - t0
    print(
        f"\nMultiKueueClusters Active {fleet.seconds_to_active:.1f}s after apply", file=sys.stderr
    )
    fleet.manager_objects = objects
    return fleet


@pytest.fixture(scope="module")
def agent(multikueue_planes):
    from testbed.agent.launch import AgentProcess

    check_environment()
    node = AgentProcess(
        multikueue_planes.workers[AGENT_WORKER],
        venv=VENV,
        image_root=DATA / "images",
        max_pod_seconds=300,
        pod_range=AGENT_POD_RANGE,
    ).start()
    try:
        yield node
    finally:
        stop_agent(node)


class Following:
    """`compile logs NAME --all -f` against the manager, in the background, from before the job
    runs: MultiKueue deletes the worker's copy (and so its pods) once the job has finished."""

    def __init__(self, fleet: Fleet, name: str, cwd: Path):
        self.process = subprocess.Popen(
            [*COMPILE, "logs", name, "-n", fleet.ns, "--all", "-f"],
            cwd=cwd,
            env=env_for(fleet.manager),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.out.append(line)

    def text(self, timeout: float = 60) -> str:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.thread.join(5)
        err = self.process.stderr.read() if self.process.stderr else ""
        return "".join(self.out) + err


def worker_pods(fleet: Fleet) -> bool:
    """Whether the worker has any pod in the test's namespace."""
    worker = fleet.worker(AGENT_WORKER)
    return bool(worker.kubectl_json("get", "pods", "-n", fleet.ns)["items"])


def submitter(fleet: Fleet) -> bool:
    """Whether the worker has a pod of KubeRay's submitter Job (one a Job owns)."""
    worker = fleet.worker(AGENT_WORKER)
    pods = worker.kubectl_json("get", "pods", "-n", fleet.ns)["items"]
    owners = [o["kind"] for p in pods for o in p["metadata"].get("ownerReferences", [])]
    return "Job" in owners


def proofs(text: str) -> list[dict]:
    found = []
    for match in PROOF.finditer(text):
        fields = dict(kv.split("=", 1) for kv in match.group("rest").split() if "=" in kv)
        fields["pod"] = match.group("pod") or ""
        found.append(fields)
    return found


def write_manifest(tmp_path: Path, example: str, project: str, engine: str) -> Path:
    """tests/data/frameworks/<example>.yaml in `project`, pinned to the worker `engine`."""
    text = (DATA / f"{example}.yaml").read_text()
    text = re.sub(
        r"^name: .*$",
        rf"\g<0>\nproject: {project}\nengineName: {engine}",
        text,
        count=1,
        flags=re.M,
    )
    path = tmp_path / f"{example}.yaml"
    path.write_text(text)
    return path


def condition(obj: dict, kind: str) -> bool:
    return any(
        c["type"] == kind and c["status"] == "True"
        for c in obj.get("status", {}).get("conditions", [])
    )


# ---------------------------------------------------------------------------------------------


def test_every_multikueue_cluster_is_active(fleet):
    for worker in WORKERS:
        cluster = fleet.manager.kubectl_json("get", "multikueuecluster", worker)
        assert condition(cluster, "Active"), cluster.get("status")
    checked = [o for o in fleet.manager_objects if o["kind"] in ("AdmissionCheck", "ClusterQueue")]
    assert {o["kind"] for o in checked} == {"AdmissionCheck", "ClusterQueue"}
    for obj in checked:
        kind, name = obj["kind"].lower(), obj["metadata"]["name"]
        poll(f"{kind} {name} Active", lambda k=kind, n=name: active(fleet.manager, k, n), 60)


def test_a_jobset_runs_torch_on_the_worker_and_completes_on_the_manager(fleet, agent, tmp_path):
    fleet.submit(write_manifest(tmp_path, "pytorch", fleet.ns, AGENT_WORKER))
    logs = Following(fleet, "ddp-proof", tmp_path)

    def completed() -> bool:
        jobset = fleet.manager.kubectl_json("get", "jobset", "ddp-proof", "-n", fleet.ns)
        assert not condition(jobset, "Failed"), fleet.debug()
        return condition(jobset, "Completed")

    poll(
        "the manager's JobSet Completed", completed, timeout=300, interval=1, on_timeout=fleet.debug
    )
    jobset = fleet.manager.kubectl_json("get", "jobset", "ddp-proof", "-n", fleet.ns)
    assert jobset["spec"]["managedBy"] == "kueue.x-k8s.io/multikueue"
    assert fleet.cluster_of("JobSet", "ddp-proof") == AGENT_WORKER
    text = logs.text()
    seen = proofs(text)
    assert sorted(int(p["rank"]) for p in seen) == [0, 1, 2], text[-3000:]
    assert {p["world_size"] for p in seen} == {"3"}
    assert {p["all_reduce"] for p in seen} == {"3"}


def test_a_rayjob_runs_on_the_workers_kuberay_and_succeeds_on_the_manager(fleet, agent, tmp_path):
    fleet.submit(write_manifest(tmp_path, "kuberay", fleet.ns, AGENT_WORKER))
    # following starts as soon as the worker has the Ray cluster's first pod: the driver's output
    # is the submitter's, a pod KubeRay makes later, which `logs -f` must pick up when it appears
    poll("a pod of the RayJob on the worker", lambda: worker_pods(fleet), 400, 1, fleet.debug)
    assert not submitter(fleet), "the submitter came too soon for this test to prove anything"
    logs = Following(fleet, "ray-proof", tmp_path)

    def finished() -> str | None:
        rayjob = fleet.manager.kubectl_json("get", "rayjob", "ray-proof", "-n", fleet.ns)
        status = rayjob.get("status", {})
        return (
            status.get("jobStatus")
            if status.get("jobDeploymentStatus")
            in (
                "Complete",
                "Failed",
            )
            else None
        )

    outcome = poll(
        "the manager's RayJob finished", finished, timeout=400, interval=1, on_timeout=fleet.debug
    )
    assert outcome == "SUCCEEDED", fleet.debug()
    rayjob = fleet.manager.kubectl_json("get", "rayjob", "ray-proof", "-n", fleet.ns)
    assert rayjob["spec"]["managedBy"] == "kueue.x-k8s.io/multikueue"
    assert fleet.cluster_of("RayJob", "ray-proof") == AGENT_WORKER
    text = logs.text()
    seen = proofs(text)
    assert {p["alive_nodes"] for p in seen} == {"2"}, text[-3000:]


KWOK_JOB = """\
kind: AIchorManifest
apiVersion: 0.2.3
name: {name}
project: {project}
engineName: worker-b
spec:
  operator: jobset
  annotations: {{testbed.manifest-compiler/run-for: 20s}}
  image: registry.example.com/train:1.0
  command: "python -u train.py"
  types:
    worker:
      count: 2
      resources: {{cpus: 1, memory: 1}}
"""


def test_engine_name_worker_b_lands_on_worker_b_five_times_out_of_five(fleet, tmp_path):
    names = [f"pinned-{i}" for i in range(5)]
    for name in names:
        path = tmp_path / f"{name}.yaml"
        path.write_text(KWOK_JOB.format(name=name, project=fleet.ns))
        fleet.submit(path)
    shown = {  # while it runs (20 s), `compile status` on the manager names its worker
        name: poll(f"{name} shown on a worker", lambda n=name: shown_cluster(fleet, n, tmp_path))
        for name in names
    }
    for name in names:
        poll(
            f"{name} Completed on the manager",
            lambda n=name: condition(
                fleet.manager.kubectl_json("get", "jobset", n, "-n", fleet.ns), "Completed"
            ),
            timeout=120,
            interval=1,
            on_timeout=fleet.debug,
        )
    assert [fleet.cluster_of("JobSet", n) for n in names] == ["worker-b"] * 5, fleet.debug()
    assert list(shown.values()) == ["worker-b"] * 5, shown


def shown_cluster(fleet: Fleet, name: str, cwd: Path) -> str | None:
    """The worker `compile status -o json` on the manager names for the job (None: none yet)."""
    shown = fleet.compile("status", name, "-n", fleet.ns, "-o", "json", cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["cluster"]
