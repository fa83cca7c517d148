"""Placement (SPEC 2.7) end to end on the real Kueue v0.19.2 (testbed `topology_plane`).

The plane's only nodes are 8 kwok nodes in 2 blocks x 2 racks x 2 hosts of 4 CPUs each
(testbed.controlplane.Topology): a rack holds 8 CPUs. Each test writes a global policy with the
cluster's topology and a project quota for its namespace, applies `compile queues` (the Kueue
Topology, the topology flavor, the project's ClusterQueue and LocalQueue), submits a manifest
with `compile submit`, and reads back what Kueue admitted and where kube-scheduler bound the
pods (their nodeName and the nodes' labels). Pods stay Running (kwok outcome `run`) so that
what they hold is held while the test looks; the namespace is deleted, and waited for, after
each test.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import threading
from pathlib import Path

from cluster_support import COMPILE, compile_, env_for, get, poll

from testbed.controlplane.kwok import BLOCK_LABEL, HOST_LABEL, RACK_LABEL

OUTCOME = "testbed.manifest-compiler/outcome"
JOBSET_NAME = "jobset.sigs.k8s.io/jobset-name"
JOB_INDEX = "jobset.sigs.k8s.io/job-index"

CLUSTER_POLICY = f"""\
apiVersion: manifest-compiler/v1
kind: Policy
metadata:
  name: cluster-topology
spec:
  cluster:
    topology:
      - {{name: block, nodeLabel: {BLOCK_LABEL}}}
      - {{name: rack, nodeLabel: {RACK_LABEL}}}
      - {{name: host, nodeLabel: {HOST_LABEL}}}
"""


def policies(tmp_path: Path, project: str) -> Path:
    """The cluster's topology and a quota for `project` far above what the 8 nodes hold (32
    CPUs): whatever waits here waits for the topology, never for quota."""
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "cluster.yaml").write_text(CLUSTER_POLICY)
    (directory / "quota.yaml").write_text(
        textwrap.dedent(f"""\
            apiVersion: manifest-compiler/v1
            kind: Policy
            metadata:
              name: {project}-quota
              project: {project}
            spec:
              quota:
                cpus: 64
                memoryGB: 256
            """)
    )
    return directory


def apply_queues(plane, policy_dir: Path, project: str, cwd: Path) -> list[dict]:
    """`compile queues` through server-side apply; waits until the project's ClusterQueue is
    Active (Kueue has the Topology and the flavor)."""
    result = compile_(plane, "queues", "-p", str(policy_dir), "-o", "json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    plane.kubectl("apply", "--server-side", "-f", "-", input=result.stdout)

    def active():
        cq = plane.kubectl_json("get", "clusterqueue", project)
        return any(
            c["type"] == "Active" and c["status"] == "True"
            for c in (cq.get("status") or {}).get("conditions") or []
        )

    poll(f"ClusterQueue {project} Active", active)
    return json.loads(result.stdout)["items"]


def manifest(name: str, project: str, operator: str, placement: str, worker: str) -> str:
    """An AIchorManifest of `operator` in `project` (its queue), with `placement` on the worker
    type (`worker`: the type's other fields, indented under it) and pods that keep running."""
    return textwrap.dedent(f"""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        name: {name}
        project: {project}
        spec:
          operator: {operator}
          image: registry.example.com/train:1.0
          command: "python -u train.py"
          queue: {project}
          annotations:
            {OUTCOME}: run
          types:
            worker:
              placement: {placement}
        """) + textwrap.indent(textwrap.dedent(worker), " " * 6)


def submit(plane, tmp_path: Path, name: str, text: str) -> list[dict]:
    """`compile NAME.yaml` (what the cluster is given), then `compile submit` of it."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    options = ["-p", str(tmp_path / "policies")]
    emitted = compile_(plane, str(path), *options, "-o", "json", cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stderr
    result = compile_(plane, "submit", str(path), *options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(emitted.stdout)["items"]


def pod_templates(jobset: dict) -> dict[str, dict]:
    return {
        rj["name"]: rj["template"]["spec"]["template"] for rj in jobset["spec"]["replicatedJobs"]
    }


def workload_of(plane, name: str, namespace: str) -> dict | None:
    uid = get(plane, "jobset", name, namespace)["metadata"]["uid"]
    found = plane.kubectl_json(
        "get", "workloads.kueue.x-k8s.io", "-n", namespace, "-l", f"kueue.x-k8s.io/job-uid={uid}"
    )["items"]
    return found[0] if found else None


def condition(obj: dict | None, type_: str) -> dict | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    return None


def admitted(plane, name: str, namespace: str) -> dict:
    def check():
        workload = workload_of(plane, name, namespace)
        reserved = condition(workload, "Admitted")
        return workload if reserved and reserved["status"] == "True" else None

    return poll(f"Kueue to admit {name}", check)


def bound_pods(plane, name: str, namespace: str, count: int) -> list[dict]:
    """The JobSet's `count` pods, once kube-scheduler has bound every one to a node."""

    def check():
        pods = plane.kubectl_json("get", "pods", "-n", namespace, "-l", f"{JOBSET_NAME}={name}")
        bound = [p for p in pods["items"] if p["spec"].get("nodeName")]
        return bound if len(bound) == count else None

    return poll(f"{count} pods of {name} bound to nodes", check)


def node_labels(plane) -> dict[str, dict[str, str]]:
    return {
        n["metadata"]["name"]: n["metadata"]["labels"]
        for n in plane.kubectl_json("get", "nodes")["items"]
    }


def racks_of(plane, pods: list[dict]) -> set[str]:
    labels = node_labels(plane)
    return {labels[p["spec"]["nodeName"]][RACK_LABEL] for p in pods}


def status_reason(plane, target: str, namespace: str, cwd: Path) -> str:
    result = compile_(plane, "status", target, "-n", namespace, cwd=cwd)
    assert result.returncode == 0, result.stderr
    rows = dict(line.partition(":")[::2] for line in result.stdout.splitlines())
    assert rows["state"].strip() == "Pending", result.stdout
    return rows["reason"].strip()


def watch_lines(plane, target: str, namespace: str, cwd: Path, until: str) -> list[str]:
    """`compile watch TARGET`'s lines until one contains `until` (then the watch is stopped)."""
    process = subprocess.Popen(
        [*COMPILE, "watch", target, "-n", namespace],
        cwd=cwd,
        env=env_for(plane),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []

    def read():
        for line in process.stdout or ():
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        poll(f"{until!r} in the watch output {lines}", lambda: any(until in x for x in lines))
    finally:
        process.kill()
        process.wait(10)
        reader.join(5)
    return lines


def test_the_plane_has_two_blocks_of_two_racks_of_two_hosts(topology_plane):
    labels = node_labels(topology_plane)
    assert len(labels) == 8
    blocks = {node[BLOCK_LABEL] for node in labels.values()}
    racks = {(node[BLOCK_LABEL], node[RACK_LABEL]) for node in labels.values()}
    assert len(blocks) == 2 and len(racks) == 4
    assert {node[HOST_LABEL] for node in labels.values()} == set(labels)


def test_a_pytorch_job_within_a_rack_is_bound_to_the_nodes_of_one_rack(
    topology_plane, topology_namespace, tmp_path
):
    ns = topology_namespace
    queues = apply_queues(topology_plane, policies(tmp_path, ns), ns, tmp_path)
    (flavor,) = [o for o in queues if o["kind"] == "ResourceFlavor"]
    assert flavor["spec"]["topologyName"] == "default"
    # 4 pods x 2 CPUs: one rack (2 hosts x 4 CPUs) holds them exactly, no host holds them all
    text = manifest(
        "one-rack", ns, "pytorch", "{within: rack}", "count: 4\nresources: {cpus: 2, ramRatio: 1}"
    )
    (jobset,) = [
        o for o in submit(topology_plane, tmp_path, "one-rack", text) if o["kind"] == "JobSet"
    ]
    (template,) = pod_templates(jobset).values()
    assert (
        template["metadata"]["annotations"]["kueue.x-k8s.io/podset-required-topology"] == RACK_LABEL
    )

    workload = admitted(topology_plane, "one-rack", ns)
    assert workload["spec"]["podSets"][0]["topologyRequest"]["required"] == RACK_LABEL
    pods = bound_pods(topology_plane, "one-rack", ns, 4)
    assert len(racks_of(topology_plane, pods)) == 1, [p["spec"]["nodeName"] for p in pods]
    # two hosts: the rack, not a host, is what holds them together
    assert len({p["spec"]["nodeName"] for p in pods}) == 2


def test_a_job_no_rack_can_hold_waits_for_the_topology_and_status_says_so(
    topology_plane, topology_namespace, tmp_path
):
    ns = topology_namespace
    apply_queues(topology_plane, policies(tmp_path, ns), ns, tmp_path)
    # 4 pods x 3 CPUs: a 4-CPU host holds one, a rack two; the quota (64 CPUs) holds them all
    text = manifest(
        "too-wide", ns, "pytorch", "{within: rack}", "count: 4\nresources: {cpus: 3, ramRatio: 1}"
    )
    submit(topology_plane, tmp_path, "too-wide", text)

    def waiting():
        reserved = condition(workload_of(topology_plane, "too-wide", ns), "QuotaReserved")
        message = (reserved or {}).get("message") or ""
        return (
            message
            if reserved and reserved["status"] == "False" and "topology" in message
            else None
        )

    message = poll("Kueue to say the topology has no room", waiting)
    assert 'topology "default" allows to fit only 2 out of 4 pod(s)' in message, message
    assert get(topology_plane, "jobset", "too-wide", ns)["spec"]["suspend"] is True
    reason = status_reason(topology_plane, "jobset/too-wide", ns, tmp_path)
    assert re.match(
        rf"waiting in queue {ns}, 1st in line, for room in the topology, not for quota: pod set "
        rf"worker wants its 4 pods in one {re.escape(RACK_LABEL)}; "
        r'topology "default" allows to fit only 2 out of 4 pod\(s\)',
        reason,
    ), reason
    assert "insufficient" not in reason
    watched = watch_lines(
        topology_plane, "jobset/too-wide", ns, tmp_path, "for room in the topology"
    )
    assert any("allows to fit only 2 out of 4 pod(s)" in line for line in watched), watched


def test_each_job_within_a_rack_puts_each_child_job_in_a_rack_of_its_own(
    topology_plane, topology_namespace, tmp_path
):
    ns = topology_namespace
    apply_queues(topology_plane, policies(tmp_path, ns), ns, tmp_path)
    # 2 Jobs of 4 pods x 2 CPUs: each Job fills one rack
    worker = "count: 2\ncompletions: 4\nparallelisms: 4\nresources: {cpus: 2, ramRatio: 1}"
    text = manifest("sliced", ns, "jobset", "{within: rack, each: job}", worker)
    (jobset,) = [
        o for o in submit(topology_plane, tmp_path, "sliced", text) if o["kind"] == "JobSet"
    ]
    annotations = pod_templates(jobset)["worker"]["metadata"]["annotations"]
    assert annotations["kueue.x-k8s.io/podset-slice-required-topology"] == RACK_LABEL
    assert annotations["kueue.x-k8s.io/podset-slice-size"] == "4"

    admitted(topology_plane, "sliced", ns)
    pods = bound_pods(topology_plane, "sliced", ns, 8)
    by_job: dict[str, list[dict]] = {}
    for p in pods:
        by_job.setdefault(p["metadata"]["labels"][JOB_INDEX], []).append(p)
    racks = {job: racks_of(topology_plane, members) for job, members in by_job.items()}
    assert sorted(racks) == ["0", "1"]
    assert all(len(r) == 1 for r in racks.values()), racks
    assert racks["0"] != racks["1"], racks


def test_a_preferred_rack_is_admitted_when_no_rack_can_hold_it_and_spreads(
    topology_plane, topology_namespace, tmp_path
):
    ns = topology_namespace
    apply_queues(topology_plane, policies(tmp_path, ns), ns, tmp_path)
    # the job that waits under {within: rack} above: preferred, Kueue admits it over two racks
    text = manifest(
        "spread",
        ns,
        "pytorch",
        "{within: rack, mode: preferred}",
        "count: 4\nresources: {cpus: 3, ramRatio: 1}",
    )
    (jobset,) = [
        o for o in submit(topology_plane, tmp_path, "spread", text) if o["kind"] == "JobSet"
    ]
    (template,) = pod_templates(jobset).values()
    assert (
        template["metadata"]["annotations"]["kueue.x-k8s.io/podset-preferred-topology"]
        == RACK_LABEL
    )

    admitted(topology_plane, "spread", ns)
    pods = bound_pods(topology_plane, "spread", ns, 4)
    assert len({p["spec"]["nodeName"] for p in pods}) == 4  # one 3-CPU pod per 4-CPU host
    assert len(racks_of(topology_plane, pods)) == 2
