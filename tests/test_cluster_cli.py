"""The cluster commands as a kubectl user expects them (issue 24), against a small loopback API
server holding the objects each test gives it: where a job is found (-n, the project of
.compile.yaml, the context's namespace), status -o json, list -A/-l/-o wide|json, cancel of several
names, logs --tail/--since/--timestamps, watch --timeout, and why a failed job failed.

The server binds 127.0.0.1 and stops with its ``with`` block; commands run in-process.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_apiserver import Answer, Serving, kubeconfig, listed, make_pki, not_found

from compiler.cli.app import cli

HANG = 30.0
PATH = re.compile(
    r"^/(?:api|apis/[^/]+)/[^/]+(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?$"
)
KINDS = {"jobsets": "JobSet", "rayjobs": "RayJob", "jobs": "Job", "pods": "Pod"}
MANAGED = {"app.kubernetes.io/managed-by": "manifest-compiler"}


def jobset(name, namespace, status=None, labels=None, spec=None, created="2026-12-01T10:00:00Z"):
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "resourceVersion": "7",
            "creationTimestamp": created,
            "labels": {**MANAGED, **(labels or {})},
            "annotations": {
                "manifest-compiler/submitted-by": "ada@laptop",
                "manifest-compiler/git-commit": "4f1c2e0d9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2",
                "manifest-compiler/image": "registry.example.com/train:1.0",
            },
        },
        "spec": spec or {"replicatedJobs": [{"name": "worker", "replicas": 1}]},
        "status": status
        if status is not None
        else {"replicatedJobsStatus": [{"name": "worker", "ready": 1, "active": 1}]},
    }


SUCCEEDED = {
    "terminalState": "Completed",
    "conditions": [
        {
            "type": "Completed",
            "status": "True",
            "reason": "AllJobsCompleted",
            "message": "jobset completed successfully",
            "lastTransitionTime": "2026-12-01T10:05:00Z",
        }
    ],
}
FAILED = {
    "terminalState": "Failed",
    "conditions": [
        {
            "type": "Failed",
            "status": "True",
            "reason": "FailedJobs",
            "message": "jobset failed due to one or more job failures",
            "lastTransitionTime": "2026-12-01T10:04:00Z",
        }
    ],
}


def pod(job, namespace, phase="Running", started="2026-12-01T10:00:03Z", container_state=None):
    status: dict = {"phase": phase}
    if started:
        status["startTime"] = started
    if container_state:
        status["containerStatuses"] = [{"name": "worker", "state": container_state}]
    return {
        "metadata": {
            "name": f"{job}-worker-0-0-abcde",
            "namespace": namespace,
            "creationTimestamp": "2026-12-01T10:00:01Z",
            "labels": {
                "jobset.sigs.k8s.io/jobset-name": job,
                "jobset.sigs.k8s.io/replicatedjob-name": "worker",
                "jobset.sigs.k8s.io/job-index": "0",
                "jobset.sigs.k8s.io/job-global-index": "0",
                "batch.kubernetes.io/job-completion-index": "0",
            },
        },
        "spec": {"containers": [{"name": "worker", "image": "busybox"}]},
        "status": status,
    }


def _selected(obj: dict, selector: str | None) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class Cluster:
    """Answers GET (object, list), DELETE, logs and watches of the objects it holds."""

    objects: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    log_lines: tuple[str, ...] = ("one", "two", "three")

    def find(self, plural, namespace, name):
        kind = KINDS.get(plural)
        return next(
            (
                o
                for o in self.objects
                if o.get("kind", "Pod") == kind
                and o["metadata"]["name"] == name
                and o["metadata"]["namespace"] == namespace
            ),
            None,
        )

    def answer(self, method: str, path: str, query: dict) -> Answer:
        self.requests.append((method, path, query))
        match = PATH.match(path)
        if not match or match["plural"] not in KINDS:
            return (
                Answer(200, listed("Thing", [])) if match and not match["name"] else not_found(path)
            )
        namespace, plural, name = match["namespace"], match["plural"], match["name"]
        if match["sub"] == "log":
            stamped = [f"2026-12-01T10:00:0{i}.5Z {line}" for i, line in enumerate(self.log_lines)]
            lines = stamped if query.get("timestamps") else list(self.log_lines)
            return Answer(200, ("\n".join(lines) + "\n").encode(), "text/plain")
        if name:
            obj = self.find(plural, namespace, name)
            if obj is None:
                return not_found(path)
            if method == "DELETE":
                self.objects.remove(obj)
            return Answer(200, json.dumps(obj).encode())
        items = [
            o
            for o in self.objects
            if o.get("kind", "Pod") == KINDS[plural]
            and (namespace is None or o["metadata"]["namespace"] == namespace)
            and _selected(o, query.get("labelSelector"))
            and (
                not query.get("fieldSelector", "").startswith("metadata.name=")
                or o["metadata"]["name"] == query["fieldSelector"].split("=", 1)[1]
            )
        ]
        if query.get("watch"):
            return Answer(stream=lambda handler: self._watch(handler, items, query))
        return Answer(200, listed(KINDS[plural], items))

    @staticmethod
    def _watch(handler, items, query) -> None:
        for obj in items:
            handler.wfile.write(json.dumps({"type": "MODIFIED", "object": obj}).encode() + b"\n")
        handler.wfile.flush()
        handler.server.stopping.wait(float(query.get("timeoutSeconds") or 1))  # as a server does


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def compile_(cluster: Cluster, pki, tmp_path: Path, *args: str) -> Outcome:
    """``compile ARGS`` in-process, from ``tmp_path``, against a server holding ``cluster``."""
    with Serving(cluster.answer, pki, "https") as serving:
        config = kubeconfig(tmp_path / "kubeconfig", serving.url, pki)
        return invoke_bounded(
            args, {"KUBECONFIG": str(config), "COMPILE_TIMEOUT": "5", "USER": "ada"}
        )


def invoke_bounded(args, env: dict) -> Outcome:
    """``compile ARGS`` in-process with ``env``; the test fails if it has not ended within HANG
    seconds, or with the traceback if it raised one."""
    result: dict = {}

    def invoke():
        try:
            result["run"] = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=invoke, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"compile {' '.join(args)} hangs"
    if "error" in result:
        raise result["error"]
    run = result["run"]
    return Outcome(run.exit_code, run.stdout, run.stderr)


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Commands run from an empty directory (no .compile.yaml above it, unless a test writes one)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# where a job is found


def test_status_finds_the_job_in_the_projects_namespace(pki, here):
    """`submit` puts a job in its project's namespace; `status NAME` finds it there (issue 24:
    it looked in `default`)."""
    cluster = Cluster([jobset("js-heavy", "team-a", SUCCEEDED)])
    missing = compile_(cluster, pki, here, "status", "js-heavy")
    assert missing.code == 1
    assert "no JobSet, RayJob or Job named 'js-heavy' in namespace default" in missing.stderr

    (here / ".compile.yaml").write_text("project: team-a\n")
    found = compile_(cluster, pki, here, "status", "js-heavy")
    assert found.code == 0, found.stderr
    assert re.search(r"^namespace:\s+team-a$", found.stdout, re.M)
    assert re.search(r"^state:\s+Succeeded$", found.stdout, re.M)

    elsewhere = compile_(cluster, pki, here, "status", "js-heavy", "-n", "default")
    assert elsewhere.code == 1
    assert "in namespace default" in elsewhere.stderr


def test_every_job_command_takes_n(pki, here):
    cluster = Cluster([jobset("train", "team-b", SUCCEEDED), pod("train", "team-b", "Succeeded")])
    for args in (
        ["status", "train"],
        ["watch", "train"],
        ["logs", "train"],
        ["list"],
        ["cancel", "train"],
    ):
        result = compile_(cluster, pki, here, *args, "-n", "team-b")
        assert result.code == 0, (args, result.stderr)
        assert "namespace default" not in result.stderr


# ---------------------------------------------------------------------------------------------
# status


def test_status_json(pki, here):
    cluster = Cluster([jobset("train", "default"), pod("train", "default")])
    result = compile_(cluster, pki, here, "status", "train", "-o", "json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "JobSet" and summary["name"] == "train"
    assert summary["namespace"] == "default"
    assert summary["state"] == "Running"
    assert summary["started"] == "2026-12-01T10:00:03Z"  # its first pod's start
    assert summary["finished"] is None
    assert summary["pods"] == {"worker": {"Running": 1}}
    assert summary["submittedBy"] == "ada@laptop"


def test_a_job_that_never_started_has_no_start_time(pki, here):
    held = jobset("held", "default", status={}, spec={"suspend": True, "replicatedJobs": []})
    result = compile_(Cluster([held]), pki, here, "status", "held")
    assert result.code == 0, result.stderr
    assert re.search(r"^state:\s+Pending$", result.stdout, re.M)
    assert re.search(r"^started:\s+-$", result.stdout, re.M)


@pytest.mark.parametrize(
    "terminated, says",
    [
        (
            {"exitCode": 137, "reason": "OOMKilled"},
            "container worker exited with code 137 (OOMKilled)",
        ),
        ({"exitCode": 42, "reason": "Error"}, "container worker exited with code 42 (Error)"),
    ],
)
def test_a_failed_job_says_which_pod_container_and_exit_code(pki, here, terminated, says):
    failing = pod("broken", "default", "Failed", container_state={"terminated": terminated})
    cluster = Cluster([jobset("broken", "default", FAILED), failing])
    status = compile_(cluster, pki, here, "status", "broken")
    assert status.code == 0, status.stderr
    reason = re.search(r"^reason:\s+(.*)$", status.stdout, re.M).group(1)
    assert f"pod broken-worker-0-0-abcde {says}" in reason
    watched = compile_(cluster, pki, here, "watch", "broken")
    assert watched.code == 1
    assert f"pod broken-worker-0-0-abcde {says}" in watched.stdout.splitlines()[-1]


# ---------------------------------------------------------------------------------------------
# list


def list_cluster() -> Cluster:
    return Cluster(
        [
            jobset("a", "team-a", SUCCEEDED, labels={"team": "nlp"}),
            jobset("b", "team-b", SUCCEEDED, labels={"team": "vision"}),
            {
                **jobset("foreign", "team-a", SUCCEEDED),
                "metadata": {**jobset("foreign", "team-a")["metadata"], "labels": {}},
            },
        ]
    )


def test_list_all_namespaces(pki, here):
    result = compile_(list_cluster(), pki, here, "list", "-A")
    assert result.code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0][:3] == ["NAMESPACE", "NAME", "KIND"]
    assert [row[:2] for row in rows[1:]] == [["team-a", "a"], ["team-b", "b"]]


def test_list_selector_wide_and_json(pki, here):
    cluster = list_cluster()
    selected = compile_(cluster, pki, here, "list", "-A", "-l", "team=vision")
    assert [line.split()[1] for line in selected.stdout.splitlines()[1:]] == ["b"]
    asked = [q.get("labelSelector") for _, path, q in cluster.requests if path.endswith("/jobsets")]
    assert "app.kubernetes.io/managed-by=manifest-compiler,team=vision" in asked

    wide = compile_(cluster, pki, here, "list", "-n", "team-a", "-o", "wide")
    header = wide.stdout.splitlines()[0]
    assert "SUBMITTED BY" in header and "COMMIT" in header and "IMAGE" in header
    assert "ada@laptop" in wide.stdout and "4f1c2e0d9b8a " in wide.stdout

    as_json = compile_(cluster, pki, here, "list", "-A", "-o", "json")
    jobs = json.loads(as_json.stdout)
    assert [(j["namespace"], j["name"], j["state"]) for j in jobs] == [
        ("team-a", "a", "Succeeded"),
        ("team-b", "b", "Succeeded"),
    ]


def test_list_a_and_n_together_is_a_usage_error(pki, here):
    result = compile_(list_cluster(), pki, here, "list", "-A", "-n", "x")
    assert result.code == 2


# ---------------------------------------------------------------------------------------------
# cancel


def test_cancel_several_and_a_typo_exits_1(pki, here):
    cluster = Cluster([jobset("one", "default"), jobset("two", "default")])
    result = compile_(cluster, pki, here, "cancel", "one", "typo", "two", "--no-wait")
    assert result.code == 1
    assert "jobset.jobset.x-k8s.io/one cancelled" in result.stdout
    assert "jobset.jobset.x-k8s.io/two cancelled" in result.stdout
    assert "error: no JobSet, RayJob or Job named 'typo' in namespace default" in result.stderr
    assert cluster.objects == []


def test_cancel_ignore_not_found(pki, here):
    result = compile_(Cluster(), pki, here, "cancel", "gone", "--ignore-not-found")
    assert result.code == 0
    assert "nothing to cancel" in result.stdout


# ---------------------------------------------------------------------------------------------
# logs


def test_logs_tail_since_and_timestamps_are_asked_of_the_kubelet(pki, here):
    cluster = Cluster([jobset("train", "default"), pod("train", "default")])
    result = compile_(
        cluster, pki, here, "logs", "train", "--tail", "2", "--since", "10m", "--timestamps"
    )
    assert result.code == 0, result.stderr
    [query] = [q for _, path, q in cluster.requests if path.endswith("/log")]
    assert query["tailLines"] == "2" and query["sinceSeconds"] == "600"
    assert result.stdout.splitlines()[0] == "2026-12-01T10:00:00.5Z one"
    plain = compile_(cluster, pki, here, "logs", "train")
    assert plain.stdout.splitlines() == ["one", "two", "three"]


# ---------------------------------------------------------------------------------------------
# watch


def test_watch_timeout_stops_watching_and_exits_1(pki, here):
    cluster = Cluster([jobset("slow", "default"), pod("slow", "default")])
    result = compile_(cluster, pki, here, "watch", "slow", "--timeout", "2s")
    assert result.code == 1
    assert "timed out after 2s: JobSet slow is Running and keeps running" in result.stderr
    assert result.stdout.split()[:2] == ["2026-12-01T10:00:03Z", "Running"]  # its pod's start


def test_submit_timeout_needs_watch(pki, here):
    (here / "m.yaml").write_text("kind: AIchorManifest\n")
    result = compile_(Cluster(), pki, here, "submit", "m.yaml", "--timeout", "5m")
    assert result.code == 2
    assert "--timeout bounds a watch; add --watch" in result.stderr
