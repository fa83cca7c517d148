"""submit, watch, status, logs, cancel and list against the real control plane of testbed/.

Jobs run through the real JobSet and Job controllers on kwok nodes (pod outcome chosen by the
testbed's annotations); a RayJob's states are written to its status subresource as KubeRay
writes them (there is no KubeRay controller here). Commands run as the user runs them: the
``compile`` program in a subprocess, with KUBECONFIG pointing at the control plane.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cluster_support import COMPILE, REPO, env_for, get, poll
from cluster_support import compile_ as run
from terminal import from_a_terminal

OUTCOME = "testbed.manifest-compiler/outcome"
RUN_FOR = "testbed.manifest-compiler/run-for"
PHASES = ("Pending", "Preparing", "Running", "Succeeded", "Failed", "Cancelled")


# ---------------------------------------------------------------------------------------------
# helpers


def jobset_manifest(name, count=3, outcome="succeed", run_for="1s", completions=1, parallelisms=1):
    return textwrap.dedent(f"""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        name: {name}
        spec:
          operator: jobset
          image: registry.example.com/train:1.0
          command: "python -u train.py"
          annotations:
            {OUTCOME}: {outcome}
            {RUN_FOR}: {run_for}
          types:
            worker:
              count: {count}
              completions: {completions}
              parallelisms: {parallelisms}
              resources:
                cpus: 1
                ramRatio: 1
        """)


def batchjob_manifest(name, outcome="succeed", run_for="1s"):
    return textwrap.dedent(f"""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        name: {name}
        spec:
          operator: batchjob
          image: registry.example.com/prep:2.0
          command: "python -u prep.py --shard $JOB_COMPLETION_INDEX"
          annotations:
            {OUTCOME}: {outcome}
            {RUN_FOR}: {run_for}
          types:
            shard:
              count: 1
              completions: 3
              parallelisms: 3
              resources:
                cpus: 1
                ramRatio: 1
        """)


def rayjob_manifest(name, queue=None):
    queue_line = f"\n          queue: {queue}" if queue else ""
    return textwrap.dedent(f"""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        name: {name}
        spec:{queue_line}
          operator: kuberay
          image: rayproject/ray:2.41.0
          command: "python -u tune.py"
          rayVersion: "2.41.0"
          types:
            Head:
              resources:
                cpus: 2
                ramRatio: 2
            Workers:
              - name: cpu
                count: 2
                resources:
                  cpus: 2
                  ramRatio: 2
        """)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def start(control_plane, *args, cwd=None) -> subprocess.Popen:
    """`compile ARGS` running in the background, as a terminal starts it (Ctrl-C reaches it)."""
    return subprocess.Popen(
        from_a_terminal([*COMPILE, *args]),
        cwd=cwd,
        env=env_for(control_plane),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def phases(stdout: str) -> list[str]:
    """The phases of the state lines (``<time>  <Phase>  <reason>``), in order."""
    found = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in PHASES and re.match(r"\d{4}-\d\d-\d\dT", parts[0]):
            found.append(parts[1])
    return found


def assert_each_once(observed: list[str], last: str) -> None:
    assert observed, "no state line printed"
    assert observed[-1] == last, observed
    assert len(observed) == len(set(observed)), f"a transition was reported twice: {observed}"
    order = [PHASES.index(p) for p in observed]
    assert order == sorted(order), f"states went backwards: {observed}"


class LineReader:
    """Collects a subprocess's stdout in a thread, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_phase(self, phase, timeout=90.0):
        poll(
            f"state {phase} in the watch output {self.lines}",
            lambda: phase in phases("".join(self.lines)),
            timeout,
        )

    def finish(self, timeout=180):
        rc = self.process.wait(timeout=timeout)
        self.thread.join(5)
        return rc, "".join(self.lines), self.process.stderr.read()


def status_state(control_plane, name, namespace) -> str:
    result = run(control_plane, "status", name, "-n", namespace)
    match = re.search(r"^state:\s+(\w+)", result.stdout, re.M)
    return match.group(1) if match else ""


# ---------------------------------------------------------------------------------------------
# submit and watch through the real controllers


def test_jobset_submitted_and_watched_to_success(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "train", jobset_manifest("train", count=3, run_for="3s"))
    result = run(
        control_plane, "submit", str(manifest), "--namespace", namespace, "--watch", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert f"jobset.jobset.x-k8s.io/train applied in namespace {namespace}" in result.stdout
    assert_each_once(phases(result.stdout), "Succeeded")
    assert "Running" in phases(result.stdout)
    assert "AllJobsCompleted" in result.stdout.splitlines()[-1]
    assert f"compile watch jobset/train -n {namespace}" in result.stderr
    assert "not in a git repository" in result.stderr

    jobset = control_plane.kubectl_json(
        "get", "jobset", "train", "-n", namespace, "--show-managed-fields"
    )
    metadata = jobset["metadata"]
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "manifest-compiler"
    assert metadata["annotations"]["manifest-compiler/submitted-by"].startswith("ada@")
    assert metadata["annotations"]["manifest-compiler/image"] == "registry.example.com/train:1.0"
    assert "manifest-compiler/git-commit" not in metadata["annotations"]
    appliers = [(m["manager"], m["operation"]) for m in metadata["managedFields"]]
    assert ("manifest-compiler", "Apply") in appliers


def test_jobset_that_fails_exits_1_with_the_reason(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "broken", jobset_manifest("broken", count=2, outcome="fail"))
    result = run(
        control_plane, "submit", str(manifest), "--namespace", namespace, "--watch", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert_each_once(phases(result.stdout), "Failed")
    assert "FailedJobs" in result.stdout.splitlines()[-1]


def test_job_runs_to_success_and_to_failure(control_plane, namespace, tmp_path):
    good = write(tmp_path, "shards", batchjob_manifest("shards"))
    result = run(
        control_plane, "submit", str(good), "--namespace", namespace, "--watch", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"job.batch/shards applied in namespace {namespace}" in result.stdout
    assert_each_once(phases(result.stdout), "Succeeded")

    bad = write(tmp_path, "bad-shards", batchjob_manifest("bad-shards", outcome="fail"))
    result = run(
        control_plane, "submit", str(bad), "--namespace", namespace, "--watch", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert_each_once(phases(result.stdout), "Failed")
    # the pod scope (issue 22): an index out of retries fails the Job at once
    assert "MaxFailedIndexesExceeded" in result.stdout.splitlines()[-1]

    status = run(control_plane, "status", "shards", "-n", namespace)
    assert status.returncode == 0
    assert re.search(r"^state:\s+Succeeded$", status.stdout, re.M)
    assert re.search(r"^pods:\s+shard: 3 Succeeded$", status.stdout, re.M)


def test_dry_run_validates_on_the_server_and_creates_nothing(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "dry", jobset_manifest("dry"))
    result = run(
        control_plane, "submit", str(manifest), "--namespace", namespace, "--dry-run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "jobset.jobset.x-k8s.io/dry valid (server dry run)" in result.stdout
    missing = control_plane.kubectl("get", "jobset", "dry", "-n", namespace, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


# ---------------------------------------------------------------------------------------------
# names


def test_a_taken_name_is_refused_unless_replaced(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "taken", jobset_manifest("taken", count=1, outcome="run"))
    first = run(control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    uid = get(control_plane, "jobset", "taken", namespace)["metadata"]["uid"]

    again = run(control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path)
    assert again.returncode == 1
    assert "jobset.jobset.x-k8s.io/taken already exists" in again.stderr
    assert "--replace" in again.stderr
    assert get(control_plane, "jobset", "taken", namespace)["metadata"]["uid"] == uid

    replaced = run(
        control_plane, "submit", str(manifest), "--namespace", namespace, "--replace", cwd=tmp_path
    )
    assert replaced.returncode == 0, replaced.stderr
    assert get(control_plane, "jobset", "taken", namespace)["metadata"]["uid"] != uid


def test_name_suffix_timestamp_makes_a_new_name(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "sweep", jobset_manifest("sweep", count=1))
    result = run(
        control_plane,
        "submit",
        str(manifest),
        "--namespace",
        namespace,
        "--name-suffix",
        "timestamp",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(
        r"jobset\.jobset\.x-k8s\.io/(sweep-\d{4}-\d\d-\d\dt\d\d-\d\d-\d\d) applied", result.stdout
    )
    assert match, result.stdout
    assert get(control_plane, "jobset", match.group(1), namespace)["metadata"][
        "name"
    ] == match.group(1)


# ---------------------------------------------------------------------------------------------
# the git record


def git(directory, *args):
    subprocess.run(
        ["git", "-C", str(directory), *args],
        check=True,
        capture_output=True,
        env=dict(
            os.environ,
            GIT_AUTHOR_NAME="a",
            GIT_AUTHOR_EMAIL="a@x",
            GIT_COMMITTER_NAME="a",
            GIT_COMMITTER_EMAIL="a@x",
        ),
    )


def test_git_commit_recorded_and_dirty_tree_refused(control_plane, namespace, tmp_path):
    git(tmp_path, "init", "-q")
    manifest = write(tmp_path, "tracked", jobset_manifest("tracked", count=1))
    git(tmp_path, "add", "tracked.yaml")
    git(tmp_path, "commit", "-q", "-m", "manifest")
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()

    result = run(control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    annotations = get(control_plane, "jobset", "tracked", namespace)["metadata"]["annotations"]
    assert annotations["manifest-compiler/git-commit"] == head
    assert "manifest-compiler/git-dirty" not in annotations

    manifest.write_text(jobset_manifest("tracked-2", count=1))
    refused = run(control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path)
    assert refused.returncode == 1
    assert (
        "uncommitted changes (tracked.yaml)" in refused.stderr and "--allow-dirty" in refused.stderr
    )
    assert (
        control_plane.kubectl("get", "jobset", "tracked-2", "-n", namespace, check=False).returncode
        != 0
    )

    allowed = run(
        control_plane,
        "submit",
        str(manifest),
        "--namespace",
        namespace,
        "--allow-dirty",
        cwd=tmp_path,
    )
    assert allowed.returncode == 0, allowed.stderr
    annotations = get(control_plane, "jobset", "tracked-2", namespace)["metadata"]["annotations"]
    assert annotations["manifest-compiler/git-commit"] == head
    assert annotations["manifest-compiler/git-dirty"] == "true"


# ---------------------------------------------------------------------------------------------
# cancel, status, list


def test_cancel_a_running_job_reports_cancelled_to_its_watcher(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "endless", jobset_manifest("endless", count=2, outcome="run"))
    assert (
        run(
            control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path
        ).returncode
        == 0
    )
    watcher = LineReader(start(control_plane, "watch", "endless", "-n", namespace))
    watcher.wait_for_phase("Running")

    cancelled = run(control_plane, "cancel", "endless", "-n", namespace)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "jobset.jobset.x-k8s.io/endless cancelled (was Running)" in cancelled.stdout
    assert (
        control_plane.kubectl("get", "jobset", "endless", "-n", namespace, check=False).returncode
        != 0
    )
    pods = control_plane.kubectl_json(
        "get", "pods", "-n", namespace, "-l", "jobset.sigs.k8s.io/jobset-name=endless"
    )
    assert pods["items"] == []

    rc, stdout, _ = watcher.finish()
    assert rc == 1
    assert_each_once(phases(stdout), "Cancelled")

    # gone now: as kubectl delete, a name that matches nothing exits 1 unless ignored (issue 24)
    again = run(control_plane, "cancel", "endless", "-n", namespace)
    assert again.returncode == 1
    assert "no JobSet, RayJob or Job named 'endless'" in again.stderr
    ignored = run(control_plane, "cancel", "endless", "-n", namespace, "--ignore-not-found")
    assert ignored.returncode == 0, ignored.stderr
    assert "nothing to cancel" in ignored.stdout


def test_cancel_a_finished_job_leaves_it_alone(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "done", jobset_manifest("done", count=1))
    assert (
        run(
            control_plane,
            "submit",
            str(manifest),
            "--namespace",
            namespace,
            "--watch",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    result = run(control_plane, "cancel", "done", "-n", namespace)
    assert result.returncode == 0
    assert "had already finished: Succeeded" in result.stdout
    assert get(control_plane, "jobset", "done", namespace)["metadata"]["name"] == "done"
    # watching a finished job reports its outcome once and exits with it
    watched = run(control_plane, "watch", "done", "-n", namespace)
    assert watched.returncode == 0
    assert phases(watched.stdout) == ["Succeeded"]


def test_list_shows_only_this_tools_jobs_with_state(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "listed", jobset_manifest("listed", count=1))
    assert (
        run(
            control_plane,
            "submit",
            str(manifest),
            "--namespace",
            namespace,
            "--watch",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    control_plane.kubectl("create", "job", "foreign", "--image=busybox", "-n", namespace)
    result = run(control_plane, "list", "-n", namespace)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0][:4] == ["NAME", "KIND", "STATE", "AGE"]
    assert [row[:3] for row in rows[1:]] == [["listed", "JobSet", "Succeeded"]]


def test_kubeconfig_list_context_and_its_namespace(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "ctx", jobset_manifest("ctx", count=1))
    assert (
        run(
            control_plane,
            "submit",
            str(manifest),
            "--namespace",
            namespace,
            "--watch",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    # a first file whose current context is unreachable, and a context that only sets a namespace,
    # using the cluster and user of the testbed's file: KUBECONFIG merges them as kubectl does
    first = tmp_path / "first.json"
    first.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "nowhere",
                "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "nobody", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "nowhere", "context": {"cluster": "nowhere", "user": "nobody"}},
                    {
                        "name": "team",
                        "context": {
                            "cluster": "testbed",
                            "user": "testbed-admin",
                            "namespace": namespace,
                        },
                    },
                ],
            }
        )
    )
    env = dict(
        env_for(control_plane),
        KUBECONFIG=os.pathsep.join([str(first), str(control_plane.kubeconfig)]),
    )

    def compile_(*args):
        return subprocess.run(
            [*COMPILE, *args], env=env, capture_output=True, text=True, timeout=60
        )

    assert compile_("list").returncode == 3
    in_context_namespace = compile_("list", "--context", "team")
    assert in_context_namespace.returncode == 0, in_context_namespace.stderr
    assert [line.split()[0] for line in in_context_namespace.stdout.splitlines()[1:]] == ["ctx"]
    explicit = compile_("status", "ctx", "--context", "testbed", "-n", namespace)
    assert explicit.returncode == 0, explicit.stderr
    assert re.search(r"^state:\s+Succeeded$", explicit.stdout, re.M)


def test_status_of_a_missing_job_names_what_was_looked_for(control_plane, namespace):
    result = run(control_plane, "status", "ghost", "-n", namespace)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: no JobSet, RayJob or Job named 'ghost' in namespace {namespace}"
    )


# ---------------------------------------------------------------------------------------------
# RayJob: states written the way KubeRay writes them


def patch_status(control_plane, name, namespace, **status):
    control_plane.kubectl(
        "patch",
        "rayjob",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def ray_watch(control_plane, namespace, tmp_path, name, steps):
    manifest = write(tmp_path, name, rayjob_manifest(name))
    result = run(control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"rayjob.ray.io/{name} applied" in result.stdout
    watcher = LineReader(start(control_plane, "watch", f"rayjob/{name}", "-n", namespace))
    watcher.wait_for_phase("Preparing")
    for expected, status in steps:
        patch_status(control_plane, name, namespace, **status)
        if expected:
            watcher.wait_for_phase(expected)
    return watcher.finish()


def _in_an_hour(minutes: int = 0) -> str:
    """A time after the object's creation: watch never prints a time earlier than the last."""
    later = datetime.now(UTC) + timedelta(hours=1, minutes=minutes)
    return later.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rayjob_stopped_is_cancelled_not_succeeded(control_plane, namespace, tmp_path):
    started, ended = _in_an_hour(), _in_an_hour(9)
    rc, stdout, _ = ray_watch(
        control_plane,
        namespace,
        tmp_path,
        "ray-stop",
        [
            (None, {"jobDeploymentStatus": "Initializing", "startTime": started}),
            (
                "Running",
                {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING", "jobId": "ray-stop-1"},
            ),
            (
                "Cancelled",
                {
                    "jobDeploymentStatus": "Complete",
                    "jobStatus": "STOPPED",
                    "endTime": ended,
                },
            ),
        ],
    )
    assert rc == 1
    assert phases(stdout) == ["Preparing", "Running", "Cancelled"]
    assert stdout.splitlines()[-1] == f"{ended}  Cancelled  Ray job STOPPED"


def test_rayjob_complete_succeeded(control_plane, namespace, tmp_path):
    rc, stdout, _ = ray_watch(
        control_plane,
        namespace,
        tmp_path,
        "ray-ok",
        [
            ("Running", {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"}),
            (
                "Succeeded",
                {
                    "jobDeploymentStatus": "Complete",
                    "jobStatus": "SUCCEEDED",
                    "endTime": "2026-11-23T10:09:00Z",
                },
            ),
        ],
    )
    assert rc == 0
    assert phases(stdout) == ["Preparing", "Running", "Succeeded"]


def test_rayjob_validation_failed_is_failed(control_plane, namespace, tmp_path):
    rc, stdout, _ = ray_watch(
        control_plane,
        namespace,
        tmp_path,
        "ray-invalid",
        [
            (
                "Failed",
                {
                    "jobDeploymentStatus": "ValidationFailed",
                    "reason": "ValidationFailed",
                    "message": "The RayJob spec is invalid",
                },
            ),
        ],
    )
    assert rc == 1
    assert phases(stdout) == ["Preparing", "Failed"]
    assert stdout.splitlines()[-1].endswith(
        "Failed     ValidationFailed: The RayJob spec is invalid"
    )


# Kueue's Workloads, QuotaReserved and Admitted are written by the real Kueue in
# test_operators.py and test_kueue_queues.py (testbed `operator_plane`)


# ---------------------------------------------------------------------------------------------
# a watch that outlives its streams: 410 Gone, server timeouts, an API server restart, Ctrl-C


def test_watch_from_an_expired_resource_version_lists_again(
    control_plane, namespace, tmp_path, monkeypatch
):
    from compiler.cluster.client import connect
    from compiler.cluster.jobs import find_job
    from compiler.cluster.watch import follow

    manifest = write(tmp_path, "expired", jobset_manifest("expired", count=2, run_for="6s"))
    assert (
        run(
            control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path
        ).returncode
        == 0
    )
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    kube = connect(namespace=namespace)
    found = find_job(kube, "expired", namespace)
    reported, notices = [], []
    # resourceVersion 1 is older than the server's watch window: the server answers 410 Expired
    follower = follow(
        kube, found, reported.append, notices.append, resource_version="1", watch_seconds=2
    )
    assert follower.relists >= 1
    assert any("too old resource version" in notice for notice in notices), notices
    assert_each_once([state.phase for state in reported], "Succeeded")
    # watch_seconds=2 over a 6 s job: the server ended streams that were opened again
    assert follower.watches >= 2


def test_watch_survives_an_api_server_restart(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "restart", jobset_manifest("restart", count=2, run_for="25s"))
    assert (
        run(
            control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path
        ).returncode
        == 0
    )
    watcher = LineReader(start(control_plane, "watch", "restart", "-n", namespace))
    watcher.wait_for_phase("Running")
    control_plane.restart_apiserver(down_for=2.0)
    rc, stdout, stderr = watcher.finish(timeout=240)
    assert rc == 0, stderr
    assert_each_once(phases(stdout), "Succeeded")
    assert "retrying" in stderr


def test_a_watch_gives_up_when_the_api_server_stays_away(
    control_plane, namespace, tmp_path, monkeypatch
):
    from compiler.cluster.client import ClusterUnavailable, connect
    from compiler.cluster.jobs import find_job
    from compiler.cluster.watch import follow

    manifest = write(tmp_path, "outage", jobset_manifest("outage", count=1, outcome="run"))
    assert (
        run(
            control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path
        ).returncode
        == 0
    )
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    kube = connect(namespace=namespace)
    found = find_job(kube, "outage", namespace)
    reported, notices, outcome = [], [], {}

    def watch():
        try:
            outcome["state"] = follow(
                kube, found, reported.append, notices.append, give_up_after=2.0
            ).last
        except ClusterUnavailable as exc:
            outcome["error"] = str(exc)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    poll("the watch to see Running", lambda: any(state.phase == "Running" for state in reported))
    control_plane.restart_apiserver(down_for=8.0)  # longer than the watch is willing to wait
    watcher.join(60)
    assert "state" not in outcome
    assert outcome["error"].endswith("gave up after 2s")
    assert [state.phase for state in reported][
        -1
    ] == "Running"  # nothing invented while it was away


def test_ctrl_c_stops_watching_and_leaves_the_job(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "detach", jobset_manifest("detach", count=1, outcome="run"))
    assert (
        run(
            control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path
        ).returncode
        == 0
    )
    watcher = LineReader(start(control_plane, "watch", "detach", "-n", namespace))
    watcher.wait_for_phase("Running")
    watcher.process.send_signal(signal.SIGINT)
    rc, _, stderr = watcher.finish(timeout=30)
    assert rc == 130
    assert f"Reattach with: compile watch jobset/detach -n {namespace}" in stderr
    assert "Traceback" not in stderr
    assert status_state(control_plane, "detach", namespace) == "Running"


# ---------------------------------------------------------------------------------------------
# logs


def prefixed(pod: str, lines: list[str]) -> list[str]:
    return [f"{pod} | {line}" for line in lines]


def test_logs_show_rank0_every_pod_or_one_type_and_index(control_plane, namespace, tmp_path):
    # every container's log, as kwok serves it through the API server: testbed's POD_LOG_LINES
    said = control_plane.pod_log_lines
    manifest = write(tmp_path, "chatty", jobset_manifest("chatty", count=3))
    assert (
        run(
            control_plane,
            "submit",
            str(manifest),
            "--namespace",
            namespace,
            "--watch",
            cwd=tmp_path,
        ).returncode
        == 0
    )

    rank0 = run(control_plane, "logs", "chatty", "-n", namespace)
    assert (rank0.returncode, rank0.stdout.splitlines(), rank0.stderr) == (0, said, "")
    rank0_prefixed = run(control_plane, "logs", "chatty", "-n", namespace, "--prefix")
    assert rank0_prefixed.stdout.splitlines() == prefixed("worker-0-0", said)
    everything = run(control_plane, "logs", "chatty", "-n", namespace, "--all")
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.splitlines() == [
        *prefixed("worker-0-0", said),
        *prefixed("worker-1-0", said),
        *prefixed("worker-2-0", said),
    ]
    one = run(control_plane, "logs", "chatty", "-n", namespace, "--type", "worker", "--index", "2")
    assert (one.returncode, one.stdout.splitlines()) == (0, said)
    one_prefixed = run(
        control_plane,
        "logs",
        "chatty",
        "-n",
        namespace,
        "--type",
        "worker",
        "--index",
        "2",
        "--prefix",
    )
    assert one_prefixed.stdout.splitlines() == prefixed("worker-2-0", said)
    nothing = run(control_plane, "logs", "chatty", "-n", namespace, "--type", "chief")
    assert (nothing.returncode, nothing.stdout) == (1, "")
    assert "no pod of JobSet chatty matches (a pod of type chief) yet" in nothing.stderr


def running_pods(control_plane, name, namespace) -> int:
    pods = control_plane.kubectl_json(
        "get", "pods", "-n", namespace, "-l", f"jobset.sigs.k8s.io/jobset-name={name}"
    )
    return sum(pod.get("status", {}).get("phase") == "Running" for pod in pods["items"])


def test_logs_follow_running_pods_until_stopped(control_plane, namespace, tmp_path):
    said = control_plane.pod_log_lines
    manifest = write(tmp_path, "busy", jobset_manifest("busy", count=2, outcome="run"))
    assert (
        run(
            control_plane, "submit", str(manifest), "--namespace", namespace, cwd=tmp_path
        ).returncode
        == 0
    )
    poll("2 Running pods", lambda: running_pods(control_plane, "busy", namespace) == 2)
    for args, expected in (
        (["-f"], said),
        (["-f", "--all"], prefixed("worker-0-0", said) + prefixed("worker-1-0", said)),
    ):
        follower = LineReader(start(control_plane, "logs", "busy", "-n", namespace, *args))
        try:
            poll(
                f"{len(expected)} log lines from logs {args}: {follower.lines}",
                lambda follower=follower, expected=expected: len(follower.lines) >= len(expected),
                timeout=60,
            )
            assert follower.process.poll() is None  # still following: the containers run on
        finally:
            follower.process.kill()
            follower.finish(timeout=30)
        got = [line.rstrip("\n") for line in follower.lines]
        # with several pods the lines interleave, each pod's in its own order
        assert sorted(got) == sorted(expected)
        for pod in ("worker-0-0", "worker-1-0"):
            assert [line for line in got if line.startswith(pod)] == [
                line for line in expected if line.startswith(pod)
            ]


def test_submit_watch_logs_streams_rank0_while_watching(control_plane, namespace, tmp_path):
    said = control_plane.pod_log_lines
    # runs 5 s, so that rank 0's log is streaming before the job ends
    manifest = write(tmp_path, "chatty-2", jobset_manifest("chatty-2", count=2, run_for="5s"))
    watched = run(
        control_plane,
        "submit",
        str(manifest),
        "--namespace",
        namespace,
        "--watch",
        "--logs",
        cwd=tmp_path,
    )
    assert watched.returncode == 0, watched.stderr
    assert_each_once(phases(watched.stdout), "Succeeded")
    assert [line for line in watched.stdout.splitlines() if line in said] == said
    assert " | " not in watched.stdout  # one pod: no prefixes
    assert "Traceback" not in watched.stderr


# ---------------------------------------------------------------------------------------------
# no cluster


@pytest.mark.parametrize(
    "command",
    [
        ["status", "x"],
        ["watch", "x"],
        ["logs", "x"],
        ["cancel", "x"],
        ["list"],
        ["submit", "MANIFEST", "--allow-dirty"],
    ],
)
def test_without_a_reachable_cluster_every_command_exits_3_in_one_line(command, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: nobody, user: {token: t}}]
        contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
        current-context: nowhere
        """)
    )
    manifest = write(tmp_path, "m", jobset_manifest("m"))
    args = [str(manifest) if arg == "MANIFEST" else arg for arg in command]
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=str(REPO))
    result = subprocess.run(
        [*COMPILE, *args], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors == [
        "error: no reachable cluster: cannot reach the Kubernetes API server at "
        "https://127.0.0.1:1: Connection refused"
    ]
    assert "Traceback" not in result.stderr


def unreachable_env(tmp_path) -> dict:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "x", '
        '"clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}], '
        '"users": [{"name": "x", "user": {"token": "t"}}], '
        '"contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}'
    )
    return dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=str(REPO))


def test_an_invalid_manifest_is_refused_before_any_cluster_is_asked(tmp_path):
    manifest = write(tmp_path, "bad", jobset_manifest("bad").replace("cpus: 1", "cpus: many"))
    result = subprocess.run(
        [*COMPILE, "submit", str(manifest)],
        env=unreachable_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert re.search(
        r"bad\.yaml:\d+:\d+: error\[E\d+\] spec\.types\.worker\.resources\.cpus", result.stderr
    ), result.stderr
    assert "no reachable cluster" not in result.stderr


@pytest.mark.parametrize(
    "command, message",
    [
        (
            ["status", "deployment/x"],
            "error: unknown kind 'deployment' in 'deployment/x'; use one of jobset, rayjob, job",
        ),
        (
            ["logs", "x", "--all", "--type", "worker"],
            "error: --all shows every pod; it cannot be combined with --type or --index",
        ),
        (
            ["submit", "MANIFEST", "--logs"],
            "error: --logs streams logs while watching; add --watch",
        ),
    ],
)
def test_usage_errors_exit_2(command, message, tmp_path):
    manifest = write(tmp_path, "m", jobset_manifest("m"))
    args = [str(manifest) if arg == "MANIFEST" else arg for arg in command]
    result = subprocess.run(
        [*COMPILE, *args],
        env=unreachable_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == message


@pytest.mark.parametrize(
    "text, says",
    [
        ("foo: [unclosed\n", "cannot read the kubeconfig"),
        ("", "file is empty"),
        (
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
            "Expected key current-context",
        ),
    ],
)
def test_a_broken_kubeconfig_exits_3_in_one_line(text, says, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(text)
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=str(REPO))
    result = subprocess.run([*COMPILE, "list"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: no reachable cluster: ") and says in result.stderr


def test_an_unknown_context_exits_3(tmp_path):
    result = subprocess.run(
        [*COMPILE, "list", "--context", "elsewhere"],
        env=unreachable_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "Expected object with name elsewhere" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_any_kubeconfig_exit_3(tmp_path):
    env = dict(os.environ, KUBECONFIG=str(tmp_path / "absent"), PYTHONPATH=str(REPO))
    env.pop("KUBERNETES_SERVICE_HOST", None)
    result = subprocess.run([*COMPILE, "list"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"error: no reachable cluster: no kubeconfig found ({tmp_path / 'absent'} "
        "does not exist) and not running in a cluster"
    )


# ---------------------------------------------------------------------------------------------
# issue 24: output and commands as kubectl users expect them


def test_emit_json_is_a_list_kubectl_applies(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "as-json", jobset_manifest("as-json", count=1))
    emitted = run(control_plane, str(manifest), "-o", "json", "-n", namespace, cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stderr
    applied = control_plane.kubectl("apply", "-f", "-", input=emitted.stdout, check=False)
    assert applied.returncode == 0, applied.stderr
    assert "jobset.jobset.x-k8s.io/as-json created" in applied.stdout
    assert get(control_plane, "jobset", "as-json", namespace)["metadata"]["name"] == "as-json"


def test_status_finds_a_job_submitted_to_the_projects_namespace(control_plane, namespace, tmp_path):
    """.compile.yaml names the project: submit puts the job in its namespace, and status, logs,
    watch and cancel find it there without -n (issue 24: status looked in `default`)."""
    (tmp_path / ".compile.yaml").write_text(f"project: {namespace}\n")
    manifest = write(tmp_path, "js-heavy", jobset_manifest("js-heavy", count=1))
    submitted = run(control_plane, "submit", str(manifest), "--allow-dirty", cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert f"applied in namespace {namespace}" in submitted.stdout
    watched = run(control_plane, "watch", "js-heavy", "--timeout", "2m", cwd=tmp_path)
    assert watched.returncode == 0, watched.stderr
    status = run(control_plane, "status", "js-heavy", "-o", "json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert (summary["namespace"], summary["state"]) == (namespace, "Succeeded")
    assert summary["started"] and summary["finished"]
    listed = run(control_plane, "list", "-o", "json", cwd=tmp_path)
    assert [job["name"] for job in json.loads(listed.stdout)] == ["js-heavy"]


def test_a_failed_pods_exit_code_is_in_status_and_watch(control_plane, namespace, tmp_path):
    text = jobset_manifest("exit-42", count=1, outcome="fail").replace(
        f"{RUN_FOR}: 1s", f"{RUN_FOR}: 1s\n    testbed.manifest-compiler/exit-code: '42'"
    )
    manifest = write(tmp_path, "exit-42", text)
    result = run(control_plane, "submit", str(manifest), "-n", namespace, "--watch", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stdout.splitlines()[-1]
    assert re.search(
        r"pod exit-42-worker-0-0-\w+ container \S+ exited with code 42 \(Error\)", last
    )
    status = run(control_plane, "status", "exit-42", "-n", namespace)
    reason = re.search(r"^reason:\s+(.*)$", status.stdout, re.M).group(1)
    assert "exited with code 42 (Error)" in reason, status.stdout


def test_watch_times_never_go_backwards(control_plane, namespace, tmp_path):
    manifest = write(tmp_path, "timed", jobset_manifest("timed", count=2, run_for="3s"))
    result = run(control_plane, "submit", str(manifest), "-n", namespace, "--watch", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    times = [line.split()[0] for line in result.stdout.splitlines() if re.match(r"\d{4}-", line)]
    assert times and times == sorted(times), result.stdout


def test_cancel_several_and_a_typo(control_plane, namespace, tmp_path):
    for name in ("c-one", "c-two"):
        manifest = write(tmp_path, name, jobset_manifest(name, count=1, run_for="10m"))
        assert run(control_plane, "submit", str(manifest), "-n", namespace).returncode == 0
    result = run(control_plane, "cancel", "c-one", "c-typo", "c-two", "-n", namespace)
    assert result.returncode == 1
    assert "jobset.jobset.x-k8s.io/c-one cancelled" in result.stdout
    assert "jobset.jobset.x-k8s.io/c-two cancelled" in result.stdout
    assert f"error: no JobSet, RayJob or Job named 'c-typo' in namespace {namespace}" in (
        result.stderr
    )
