"""`status`, `watch` and `logs` follow a job from a MultiKueue manager to the worker cluster
running it (SPEC 2.9), against two loopback API servers: the manager holds the job (managedBy
MultiKueue, as Kueue's webhook sets it) and its Workload (``status.clusterName``), the worker
the job's copy and its pods. Credentials for the worker: a kubeconfig context named like the
worker, else the MultiKueueCluster's kubeconfig Secret read from the manager.

Both servers bind 127.0.0.1 and stop with their ``with`` blocks; commands run in-process.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fake_apiserver import Answer, Serving, kubeconfig, listed, make_pki, not_found, status_body
from test_cluster_cli import SUCCEEDED, Cluster, invoke_bounded, jobset, pod

from compiler.cluster.errors import ClusterUnavailable
from compiler.cluster.kubeconfig import target_from_text

MULTIKUEUE = "kueue.x-k8s.io/multikueue"
QUEUED = {"kueue.x-k8s.io/queue-name": "team-a"}
WORKLOADS = "/apis/kueue.x-k8s.io/v1beta2/namespaces/team-a/workloads"
MK_CLUSTER = "/apis/kueue.x-k8s.io/v1beta2/multikueueclusters/worker-a"
SECRET = "/api/v1/namespaces/kueue-system/secrets/worker-a-kubeconfig"


def dispatched_jobset(status=None) -> dict:
    spec = {"managedBy": MULTIKUEUE, "replicatedJobs": [{"name": "worker", "replicas": 1}]}
    return jobset("train", "team-a", status, labels=QUEUED, spec=spec)


def workload(cluster_name: str | None) -> dict:
    status: dict = {"conditions": []}
    if cluster_name:
        status["clusterName"] = cluster_name
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Workload",
        "metadata": {
            "name": "jobset-train-1a2b3",
            "namespace": "team-a",
            "labels": {"kueue.x-k8s.io/job-uid": "uid-team-a-train"},
        },
        "spec": {"queueName": "team-a"},
        "status": status,
    }


@dataclass
class Manager(Cluster):
    """The manager: the job, its Workload, the MultiKueueCluster and its kubeconfig Secret."""

    worker: str | None = "worker-a"
    secret: str | None = None  # the worker's kubeconfig, as the Secret holds it
    secret_forbidden: bool = False
    asked: list[str] = field(default_factory=list)

    def answer(self, method: str, path: str, query: dict) -> Answer:
        self.asked.append(path)
        if path == WORKLOADS:
            return Answer(200, listed("Workload", [workload(self.worker)]))
        if path == MK_CLUSTER:
            source = {"kubeConfig": {"locationType": "Secret", "location": "worker-a-kubeconfig"}}
            body = {
                "apiVersion": "kueue.x-k8s.io/v1beta2",
                "kind": "MultiKueueCluster",
                "metadata": {"name": "worker-a"},
                "spec": {"clusterSource": source},
            }
            return Answer(200, json.dumps(body).encode())
        if path == SECRET:
            if self.secret_forbidden:
                message = 'secrets "worker-a-kubeconfig" is forbidden'
                return Answer(403, status_body(403, "Forbidden", message))
            if self.secret is None:
                return not_found(path)
            data = {"kubeconfig": base64.b64encode(self.secret.encode()).decode()}
            body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": data}
            return Answer(200, json.dumps(body).encode())
        return super().answer(method, path, query)


def worker_cluster() -> Cluster:
    return Cluster(
        [jobset("train", "team-a", labels=QUEUED), pod("train", "team-a")],
        log_lines=("from worker-a", "step 1"),
    )


def two_contexts(path: Path, manager_url: str, worker_url: str | None, pki) -> Path:
    """A kubeconfig whose current context is the manager's; with ``worker_url``, a context
    ``worker-a`` for the worker too."""
    config = json.loads(kubeconfig(path, manager_url, pki).read_text())
    if worker_url:
        worker = json.loads(kubeconfig(path, worker_url, pki).read_text())
        config["clusters"].append({**worker["clusters"][0], "name": "worker-a"})
        config["contexts"].append(
            {"name": "worker-a", "context": {"cluster": "worker-a", "user": "ada"}}
        )
    path.write_text(json.dumps(config))
    return path


def run(manager: Manager, worker: Cluster, pki, tmp_path: Path, *args: str, context=True):
    """``compile ARGS`` against the manager (the current context) with the worker serving too."""
    with (
        Serving(manager.answer, pki, "https") as served_manager,
        Serving(worker.answer, pki, "https") as served_worker,
    ):
        if manager.secret == "WORKER":
            manager.secret = kubeconfig(tmp_path / "w", served_worker.url, pki).read_text()
        worker_url = served_worker.url if context else None
        config = two_contexts(tmp_path / "kubeconfig", served_manager.url, worker_url, pki)
        env = {"KUBECONFIG": str(config), "COMPILE_TIMEOUT": "5", "USER": "ada"}
        return invoke_bounded(args, env)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_status_says_which_worker_runs_the_job_and_counts_its_pods_there(pki, here):
    manager = Manager([dispatched_jobset()])
    result = run(manager, worker_cluster(), pki, here, "status", "train", "-n", "team-a")
    assert result.code == 0, result.stderr
    assert re.search(r"^cluster:\s+running on worker-a$", result.stdout, re.M), result.stdout
    assert re.search(r"^pods:\s+worker: 1 Running$", result.stdout, re.M), result.stdout


def test_status_json_names_the_worker(pki, here):
    manager = Manager([dispatched_jobset()])
    result = run(
        manager, worker_cluster(), pki, here, "status", "train", "-n", "team-a", "-o", "json"
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cluster"] == "worker-a"
    assert summary["pods"] == {"worker": {"Running": 1}}


def test_logs_come_from_the_workers_pods(pki, here):
    manager = Manager([dispatched_jobset()])
    result = run(manager, worker_cluster(), pki, here, "logs", "train", "-n", "team-a")
    assert result.code == 0, result.stderr
    assert result.stdout == "from worker-a\nstep 1\n"
    assert "runs on worker cluster worker-a" in result.stderr


def test_without_a_context_the_worker_is_reached_through_the_kubeconfig_secret(pki, here):
    manager = Manager([dispatched_jobset()], secret="WORKER")
    result = run(
        manager, worker_cluster(), pki, here, "logs", "train", "-n", "team-a", context=False
    )
    assert result.code == 0, result.stderr
    assert result.stdout == "from worker-a\nstep 1\n"
    assert SECRET in manager.asked


def test_a_secret_the_user_may_not_read_is_one_line_and_exit_3(pki, here):
    manager = Manager([dispatched_jobset()], secret_forbidden=True)
    result = run(
        manager, worker_cluster(), pki, here, "logs", "train", "-n", "team-a", context=False
    )
    assert result.code == 3
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: the job runs on worker cluster worker-a")
    assert "not allowed" in line and "add a context named worker-a" in line
    assert "Traceback" not in result.stderr


def test_a_job_no_worker_has_taken_yet(pki, here):
    manager = Manager([dispatched_jobset(status={})], worker=None)
    status = run(manager, worker_cluster(), pki, here, "status", "train", "-n", "team-a")
    assert status.code == 0, status.stderr
    assert re.search(r"^cluster:\s+no worker has taken it yet$", status.stdout, re.M)
    logs = run(manager, worker_cluster(), pki, here, "logs", "train", "-n", "team-a")
    assert logs.code == 1
    assert "no worker cluster runs JobSet train yet" in logs.stderr


def test_watch_tells_the_worker_and_streams_its_logs(pki, here):
    manager = Manager([dispatched_jobset(SUCCEEDED)])
    worker = Cluster(
        [jobset("train", "team-a", SUCCEEDED, labels=QUEUED), pod("train", "team-a", "Succeeded")],
        log_lines=("from worker-a",),
    )
    result = run(manager, worker, pki, here, "watch", "train", "-n", "team-a", "--logs")
    assert result.code == 0, result.stderr
    assert "running on worker cluster worker-a" in result.stderr
    assert "from worker-a" in result.stdout


def test_a_job_that_runs_on_the_cluster_itself_is_not_followed_elsewhere(pki, here):
    manager = Manager([jobset("train", "team-a", labels=QUEUED), pod("train", "team-a")])
    result = run(manager, worker_cluster(), pki, here, "logs", "train", "-n", "team-a")
    assert result.code == 0, result.stderr
    assert result.stdout == "one\ntwo\nthree\n"
    assert not [p for p in manager.asked if "workloads" in p or "secrets" in p]


@pytest.mark.parametrize(
    "user",
    [
        {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/true"}},
        {"tokenFile": "/etc/passwd"},
        {"client-certificate": "/tmp/cert", "client-key": "/tmp/key"},
    ],
)
def test_a_secrets_kubeconfig_may_not_run_programs_or_read_files_here(user):
    text = json.dumps(
        {
            "current-context": "w",
            "clusters": [{"name": "w", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "w", "context": {"cluster": "w", "user": "u"}}],
        }
    )
    with pytest.raises(ClusterUnavailable, match="read only from your own kubeconfig"):
        target_from_text(text, "Secret kueue-system/w")


def test_a_secrets_kubeconfig_with_inline_credentials_is_used():
    text = json.dumps(
        {
            "current-context": "w",
            "clusters": [{"name": "w", "cluster": {"server": "https://127.0.0.1:1/"}}],
            "users": [{"name": "u", "user": {"token": "abc"}}],
            "contexts": [{"name": "w", "context": {"cluster": "w", "user": "u"}}],
        }
    )
    target = target_from_text(text, "Secret kueue-system/w", "team-a")
    assert target.server == "https://127.0.0.1:1"
    assert target.headers == {"Authorization": "Bearer abc"}
    assert target.namespace == "team-a"


def test_status_of_a_job_whose_copy_the_worker_removed_comes_from_the_manager(pki, here):
    # once the manager's copy has finished, MultiKueue deletes the worker's copy and its pods
    manager = Manager([dispatched_jobset(SUCCEEDED)])
    result = run(manager, Cluster([]), pki, here, "status", "train", "-n", "team-a")
    assert result.code == 0, result.stderr
    assert re.search(r"^state:\s+Succeeded$", result.stdout, re.M), result.stdout
    ran = r"^cluster:\s+ran on worker-a \(its copy is gone; status from the manager\)$"
    assert re.search(ran, result.stdout, re.M), result.stdout


def test_logs_of_a_job_whose_copy_the_worker_removed_are_one_line_and_exit_1(pki, here):
    manager = Manager([dispatched_jobset(SUCCEEDED)])
    for follow in ([], ["-f"]):
        result = run(manager, Cluster([]), pki, here, "logs", "train", "-n", "team-a", *follow)
        assert result.code == 1, result.stderr
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert "ran on worker cluster worker-a" in line and "its pods are gone" in line, line


def test_watch_logs_of_a_job_whose_copy_the_worker_removed(pki, here):
    manager = Manager([dispatched_jobset(SUCCEEDED)])
    result = run(manager, Cluster([]), pki, here, "watch", "train", "-n", "team-a", "--logs")
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "its pods are gone" in result.stderr


@dataclass
class PodsLater(Cluster):
    """A worker whose second pod appears once the first one's log has been read (as KubeRay's
    submitter pod comes after the Ray cluster's)."""

    later: list[dict] = field(default_factory=list)

    def answer(self, method: str, path: str, query: dict) -> Answer:
        if path.endswith("/log") and self.later:
            self.objects.extend(self.later)
            self.later = []
        return super().answer(method, path, query)


def second_pod() -> dict:
    later = pod("train", "team-a")
    later["metadata"]["name"] = "train-worker-1-0-fghij"
    later["metadata"]["labels"].update(
        {"jobset.sigs.k8s.io/job-index": "1", "jobset.sigs.k8s.io/job-global-index": "1"}
    )
    return later


def test_logs_follow_picks_up_pods_that_appear_later_on_the_worker(pki, here):
    manager = Manager([dispatched_jobset()])
    worker = PodsLater(
        [jobset("train", "team-a", labels=QUEUED), pod("train", "team-a")],
        log_lines=("from worker-a",),
        later=[second_pod()],
    )
    result = run(manager, worker, pki, here, "logs", "train", "-n", "team-a", "--all", "-f")
    assert result.code == 0, result.stderr
    assert "worker-0-0 | from worker-a" in result.stdout.splitlines(), result.stdout
    assert "worker-1-0 | from worker-a" in result.stdout.splitlines(), result.stdout


def ray_pod(name: str, labels: dict, phase: str = "Running") -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "creationTimestamp": "2026-12-01T10:00:01Z",
            "labels": {"ray.io/originated-from-cr-name": "train", **labels},
        },
        "spec": {"containers": [{"name": "ray", "image": "rayproject/ray"}]},
        "status": {"phase": phase, "startTime": "2026-12-01T10:00:03Z"},
    }


def rayjob(spec: dict | None = None) -> dict:
    job = jobset("train", "team-a", labels=QUEUED, spec=spec or {"entrypoint": "python x.py"})
    return {**job, "apiVersion": "ray.io/v1", "kind": "RayJob"}


def test_logs_follow_of_a_rayjob_takes_up_its_submitter_when_it_comes(pki, here):
    # KubeRay creates the submitter pod, whose log is the driver's output, after the cluster's
    manager = Manager([rayjob({"managedBy": MULTIKUEUE, "entrypoint": "python x.py"})])
    worker = PodsLater(
        [rayjob(), ray_pod("train-head-x", {"ray.io/node-type": "head"})],
        log_lines=("from worker-a",),
        later=[ray_pod("train-abcde", {"batch.kubernetes.io/job-name": "train"})],
    )
    result = run(manager, worker, pki, here, "logs", "rayjob/train", "-n", "team-a", "-f")
    assert result.code == 0, result.stderr
    assert "submitter | from worker-a" in result.stdout.splitlines(), result.stdout
