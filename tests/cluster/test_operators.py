"""Our output run by the real KubeRay operator and the real Kueue (testbed `operator_plane`).

Pods are kwok's: they are scheduled and reported Running/Succeeded, but no program runs, so a
Ray cluster never answers its dashboard. What these tests prove is what the controllers do
with the objects `compile` emits: KubeRay builds the RayCluster (head and worker groups) and
its pods from our RayJob; Kueue suspends a job labelled with a queue, makes its Workload,
admits it within the ClusterQueue's quota and keeps the one over quota waiting, and
`compile status`/`watch` read those states.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import threading
from pathlib import Path

import yaml
from cluster_support import COMPILE, REPO, compile_, env_for, get, poll

EXAMPLES = REPO / "examples"
EXAMPLE_OPTIONS = ["-p", str(EXAMPLES / "policies"), "-t", str(EXAMPLES / "templates")]
OUTCOME = "testbed.manifest-compiler/outcome"


def submitted(
    plane, example: str, namespace: str, tmp_path: Path, pod_outcome: str | None = None
) -> list[dict]:
    """Submit examples/<example> (copied out of the git tree) and return what `compile`
    emits for it: the objects the cluster was given. `pod_outcome` adds the testbed's kwok
    outcome annotation to every pod (spec.annotations), e.g. "run" to keep them running."""
    manifest = tmp_path / example
    text = (EXAMPLES / example).read_text()
    if pod_outcome:
        text = text.replace(
            "\nspec:\n", f"\nspec:\n  annotations:\n    {OUTCOME}: {pod_outcome}\n", 1
        )
        assert OUTCOME in text
    manifest.write_text(text)
    emitted = compile_(
        plane, str(manifest), *EXAMPLE_OPTIONS, "--namespace", namespace, cwd=tmp_path
    )
    assert emitted.returncode == 0, emitted.stderr
    result = compile_(
        plane, "submit", str(manifest), *EXAMPLE_OPTIONS, "-n", namespace, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(emitted.stdout) if d]


def items(plane, kind, namespace, *selector) -> list[dict]:
    return plane.kubectl_json("get", kind, "-n", namespace, *selector)["items"]


class Watcher:
    """`compile watch` in a subprocess, its output collected in a thread."""

    def __init__(self, plane, target, namespace, cwd):
        self.process = subprocess.Popen(
            [*COMPILE, "watch", target, "-n", namespace],
            cwd=cwd,
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

    def phases(self) -> list[str]:
        return [
            parts[1]
            for parts in (line.split() for line in self.lines)
            if len(parts) >= 2 and re.match(r"\d{4}-\d\d-\d\dT", parts[0])
        ]

    def wait_for(self, phase, timeout=90.0):
        poll(f"{phase} in the watch output {self.lines}", lambda: phase in self.phases(), timeout)

    def finish(self, timeout=120):
        rc = self.process.wait(timeout=timeout)
        self.thread.join(5)
        return rc


def status_rows(plane, name, namespace, tmp_path) -> dict[str, str]:
    result = compile_(plane, "status", name, "-n", namespace, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        label, _, value = line.partition(":")
        rows[label.strip()] = value.strip()
    return rows


# ---------------------------------------------------------------------------------------------
# KubeRay


def group_view(group: dict) -> dict:
    """What a head or worker group says about its pods, as the RayCluster must carry it."""
    spec = group["template"]["spec"]
    return {
        "groupName": group.get("groupName", "head"),
        "replicas": group.get("replicas"),
        "minReplicas": group.get("minReplicas"),
        "maxReplicas": group.get("maxReplicas"),
        "rayStartParams": group.get("rayStartParams"),
        "nodeSelector": spec.get("nodeSelector"),
        "containers": [(c["name"], c["image"], c.get("resources")) for c in spec["containers"]],
    }


def cluster_view(cluster_spec: dict) -> list[dict]:
    return [group_view(cluster_spec["headGroupSpec"])] + [
        group_view(g) for g in cluster_spec.get("workerGroupSpecs") or []
    ]


def test_kuberay_builds_the_raycluster_and_pods_we_emitted(
    operator_plane, operator_namespace, tmp_path
):
    ns = operator_namespace
    # kwok keeps every pod Running, the submitter's too: without a Ray program behind it, a
    # submitter that ends makes KubeRay fail the RayJob and delete its cluster
    objects = submitted(operator_plane, "ray-legacy.yaml", ns, tmp_path, pod_outcome="run")
    (rayjob,) = [o for o in objects if o["kind"] == "RayJob"]
    name = rayjob["metadata"]["name"]

    cluster_name = poll(
        "KubeRay to name the RayJob's RayCluster",
        lambda: (get(operator_plane, "rayjob", name, ns).get("status") or {}).get("rayClusterName"),
    )
    cluster = get(operator_plane, "raycluster", cluster_name, ns)
    assert cluster["metadata"]["ownerReferences"][0]["name"] == name
    assert cluster_view(cluster["spec"]) == cluster_view(rayjob["spec"]["rayClusterSpec"])

    want = {"head": 1} | {
        g["groupName"]: g["replicas"] for g in rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    }

    def pods_per_group():
        pods = items(operator_plane, "pods", ns, "-l", f"ray.io/cluster={cluster_name}")
        seen: dict[str, int] = {}
        for p in pods:
            labels = p["metadata"]["labels"]
            group = "head" if labels.get("ray.io/node-type") == "head" else labels["ray.io/group"]
            seen[group] = seen.get(group, 0) + 1
        return seen if seen == want else None

    poll(f"KubeRay to create the pods {want}", pods_per_group)
    (head,) = items(
        operator_plane, "pods", ns, "-l", f"ray.io/cluster={cluster_name},ray.io/node-type=head"
    )
    command = " ".join(head["spec"]["containers"][0].get("args") or [])
    command += " ".join(head["spec"]["containers"][0].get("command") or [])
    assert "ray start --head" in command
    # the user's program is what the submitter runs, never the head's own command
    assert rayjob["spec"]["entrypoint"] not in command

    # once the cluster is ready, KubeRay runs the submitter (K8sJobMode) as a Job whose pod
    # is the submitterPodTemplate we emitted (the legacy manifest's Job type sizes it)
    def submitter_job():
        found = operator_plane.kubectl("get", "job", name, "-n", ns, "-o", "json", check=False)
        return json.loads(found.stdout) if found.returncode == 0 else None

    submitter = poll("KubeRay to create the submitter Job (named as the RayJob)", submitter_job)
    ours = rayjob["spec"]["submitterPodTemplate"]["spec"]["containers"][0]
    theirs = submitter["spec"]["template"]["spec"]["containers"][0]
    assert theirs["image"] == ours["image"]
    assert theirs["resources"] == ours["resources"]
    assert "ray job submit" in " ".join(theirs.get("command", []) + theirs.get("args", []))

    # KubeRay reports its progress in the RayJob's status, which `compile status` reads
    poll(
        "KubeRay to report the RayJob Running",
        lambda: (
            (get(operator_plane, "rayjob", name, ns).get("status") or {}).get("jobDeploymentStatus")
            == "Running"
        ),
    )
    rows = status_rows(operator_plane, f"rayjob/{name}", ns, tmp_path)
    assert rows["job"] == f"rayjob.ray.io/{name}"
    assert rows["state"] in ("Preparing", "Running"), rows


# ---------------------------------------------------------------------------------------------
# Kueue


def kueue_queue(plane, namespace, local_queue, quota: dict[str, str]) -> str:
    """A ResourceFlavor, a ClusterQueue with `quota` and a LocalQueue in `namespace`."""
    cluster_queue, flavor = f"cq-{namespace}", f"rf-{namespace}"
    docs = [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": flavor},
            "spec": {},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": cluster_queue},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": sorted(quota),
                        "flavors": [
                            {
                                "name": flavor,
                                "resources": [
                                    {"name": r, "nominalQuota": q} for r, q in sorted(quota.items())
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": local_queue, "namespace": namespace},
            "spec": {"clusterQueue": cluster_queue},
        },
    ]
    plane.kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
    )

    def active():
        cq = plane.kubectl_json("get", "clusterqueue", cluster_queue)
        return any(
            c["type"] == "Active" and c["status"] == "True"
            for c in (cq.get("status") or {}).get("conditions") or []
        )

    poll(f"ClusterQueue {cluster_queue} Active", active)
    return cluster_queue


def workload_of(plane, kind, name, namespace) -> dict | None:
    uid = get(plane, kind, name, namespace)["metadata"]["uid"]
    found = items(
        plane, "workloads.kueue.x-k8s.io", namespace, "-l", f"kueue.x-k8s.io/job-uid={uid}"
    )
    return found[0] if found else None


def condition(obj: dict | None, type_: str) -> dict | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    return None


def queued_jobset(name: str, queue: str, cpus: int, workers: int, outcome: str) -> str:
    return textwrap.dedent(f"""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        name: {name}
        spec:
          operator: jobset
          image: registry.example.com/train:1.0
          command: "python -u train.py"
          queue: {queue}
          annotations:
            {OUTCOME}: {outcome}
          types:
            worker:
              count: {workers}
              resources:
                cpus: {cpus}
                ramRatio: 1
        """)


def test_kueue_admits_within_quota_and_holds_the_job_over_it(
    operator_plane, operator_namespace, tmp_path
):
    ns = operator_namespace
    kueue_queue(operator_plane, ns, "team-a", {"cpu": "8", "memory": "64Gi"})
    # two JobSets of 3 workers x 2 CPUs: 6 CPUs each, 12 on a queue of 8
    for name in ("first", "second"):
        manifest = tmp_path / f"{name}.yaml"
        manifest.write_text(queued_jobset(name, "team-a", cpus=2, workers=3, outcome="run"))
        result = compile_(operator_plane, "submit", str(manifest), "-n", ns, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        if name == "first":
            poll(
                "the first JobSet admitted",
                lambda: condition(workload_of(operator_plane, "jobset", "first", ns), "Admitted"),
            )

    first = workload_of(operator_plane, "jobset", "first", ns)
    assert first["spec"]["queueName"] == "team-a"
    assert condition(first, "QuotaReserved")["status"] == "True"
    assert first["status"]["admission"]["clusterQueue"] == f"cq-{ns}"
    # admitted: Kueue unsuspended it and the JobSet controller made its Jobs and pods
    assert get(operator_plane, "jobset", "first", ns)["spec"].get("suspend") in (False, None)
    poll(
        "the first JobSet's 3 pods Running",
        lambda: (
            len(
                [
                    p
                    for p in items(
                        operator_plane, "pods", ns, "-l", "jobset.sigs.k8s.io/jobset-name=first"
                    )
                    if p["status"].get("phase") == "Running"
                ]
            )
            == 3
        ),
    )

    def second_waiting():
        w = workload_of(operator_plane, "jobset", "second", ns)
        c = condition(w, "QuotaReserved")
        return w if c and c["status"] == "False" and c.get("message") else None

    second = poll("Kueue to keep the second JobSet waiting", second_waiting)
    assert (
        condition(second, "Admitted") is None or condition(second, "Admitted")["status"] != "True"
    )
    assert get(operator_plane, "jobset", "second", ns)["spec"]["suspend"] is True
    assert items(operator_plane, "pods", ns, "-l", "jobset.sigs.k8s.io/jobset-name=second") == []

    rows = status_rows(operator_plane, "jobset/second", ns, tmp_path)
    assert rows["state"] == "Pending", rows
    # Kueue's own words (QuotaReserved False) reach the user
    assert re.search(r"\bteam-a\b.*insufficient unused quota for cpu", rows["reason"]), rows
    assert status_rows(operator_plane, "jobset/first", ns, tmp_path)["state"] == "Running"

    # the first one goes away: its quota is released, Kueue admits the second, and a
    # watcher of the second sees it leave Pending
    watcher = Watcher(operator_plane, "jobset/second", ns, tmp_path)
    try:
        watcher.wait_for("Pending")
        result = compile_(operator_plane, "cancel", "jobset/first", "-n", ns, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        poll(
            "the second JobSet admitted once the first released its quota",
            lambda: condition(workload_of(operator_plane, "jobset", "second", ns), "Admitted"),
            timeout=120,
        )
        assert not get(operator_plane, "jobset", "second", ns)["spec"].get("suspend")
        watcher.wait_for("Running")
        result = compile_(operator_plane, "cancel", "jobset/second", "-n", ns, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert watcher.finish() == 1
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
    assert watcher.phases()[0] == "Pending"
    assert watcher.phases()[-1] == "Cancelled"
    assert "Running" in watcher.phases()


def test_kueue_admits_our_rayjob_then_kuberay_builds_its_cluster(
    operator_plane, operator_namespace, tmp_path
):
    """examples/kuberay-cpu-gpu.yaml: queue team-b, priority class high."""
    ns = operator_namespace
    # the example's priority; other tests may have made it already (with their value)
    operator_plane.kubectl(
        "create",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "kueue.x-k8s.io/v1beta2",
                "kind": "WorkloadPriorityClass",
                "metadata": {"name": "high"},
                "value": 1000,
            }
        ),
        check=False,
    )
    priority = operator_plane.kubectl_json("get", "workloadpriorityclass", "high")["value"]
    kueue_queue(
        operator_plane,
        ns,
        "team-b",
        {"cpu": "100", "memory": "512Gi", "nvidia.com/gpu": "4"},
    )
    objects = submitted(operator_plane, "kuberay-cpu-gpu.yaml", ns, tmp_path)
    (rayjob,) = [o for o in objects if o["kind"] == "RayJob"]
    name = rayjob["metadata"]["name"]

    workload = poll(
        "Kueue to admit the RayJob",
        lambda: (
            w
            if condition(w := workload_of(operator_plane, "rayjob", name, ns), "Admitted")
            else None
        ),
    )
    assert workload["spec"]["queueName"] == "team-b"
    assert workload["spec"].get("priority") == priority
    podsets = {p["name"]: p["count"] for p in workload["spec"]["podSets"]}
    for group in rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        assert podsets[group["groupName"]] == group["replicas"]
    assert podsets["head"] == 1

    cluster_name = poll(
        "KubeRay to create the admitted RayJob's RayCluster",
        lambda: (get(operator_plane, "rayjob", name, ns).get("status") or {}).get("rayClusterName"),
    )
    cluster = get(operator_plane, "raycluster", cluster_name, ns)
    assert cluster_view(cluster["spec"]) == cluster_view(rayjob["spec"]["rayClusterSpec"])
